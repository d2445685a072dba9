"""Where a recording holds sound: the stretches between the pauses that splitting looks for.

The coverage check compares these with the stretches the transcript's timestamps cover. It
reuses splitting's silence detection (ffmpeg ``silencedetect``, one decode of the file), so
"sound" means anything above the split's noise floor: speech, but also music or applause.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path

from tui.audio.encoding import AudioFormat
from tui.audio.split import Silence, detect_silences
from tui.errors import AsrError, ErrorKind

Span = tuple[float, float]
MIN_SOUND_S = 0.2  # shorter blips between two pauses are not worth a look


def sound_between(silences: Sequence[Silence], duration_s: float) -> list[Span]:
    """The (start_s, end_s) stretches of ``[0, duration_s]`` outside ``silences``."""
    spans: list[Span] = []
    at = 0.0
    for silence in sorted(silences, key=lambda s: s.start_s):
        if silence.start_s - at >= MIN_SOUND_S:
            spans.append((round(at, 3), round(min(silence.start_s, duration_s), 3)))
        at = max(at, silence.end_s)
    if duration_s - at >= MIN_SOUND_S:
        spans.append((round(at, 3), round(duration_s, 3)))
    return spans


async def sound_spans(
    ffmpeg: str,
    src: Path,
    duration_s: float,
    *,
    pcm: AudioFormat | None = None,
    cancel: asyncio.Event | None = None,
) -> list[Span]:
    """The stretches of ``src`` that hold sound (raises AsrError BAD_INPUT if ffmpeg fails)."""
    silences = await detect_silences(ffmpeg, src, duration_s, pcm=pcm, cancel=cancel)
    return sound_between(silences, duration_s)


class SoundScan:
    """Finds the sound of one file in the background (while it is being transcribed).

    ``silences`` already found (while splitting) make the scan free; without ffmpeg, or when
    ``wanted`` is false, there is no scan and ``result`` is None. A scan that fails (ffmpeg
    cannot decode what it probed) is None too: the checks that use it are skipped, and the
    transcript, already paid for, stands."""

    def __init__(
        self,
        ffmpeg: str | None,
        src: Path,
        duration_s: float,
        *,
        silences: Sequence[Silence] = (),
        pcm: AudioFormat | None = None,
        cancel: asyncio.Event | None = None,
        wanted: bool = True,
    ) -> None:
        self._known = sound_between(silences, duration_s) if silences else None
        self._task: asyncio.Task[list[Span]] | None = None
        if self._known is None and ffmpeg is not None and wanted:
            self._task = asyncio.ensure_future(
                sound_spans(ffmpeg, src, duration_s, pcm=pcm, cancel=cancel)
            )

    async def result(self) -> list[Span] | None:
        if self._task is None:
            return self._known
        try:
            return await self._task
        except AsrError as err:
            if err.kind == ErrorKind.CANCELED:
                raise
            return None

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, AsrError):
                await self._task
