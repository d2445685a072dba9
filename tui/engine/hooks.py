"""The on-done hook: a user's command run with each new transcript's path, never fatal."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tui.transcript.exports import HOOK_TIMEOUT_S


@dataclass
class HookOutcome:
    ok: bool
    message: str = ""
    returncode: int | None = None
    output: str = field(default="", repr=False)


async def run_hook(
    command: str,
    transcript: Path,
    *,
    timeout_s: float = HOOK_TIMEOUT_S,
) -> HookOutcome:
    """Run ``command`` (shlex-split, no shell) with the transcript path appended.

    Never raises for the hook's own failure: a bad command, a non-zero exit or a timeout is
    reported in the outcome so the caller can log it and carry on. The hook runs in its own
    session: a terminal's Ctrl-C meant for the daemon does not cut it short, and a timeout
    ends it with everything it started. Its output goes to a file, not a pipe, so a helper it
    leaves running in the background cannot hold us up until the timeout.
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
            )
        except OSError as exc:
            return HookOutcome(False, f"on-done command {argv[0]!r} could not start: {exc}")
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
