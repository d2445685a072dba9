"""Speaker labels in transcripts: which speaker each word belongs to, cues split at speaker
changes, and the label text each format shows ("Speaker 1", or the name the user gave).

A word takes the speaker whose turn holds its midpoint (the nearest turn when it falls in a
gap). Merges and names are the user's edits, applied here at render time: the turns computed
on the machine are never rewritten.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from tui.transcript.model import Segment, SpeakerTurns


def resolve(turns: SpeakerTurns, speaker: int) -> int:
    """The speaker a (possibly merged) speaker now counts as."""
    seen: set[int] = set()
    while speaker in turns.merged and speaker not in seen:
        seen.add(speaker)
        speaker = turns.merged[speaker]
    return speaker


def speaker_name(turns: SpeakerTurns, speaker: int) -> str:
    speaker = resolve(turns, speaker)
    return turns.names.get(speaker) or f"Speaker {speaker}"


def word_speakers(segments: Sequence[Segment], turns: SpeakerTurns) -> list[int]:
    """The (resolved) speaker of each segment, by its midpoint; 0 when there are no turns."""
    spans = sorted(turns.turns, key=lambda t: t.start_ms)
    if not spans:
        return [0] * len(segments)
    starts = [t.start_ms for t in spans]
    out: list[int] = []
    for seg in segments:
        mid = (seg.start_ms + seg.end_ms) / 2
        i = bisect_right(starts, mid) - 1
        if i >= 0 and mid < spans[i].end_ms:
            chosen = spans[i]
        else:
            before = spans[i] if i >= 0 else None
            after = spans[i + 1] if i + 1 < len(spans) else None
            if before is None or (after is not None and after.start_ms - mid < mid - before.end_ms):
                assert after is not None
                chosen = after
            else:
                chosen = before
        out.append(resolve(turns, chosen.speaker))
    return out


@dataclass(frozen=True)
class SpeakerRun:
    """Consecutive segments of one speaker."""

    speaker: int
    segments: tuple[Segment, ...]


def speaker_runs(segments: Sequence[Segment], turns: SpeakerTurns) -> list[SpeakerRun]:
    labels = word_speakers(segments, turns)
    groups: list[tuple[int, list[Segment]]] = []
    for seg, label in zip(segments, labels, strict=True):
        if groups and groups[-1][0] == label:
            groups[-1][1].append(seg)
        else:
            groups.append((label, [seg]))
    return [SpeakerRun(label, tuple(segs)) for label, segs in groups]
