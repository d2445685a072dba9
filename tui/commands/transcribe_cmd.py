"""`stepfun-asr transcribe FILE...`: one-shot transcription, text to stdout."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from tui.audio.encoding import FORMAT_TYPES, AudioFormat
from tui.cli_common import (
    client_options,
    detail,
    fail_usage,
    file_error,
    load_or_exit,
    paint,
    quiet,
    retry_reporter,
    say,
    verbose,
)
from tui.commands import stdin_audio
from tui.config import Settings
from tui.errors import AsrError, ErrorKind
from tui.secrets import redact
from tui.stepfun.events import AttemptRestarted, DeltaReceived
from tui.transcript.formats import FORMATS
from tui.transcript.model import TranscriptionResult


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "transcribe",
        parents=[client_options()],
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
    settings = load_or_exit(args)
    if isinstance(settings, int):
        return settings
    if args.no_compress:
        settings.compress = False
    return asyncio.run(_run_all(args, settings, override, formats))


async def _run_all(
    args: argparse.Namespace,
    settings: Settings,
    override: AudioFormat | None,
    formats: tuple[str, ...],
) -> int:
    # Imported here so that building the CLI parser stays cheap for every other command.
    from tui.pipeline.transcription import transcribe_file
    from tui.stepfun.client import AsrClient
    from tui.transcript.exports import planned_paths, write_exports

    live = sys.stderr.isatty() and not args.json and not quiet()
    failed = 0
    written_now: set[Path] = set()
    async with AsrClient(settings.require_key(), settings.resolved_base_url) as client:
        for path in args.files:
            started = time.monotonic()
            try:
                result = await transcribe_file(
                    path,
                    settings,
                    client,
                    on_event=_live_printer() if live else retry_reporter() if verbose() else None,
                    cross_check=args.cross_check,
                    format_override=override,
                )
            except AsrError as exc:
                failed += 1
                _report_failure(path, exc, args.json, time.monotonic() - started)
                continue
            except Exception as exc:  # a bug must fail this file, not the whole run
                failed += 1
                err = AsrError(
                    ErrorKind.BAD_INPUT,
                    redact(f"Unexpected {type(exc).__name__}: {exc}", settings.require_key()),
                )
                _report_failure(path, err, args.json, time.monotonic() - started)
                continue
            if live:
                print(file=sys.stderr)
            detail(f"{stdin_audio.label(path)}: {_timing(result, time.monotonic() - started)}")
            written: list[Path] = []
            try:
                if formats:
                    # Overwrite what earlier runs left, but never what this run just wrote
                    # (talk.wav and talk.m4a in one call both map to talk.srt).
                    clash = written_now.intersection(planned_paths(path, formats, args.out_dir))
                    written = write_exports(
                        result, path, formats, args.out_dir, "suffix" if clash else "overwrite"
                    )
                    written_now.update(written)
            except OSError as exc:
                # The text is still printed: the user paid for it.
                failed += 1
                print(file_error(path, f"could not write output files: {exc}"), file=sys.stderr)
            _report_success(result, args.json, written, show_text=not (quiet() and formats))
    return 1 if failed else 0


def _live_printer() -> Any:
    def on_event(event: object) -> None:
        if isinstance(event, DeltaReceived):
            sys.stderr.write(event.text)
            sys.stderr.flush()
        elif isinstance(event, AttemptRestarted):
            sys.stderr.write(f"\n[retry {event.attempt} in {event.delay_s:.1f}s: {event.reason}]\n")

    return on_event


def _timing(result: TranscriptionResult, elapsed: float) -> str:
    audio = f"{result.duration_s:.1f} s of audio" if result.duration_s else "audio"
    return f"{audio} transcribed in {elapsed:.1f} s"


def _report_success(
    result: TranscriptionResult, as_json: bool, written: list[Path], show_text: bool = True
) -> None:
    name = stdin_audio.label(result.file)
    if as_json:
        data = result.to_json()
        data["file"] = name
        data["outputs"] = [str(p) for p in written]
        print(json.dumps(data, ensure_ascii=False), flush=True)
    elif show_text:
        print(result.text, flush=True)
    for warning in result.warnings:
        if warning.serious:  # a transcript that may be wrong is reported even under -q
            print(f"{paint('REVIEW', 'yellow')}: {name}: {warning.message}", file=sys.stderr)
        else:
            say(f"warning: {name}: {warning.message}")
    for path in written:
        say(f"wrote {path}")


def _report_failure(path: Path, exc: AsrError, as_json: bool, elapsed: float) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "file": stdin_audio.label(path),
                    "error": exc.message,
                    "error_kind": exc.kind.value,
                    "elapsed_s": round(elapsed, 3),
                },
                ensure_ascii=False,
            ),
            flush=True,
        )
    print(file_error(path, exc.message, stdin_audio.label(path)), file=sys.stderr)
