"""A smaller body for audio the service refused as too large (413, or a reset mid-upload).

One retry, by itself: compress to Opus when the audio is not compressed yet, and split what
is still over half the refused size into equal pieces (at most ``MAX_PIECES``). No source
shows the service's size limit, so "half of what was refused" is the only measure at hand.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.audio.encoding import AudioFormat
from tui.audio.split import PartPlan, cut_part
from tui.audio.transcode import to_opus
from tui.errors import AsrError, ErrorKind
from tui.pipeline.parts import Part, describe, sum_usage
from tui.pipeline.prepare import Preparer
from tui.pipeline.stages import Preparing
from tui.stepfun.options import AudioInput
from tui.transcript.model import Segment, TrustWarning, WarningKind
from tui.transcript.text import join_texts

MAX_PIECES = 4


@dataclass(frozen=True)
class Piece:
    """Some of a part's audio: where it starts in the part, and the file to send."""

    offset_s: float
    audio: AudioInput


@dataclass(frozen=True)
class Reduction:
    pieces: list[Piece]
    before_bytes: int
    after_bytes: int
    how: str  # "compressed to Opus", "split in 2", "compressed to Opus and split in 2"


async def smaller(prep: Preparer, part: Part) -> Reduction:
    """The part's audio as a smaller body (see the module docstring)."""
    exe = prep.need_ffmpeg("the service refused the audio as too large; it must be made smaller")
    src = Path(part.audio.path)
    fmt = part.audio.format
    pcm = fmt if fmt.type == "pcm" else None
    duration = part.audio.duration_s or part.plan.duration_s
    before = (await asyncio.to_thread(src.stat)).st_size
    target = before / 2
    how: list[str] = []
    current, current_fmt, size = src, fmt, before
    if fmt.type != "ogg":
        prep.emit(Preparing("compressing the audio the service refused as too large"))
        dst = prep.work.path / f"smaller_{part.plan.index:03d}.ogg"
        await to_opus(exe, src, dst, pcm=pcm, cancel=prep.cancel)
        current, current_fmt, pcm = dst, AudioFormat("ogg"), None
        size = (await asyncio.to_thread(dst.stat)).st_size
        how.append("compressed to Opus")
    if size <= target:
        piece = Piece(0.0, AudioInput(str(current), current_fmt, duration))
        return Reduction([piece], before, size, " and ".join(how))
    count = min(MAX_PIECES, max(2, math.ceil(size / target)))
    prep.emit(Preparing(f"splitting the audio the service refused into {count} pieces"))
    step = duration / count
    pieces: list[Piece] = []
    total = 0
    for k in range(count):
        plan = PartPlan(k + 1, count, k * step, step)
        dst = prep.work.path / f"smaller_{part.plan.index:03d}_{k + 1}.ogg"
        await cut_part(exe, current, plan, dst, compress=True, pcm=pcm, cancel=prep.cancel)
        total += (await asyncio.to_thread(dst.stat)).st_size
        pieces.append(Piece(k * step, AudioInput(str(dst), AudioFormat("ogg"), step)))
    how.append(f"split in {count}")
    return Reduction(pieces, before, total, " and ".join(how))


Usage = dict[str, Any]
Send = Callable[[AudioInput, float], Awaitable[tuple[str, list[Segment], Usage]]]


async def send_smaller(prep: Preparer, part: Part, refused: AsrError, send: Send) -> TrustWarning:
    """Make ``part`` smaller and ``send`` its pieces (each at its offset in the part), filling
    in the part's text, segments and usage; the note saying so. Raises the pieces' AsrError
    (a second "too large" says what was already tried)."""
    plan = part.plan
    smaller_ = await smaller(prep, part)
    texts: list[str] = []
    segments: list[Segment] = []
    usages: list[Usage] = []
    for piece in smaller_.pieces:
        try:
            text, segs, usage = await send(piece.audio, piece.offset_s)
        except AsrError as err:
            if err.kind != ErrorKind.PAYLOAD_TOO_LARGE:
                raise
            raise AsrError(
                err.kind,
                f"{err.message} It was already sent again smaller ({smaller_.how}, "
                f"{smaller_.after_bytes / 1e6:.1f} MB); lower the part length (chunk minutes) "
                "and try again.",
                status=err.status,
            ) from None
        texts.append(text)
        segments += segs
        usages.append(usage)
    part.text, part.segments = join_texts(texts), segments
    part.usage = sum_usage(usages)
    part.attempts = 1 + len(smaller_.pieces)
    where = f"{describe(plan).capitalize()}: " if plan.count > 1 else ""
    return TrustWarning(
        WarningKind.PAYLOAD_REDUCED,
        f"{where}The service refused the audio as too large ({refused.message}); it was sent "
        f"again once, {smaller_.how} ({smaller_.before_bytes / 1e6:.1f} MB → "
        f"{smaller_.after_bytes / 1e6:.1f} MB).",
        part=plan.index if plan.count > 1 else None,
    )
