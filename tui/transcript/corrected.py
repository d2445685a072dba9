"""Corrections laid over the model's transcript: the cues a reviewer sees, and the corrected
result everything downstream uses. No storage here (``tui.store.corrections`` keeps them).

A correction replaces a run of the model's *units* — its timed segments, or, for a transcript
without timestamps, its sentences — ``[seg_from, seg_to)`` with one piece of text timed
``start_ms..end_ms``. It also holds the text of the units it replaced (``model_text``): a
correction whose units no longer read that way (the job was transcribed again) is stale and
ignored, so a correction never lands on words it was not made for. An empty range
(``seg_from == seg_to``) is the second half of a cue split inside one unit.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tui.transcript.cues import build_cues, has_timestamps
from tui.transcript.model import Segment, TranscriptionResult
from tui.transcript.text import is_cjk_text

Origin = Literal["user", "glossary"]

# Sentence pieces of an untimed transcript, each with the whitespace after it.
_SENTENCE = re.compile(r".*?(?:[。！？…]+|[.!?]+(?=\s)|$)\s*", re.S)


@dataclass(frozen=True)
class Correction:
    seg_from: int
    seg_to: int
    start_ms: int
    end_ms: int
    text: str
    model_text: str
    origin: Origin = "user"
    rule: str | None = None  # "FROM → TO" for a glossary correction
    id: int = 0
    created_at: float = 0.0


@dataclass(frozen=True)
class ReviewCue:
    """One line of the review screen: the model's cue, or a correction in its place."""

    index: int
    seg_from: int
    seg_to: int
    start_ms: int
    end_ms: int
    text: str
    model_text: str
    correction: Correction | None = None

    @property
    def edited(self) -> bool:
        """Changed in any way: its text, or split or merged (its text may read the same)."""
        return self.correction is not None


def units(result: TranscriptionResult) -> list[Segment]:
    """What corrections index: the segments when they are timed, else the text's sentences."""
    if has_timestamps(result.segments):
        return list(result.segments)
    return [Segment(0, 0, m.group(0)) for m in _SENTENCE.finditer(result.text) if m.group(0)]


def join_units(pieces: Sequence[Segment], cjk: bool) -> str:
    text = "".join(s.text for s in pieces)
    return text.strip() if cjk else " ".join(text.split())


def _model_spans(parts: Sequence[Segment], timed: bool) -> list[tuple[int, int]]:
    """The model's cues as unit ranges. ``build_cues`` keeps every non-blank character of its
    segments, in order, so a cue's size in non-blank characters says where it ends."""
    if not timed:
        return [(i, i + 1) for i in range(len(parts))]
    spans: list[tuple[int, int]] = []
    i = 0
    for cue in build_cues(parts):
        need = sum(len(line) - line.count(" ") for line in cue.lines)
        start = i
        got = 0
        while i < len(parts) and (got < need or i == start):
            got += len("".join(parts[i].text.split()))
            i += 1
        spans.append((start, i))
    if spans and i < len(parts):
        spans[-1] = (spans[-1][0], len(parts))
    return spans


def valid(corrections: Iterable[Correction], parts: Sequence[Segment]) -> list[Correction]:
    """The corrections that still fit the model's units, in reading order, none overlapping
    (when two do, the newer wins)."""
    cjk = is_cjk_text("".join(s.text for s in parts))
    fitting = [
        c
        for c in sorted(corrections, key=lambda c: c.id, reverse=True)
        if 0 <= c.seg_from <= c.seg_to <= len(parts)
        and join_units(parts[c.seg_from : c.seg_to], cjk) == c.model_text
    ]
    taken: list[Correction] = []
    for c in fitting:
        if c.seg_from == c.seg_to or not any(_overlap(c, t) for t in taken):
            taken.append(c)
    return sorted(taken, key=lambda c: (c.seg_from, c.start_ms, c.seg_to, c.id))


def _overlap(a: Correction, b: Correction) -> bool:
    return a.seg_from < b.seg_to and b.seg_from < a.seg_to


def review_cues(result: TranscriptionResult, corrections: Iterable[Correction]) -> list[ReviewCue]:
    parts = units(result)
    timed = has_timestamps(result.segments)
    cjk = is_cjk_text(result.text)
    fixes = valid(corrections, parts)
    cues: list[ReviewCue] = []

    def model_piece(a: int, b: int) -> None:
        text = join_units(parts[a:b], cjk)
        if text:
            start = parts[a].start_ms
            end = max(s.end_ms for s in parts[a:b])
            cues.append(ReviewCue(len(cues), a, b, start, end, text, text))

    def fixed(c: Correction) -> None:
        cues.append(
            ReviewCue(
                len(cues), c.seg_from, c.seg_to, c.start_ms, c.end_ms, c.text, c.model_text, c
            )
        )

    ci = 0
    pos = 0  # units before this are shown (a correction may reach past its first cue)
    for a, b in _model_spans(parts, timed):
        pos = max(pos, a)
        while pos < b:
            while ci < len(fixes) and fixes[ci].seg_from <= pos:
                fixed(fixes[ci])
                pos = max(pos, fixes[ci].seg_to)
                ci += 1
            if pos >= b:
                break
            end = min(b, fixes[ci].seg_from) if ci < len(fixes) else b
            if end > pos:
                model_piece(pos, end)
                pos = end
    for c in fixes[ci:]:
        fixed(c)
    return cues


def corrected_result(
    result: TranscriptionResult, corrections: Iterable[Correction]
) -> TranscriptionResult:
    """``result`` with the corrections applied to its segments and text (the model's result
    itself when none applies)."""
    pairs = _corrected_pairs(result, corrections)
    if pairs is None:
        return result
    out = [seg for seg, _ in pairs]
    text = "".join(s.text for s in out).strip()
    # Untimed: the sentences are not segments; the corrected text is what downstream reads.
    timed = has_timestamps(result.segments)
    return dataclasses.replace(result, text=text, segments=out if timed else [])


def corrected_json(
    result: TranscriptionResult, corrections: Iterable[Correction]
) -> dict[str, Any]:
    """The corrected result as JSON, with the model's words beside it: ``text`` and
    ``model_text``, and per segment ``text`` and ``model_text``; ``corrections`` lists them."""
    corrections = list(corrections)
    fixed = corrected_result(result, corrections)
    data = fixed.to_json()
    data["model_text"] = result.text
    pairs = _corrected_pairs(result, corrections)
    if pairs is not None and has_timestamps(result.segments):
        for seg, model_text in zip(data["segments"], (m for _, m in pairs), strict=True):
            seg["model_text"] = model_text
    else:
        for seg in data["segments"]:
            seg["model_text"] = seg["text"]
    data["corrections"] = [
        {
            "start_ms": c.start_ms,
            "end_ms": c.end_ms,
            "text": c.text,
            "model_text": c.model_text,
            "origin": c.origin,
            "rule": c.rule,
        }
        for c in valid(corrections, units(result))
    ]
    return data


def _corrected_pairs(
    result: TranscriptionResult, corrections: Iterable[Correction]
) -> list[tuple[Segment, str]] | None:
    """The corrected segments, each with the model's text it stands for (None: no change)."""
    parts = units(result)
    fixes = valid(corrections, parts)
    if not fixes:
        return None
    cjk = is_cjk_text(result.text)
    out: list[tuple[Segment, str]] = []
    pos = 0
    for c in fixes:
        out.extend((p, p.text) for p in parts[pos : max(pos, c.seg_from)])
        pos = max(pos, c.seg_to)
        if not c.text:
            continue  # a cue corrected to nothing: its words are dropped
        # The spacing around the replaced words stays (" word" deltas, "Sentence. " pieces).
        lead = trail = ""
        if c.seg_to > c.seg_from:
            first, last = parts[c.seg_from].text, parts[c.seg_to - 1].text
            lead = first[: len(first) - len(first.lstrip())]
            trail = last[len(last.rstrip()) :]
        if not cjk and not lead and out and not out[-1][0].text[-1:].isspace():
            lead = " "
        out.append((Segment(c.start_ms, c.end_ms, lead + c.text + trail), c.model_text))
    out.extend((p, p.text) for p in parts[pos:])
    return out


def cue_at(cues: Sequence[ReviewCue], ms: int) -> int | None:
    """Index of the cue being heard at ``ms`` (the last one starting at or before it)."""
    if not cues:
        return None
    starts = [c.start_ms for c in cues]
    i = bisect_right(starts, ms) - 1
    return max(0, i)


def split_point(parts: Sequence[Segment], cue: ReviewCue, at: int, cjk: bool) -> int:
    """The unit boundary inside ``cue`` nearest to character ``at`` of its model text
    (``cue.seg_from`` or ``cue.seg_to`` when there is none strictly inside)."""
    best, best_gap = cue.seg_from, abs(at)
    chars = 0
    for i in range(cue.seg_from, cue.seg_to):
        piece = parts[i].text
        chars += len(piece.strip()) if cjk else len(piece)
        if i == cue.seg_from and not cjk:
            chars -= len(piece) - len(piece.lstrip())
        gap = abs(at - chars)
        if i + 1 < cue.seg_to and gap < best_gap:
            best, best_gap = i + 1, gap
    return best
