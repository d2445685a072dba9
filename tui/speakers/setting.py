"""The ``speakers`` setting: ``off`` | ``auto`` | ``N`` | ``MIN-MAX`` (no numpy needed here)."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SPEAKERS = 12
# What "auto" searches: one voice up to this many.
AUTO_RANGE = (1, 8)
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
HELP = f"speakers must be off, auto, a count (1–{MAX_SPEAKERS}) or a range such as 2-4"


@dataclass(frozen=True)
class SpeakerCount:
    """How many speakers to look for: exactly ``low`` when ``low == high``."""

    low: int
    high: int
    auto: bool = False

    @property
    def fixed(self) -> bool:
        return self.low == self.high

    def __str__(self) -> str:
        if self.auto:
            return "auto"
        return str(self.low) if self.fixed else f"{self.low}-{self.high}"


def parse_speakers(value: str | int | None) -> SpeakerCount | None:
    """None for ``off`` (or empty); ValueError with one sentence for anything unknown."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("", "off", "none", "no", "0"):
        return None
    if text == "auto":
        return SpeakerCount(*AUTO_RANGE, auto=True)
    if text.isdigit():
        n = int(text)
        if 1 <= n <= MAX_SPEAKERS:
            return SpeakerCount(n, n)
        raise ValueError(f"{HELP} (got {value!r}).")
    match = _RANGE.match(text)
    if match:
        low, high = int(match[1]), int(match[2])
        if 1 <= low <= high <= MAX_SPEAKERS:
            return SpeakerCount(low, high)
    raise ValueError(f"{HELP} (got {value!r}).")
