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
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from tui import locations
from tui.secrets import redact

FORMAT = "%(asctime)s %(levelname)-7s [%(process)d] %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_BYTES = 2_000_000
BACKUPS = 3
# Libraries that would flood the file at INFO (watchfiles reports every batch of changes).
_QUIET_LIBRARIES = {"watchfiles": logging.WARNING, "httpcore": logging.WARNING}

_protected: set[str] = set()
_file_handler: logging.handlers.RotatingFileHandler | None = None
_stderr_handler: logging.StreamHandler[TextIO] | None = None


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


def install(log_file: Path | None = None) -> Path:
    """Start writing the rotating log (idempotent). Raises OSError when the file cannot be
    opened; the caller decides whether that is fatal (it never is for the CLI)."""
    global _file_handler
    path = Path(log_file).expanduser() if log_file else locations.log_file()
    if _file_handler is not None:
        if Path(_file_handler.baseFilename) == path.absolute():
            return path
        uninstall()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)  # file names and errors are nobody else's business
    handler.setFormatter(_formatter())
    handler.addFilter(RedactingFilter())
    handler.setLevel(logging.INFO)
    _load_config_key()
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    for name, level in _QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(level)
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


def start(log_file: Path | None, component: str) -> Path | None:
    """For the workbench and the daemon: install the log and note the start. A log that cannot
    be opened is a warning on stderr, not a reason to stop."""
    try:
        path = install(log_file)
    except OSError as exc:
        print(f"stepfun-asr: warning: cannot write the log file: {exc}", file=sys.stderr)
        return None
    from tui import __version__

    logging.getLogger("tui").info("%s started (stepfun-asr %s)", component, __version__)
    return path


def to_stderr(*, debug: bool = False) -> None:
    """-v: log records on stderr too (retries, requests; -vv adds debug detail)."""
    global _stderr_handler
    if _stderr_handler is not None:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", DATE_FORMAT))
    handler.addFilter(RedactingFilter())
    handler.setLevel(logging.DEBUG if debug else logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else min(root.level or logging.INFO, logging.INFO))
    logging.getLogger("httpx").setLevel(logging.INFO)  # one line per request: method, URL, status
    for name, level in _QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(logging.DEBUG if debug else level)
    _stderr_handler = handler


def record_crash(exc: BaseException, log_file: Path | None, where: str) -> Path | None:
    """Write ``exc`` with its traceback to the log; the path written, or None if no file could
    be written at all (the default log first, then a temporary file)."""
    candidates: list[Path | None] = [log_file] if log_file else [None]
    candidates.append(Path(tempfile.gettempdir()) / f"stepfun-asr-crash-{os.getpid()}.log")
    for candidate in candidates:
        try:
            path = install(candidate)
        except OSError:
            continue
        logging.getLogger("tui.cli").error(
            "unexpected %s in %s", type(exc).__name__, where, exc_info=exc
        )
        if _file_handler is not None:
            _file_handler.flush()
        return path
    return None
