"""Split long recordings at pauses so each part stays under the per-request limit.

How cut points are chosen (``plan_cuts``): the number of parts is fixed by the limit
(``ceil(duration / chunk)``); each cut aims at an even share of what is left, which keeps parts
similar in length (no 3-second tail part that comes back empty, and parallel parts finish
together), and takes the longest pause within a window around that aim. The window never lets a
part exceed the limit and never leaves more than the remaining parts can hold. With no pause in
the window the cut is hard, at the aim.

Parts are cut with ``-ss``/``-t`` on the input while transcoding, which is sample-accurate, so a
part's offset is exactly its cut point and its timestamps shift by that much.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.audio import ffmpeg as ff
from tui.audio.encoding import AudioFormat
from tui.audio.probe import bad_input
from tui.audio.transcode import (
    OPUS_ARGS,
    WAV_ARGS,
    Converted,
    convert,
    input_args,
    transcode_failure,
)

HARD_CEILING_MIN = 30.0
SILENCE_NOISE_DB = -35.0
SILENCE_MIN_S = 0.5
# Look for a pause within this fraction of the limit around each aimed cut.
WINDOW_FRACTION = 0.2
MIN_PART_S = 30.0
# A pause scan is split across processes only in stretches at least this long.
PARALLEL_SCAN_MIN_S = 60.0
# Pauses this close across a stretch boundary are one pause.
JOIN_GAP_S = 0.05

_START = re.compile(r"silence_start:\s*(-?\d+(?:\.\d+)?)")
_END = re.compile(r"silence_end:\s*(-?\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Silence:
    start_s: float
    end_s: float

    @property
    def mid_s(self) -> float:
        return (self.start_s + self.end_s) / 2

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class PartPlan:
    index: int  # 1-based, for messages ("part 2 of 3")
    count: int
    offset_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.offset_s + self.duration_s


def chunk_seconds(chunk_minutes: float) -> float:
    """The configured limit, clamped to the hard ceiling (and to at least 15 s)."""
    return max(0.25, min(chunk_minutes, HARD_CEILING_MIN)) * 60.0


def parse_silences(stderr: str, duration_s: float) -> list[Silence]:
    out: list[Silence] = []
    start: float | None = None
    for line in stderr.splitlines():
        m = _START.search(line)
        if m:
            start = max(0.0, float(m.group(1)))
            continue
        m = _END.search(line)
        if m and start is not None:
            out.append(Silence(start, float(m.group(1))))
            start = None
    if start is not None and start < duration_s:
        out.append(Silence(start, duration_s))  # silent to the end
    return out


async def detect_silences(
    ffmpeg: str,
    src: Path,
    duration_s: float,
    *,
    pcm: AudioFormat | None = None,
    cancel: asyncio.Event | None = None,
    jobs: int = 1,
) -> list[Silence]:
    """The pauses in ``src``. With ``jobs`` > 1 a long file is scanned as that many stretches
    at once (one ffmpeg each, the decode being the cost); a pause across two stretches is
    joined again."""
    n = max(1, min(jobs, int(duration_s // PARALLEL_SCAN_MIN_S)))
    bounds = [duration_s * i / n for i in range(n + 1)]
    found = await asyncio.gather(
        *(
            _scan(ffmpeg, src, a, b, last=i == n - 1, pcm=pcm, cancel=cancel)
            for i, (a, b) in enumerate(itertools.pairwise(bounds))
        )
    )
    merged: list[Silence] = []
    for silence in (s for stretch in found for s in stretch):
        if merged and silence.start_s <= merged[-1].end_s + JOIN_GAP_S:
            merged[-1] = Silence(merged[-1].start_s, max(merged[-1].end_s, silence.end_s))
        else:
            merged.append(silence)
    return merged


async def _scan(
    ffmpeg: str,
    src: Path,
    start_s: float,
    end_s: float,
    *,
    last: bool,
    pcm: AudioFormat | None,
    cancel: asyncio.Event | None,
) -> list[Silence]:
    """silencedetect over ``start_s``..``end_s`` (the last stretch: to the end of the input,
    whatever the probed length), in file time."""
    inp = input_args(src, pcm)
    seek = ["-ss", f"{start_s:.3f}"] if start_s > 0 else []
    length = [] if last else ["-t", f"{end_s - start_s:.3f}"]
    args = [
        *inp[:-2],
        *seek,
        *inp[-2:],
        *length,
        "-vn",
        "-af",
        f"silencedetect=noise={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_S}",
        "-f",
        "null",
        "-",
    ]
    res = await ff.run(ffmpeg, args, cancel=cancel)
    if res.returncode != 0:
        raise bad_input(src, transcode_failure(res.stderr, res.returncode))
    found = parse_silences(res.stderr, end_s - start_s)
    if not start_s:
        return found
    return [Silence(s.start_s + start_s, s.end_s + start_s) for s in found]


def plan_cuts(duration_s: float, silences: list[Silence], chunk_s: float) -> list[float]:
    """Cut points in seconds (empty when the file fits in one part)."""
    cuts: list[float] = []
    last = 0.0
    window = chunk_s * WINDOW_FRACTION
    min_part = min(MIN_PART_S, chunk_s / 4)
    # Bounded: every pass advances `last` by at least min_part (or ends the loop).
    for _ in range(int(duration_s // min_part) + 2):
        remaining = duration_s - last
        if remaining <= chunk_s:
            break
        parts_left = math.ceil(remaining / chunk_s)
        aim = last + remaining / parts_left
        # Never longer than the limit; never leave more than the remaining parts can take.
        hi = min(last + chunk_s, aim + window)
        lo = max(last + min_part, aim - window, duration_s - (parts_left - 1) * chunk_s)
        near = [s for s in silences if lo <= s.mid_s <= hi]
        if near:
            best = max(near, key=lambda s: (round(s.length_s, 1), -abs(s.mid_s - aim)))
            cut = best.mid_s
        else:
            cut = min(max(aim, lo), hi)
        cuts.append(round(cut, 3))
        last = cut
    return cuts


def plan_parts(duration_s: float, cuts: list[float]) -> list[PartPlan]:
    bounds = [0.0, *cuts, duration_s]
    count = len(bounds) - 1
    return [PartPlan(i + 1, count, bounds[i], bounds[i + 1] - bounds[i]) for i in range(count)]


async def cut_part(
    ffmpeg: str,
    src: Path,
    part: PartPlan,
    dst: Path,
    *,
    compress: bool = True,
    pcm: AudioFormat | None = None,
    cancel: asyncio.Event | None = None,
) -> Converted:
    """Write one part (Opus, or 16 kHz WAV when compression is off) to ``dst``.

    The last part runs to the end of the input, not for its planned length: a duration that
    was only an estimate (VBR MP3 without a Xing header) must not cut the tail off unseen.
    """
    # -ss before -i seeks the input; with decoding it is sample-accurate.
    seek = ["-ss", f"{part.offset_s:.3f}"] if part.offset_s > 0 else []
    length = ["-t", f"{part.duration_s:.3f}"] if part.index < part.count else []
    inp = input_args(src, pcm)
    args = [
        *inp[:-2],
        *seek,
        *inp[-2:],
        *length,
        *(OPUS_ARGS if compress else WAV_ARGS),
        "-f",
        "ogg" if compress else "wav",
    ]
    return await convert(ffmpeg, src, args, dst, cancel=cancel)


def silent_share(silences: Sequence[Silence], start_s: float, end_s: float) -> float:
    """How much of ``start_s``..``end_s`` the detected silences cover (0..1)."""
    if end_s <= start_s:
        return 1.0
    covered = sum(max(0.0, min(s.end_s, end_s) - max(s.start_s, start_s)) for s in silences)
    return min(1.0, covered / (end_s - start_s))
