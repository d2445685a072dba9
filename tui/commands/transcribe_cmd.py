"""`stepfun-asr transcribe FILE...`: one-shot transcription, text to stdout."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tui.audio.encoding import FORMAT_TYPES, AudioFormat
from tui.cli_common import (
    client_options,
    db_option,
    fail_usage,
    file_error,
    load_or_exit,
    paint,
    quiet,
)
from tui.commands import stdin_audio
from tui.transcript.format_names import FORMATS

if TYPE_CHECKING:  # the engine is imported when a command runs: building the parser stays cheap
    from tui.config import Settings
    from tui.engine.engine import Engine
    from tui.engine.events import Event
    from tui.store.records import Job
    from tui.transcript.model import TranscriptionResult


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "transcribe",
        parents=[client_options(), db_option()],
        help="transcribe files and print the text",
        description="Transcribe each FILE; text goes to stdout. Each file succeeds or fails "
        "on its own. Exit 0: all succeeded; 1: any failed; 2: usage error or missing key.",
    )
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="audio or video; - reads stdin"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    parser.add_argument(
        "-o",
        "--formats",
        "--output-format",
        dest="output_format",
        metavar="FMTS",
        help=f"write files too: comma-separated from {','.join(FORMATS)}",
    )
    parser.add_argument(
        "--out-dir",
        "--output-dir",
        dest="out_dir",
        type=Path,
        help="where -o files go (default: next to each audio file; for - the current folder)",
    )
    parser.add_argument(
        "--name",
        dest="stdin_name",
        metavar="NAME",
        help="name standard input's outputs NAME.* instead of stdin.* (NAME.pcm: raw PCM)",
    )
    parser.add_argument(
        "--format", choices=FORMAT_TYPES, help="declare the format instead of detecting it"
    )
    parser.add_argument(
        "--rate", type=int, help="raw PCM (.pcm or --format pcm) sample rate, e.g. 16000"
    )
    parser.add_argument("--bits", type=int, help="pcm bits per sample, e.g. 16")
    parser.add_argument("--channel", type=int, help="pcm channel count, e.g. 1")
    parser.add_argument(
        "--cross-check",
        action="store_true",
        help="also run step-asr-1.1 and report how similar the two texts are (costs extra)",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="send nothing: print each file's length and the estimated cost, then exit",
    )
    parser.add_argument(
        "--no-compress",
        action="store_true",
        help="send large WAV/PCM files as they are instead of compressing them to Opus first",
    )
    parser.set_defaults(func=stdin_audio.accepting_stdin(run))


def _format_override(args: argparse.Namespace) -> AudioFormat | str | None:
    layout = args.rate or args.bits or args.channel
    all_pcm = all(Path(f).suffix.lower() == ".pcm" for f in args.files)
    if args.format is None:
        if layout and not all_pcm:
            return (
                "--rate/--bits/--channel describe raw PCM: use them with .pcm files or --format pcm"
            )
        if not layout:
            return None
    if args.format == "pcm" or args.format is None:
        missing = [f"--{n}" for n in ("rate", "bits", "channel") if not getattr(args, n)]
        if missing:
            return f"raw PCM needs {' '.join(missing)} (e.g. --rate 16000 --bits 16 --channel 1)"
        return AudioFormat("pcm", "pcm_s16le", args.rate, args.bits, args.channel)
    return AudioFormat(args.format)


def run(args: argparse.Namespace) -> int:
    from tui.transcript.exports import parse_formats

    formats: tuple[str, ...] = ()
    if args.output_format:
        try:
            formats = parse_formats(args.output_format)
        except ValueError as exc:
            return fail_usage(str(exc))
    override = _format_override(args)
    if isinstance(override, str):
        return fail_usage(override)
    if args.estimate:
        return _estimate(args, override)
    settings = load_or_exit(args)
    if isinstance(settings, int):
        return settings
    from tui.engine.engine import Engine

    live = sys.stdout.isatty() and not args.json and not quiet()
    try:
        # One file at a time while text streams to the terminal, so it reads in order.
        engine = Engine(settings, db_path=args.db, concurrency=1 if live else None, grace_s=0)
    except Exception as exc:  # a locked, corrupt or newer database
        print(f"stepfun-asr: cannot open the job database: {exc}", file=sys.stderr)
        return 1
    with engine:
        jobs = _submit(engine, args, settings, override, formats)
        show_text = not (quiet() and formats)  # -q with files to write: nothing on stdout
        report = BatchReport(engine, jobs, as_json=args.json, live=live, show_text=show_text)
        engine.bus.subscribe(report.on_event)
        import asyncio

        asyncio.run(engine.drain([job.id for job in jobs]))
        return report.finish()


def _estimate(args: argparse.Namespace, override: AudioFormat | None) -> int:
    """``--estimate``: files, minutes and cost in the region's currency; nothing is sent and
    no key is needed. Exit 1 when a file's length cannot be read."""
    import asyncio

    from tui.engine.estimates import CROSS_CHECK_MODEL, estimate_files, price_of
    from tui.transcript.cost import estimate, format_cost

    settings = load_or_exit(args, need_key=False)
    if isinstance(settings, int):
        return settings
    known: dict[Path, float] = {}
    if override is not None and override.type == "pcm":
        from tui.audio.probe import pcm_duration

        for path in args.files:
            with contextlib.suppress(OSError):
                known[path] = pcm_duration(path.stat().st_size, override)
    est = asyncio.run(estimate_files(args.files, settings, known=known))
    for path in est.files:
        seconds = est.durations.get(path)
        length = f"{seconds / 60:7.2f} min" if seconds is not None else " length unknown"
        print(f"{length}  {path}")
    other = ""
    if args.cross_check:  # step-asr-1.1 runs on the same audio too
        extra = sum(price_of(s, settings, model=CROSS_CHECK_MODEL) for s in est.durations.values())
        est = dataclasses.replace(est, amount=round(est.amount + extra, 6))
        checked = estimate(CROSS_CHECK_MODEL, est.seconds, settings.region, settings.prices)
        if checked is not None and checked.currency != est.currency:
            other = (
                f"; plus the cross-check, priced in {checked.currency} only: {format_cost(checked)}"
            )
    with_check = " with the cross-check" if args.cross_check else ""
    print(
        f"{est.describe()} ({settings.model}{with_check}, region {settings.region}{other}; "
        "nothing sent)"
    )
    for path in est.unknown:
        print(f"error: {path}: its length cannot be read, so its cost is unknown", file=sys.stderr)
    return 1 if est.unknown else 0


def _leave_unsent(engine: Engine, jobs: list[Job]) -> list[Job]:
    """Jobs a paused queue left unsent: canceled in the history (nothing sends them later
    without being asked; ``stepfun-asr retry ID`` does), returned in file order."""
    from tui.store.records import JobState, JobStateError

    left = []
    for job in jobs:
        current = engine.store.get_job(job.id)
        if current is not None and current.state is JobState.QUEUED:
            try:
                engine.cancel(job.id)
            except JobStateError:
                continue
            left.append(current)
    return left


def _submit(
    engine: Engine,
    args: argparse.Namespace,
    settings: Settings,
    override: AudioFormat | None,
    formats: tuple[str, ...],
) -> list[Job]:
    """One job per file, in the history like every other (``stepfun-asr jobs`` lists them)."""
    from tui.store.records import JobOptions
    from tui.transcript.exports import ExportSpec, planned_paths

    planned: set[Path] = set()
    jobs = []
    for path in args.files:
        export = None
        if formats:
            # Overwrite what earlier runs left, but never what this run writes for another
            # file (talk.wav and talk.m4a in one call both map to talk.srt).
            targets = set(planned_paths(path, formats, args.out_dir))
            policy = "suffix" if targets & planned else "overwrite"
            if policy == "suffix":
                # One file at a time, so the first file keeps the plain name.
                engine.runner.concurrency = 1
            planned |= targets
            out_dir = str(args.out_dir.expanduser().absolute()) if args.out_dir else None
            export = ExportSpec(formats=formats, out_dir=out_dir, policy=policy)
        # Only what was given on the command line is this run's choice; the rest is left to
        # the settings and the recording's folder files (global < folder < flag).
        options = JobOptions(
            model=settings.model if args.model else None,
            language=settings.language if args.language else None,
            hotwords=tuple(settings.hotwords) if args.hotwords is not None else None,
            cross_check=args.cross_check,
            export=export,
            audio_format=override,
            compress=False if args.no_compress else None,
            speakers=settings.speakers if getattr(args, "speakers", None) else None,
        )
        jobs.append(engine.submit(path, options, origin="cli"))
    return jobs


class BatchReport:
    """Prints each job's text (stdout) and failures, warnings and files (stderr) as the engine
    reports them, in the order the files were given (a later file's lines wait their turn)."""

    def __init__(
        self, engine: Engine, jobs: list[Job], *, as_json: bool, live: bool, show_text: bool
    ) -> None:
        self.engine = engine
        self.jobs = jobs
        self.as_json = as_json
        self.live = live
        self.show_text = show_text
        self.order = {job.id: i for i, job in enumerate(jobs)}
        self.started: dict[int, float] = {}
        self.streamed: dict[int, str] = {}
        self.pending: dict[int, list[tuple[bool, str]]] = {}
        self.settled: set[int] = set()
        self.head = 0  # index of the first file whose lines are not all out yet
        self.failed = 0
        self.paused: str | None = None  # why the queue stopped (an account refusal, an outage)
        self.tried: set[int] = set()  # requeued after a try that met the pause

    def on_event(self, event: Event) -> None:
        from tui.engine import events as ev

        match event:
            case ev.JobStarted(job_id=jid) if jid in self.order:
                self.started.setdefault(jid, time.monotonic())
                if self.live and len(self.jobs) > 1:
                    self._header(jid)
            case ev.JobDeltaReceived(job_id=jid, text=text) if self.live and jid in self.order:
                self.streamed[jid] = self.streamed.get(jid, "") + text
                sys.stdout.write(text)
                sys.stdout.flush()
            case ev.JobRestarted(job_id=jid, reason=reason) if jid in self.order:
                if self.live and self.streamed.pop(jid, ""):
                    sys.stdout.write("\n")
                self._note(jid, f"retrying {stdin_audio.label(self._source(jid))}: {reason}")
            case ev.JobFinished(job_id=jid, result=result) if jid in self.order:
                self._finished(jid, result)
            case ev.JobFailed(job_id=jid, message=message, kind=kind) if jid in self.order:
                self._failed(jid, message, kind)
            case ev.JobCanceled(job_id=jid) if jid in self.order and jid not in self.settled:
                if self.paused is None:
                    self._failed(jid, "canceled", "canceled")
            case ev.QueuePaused(message=message, reason=reason):
                # This command does not wait for an outage to end: it stops and says so.
                outage = reason is ev.PauseReason.OUTAGE
                self.paused = message.replace(", retrying", "") if outage else message
            case ev.JobRequeued(job_id=jid) if jid in self.order:
                self.tried.add(jid)
                if self.live and self.streamed.pop(jid, ""):
                    print(flush=True)
            case ev.ExportWritten(job_id=jid, paths=paths) if jid in self.order:
                for path in paths:
                    self._note(jid, f"wrote {path}")
            case ev.ExportFailed(job_id=jid, message=message) if jid in self.order:
                # The text is still printed: the user paid for it.
                self.failed += 1
                self._out(jid, file_error(self._source(jid), message), err=True)

    def _note(self, job_id: int, text: str, *, verbose_only: bool = False) -> None:
        """A line for stderr that -q silences (-v only: ``verbose_only``)."""
        if not quiet():
            from tui.cli_common import verbose

            if not verbose_only or verbose():
                self._out(job_id, text, err=True)

    def _out(self, job_id: int, text: str, *, err: bool = False) -> None:
        if self.order[job_id] <= self.head:
            print(text, file=sys.stderr if err else sys.stdout, flush=True)
        else:
            self.pending.setdefault(job_id, []).append((err, text))

    def _settle(self, job_id: int) -> None:
        self.settled.add(job_id)
        while self.head < len(self.jobs) and self.jobs[self.head].id in self.settled:
            self.head += 1
            if self.head < len(self.jobs):
                for err, text in self.pending.pop(self.jobs[self.head].id, []):
                    print(text, file=sys.stderr if err else sys.stdout, flush=True)

    def _header(self, job_id: int) -> None:
        if not self.as_json:
            first = self.order[job_id] == 0
            self._out(job_id, ("" if first else "\n") + f"==> {self._source(job_id)} <==")

    def _source(self, job_id: int) -> Path:
        return self.jobs[self.order[job_id]].source

    def _elapsed(self, job_id: int) -> float:
        return round(time.monotonic() - self.started.get(job_id, time.monotonic()), 3)

    def _finished(self, job_id: int, result: TranscriptionResult) -> None:
        name = stdin_audio.label(result.file)
        elapsed = self._elapsed(job_id)
        if self.as_json:
            data = {"job_id": job_id, **result.to_json(), "elapsed_s": elapsed, "file": name}
            self._out(job_id, json.dumps(data, ensure_ascii=False))
        elif self.live:
            streamed = self.streamed.pop(job_id, "")
            print(flush=True)
            if streamed.strip() != result.text.strip():
                # The service's final text is what the files hold; show it when it differs.
                print("--- final text ---", file=sys.stderr)
                print(result.text, flush=True)
        elif self.show_text:
            if len(self.jobs) > 1:
                self._header(job_id)
            self._out(job_id, result.text)
        audio = f"{result.duration_s:.1f} s of audio" if result.duration_s else "audio"
        self._note(job_id, f"{name}: {audio} transcribed in {elapsed:.1f} s", verbose_only=True)
        for warning in result.warnings:
            if warning.serious:  # a transcript that may be wrong is reported even under -q
                line = f"{paint('REVIEW', 'yellow')}: {name}: {warning.message}"
                self._out(job_id, line, err=True)
            else:
                self._note(job_id, f"warning: {name}: {warning.message}")
        self._settle(job_id)

    def _failed(self, job_id: int, message: str, kind: str) -> None:
        self.failed += 1
        source = self._source(job_id)
        if self.as_json:
            line = {
                "job_id": job_id,
                "file": stdin_audio.label(source),
                "error": message,
                "error_kind": kind,
                "elapsed_s": self._elapsed(job_id),
            }
            self._out(job_id, json.dumps(line, ensure_ascii=False))
        elif self.live and self.streamed.pop(job_id, ""):
            print(flush=True)
        self._out(job_id, file_error(source, message, stdin_audio.label(source)), err=True)
        self._settle(job_id)

    def finish(self) -> int:
        """Exit status; first, what a paused queue left unsent, each file by name."""
        if self.paused is not None:
            print(f"error: stopped: {self.paused}", file=sys.stderr, flush=True)
            for job in _leave_unsent(self.engine, self.jobs):
                what = "not transcribed" if job.id in self.tried else "not sent"
                self._failed(
                    job.id,
                    f"{what} (job {job.id}; `stepfun-asr retry` queues it)",
                    what.replace(" ", "_"),
                )
        return 1 if self.failed else 0
