"""The on-done hook: a user's command run with each new transcript's path, never fatal.

A hook never sees the API key (its environment is cleaned), runs in its own process group with
a timeout, dies with the daemon (a parent-death signal, Linux) and is killed, group and all, when
the daemon stops. How many run at once is the caller's business (``tui.engine.delivery``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import shlex
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tui.childenv import clean_child_env
from tui.transcript.exports import HOOK_TIMEOUT_S

_PR_SET_PDEATHSIG = 1


@dataclass
class HookOutcome:
    ok: bool
    message: str = ""
    returncode: int | None = None
    output: str = field(default="", repr=False)


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the daemon dies, even by SIGKILL."""
    libc = _LIBC
    if libc is not None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError):
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return None


_LIBC = _load_libc()


async def run_hook(
    command: str,
    transcript: Path,
    *,
    timeout_s: float = HOOK_TIMEOUT_S,
    key: str | None = None,
    on_start: Callable[[], None] | None = None,
) -> HookOutcome:
    """Run ``command`` (shlex-split, no shell) with the transcript path appended.

    Never raises for the hook's own failure: a bad command, a non-zero exit or a timeout is
    reported in the outcome so the caller can log it and carry on. The hook runs in its own
    session: a terminal's Ctrl-C meant for the daemon does not cut it short, and a timeout or
    a cancel (the daemon stopping) ends it with everything it started. Its output goes to a
    file, not a pipe, so a helper it leaves running in the background cannot hold us up until
    the timeout. ``key``: the API key, kept out of its environment.
    """
    try:
        argv = [*shlex.split(command), str(transcript)]
    except ValueError as exc:
        return HookOutcome(False, f"on-done command {command!r} cannot be parsed: {exc}")
    if len(argv) < 2:
        return HookOutcome(False, "on-done command is empty")
    with tempfile.TemporaryFile() as log:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                env=clean_child_env(key),
                preexec_fn=_die_with_parent if _LIBC is not None else None,
            )
        except OSError as exc:
            return HookOutcome(False, f"on-done command {argv[0]!r} could not start: {exc}")
        if on_start is not None:
            on_start()
        try:
            async with asyncio.timeout(timeout_s):
                await proc.wait()
        except TimeoutError:
            await _kill(proc)
            return HookOutcome(
                False, f"on-done command {argv[0]!r} timed out after {timeout_s:g} s"
            )
        except asyncio.CancelledError:
            await asyncio.shield(_kill(proc))
            raise
        text = _tail(log, 4096).decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        tail = text[-300:]
        msg = f"on-done command {argv[0]!r} exited with {proc.returncode}"
        return HookOutcome(False, f"{msg}: {tail}" if tail else msg, proc.returncode, text)
    return HookOutcome(True, "", 0, text)


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the hook's process group (it was started as a session leader), then reap it."""
    killpg = getattr(os, "killpg", None)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if killpg is not None:
            killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    await proc.wait()


def _tail(fh: IO[bytes], size: int) -> bytes:
    fh.seek(0, os.SEEK_END)
    fh.seek(max(0, fh.tell() - size))
    return fh.read()
