"""The `stepfun-asr` command: the workbench by default, headless subcommands otherwise.

No command ever shows a traceback: an unexpected exception is written, with its traceback, to
the log file, and the user gets one line naming the error and that file (exit 1).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from tui import __version__
from tui.cli_common import CommandParser, configure_output, fail_usage, output_options, paint

# Each module has register(subparsers) and a run(args) -> int set as the subcommand's func.
# register() must stay cheap: heavy imports (httpx, Textual) happen inside run().
COMMAND_MODULES = (
    "tui.commands.transcribe_cmd",
    "tui.commands.config_cmd",
    "tui.commands.watch_cmd",
    "tui.commands.jobs_cmd",
    "tui.commands.search_cmd",
    "tui.commands.glossary_cmd",
    "tui.commands.emulator_cmd",
    "tui.commands.tui_cmd",
    "tui.commands.completion_cmd",
    "tui.commands.speakers_cmd",
    "tui.commands.db_cmd",
)
# Which module registers each command: a command (the workbench, `transcribe --help`) builds
# only its own parser, without importing the others (tests check this against the modules).
COMMAND_OWNERS = {
    "transcribe": "tui.commands.transcribe_cmd",
    "config": "tui.commands.config_cmd",
    "watch": "tui.commands.watch_cmd",
    **dict.fromkeys(("jobs", "show", "retry", "cross-check"), "tui.commands.jobs_cmd"),
    "search": "tui.commands.search_cmd",
    "glossary": "tui.commands.glossary_cmd",
    "emulator": "tui.commands.emulator_cmd",
    "tui": "tui.commands.tui_cmd",
    "demo": "tui.commands.tui_cmd",
    "completion": "tui.commands.completion_cmd",
    "speakers": "tui.commands.speakers_cmd",
    "db": "tui.commands.db_cmd",
}

EXIT_CODES = """exit codes:
  0  every file transcribed
  1  at least one transcription failed, or an unexpected error (details in the log file)
  2  usage error, bad setting or missing API key (nothing was sent)
  130  interrupted (Ctrl-C)
"""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``command`` only the one module registering it."""
    parser = CommandParser(
        prog="stepfun-asr",
        description="Transcribe audio with StepFun's stepaudio-2.5-asr. With no command, "
        "opens the workbench on the current folder; `stepfun-asr DIR` opens it on DIR.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[output_options(top_level=True)],
    )
    parser.add_argument("--version", action="version", version=f"stepfun-asr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = COMMAND_MODULES if command is None else (COMMAND_OWNERS[command],)
    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


_TAKES_VALUE = {"--log-file"}
_TOP_FLAGS = {"-h", "--help", "--version", "-q", "--quiet", "-v", "--verbose", "-vv", "-vvv"}


def _first_word(argv: list[str]) -> int:
    """Where the first word after the top-level flags is (``len(argv)`` when there is none)."""
    i = 0
    while i < len(argv) and argv[i] in _TOP_FLAGS | _TAKES_VALUE:
        i += 2 if argv[i] in _TAKES_VALUE else 1
    return i


def _with_command(argv: list[str], commands: set[str]) -> list[str] | str:
    """``stepfun-asr [DIR] [workbench options]`` means the `tui` command. A message (str) when
    the first word is a file, which only `transcribe` takes."""
    i = _first_word(argv)
    if i >= len(argv):
        return argv if any(a in ("-h", "--help", "--version") for a in argv) else [*argv, "tui"]
    word = argv[i]
    if word in commands:
        return argv
    if word.startswith("-") or Path(word).expanduser().is_dir():
        return [*argv[:i], "tui", *argv[i:]]
    if Path(word).expanduser().is_file():
        return (
            f"{word} is a file; `stepfun-asr transcribe {word}` transcribes it "
            "(`stepfun-asr DIR` opens the workbench on a folder)."
        )
    return argv  # argparse names the unknown command and lists the real ones


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    routed = _with_command(argv, set(COMMAND_OWNERS))
    if isinstance(routed, str):
        return fail_usage(routed)
    # A known command builds only its own parser; anything else (top-level --help, a typo)
    # builds them all, so the usage lists every command.
    i = _first_word(routed)
    command = routed[i] if i < len(routed) and routed[i] in COMMAND_OWNERS else None
    parser = build_parser(command)
    args = parser.parse_args(routed)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    # A file name with bytes that are not UTF-8 is printed escaped, never a crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    log_file: Path | None = getattr(args, "log_file", None)
    try:
        configure_output(args)
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from tui.store.errors import StoreError, is_store_error, store_error_sentence

        if isinstance(exc, StoreError) or is_store_error(exc):  # locked, full, corrupt: a sentence
            db = getattr(args, "db", None)
            print(f"stepfun-asr: {store_error_sentence(exc, db)}", file=sys.stderr)
            return 1
        return _report_crash(exc, args, log_file)


def _report_crash(exc: Exception, args: argparse.Namespace, log_file: Path | None) -> int:
    from tui import logs
    from tui.secrets import redact

    where = " ".join(
        str(x) for x in (getattr(args, "command", None), getattr(args, "config_action", None)) if x
    )
    path = logs.record_crash(exc, log_file, where or "stepfun-asr")
    what = redact(f"{type(exc).__name__}: {exc}", *logs.known_secrets()).splitlines()
    first = what[0] if what else type(exc).__name__
    tail = (
        f"the traceback is in {path}"
        if path
        else "no log file could be written (check the log folder)"
    )
    print(
        f"{paint('stepfun-asr:', 'red')} unexpected error ({first}); {tail}. "
        "Please include that file when reporting it.",
        file=sys.stderr,
    )
    return 1
