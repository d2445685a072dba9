"""Digital silence is not sent: a file with no sound above a floor anywhere costs nothing.

The audio is decoded (mono, 8 kHz, 16-bit) and read as it comes; the first sample above the
floor ends the check, so a normal recording costs a few milliseconds of decoding. Only a file
that is silent throughout is decoded to the end (hours of silence: seconds, not paid requests).
"""

from __future__ import annotations

import asyncio
import contextlib
from array import array
from pathlib import Path

from tui.audio import ffmpeg as ff
from tui.audio.encoding import AudioFormat
from tui.audio.transcode import input_args
from tui.childenv import clean_child_env
from tui.transcript.model import TranscriptionResult, TrustWarning, WarningKind

FLOOR = 33  # 16-bit amplitude, about -60 dBFS: quieter than any room, louder than dither
RATE = 8000
CHUNK = 1 << 16


async def silent_duration(
    path: Path,
    ffmpeg: str | None,
    pcm: AudioFormat | None = None,
    cancel: asyncio.Event | None = None,
) -> float | None:
    """The length in seconds when the whole file is digital silence; None when it has sound,
    or when that cannot be told (no ffmpeg, a file it cannot decode: the normal path decides
    and reports)."""
    if ffmpeg is None or (cancel is not None and cancel.is_set()):
        return None
    try:
        argv = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", *input_args(path, pcm)]
    except Exception:
        return None
    argv += ["-map", "0:a:0", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            env=clean_child_env(),  # like every ffmpeg run: never the API key
        )
    except OSError:
        return None
    assert proc.stdout is not None
    samples = 0
    carry = b""
    try:
        while chunk := await proc.stdout.read(CHUNK):
            data = carry + chunk
            even = len(data) - len(data) % 2
            carry = data[even:]
            block = array("h", data[:even])
            samples += len(block)
            if block and (max(block) > FLOOR or min(block) < -FLOOR):
                return None  # sound: the usual case, decided at the first loud block
            if cancel is not None and cancel.is_set():
                return None
        await proc.wait()  # the whole output was read: its exit code tells if it is complete
    finally:
        if proc.returncode is None:  # left early (sound, a cancel, an error)
            ff.kill(proc)
        # Reaped even while being cancelled ourselves: no zombie, no open pipe.
        await asyncio.shield(_reap(proc))
    if proc.returncode != 0 or samples == 0:
        return None
    return samples / RATE


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Read what is left of the output, then wait for the exit. Left unread, output that
    filled the reader's buffer (a busy loop reads late) keeps the pipe paused, and on
    Python 3.11 ``wait()`` waits for the pipe to close as well as for the exit: for ever."""
    assert proc.stdout is not None
    with contextlib.suppress(Exception):
        while await proc.stdout.read(CHUNK):
            pass
    await proc.wait()


def silence_result(
    path: Path, duration_s: float, model: str, language: str | None
) -> TranscriptionResult:
    """The finished, free result for a silent file: no text, one serious warning."""
    return TranscriptionResult(
        file=str(path),
        text="",
        model=model,
        language=language,
        duration_s=round(duration_s, 3),
        attempts=0,
        warnings=[
            TrustWarning(
                WarningKind.SILENCE,
                f"empty: silence — no sound above {FLOOR / 32768:.3%} of full scale "
                f"(about -60 dBFS) in all {duration_s:.1f} s; nothing was sent, nothing paid",
                serious=True,
            )
        ],
    )


async def silent_file_result(
    path: Path,
    ffmpeg: str | None,
    model: str,
    language: str | None,
    pcm: AudioFormat | None = None,
    cancel: asyncio.Event | None = None,
) -> TranscriptionResult | None:
    """The pre-check the pipeline runs before preparing a file (None: send it)."""
    duration = await silent_duration(path, ffmpeg, pcm, cancel)
    return None if duration is None else silence_result(path, duration, model, language)
