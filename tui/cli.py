"""The `stepfun-asr` command: the workbench by default, headless subcommands otherwise."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tui import __version__

# Each module has register(subparsers) and a run(args) -> int set as the subcommand's func.
# register() must stay cheap: heavy imports (httpx, Textual) happen inside run().
COMMAND_MODULES = (
    "tui.commands.transcribe_cmd",
    "tui.commands.config_cmd",
    "tui.commands.watch_cmd",
    "tui.commands.jobs_cmd",
    "tui.commands.emulator_cmd",
    "tui.commands.tui_cmd",
    "tui.commands.db_cmd",
)

EXIT_CODES = """exit codes:
  0  every file transcribed
  1  at least one transcription failed
  2  usage error, bad setting or missing API key (nothing was sent)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stepfun-asr",
        description="Transcribe audio with StepFun's stepaudio-2.5-asr. With no command, "
        "opens the workbench on the current folder.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"stepfun-asr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        argv = ["tui"]
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    # A file name with bytes that are not UTF-8 is printed escaped, never a crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        return int(args.func(args))
    except Exception as exc:
        from tui.store.errors import StoreError, is_store_error, store_error_sentence

        if not isinstance(exc, StoreError) and not is_store_error(exc):
            raise
        print(
            f"stepfun-asr: {store_error_sentence(exc, getattr(args, 'db', None))}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
