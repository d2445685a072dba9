"""`stepfun-asr jobs` (history), `stepfun-asr show ID` (detail + text), `stepfun-asr retry ID`,
`stepfun-asr cross-check ID`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.cli_common import (
    client_options,
    db_option,
    fail_usage,
    load_or_exit,
    quiet,
    unknown_job,
)
from tui.commands.watch_cmd import EventPrinter

if TYPE_CHECKING:
    from tui.config import Settings
    from tui.engine.engine import Engine
    from tui.store.records import Job
    from tui.store.store import Store

STATES = ("queued", "running", "done", "needs_review", "failed", "canceled")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = sub.add_parser(
        "jobs",
        parents=[db_option()],
        help="list the job history (newest first)",
        description="List jobs from the job database, newest first.",
    )
    jobs.add_argument(
        "--state", choices=STATES, action="append", help="only jobs in this state (repeatable)"
    )
    jobs.add_argument(
        "--limit", type=int, default=50, help="at most N jobs (default 50; 0 for all)"
    )
    jobs.add_argument("--json", action="store_true", help="one JSON object per line")
    jobs.set_defaults(func=run)

    show = sub.add_parser(
        "show", parents=[db_option()], help="one job in full, with its transcript"
    )
    show.add_argument("job_id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_show)

    retry = sub.add_parser(
        "retry",
        parents=[client_options(), db_option()],
        help="queue a failed or canceled job again and run it now",
        description="Put a failed or canceled job back in the queue and run it now (or leave "
        "it for a running `watch` with --queue-only). Exit 0: it finished; "
        "1: it failed again; 2: usage error or missing key.",
    )
    retry.add_argument("job_id", type=int, metavar="ID")
    retry.add_argument(
        "--queue-only",
        action="store_true",
        help="only queue it; a running `stepfun-asr watch` or the workbench will pick it up",
    )
    retry.set_defaults(func=run_retry)

    check = sub.add_parser(
        "cross-check",
        parents=[client_options(), db_option()],
        help="compare a finished job's transcript with step-asr-1.1 (no new transcription)",
        description="Run a done or needs_review job's audio through step-asr-1.1 and store "
        "its text and similarity beside the transcript; the warnings and the job's state are "
        "worked out again and its transcript files rewritten. The main model is not paid "
        "again (step-asr-1.1 costs about 2.2 CNY per audio hour). Exit 0: cross-checked "
        "(the job may now need review); 1: the check failed or the job cannot be "
        "cross-checked (its previous result is kept); 2: usage error or missing key.",
    )
    check.add_argument("job_id", type=int, metavar="ID")
    check.set_defaults(func=run_cross_check)


def _open(db: Path | None) -> Store | int:
    from tui.store.store import Store

    try:
        return Store(db)
    except Exception as exc:  # locked, corrupt, or from a newer version
        print(f"stepfun-asr: cannot open the job database: {exc}", file=sys.stderr)
        return 1


def job_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "source": str(job.source),
        "state": job.state.value,
        "attempts": job.attempts,
        "origin": job.origin,
        "watch_id": job.watch_id,
        "size": job.size,
        "content_hash": job.content_hash,
        "model": job.model,  # what it ran with: its own option, else the settings'
        "language": job.language,  # "" auto-detect; None: not started, the settings' then
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "duration_s": job.duration_s,
        "cost": (
            {"amount": job.cost_amount, "currency": job.cost_currency}
            if job.cost_amount is not None
            else None
        ),
        "usage": job.usage,
        "reviewed": job.reviewed,
        "error": job.error_message,
        "error_kind": job.error_kind,
        "outputs": [str(p) for p in job.outputs],
    }


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _language(code: str | None) -> str:
    if code is None:
        return "(the settings' language, when it starts)"
    return code or "auto-detect"


def _cost(job: Job) -> str:
    from tui.transcript.cost import format_amount

    return format_amount(job.cost_amount, job.cost_currency, missing="-")


def run(args: argparse.Namespace) -> int:
    if args.limit < 0:
        return fail_usage("--limit must be 0 or more")
    store = _open(args.db)
    if isinstance(store, int):
        return store
    with store:
        jobs = store.list_jobs(args.state, limit=args.limit or None)
    if args.json:
        for job in jobs:
            print(json.dumps(job_dict(job), ensure_ascii=False))
        return 0
    if not jobs:
        print("no jobs" + (f" in state {', '.join(args.state)}" if args.state else ""))
        return 0
    print(
        f"{'ID':>5}  {'STATE':<12} {'TRIES':>5}  {'CREATED':<16}  {'AUDIO':>8}  {'COST':>8}  SOURCE"
    )
    for job in jobs:
        audio = f"{job.duration_s:.1f}s" if job.duration_s else "-"
        state = job.state.value + ("*" if job.reviewed else "")
        print(
            f"{job.id:>5}  {state:<12} {job.attempts:>5}  {_when(job.created_at):<16}  "
            f"{audio:>8}  {_cost(job):>8}  {job.source}"
        )
        if job.error_message:
            print(f"{'':>7}{job.error_message}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    store = _open(args.db)
    if isinstance(store, int):
        return store
    with store:
        job = store.get_job(args.job_id)
        if job is None:
            return unknown_job(args.job_id)
        # Corrected (what exports use); the model's own text is kept beside it.
        result = store.corrections.result(job.id)
        result_json = store.corrections.result_json(job.id)
        corrected = len(result_json["corrections"]) if result_json else 0
        reviewed_at = store.corrections.reviewed_at(job.id)
    if args.json:
        data = job_dict(job)
        data["reviewed_at"] = reviewed_at
        data["result"] = result_json
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    reviewed = f" (reviewed {_when(reviewed_at)})" if job.reviewed else ""
    watch = f" ({job.watch_id})" if job.watch_id else ""
    rows = [
        ("job", str(job.id)),
        ("source", str(job.source)),
        ("state", job.state.value + reviewed),
        ("attempts", str(job.attempts)),
        ("origin", job.origin + watch),
        ("model", job.model or "(the settings' model, when it starts)"),
        ("language", _language(job.language)),
        ("created", _when(job.created_at)),
        ("started", _when(job.started_at)),
        ("finished", _when(job.finished_at)),
        ("audio", f"{job.duration_s:.1f} s" if job.duration_s else "-"),
        ("cost", _cost(job) + (f" {job.cost_currency} (estimate)" if job.cost_currency else "")),
        ("sha256", job.content_hash or "-"),
    ]
    if job.error_message:
        rows.append(("error", f"[{job.error_kind}] {job.error_message}"))
    if job.usage:
        rows.append(("usage", json.dumps(job.usage)))
    rows += [("output", str(p)) for p in job.outputs]
    if corrected:
        rows.append(
            ("corrected", f"{corrected} cue(s); the model's text: stepfun-asr show {job.id} --json")
        )
    for key, value in rows:
        print(f"{key + ':':<10} {value}")
    if result is not None:
        for w in result.warnings:
            print(f"{'warning:':<10} {'[serious] ' if w.serious else ''}{w.message}")
        if result.cross_check:
            cc = result.cross_check
            print(f"{'check:':<10} {cc.model} similarity {cc.similarity:.2f}")
        print()
        print(result.text)
    return 0


def run_retry(args: argparse.Namespace) -> int:
    from tui.config import Settings
    from tui.store.records import JobState, JobStateError

    settings = None
    if not args.queue_only:
        loaded = load_or_exit(args)  # the key is checked before anything changes
        if isinstance(loaded, int):
            return loaded
        settings = loaded
    engine = _engine(args.db, settings or Settings())
    if isinstance(engine, int):
        return engine
    with engine:
        if engine.store.get_job(args.job_id) is None:
            return unknown_job(args.job_id)
        try:
            job = engine.retry(args.job_id)
        except (JobStateError, KeyError) as exc:
            print(f"stepfun-asr: {_sentence(exc)}", file=sys.stderr)
            return 1
        if not quiet():
            print(f"job {job.id} queued again: {job.source}", flush=True)
        if settings is None:
            return 0
        import asyncio

        asyncio.run(_drain_printing(engine, job.id))
        final = engine.store.get_job(job.id)
    if final is None:
        return 1
    if final.state is JobState.RUNNING or final.state is JobState.QUEUED:
        print(f"job {final.id} is {final.state.value} (another process picked it up)")
        return 0
    return 0 if final.state in (JobState.DONE, JobState.NEEDS_REVIEW) else 1


def run_cross_check(args: argparse.Namespace) -> int:
    from tui.engine.events import CrossCheckFailed, Event, JobFinished
    from tui.store.records import JobStateError

    loaded = load_or_exit(args)  # the key is checked before anything is sent
    if isinstance(loaded, int):
        return loaded
    engine = _engine(args.db, loaded)
    if isinstance(engine, int):
        return engine
    job_id = args.job_id
    if engine.store.get_job(job_id) is None:
        engine.close()
        return unknown_job(job_id)
    outcome: list[bool] = []

    def settled(event: Event) -> None:
        if isinstance(event, JobFinished) and event.job_id == job_id and event.cross_check_only:
            outcome.append(True)
        elif isinstance(event, CrossCheckFailed) and event.job_id == job_id:
            outcome.append(False)

    with engine:
        engine.bus.subscribe(settled)
        try:
            engine.cross_check(job_id)
        except (JobStateError, KeyError) as exc:
            print(f"stepfun-asr: {_sentence(exc)}", file=sys.stderr)
            return 1
        import asyncio

        asyncio.run(_drain_printing(engine, job_id))
    return 0 if outcome == [True] else 1


def _sentence(exc: Exception) -> str:
    # KeyError's str() is the repr of its argument: show the sentence itself.
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _engine(db: Path | None, settings: Settings) -> Engine | int:
    from tui.engine.engine import Engine

    try:
        return Engine(settings, db_path=db, concurrency=1)
    except Exception as exc:  # a locked, corrupt or newer database
        print(f"stepfun-asr: cannot open the job database: {exc}", file=sys.stderr)
        return 1


async def _drain_printing(engine: Engine, job_id: int) -> None:
    engine.bus.subscribe(EventPrinter(engine.store, sys.stdout))
    await engine.drain([job_id])
