"""Where a folder's change notifications come from: OS events (inotify and friends, through
watchfiles' Rust ``notify``), and how to tell they are not coming.

``notify`` in recursive mode says nothing when the inotify watch limit is reached: the folders
past the limit are simply deaf. ``watch_limit_reached`` asks the kernel directly (one watch on a
fresh inotify instance) so the watcher can switch that tree to polling and say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import os
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the Rust extension loads with the first watch, not with the engine
    from watchfiles._rust_notify import RustNotify

SYSCTL_HINT = (
    "raise the limit with `sudo sysctl fs.inotify.max_user_watches=524288` "
    "(and put `fs.inotify.max_user_watches=524288` in /etc/sysctl.d/40-inotify.conf to keep it)"
)
_IN_CLOEXEC = 0o2000000
_IN_CREATE = 0x100


def open_events(root: Path, *, recursive: bool, polling: bool) -> RustNotify:
    """Start notify's watch thread on ``root`` (blocking: a big tree takes a while, so call it in
    a thread). Once this returns, every change is reported: the start-up scan comes after it."""
    from watchfiles._rust_notify import RustNotify

    return RustNotify([str(root)], False, polling, 300, recursive, True)


async def changes(
    notify: RustNotify, stop: threading.Event, *, debounce_ms: int, step_ms: int = 50
) -> AsyncIterator[set[tuple[int, str]]]:
    """Batches of (change, path) until ``stop`` is set. Each wait runs in a thread and ends at
    least every second, so setting ``stop`` ends this within about a second."""
    try:
        while not stop.is_set():
            raw = await asyncio.to_thread(notify.watch, debounce_ms, step_ms, 1000, stop)
            if isinstance(raw, str):
                if raw == "stop":
                    return
                continue  # "timeout" / "signal": nothing happened
            yield raw
    finally:
        stop.set()  # a cancelled wait leaves its thread polling ``stop``: end it
        notify.close()


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError):
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return None


_LIBC = _libc()


def watch_limit_reached(folder: Path) -> bool:
    """True when the kernel refuses one more inotify watch for this user (ENOSPC): the limit is
    used up, so some folders of a recursive watch are probably not watched. Linux only."""
    if _LIBC is None:
        return False
    fd = _LIBC.inotify_init1(_IN_CLOEXEC)
    if fd < 0:
        return ctypes.get_errno() == errno.EMFILE  # too many inotify instances: same trouble
    try:
        wd = _LIBC.inotify_add_watch(fd, os.fsencode(folder), _IN_CREATE)
        return wd < 0 and ctypes.get_errno() == errno.ENOSPC
    finally:
        os.close(fd)
