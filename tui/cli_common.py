"""Options shared by the commands, how they become Settings, and how the CLI talks to people.

Every command takes ``-q/--quiet`` (errors only), ``-v/--verbose`` (retries, timings, requests)
and ``--log-file`` (:class:`CommandParser` adds them to each subcommand). Colour is used only on
a terminal and never when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tui import config
from tui.config import REGIONS, ConfigError, Settings
from tui.config_values import LANGUAGES


def client_options() -> argparse.ArgumentParser:
    """A parent parser: region, base URL, model and recognition options."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("service")
    group.add_argument(
        "--region",
        choices=sorted(REGIONS),
        help="cn (default), cn-plan, intl or intl-plan; a Step Plan key needs a -plan region",
    )
    group.add_argument(
        "--base-url",
        help="override the region's base URL (https, or http on loopback), e.g. for the emulator",
    )
    group.add_argument("--model", help="default stepaudio-2.5-asr")
    group.add_argument(
        "--language",
        help=f"{', '.join(LANGUAGES)} or auto; omitted: the config's (default auto, the service "
        "detects it)",
    )
    group.add_argument("--hotwords", help="comma-separated terms to favour")
    group.add_argument(
        "--speakers",
        metavar="N",
        help="speaker labels computed on this machine: off, auto, a count (3) or a range (2-4)",
    )
    group.add_argument(
        "--no-itn",
        action="store_true",
        help="turn off inverse text normalisation (digits stay as words)",
    )
    group.add_argument(
        "--no-timestamps",
        action="store_true",
        help="do not ask for word timestamps (subtitles need them)",
    )
    return parent


def db_option() -> argparse.ArgumentParser:
    """A parent parser: ``--db FILE``, the job database (the commands that read or run jobs)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--db",
        type=Path,
        metavar="FILE",
        help="job database (default: the user data dir; `stepfun-asr config path` shows it)",
    )
    return parent


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Config file + environment, then the command line on top. Raises ConfigError."""
    settings = config.load()
    if settings.api_key:
        from tui import logs

        logs.protect(settings.api_key.reveal())
    overrides: dict[str, Any] = {
        "region": getattr(args, "region", None),
        "base_url": getattr(args, "base_url", None),
        "model": getattr(args, "model", None),
        "language": getattr(args, "language", None),
        "hotwords": getattr(args, "hotwords", None),
        "speakers": getattr(args, "speakers", None),
    }
    for name, value in overrides.items():
        if value is not None:
            try:
                config.apply(settings, name, value)
            except ConfigError as exc:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag}: {exc}") from None
    if getattr(args, "speakers", None) and settings.speakers != "off":
        from tui.speakers.model_files import ModelMissingError, require_model

        try:
            require_model()  # asked for on the command line: say so before any upload
        except ModelMissingError as exc:
            raise ConfigError(f"--speakers: {exc}") from None
    from tui.stepfun.options import plan_model_problem

    if getattr(args, "model", None) and (problem := plan_model_problem(settings)):
        raise ConfigError(problem)  # Step Plan has one model; say so before any upload
    if getattr(args, "region", None) and not getattr(args, "base_url", None):
        settings.base_url = None  # an explicit region beats a base URL from the environment
    if getattr(args, "no_itn", False):
        settings.itn = False
    if getattr(args, "no_timestamps", False):
        settings.timestamps = False
    settings.resolved_base_url  # noqa: B018 - validates the URL now, before any work
    return settings


def fail_usage(message: str) -> int:
    print(f"{paint('stepfun-asr:', 'red')} {message}", file=sys.stderr)
    return 2


# --------------------------------------------------------------- verbosity, colour, log file


def output_options(*, top_level: bool = False) -> argparse.ArgumentParser:
    """A parent parser: -q/-v/--log-file. Below the top level the defaults are suppressed, so
    ``stepfun-asr -v watch DIR`` and ``stepfun-asr watch -v DIR`` both count."""
    parent = argparse.ArgumentParser(add_help=False)
    default: Any = None if top_level else argparse.SUPPRESS
    group = parent.add_argument_group("output")
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=False if top_level else argparse.SUPPRESS,
        help="print errors only (transcribe still prints the text unless -o writes files)",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top_level else argparse.SUPPRESS,
        help="also print retries, timings and requests (-vv: debug detail)",
    )
    group.add_argument(
        "--log-file",
        type=Path,
        metavar="FILE",
        default=default,
        help="write the log here instead of the user log folder (`config path` shows it)",
    )
    return parent


class _CommandSubParsers(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Gives every subcommand (and sub-subcommand) the output options."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs["parents"] = [*kwargs.get("parents", []), output_options()]
        parser: argparse.ArgumentParser = super().add_parser(name, **kwargs)
        return parser


class CommandParser(argparse.ArgumentParser):
    """The `stepfun-asr` parser: subparsers made through it share the output options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _CommandSubParsers)


@dataclass
class Output:
    """How chatty the CLI is; set once per run from the parsed arguments."""

    quiet: bool = False
    verbose: int = 0


OUTPUT = Output()


# Commands whose screen is the terminal: log records must not be written over it.
FULL_SCREEN = frozenset({"tui", "demo"})


def configure_output(args: argparse.Namespace) -> None:
    """Verbosity from -q/-v, and where log records go: the log file always (a traceback has to
    land somewhere other than the user's terminal), one-line summaries on stderr too."""
    from tui import logs  # not at import time: building the parser stays cheap

    OUTPUT.quiet = bool(getattr(args, "quiet", False))
    OUTPUT.verbose = 0 if OUTPUT.quiet else int(getattr(args, "verbose", 0) or 0)
    log_file: Path | None = getattr(args, "log_file", None)
    logs.install(log_file, debug=OUTPUT.verbose > 1)  # the file appears with the first record
    if getattr(args, "command", None) not in FULL_SCREEN:
        logs.to_console(verbose=OUTPUT.verbose, quiet=OUTPUT.quiet)


def quiet() -> bool:
    return OUTPUT.quiet


def verbose() -> bool:
    return OUTPUT.verbose > 0


def say(text: str) -> None:
    """A progress or status line for people (stderr); silent under -q."""
    if not OUTPUT.quiet:
        print(text, file=sys.stderr, flush=True)


def detail(text: str) -> None:
    """Only with -v: retries, timings, requests."""
    if OUTPUT.verbose:
        print(text, file=sys.stderr, flush=True)


def retry_reporter() -> Any:
    """-v without a terminal: an ``on_event`` for the pipeline that prints each retry."""
    from tui.stepfun.events import AttemptRestarted

    def on_event(event: object) -> None:
        if isinstance(event, AttemptRestarted):
            detail(f"retry {event.attempt} in {event.delay_s:.1f} s: {event.reason}")

    return on_event


_COLOURS = {"red": "31", "yellow": "33", "green": "32", "dim": "2", "bold": "1"}


def colour_enabled(stream: TextIO | None = None) -> bool:
    """ANSI colour only on a terminal, never with NO_COLOR set (no-color.org) or TERM=dumb."""
    stream = sys.stderr if stream is None else stream
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    if not colour_enabled(stream):
        return text
    return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"


def file_error(path: Path | str, message: str, label: str | None = None) -> str:
    """``error: PATH: message`` naming the file once, even when the message starts with its name
    (audio errors say ``talk.wav: …`` so that they stand alone in the workbench). ``label`` is
    how to call the file instead of its path (``stdin``)."""
    name = Path(path).name
    if name and message.startswith(f"{name}: "):
        message = message[len(name) + 2 :]
    return f"{paint('error', 'red')}: {label or path}: {message}"


def unknown_job(job_id: int) -> int:
    """The one sentence for an ID no job has (every command that takes an ID)."""
    print(
        f"{paint('stepfun-asr:', 'red')} there is no job {job_id}; "
        "`stepfun-asr jobs` lists the job IDs.",
        file=sys.stderr,
    )
    return 1


def load_or_exit(args: argparse.Namespace, *, need_key: bool = True) -> Settings | int:
    """Settings, or exit code 2 after printing why (bad setting, missing key)."""
    try:
        settings = settings_from_args(args)
        if need_key:
            settings.require_key()
    except ConfigError as exc:
        return fail_usage(str(exc))
    return settings
