"""Waiting out a database that refuses a write (busy, locked, full disk) instead of dropping
what was to be written: a paid transcript, a file's admission."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from tui.store.errors import store_error_sentence

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_MAX_WAIT_S = 60.0  # the longest pause between two tries
RETRY_LIMIT_S = 6 * 3600.0  # then the error is raised after all


def transient(exc: BaseException) -> bool:
    """An error that goes away by itself or once the user frees space: worth waiting for."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    low = str(exc).lower()
    return any(word in low for word in ("locked", "busy", "full", "i/o error", "unable to open"))


async def retry_store(
    write: Callable[[], T],
    what: str,
    *,
    on_wait: Callable[[str], None] | None = None,
    limit_s: float = RETRY_LIMIT_S,
) -> T:
    """``write()``, tried again with backoff while the database refuses it for a transient
    reason; ``on_wait`` gets one sentence the first time. Bounded by ``limit_s``."""
    started = time.monotonic()
    failures = 0
    while True:
        try:
            return write()
        except sqlite3.OperationalError as exc:
            if not transient(exc) or time.monotonic() - started > limit_s:
                raise
            failures += 1
            delay = min(RETRY_MAX_WAIT_S, 0.25 * 2 ** min(failures, 10))
            log.warning("%s: %s; trying again in %g s", what, exc, delay)
            if failures == 1 and on_wait is not None:
                on_wait(f"{what}: {store_error_sentence(exc)}; it is kept and tried again")
            await asyncio.sleep(delay)
