"""`stepfun-asr watch DIR...`: the headless daemon — watch folders, transcribe, write files.

One line per event on stdout (flushed, never the key). SIGINT/SIGTERM stop cleanly: nothing new
starts, in-flight jobs get a grace period to finish and otherwise go back to the queue; a second
signal stops at once. The next start resumes where this one stopped (the store keeps the queue).
No Textual import anywhere on this path.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from tui.cli_common import client_options, db_option, fail_usage, load_or_exit, quiet
from tui.names import shown

if TYPE_CHECKING:  # the real imports happen in run(): building the parser stays cheap
    from tui.engine.engine import Engine
    from tui.engine.events import Event, JobProgressed
    from tui.store.store import Store

GRACE_S = 30.0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "watch",
        parents=[client_options(), db_option()],
        help="watch folders and transcribe new recordings",
        description="Watch DIR(s): each new audio/video file is transcribed once it has stopped "
        "changing, exactly once (a content hash ledger survives restarts, renames and copies), "
        "and its transcript written next to it (or under --out-dir). Producers should write "
        "`name.part` and rename, or write elsewhere and move in. Ctrl-C stops; the queue is "
        "kept. Exit 0: stopped cleanly; 1: stopped by an error (the queue is kept); 2: usage "
        "error or missing key.",
    )
    parser.add_argument("folders", nargs="+", type=Path, metavar="DIR")
    parser.add_argument(
        "--out-dir",
        "--output-dir",
        dest="out_dir",
        type=Path,
        help="write transcripts here, mirroring the "
        "folder structure (default: next to each recording)",
    )
    parser.add_argument(
        "-o",
        "--formats",
        "--output-format",
        dest="formats",
        metavar="FMTS",
        help="comma-separated from txt,srt,vtt,json,md (default: the `formats` setting, txt)",
    )
    parser.add_argument(
        "--policy",
        choices=("skip", "overwrite", "suffix"),
        help="when a transcript already exists (default: the `existing_policy` setting, skip)",
    )
    parser.add_argument("--recursive", action="store_true", help="watch sub-folders too")
    parser.add_argument(
        "--poll",
        action="store_true",
        help="poll instead of OS events: for "
        "network mounts (NFS/SMB), WSL /mnt/*, Docker bind mounts",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help="files transcribed at once (default 2; StepFun's lowest tier allows 5)",
    )
    parser.add_argument(
        "--rpm",
        type=int,
        help="requests per minute, 0 for no limit (default 10, StepFun's lowest tier)",
    )
    parser.add_argument(
        "--quiet-period",
        type=float,
        metavar="S",
        help="seconds a file's size and mtime must stand still before it is queued (default 2)",
    )
    parser.add_argument(
        "--on-done",
        metavar="CMD",
        help="run CMD with the transcript path "
        "appended after each file (no shell; failures are logged, not fatal)",
    )
    parser.add_argument(
        "--resend-duplicates",
        action="store_true",
        help="transcribe a second copy of the same audio again instead of reusing the result",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=GRACE_S,
        metavar="S",
        help=f"on stop, how long in-flight jobs may finish (default {GRACE_S:g})",
    )
    parser.add_argument(
        "--print-service",
        choices=("systemd", "launchd"),
        help="print a user service (systemd unit or launchd agent) that runs this exact watch, "
        "restarting it on failure; the key stays in the config file",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tui.engine.watch_files import WatchConfig
    from tui.store.records import JobOptions
    from tui.transcript.exports import ExportSpec, parse_formats

    folders = [Path(f).expanduser().absolute() for f in args.folders]
    files = [f for f in folders if f.exists() and not f.is_dir()]
    if files:
        return fail_usage(
            f"{files[0]} is a file, not a folder; `stepfun-asr transcribe` takes files"
        )
    if not any(f.is_dir() for f in folders):
        return fail_usage(f"none of the folders exists: {', '.join(map(str, folders))}")
    for name in ("concurrency", "quiet_period", "grace"):
        value = getattr(args, name)
        if value is not None and value <= 0 and not (name == "grace" and value == 0):
            return fail_usage(f"--{name.replace('_', '-')} must be positive")
    if args.rpm is not None and args.rpm < 0:
        return fail_usage("--rpm must be 0 (no limit) or more")
    settings = load_or_exit(args)
    if isinstance(settings, int):
        return settings
    try:
        formats = (
            parse_formats(args.formats)
            if args.formats
            else parse_formats(",".join(settings.formats))
        )
        out_dir = args.out_dir or (Path(settings.out_dir) if settings.out_dir else None)
        export = ExportSpec(
            formats=formats,
            out_dir=str(out_dir.expanduser().absolute()) if out_dir else None,
            policy=args.policy or settings.existing_policy,
            on_done=args.on_done,
        )
    except ValueError as exc:
        return fail_usage(str(exc))
    if args.print_service:
        from tui.commands.service_unit import print_service

        return print_service(args)
    # The daemon's flags are its defaults (already in ``settings``): a folder's own
    # .stepfun-asr.toml still wins for the recordings under it.
    options = JobOptions()
    config = WatchConfig.from_settings(
        settings,
        folders,
        recursive=args.recursive,
        force_polling=args.poll,
        export=export,
        options=options,
        **({"quiet_period_s": args.quiet_period} if args.quiet_period else {}),
        **({"skip_duplicate_content": False} if args.resend_duplicates else {}),
    )
    from tui.engine.engine import Engine

    try:
        engine = Engine(
            settings,
            db_path=args.db,
            concurrency=args.concurrency,
            requests_per_minute=args.rpm,
            grace_s=args.grace,
        )
    except Exception as exc:  # a locked, corrupt or newer database
        print(f"stepfun-asr: cannot open the job database: {exc}", file=sys.stderr)
        return 1
    from tui import logs

    logs.start(args.log_file if "log_file" in args else None, "watch daemon")
    with engine:
        engine.watch(config)
        import asyncio

        return asyncio.run(_daemon(args, engine))


async def _daemon(args: argparse.Namespace, engine: Engine) -> int:
    import asyncio

    printer = EventPrinter(engine.store, sys.stdout)
    engine.bus.subscribe(printer)
    stop = asyncio.Event()
    signals = 0

    def on_signal(signame: str) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            busy = len(engine.running_ids)
            printer.line(
                f"stopping ({signame}): {busy} job(s) in flight get up to "
                f"{args.grace:g} s, then go back to the queue; signal again to stop now"
            )
            stop.set()
        else:
            engine.stop_now()

    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig.name)
            handled.append(sig)
    try:
        # A watch that fails stops the daemon (loudly, exit 1) rather than leaving it deaf.
        errors = await engine.serve(stop, stop_on_watch_failure=True)
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
    for err in errors:
        printer.line(f"error: {type(err).__name__}: {err}", important=True)
    counts = engine.store.counts()
    printer.line(
        f"stopped: {counts['queued']} queued, {counts['done']} done, "
        f"{counts['needs_review']} to review, {counts['failed']} failed"
    )
    return 1 if errors else 0


class EventPrinter:
    """One line per event; progress at most every few seconds per job; never transcript text."""

    PROGRESS_EVERY_S = 5.0

    def __init__(self, store: Store, out: TextIO) -> None:
        self.store = store
        self.out = out
        self.names: dict[int, str] = {}
        self._progress_at: dict[int, float] = {}
        import logging  # here, not at import: building the parser stays cheap

        from tui.logs import FILE_ONLY

        self._log = logging.getLogger(__name__)
        self._file_only = FILE_ONLY

    def line(self, text: str, important: bool = False) -> None:
        # Escaped as a whole: a name (or a message quoting one) with a newline cannot forge a
        # line, and bytes that are not UTF-8 print as \xNN instead of raising.
        text = shown(text)
        self._log.info("%s", text, extra=self._file_only)  # the console has this line already
        if quiet() and not important:  # -q: failures and transcripts to review only
            return
        self.out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
        self.out.flush()

    def name(self, job_id: int) -> str:
        if job_id not in self.names:
            job = self.store.get_job(job_id)
            self.names[job_id] = job.source.name if job else "?"
        return f"#{job_id} {self.names[job_id]}"

    def __call__(self, event: Event) -> None:
        text = self.describe(event)
        if text:
            self.line(text, important=is_problem(event))

    def describe(self, event: Event) -> str | None:
        from tui.engine import events as ev
        from tui.engine.pause import outage_message

        match event:
            case ev.JobQueued(job=job):
                self.names[job.id] = job.source.name
                return f"queued    #{job.id} {job.source}"
            case ev.JobStarted(job_id=jid, cross_check_only=True):
                return f"checking  {self.name(jid)} with step-asr-1.1"
            case ev.JobStarted(job_id=jid, attempt=attempt):
                return f"started   {self.name(jid)} (attempt {attempt})"
            case ev.JobProgressed() as p:
                now = time.monotonic()
                if now - self._progress_at.get(p.job_id, 0.0) < self.PROGRESS_EVERY_S:
                    return None
                self._progress_at[p.job_id] = now
                return f"progress  {self.name(p.job_id)}: {progress_text(p)}"
            case ev.JobRestarted(job_id=jid, reason=reason):
                return f"retrying  {self.name(jid)}: {reason}"
            case ev.JobFinished(job_id=jid, state=state, result=result, cross_check_only=checked):
                self._progress_at.pop(jid, None)
                word = "done     " if state == "done" else "REVIEW   "
                extra = "".join(f"; {w.message}" for w in result.warnings if w.serious)
                if checked and (cc := result.cross_check) is not None:
                    return (
                        f"{word} {self.name(jid)}: cross-checked with {cc.model}, "
                        f"{cc.similarity:.0%} similar{extra}"
                    )
                dur = f"{result.duration_s:.1f} s audio, " if result.duration_s else ""
                return f"{word} {self.name(jid)}: {dur}{len(result.text)} chars{extra}"
            case ev.JobFailed(job_id=jid, message=message, kind=kind):
                return f"FAILED    {self.name(jid)} [{kind}]: {message}"
            case ev.CrossCheckFailed(job_id=jid, message=message, kind=kind):
                self._progress_at.pop(jid, None)
                return f"CHECK FAILED {self.name(jid)} [{kind}]: {message}"
            case ev.JobCanceled(job_id=jid):
                return f"canceled  {self.name(jid)}"
            case ev.JobRequeued(job_id=jid, reason=reason):
                return f"requeued  {self.name(jid)}: {reason}"
            case ev.QueuePaused(reason=ev.PauseReason.ACCOUNT, message=message):
                return (
                    f"PAUSED    {message} Queued files stay queued and unsent; fix the key or "
                    "region in the config, then restart the daemon."
                )
            case ev.QueuePaused(reason=reason, message=message):
                return f"PAUSED    {message}; queued files stay queued and unsent"
            case ev.ServiceProbed(message=message, since=since, next_in_s=delay):
                return f"PAUSED    {outage_message(message, since)}; next try in {delay:.0f} s"
            case ev.QueueResumed(how=how):
                return f"resumed   {how}"
            case ev.WatchStarted(folders=folders, polling=polling, recursive=recursive):
                how = ("polling" if polling else "OS events") + (", recursive" if recursive else "")
                return f"watching  {', '.join(map(str, folders))} ({how})"
            case ev.WatchStopped():
                return "watch stopped"
            case ev.WatchDegraded(message=message):
                return f"WATCH TROUBLE {message}"
            case ev.WatchFailed(folders=folders, message=message):
                return f"WATCH FAILED {', '.join(map(str, folders))}: {message}"
            case ev.FolderMissing(folder=folder, message=message):
                return f"MISSING   {message or folder}"
            case ev.FolderRestored(folder=folder):
                return f"restored  {folder} (rescanned)"
            case ev.FileDetected(path=path):
                return f"detected  {path}"
            case ev.FileSkipped(path=path, reason=reason):
                return f"skipped   {path}: {reason}"
            case ev.ExportWritten(job_id=jid, paths=paths):
                return f"wrote     {self.name(jid)}: {', '.join(map(str, paths))}"
            case ev.ExportFailed(job_id=jid, message=message):
                return f"EXPORT FAILED {self.name(jid)}: {message}"
            case ev.HookFailed(job_id=jid, message=message):
                return f"hook failed {self.name(jid)}: {message}"
        return None


def is_problem(event: Event) -> bool:
    """What -q still prints: failures, missing folders, transcripts that need review."""
    from tui.engine import events as ev

    problems = (
        ev.JobFailed,
        ev.CrossCheckFailed,
        ev.ExportFailed,
        ev.HookFailed,
        ev.FolderMissing,
        ev.WatchFailed,
    )
    if isinstance(event, ev.JobFinished):
        return event.state != "done"
    return isinstance(event, problems)


def progress_text(p: JobProgressed) -> str:
    detail = p.detail if p.detail and not p.detail.startswith(p.stage) else ""
    bits = [p.stage + (f" ({detail})" if detail else "")]
    if p.parts > 1:
        bits.append(f"part {p.part}/{p.parts}")
    if p.bytes_total:
        bits.append(f"sent {p.bytes_sent / 1e6:.1f}/{p.bytes_total / 1e6:.1f} MB")
    if p.audio_s_covered:
        of = f" of {p.duration_s:.1f}" if p.duration_s else ""
        bits.append(f"{p.audio_s_covered:.1f}{of} s audio")
    if p.chars_received:
        bits.append(f"{p.chars_received} chars")
    bits.append(f"{p.elapsed_s:.0f} s elapsed")
    return ", ".join(bits)
