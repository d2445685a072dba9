"""The log file: what the workbench and the watch daemon did, and the traceback of anything
unexpected, one dated line per record in the user log folder (``stepfun-asr config path``).

Every record goes through :class:`RedactingFilter` first, so the API key never reaches a log,
whatever a server echoed back or an exception carried. No Textual and no engine imports here.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tui import locations
from tui.secrets import redact

FORMAT = "%(asctime)s %(levelname)-7s [%(process)d] %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_BYTES = 2_000_000
BACKUPS = 3
# Libraries that would flood the file at INFO (watchfiles reports every batch of changes).
_QUIET_LIBRARIES = {"watchfiles": logging.WARNING, "httpcore": logging.WARNING}

# `extra=FILE_ONLY` on a record its caller has shown on the console already.
FILE_ONLY = {"console": False}

_protected: set[str] = set()
_file_handler: PrivateLogFile | None = None
_console_handler: logging.Handler | None = None


def protect(secret: str | None) -> None:
    """Redact this value from every record from now on (the key, once settings are loaded)."""
    if secret and len(secret) >= 4:
        _protected.add(secret)


def known_secrets() -> list[str]:
    found = set(_protected)
    env_key = os.environ.get("STEPFUN_API_KEY", "").strip()
    if env_key:
        found.add(env_key)
    return sorted(found, key=len, reverse=True)  # a longer secret first: no half-redacted key


class RedactingFilter(logging.Filter):
    """Replaces the message, its traceback and stack with redacted text before any formatting.

    The record itself is changed, so every handler downstream sees the redacted text only.
    """

    def __init__(self, secrets: Callable[[], Iterable[str]] = known_secrets) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = tuple(self._secrets())
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message, *secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, *secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, *secrets)
        return True


class PrivateLogFile(logging.handlers.RotatingFileHandler):
    """The rotating log, created (folder and file, mode 0600) only when a first record comes:
    a command that logs nothing leaves nothing behind. A log that cannot be written costs one
    warning line on stderr, never the traceback logging would print by default."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True
        )
        self.failed: OSError | None = None
        self.warn = True  # off while a crash report tries this file and then another

    def _open(self) -> Any:
        path = Path(self.baseFilename)
        path.parent.mkdir(parents=True, exist_ok=True)
        # File names and error texts are nobody else's business.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if self.failed is None and self.warn:
            print(
                f"stepfun-asr: warning: cannot write the log {self.baseFilename}: {error}",
                file=sys.stderr,
            )
        self.failed = error if isinstance(error, OSError) else OSError(str(error))

    def written(self) -> bool:
        return self.failed is None and self.stream is not None


def _formatter() -> logging.Formatter:
    return logging.Formatter(FORMAT, DATE_FORMAT)


def _load_config_key() -> None:
    # The key in the config file is protected as soon as logging starts, before any command
    # has loaded its settings (a bad config file is the command's to report, not ours).
    with contextlib.suppress(Exception):
        from tui import config

        settings = config.load()
        if settings.api_key:
            protect(settings.api_key.reveal())


def install(log_file: Path | None = None, *, debug: bool = False) -> Path:
    """Send log records to the rotating log from now on (idempotent). The file is made when the
    first record arrives; if it cannot be, that is one warning line, never fatal."""
    global _file_handler
    path = Path(log_file).expanduser() if log_file else locations.log_file()
    level = logging.DEBUG if debug else logging.INFO
    if _file_handler is not None and Path(_file_handler.baseFilename) == path.absolute():
        _file_handler.setLevel(min(level, _file_handler.level))
        return path
    handler = PrivateLogFile(path)
    uninstall()
    handler.setFormatter(_formatter())
    handler.addFilter(RedactingFilter())
    handler.setLevel(level)
    _load_config_key()
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    for name, quiet_level in _QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(logging.DEBUG if debug else quiet_level)
    _file_handler = handler
    return path


def uninstall() -> None:
    global _file_handler
    if _file_handler is not None:
        logging.getLogger().removeHandler(_file_handler)
        _file_handler.close()
        _file_handler = None


def current_file() -> Path | None:
    return Path(_file_handler.baseFilename) if _file_handler else None


def start(log_file: Path | None, component: str) -> Path:
    """For the workbench and the daemon: install the log and note the start, which also makes
    the file now — a log that cannot be written is a warning before work begins, not later."""
    path = install(log_file)
    from tui import __version__

    logging.getLogger("tui").info("%s started (stepfun-asr %s)", component, __version__)
    return path


class ConsoleHandler(logging.Handler):
    """Log records on stderr as one line each, never a traceback: a record that carries one
    says where the log file holding it is (the file handler has written it by then)."""

    def __init__(self, level: int, detailed: bool) -> None:
        super().__init__(level)
        self.detailed = detailed
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "console", True) is False:
            return
        try:
            message = record.getMessage().splitlines()[0] if record.getMessage() else ""
            if self.detailed:
                when = time.strftime(DATE_FORMAT, time.localtime(record.created))
                line = f"{when} {record.name}: {message}"
            else:
                line = f"stepfun-asr: {record.levelname.lower()}: {message}"
            if record.exc_info or record.exc_text:
                where = current_file()
                line += f" (traceback in {where})" if where else ""
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def to_console(*, verbose: int = 0, quiet: bool = False) -> None:
    """Warnings (errors under -q; with -v also retries and requests, -vv debug) on stderr, one
    line each. Not for the workbench: its screen is the terminal."""
    global _console_handler
    if _console_handler is not None:
        logging.getLogger().removeHandler(_console_handler)
    level = (
        logging.ERROR
        if quiet
        else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    )
    handler = ConsoleHandler(level, detailed=verbose > 0)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    if verbose:
        logging.getLogger("httpx").setLevel(
            logging.INFO
        )  # one line per request: method, URL, status
    for name, quiet_level in _QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(logging.DEBUG if verbose > 1 else quiet_level)
    _console_handler = handler


def record_crash(exc: BaseException, log_file: Path | None, where: str) -> Path | None:
    """Write ``exc`` with its traceback to the log; the path written, or None if no file could
    be written at all (the default log first, then a temporary file)."""
    import tempfile

    candidates: list[Path | None] = [log_file] if log_file else [None]
    candidates.append(Path(tempfile.gettempdir()) / f"stepfun-asr-crash-{os.getpid()}.log")
    for candidate in candidates:
        try:
            path = install(candidate)
        except OSError:
            continue
        handler = _file_handler
        if handler is None:
            continue
        handler.warn = False
        logging.getLogger("tui.cli").error(
            "unexpected %s in %s", type(exc).__name__, where, exc_info=exc, extra=FILE_ONLY
        )
        handler.flush()
        handler.warn = True
        if handler.written():
            return path
        uninstall()
    return None
