"""Find ffmpeg (and ffprobe) and run them safely from asyncio.

Search order: ``settings.ffmpeg_path``, then ``ffmpeg`` on PATH, then the binary bundled by the
optional ``imageio-ffmpeg`` package (``pip install 'stepfun-asr[ffmpeg]'``; it ships no ffprobe).
Nothing is ever downloaded at run time.

Every run uses an argument list (no shell), ``stdin=DEVNULL`` and, for ffmpeg, ``-nostdin``
(otherwise ffmpeg reads the terminal for its interactive keys and fights the TUI for input), and
an environment without the API key (``tui.childenv.clean_child_env``).
The process is killed, and reaped, when the awaiting task is cancelled or ``cancel`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from tui.childenv import clean_child_env
from tui.errors import AsrError, ErrorKind

FFMPEG_HELP = (
    "ffmpeg is needed for this file but was not found. Install it (`apt install ffmpeg`, "
    "`brew install ffmpeg`, or `pip install 'stepfun-asr[ffmpeg]'`) or set `ffmpeg_path` "
    "in the config."
)


def find_ffmpeg(configured: str | None = None) -> str | None:
    """Path of a usable ffmpeg binary, or None."""
    if configured:
        found = shutil.which(configured) or (configured if _is_exe(configured) else None)
        # An explicit setting that points nowhere is not silently replaced by another binary.
        return found
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg  # optional extra: a bundled static build
    except ImportError:
        return None
    try:
        exe = str(imageio_ffmpeg.get_ffmpeg_exe())
    except (RuntimeError, OSError):  # it raises when its binary is missing
        return None
    return exe if _is_exe(exe) else None


def find_ffprobe(ffmpeg: str | None) -> str | None:
    """ffprobe next to the chosen ffmpeg, else on PATH; None if absent (it is optional)."""
    if ffmpeg is None:
        return None
    sibling = Path(ffmpeg).with_name("ffprobe" + Path(ffmpeg).suffix)
    if _is_exe(str(sibling)):
        return str(sibling)
    return shutil.which("ffprobe")


def require_ffmpeg(configured: str | None, why: str = "") -> str:
    exe = find_ffmpeg(configured)
    if exe is None:
        prefix = f"{why}: " if why else ""
        if configured:
            raise AsrError(
                ErrorKind.BAD_INPUT,
                f"{prefix}ffmpeg_path is set to {configured!r}, "
                "which is not an executable. Fix the setting or remove it.",
            )
        raise AsrError(ErrorKind.BAD_INPUT, prefix + FFMPEG_HELP)
    return exe


def _is_exe(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: bytes
    stderr: str

    def reason(self) -> str:
        """ffmpeg's own words for a failure, shortened (see ``reason_from``)."""
        return reason_from(self.stderr) or f"exit code {self.returncode}"


_LOG_PREFIX = re.compile(r"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*")
# Lines that are not a reason at all.
_NOISE = (
    "Input #",
    "Stream #",
    "Duration:",
    "Metadata:",
    "size=",
    "At least one output file",
    "Last message repeated",
    "Press [q]",
)
# ffmpeg's own wrappers around a failure further down ("Error configuring filter graph" when a
# decoder produced nothing): shown only when nothing more specific was said.
_GENERIC = (
    "Error configuring filter graph",
    "Error configuring filters",
    "Error reinitializing filters",
    "Failed to inject frame into filter network",
    "Error while filtering",
    "Error while processing the decoded data",
    "Error while decoding stream",
    "Conversion failed",
    "Nothing was written into output file",
    "Output file is empty",
    "Error initializing output stream",
    "Error opening output file",
    "Error opening input file",
    "Error opening input files",
    "Error opening input:",
    "Error opening output files",
    "Task finished with error",
    "Terminating thread with return code",
)


def reason_from(stderr: str, max_lines: int = 2) -> str:
    """The decoder's (or demuxer's) own words for a failure: the last distinct specific error
    lines, without "[mp3 @ 0x..]" or "/path/file:" prefixes (the caller names the file once);
    ffmpeg's generic wrappers only when nothing else was said."""
    specific: list[str] = []
    generic: list[str] = []
    for raw in stderr.splitlines():
        line = _LOG_PREFIX.sub("", raw.strip())
        if line.startswith(("/", "file:")) and ": " in line:
            # "<path>: <error>": the error text has no ": ", the path may.
            line = line.rsplit(": ", 1)[1]
        if not line or line.startswith(_NOISE):
            continue
        bucket = generic if line.startswith(_GENERIC) else specific
        if line in bucket:
            bucket.remove(line)  # keep the last occurrence's place
        bucket.append(line)
    return "; ".join((specific or generic)[-max_lines:])


async def run(
    exe: str,
    args: list[str],
    *,
    cancel: asyncio.Event | None = None,
    is_ffmpeg: bool = True,
) -> RunResult:
    """Run ``exe`` with ``args``; returns even on a non-zero exit (callers judge stderr).

    Raises AsrError(CANCELED) when ``cancel`` is set; re-raises CancelledError after killing
    the process. The process never outlives this call.
    """
    argv = [exe, *(["-nostdin"] if is_ffmpeg else []), "-hide_banner", *args]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own session: a terminal's Ctrl-C stops us gracefully instead of killing
            # in-flight transcodes; cancellation still kills it explicitly.
            start_new_session=True,
            env=clean_child_env(),
        )
    except OSError as exc:
        raise AsrError(ErrorKind.BAD_INPUT, f"Cannot run {exe}: {exc.strerror or exc}") from None
    work = asyncio.ensure_future(proc.communicate())
    waiter = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    try:
        pending = {work} if waiter is None else {work, waiter}
        done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if work not in done:
            raise AsrError(ErrorKind.CANCELED, "Canceled.")
        stdout, stderr = work.result()
    finally:
        if waiter is not None:
            waiter.cancel()
        if proc.returncode is None:
            kill(proc)
            # Reap it even while being cancelled ourselves: no zombie, no open pipes.
            await asyncio.shield(_reap(proc, work))
    return RunResult(proc.returncode or 0, stdout, stderr.decode("utf-8", errors="replace"))


def kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL ``proc`` unless asyncio has seen it end. Not ``proc.kill()``: before Python
    3.13 that polls first (``Popen.send_signal``), and the poll can reap a child that has just
    ended before asyncio's child watcher does; the watcher then logs "Unknown child process"
    and reports exit code 255 (CPython gh-87744). A child that ended but is not reaped yet
    keeps its pid, so the signal cannot reach another process (only in the instant between
    the watcher's reap and its report could it, as with Python 3.13's own ``kill()``)."""
    if proc.returncode is not None:
        return
    sigkill = getattr(signal, "SIGKILL", None)
    with contextlib.suppress(ProcessLookupError):
        if sigkill is None:  # Windows: no child watcher to race with
            proc.kill()
        else:
            os.kill(proc.pid, sigkill)


async def _reap(
    proc: asyncio.subprocess.Process, work: asyncio.Future[tuple[bytes, bytes]]
) -> None:
    with contextlib.suppress(Exception):
        await proc.wait()
    if not work.done():
        work.cancel()
    with contextlib.suppress(BaseException):
        await work
