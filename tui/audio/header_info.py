"""What a container header says about a file, shared by the per-format header parsers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# read_at(offset, n): up to n bytes at offset (fewer, or none, past the end).
ReadAt = Callable[[int, int], bytes]


@dataclass(frozen=True)
class HeaderInfo:
    """Facts from the header alone. ``duration_s`` is the audio actually present.

    ``estimated``: the duration is a guess (size / bitrate), not a count of samples or frames.
    ``claimed_s``: set when the header promises more than the bytes present hold (a truncated
    file); it is what the header says, ``duration_s`` is then what is there (maybe estimated).
    ``streams``: logical audio streams one after another (chained Ogg) or side by side.
    ``variant``: a layout the service may not take as it is: "rf64", "fragmented", "chained",
    "multiplexed" (Ogg with video), "concatenated" (MP3s joined, the first one's tag in front).
    """

    format: str  # "wav", "ogg", "flac", "m4a", "mp3", "mp2", "aiff", "amr", "webm", "mkv"
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    bits: int | None
    codec: str | None = None  # "pcm_s16le", "opus", "vorbis", "aac", "mp3", ... when known
    estimated: bool = False
    claimed_s: float | None = None
    streams: int = 1
    variant: str | None = None

    @property
    def truncated(self) -> bool:
        return self.claimed_s is not None


def is_short(present: float, claimed: float) -> bool:
    """True when ``present`` falls short of ``claimed`` by more than rounding and padding."""
    return claimed - present > max(0.05, claimed * 0.01)
