"""Group word-level segments into subtitle cues (for SRT, WebVTT and Markdown).

Rules (subtitle conventions, kept simple):
- a cue ends after sentence punctuation (。！？.!?…), and after soft punctuation (，,、;；:：)
  once it is at least half full;
- a pause longer than ``pause_ms`` between two words starts a new cue;
- a cue lasts at most ``max_duration_ms`` and wraps into at most ``max_lines`` lines of
  ``max_chars`` characters (42 for Latin text, 20 for CJK text, where a character is ~2 columns).
A single word that does not fit alone still gets its own cue: a timed word cannot be split.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from tui.lazy_regex import lazy_compile
from tui.transcript.model import Segment
from tui.transcript.text import CJK, CJK_RANGES, is_cjk_text

__all__ = [
    "CJK_LINE_CHARS",
    "LATIN_LINE_CHARS",
    "MAX_CUE_MS",
    "MAX_LINES",
    "MIN_CUE_MS",
    "PAUSE_MS",
    "Cue",
    "build_cues",
    "fallback_cue",
    "format_clock",
    "format_timestamp",
    "has_timestamps",
    "is_cjk_text",
    "line_chars_for",
    "split_sentences",
    "wrap",
]

LATIN_LINE_CHARS = 42
CJK_LINE_CHARS = 20
MAX_LINES = 2
MAX_CUE_MS = 7000
PAUSE_MS = 800
# A zero-length cue is invisible in players; give it this much unless the next cue starts earlier.
MIN_CUE_MS = 500

_HARD_END = lazy_compile(r"[。！？.!?…]+[\"'”’」』)）]*\s*$")
# CJK sentence marks end a sentence outright; Latin ones only before a space ("3.5" stays).
_SENTENCE_SPLIT = lazy_compile(r"(?<=[。！？…])\s*(?=\S)|(?<=[.!?])\s+(?=\S)")
_SOFT_END = lazy_compile(r"[，,、;；:：]\s*$")
# Punctuation that must not start a line.
_NO_LINE_START = set("，,。.！!？?、;；:：)）」』”’…")
# Where a CJK line may break (see _cjk_points); zero-width, so one match per position.
_CJK_POINT = lazy_compile(
    "(?= )|(?![" + re.escape("".join(sorted(_NO_LINE_START))) + "])"
    f"(?:(?<=[{CJK_RANGES}，。！？、；：])|(?=[{CJK_RANGES}]))"
)


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    lines: tuple[str, ...]
    speaker: str | None = None  # the speaker's label, when speakers were labelled
    speaker_id: int | None = None  # the (merged) speaker's id: stable when renamed

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def line_chars_for(text: str) -> int:
    return CJK_LINE_CHARS if is_cjk_text(text) else LATIN_LINE_CHARS


def has_timestamps(segments: Sequence[Segment]) -> bool:
    """With timestamps off the service still sends start/end, all zero."""
    return any(s.end_ms > 0 or s.start_ms > 0 for s in segments)


def _break_points(text: str) -> list[int]:
    """Indices where a line may break: at spaces, and between CJK characters."""
    if not CJK.search(text):
        return [i for i, c in enumerate(text) if c == " " and i > 0]
    return _cjk_points(text, 1)


def wrap(text: str, max_chars: int, max_lines: int | None = None) -> list[str]:
    """Wrap into lines of at most ``max_chars`` (balanced into two when two suffice).

    Returns more than ``max_lines`` lines only when the text cannot fit otherwise.
    """
    # Whitespace runs (newlines too: a blank line would end an SRT cue) become one space;
    # CJK text keeps single spaces, which separate embedded Latin words.
    text = " ".join(text.split())
    if not text:
        return []
    if len(text) <= max_chars:
        return [text]
    points = _break_points(text)
    if max_lines is None or max_lines >= 2:
        # Two balanced lines read better than one full line and a stub.
        best: tuple[int, int] | None = None
        for p in points:
            first, second = text[:p].rstrip(), text[p:].lstrip()
            if len(first) <= max_chars and len(second) <= max_chars:
                score = abs(len(first) - len(second))
                if _SOFT_END.search(first) or _HARD_END.search(first):
                    # Breaking after punctuation beats a perfectly even split.
                    score -= max_chars // 4
                if best is None or score < best[0]:
                    best = (score, p)
        if best is not None:
            p = best[1]
            return [text[:p].rstrip(), text[p:].lstrip()]
    # Greedy wrap; a run longer than a line without a break point is hard-cut.
    lines: list[str] = []
    rest = text
    while rest:
        if len(rest) <= max_chars:
            lines.append(rest)
            break
        cut = 0
        for p in _break_points(rest):
            if p > max_chars:
                break
            cut = p
        if cut == 0:
            cut = max_chars
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return lines


def build_cues(
    segments: Sequence[Segment],
    *,
    max_chars: int | None = None,
    max_lines: int = MAX_LINES,
    max_duration_ms: int = MAX_CUE_MS,
    pause_ms: int = PAUSE_MS,
) -> list[Cue]:
    """Cues from timed segments (segments must carry real timestamps; see has_timestamps).

    Linear in the number of segments: the cue being built keeps its joined text, length and
    line-break points up to date word by word (``_Open``), and is wrapped once, when it closes.
    """
    words = [s for s in segments if s.text]
    if not words:
        return []
    full = "".join(s.text for s in words)
    limit = max_chars or line_chars_for(full)
    cjk = is_cjk_text(full)

    def fits(cue: _Open) -> bool:
        # Cheap answers first: this runs once per word.
        size = cue.joined_len(cjk)
        if size <= limit:
            return True
        if size > limit * max_lines:
            return False
        return cue.wraps_within(limit, max_lines)

    groups: list[list[Segment]] = []
    current = _Open()
    for seg in words:
        if current.segs:
            gap = seg.start_ms - current.segs[-1].end_ms
            if gap > pause_ms:
                groups.append(current.segs)
                current = _Open()
        current.add(seg)
        # Full: end the cue at its last soft break when there is one, not mid-phrase.
        # Each pass moves at least one segment out of the cue before `seg`, so this ends.
        while len(current.segs) > 1 and (
            seg.end_ms - current.segs[0].start_ms > max_duration_ms or not fits(current)
        ):
            before = current.segs[:-1]
            cut = _last_soft_break(before)
            groups.append(before[:cut])
            current = _Open.of([*before[cut:], seg])
        if _HARD_END.search(seg.text):
            groups.append(current.segs)
            current = _Open()
        elif _SOFT_END.search(seg.text):
            duration = current.segs[-1].end_ms - current.segs[0].start_ms
            if current.joined_len(cjk) >= limit * max_lines / 2 or duration >= max_duration_ms / 2:
                groups.append(current.segs)
                current = _Open()
    if current.segs:
        groups.append(current.segs)

    cues: list[Cue] = []
    for group in groups:
        lines = tuple(wrap(_join(group, cjk), limit, max_lines))
        if not lines:
            continue
        start = min(s.start_ms for s in group)
        end = max(s.end_ms for s in group)
        cues.append(Cue(start, end, lines))
    return _fix_times(cues)


class _Open:
    """The cue being built, with what the fit test needs kept up to date per segment:
    ``norm``, its text as ``wrap`` sees it (whitespace runs as one space, none at the ends),
    the length of ``_join``'s CJK form (the raw text stripped), and ``wrap``'s break points of
    ``norm`` when it holds a CJK character. Nothing already added is read again."""

    __slots__ = ("cjk_points", "has_cjk", "lead", "norm", "points_to", "raw_len", "segs", "trail")

    def __init__(self) -> None:
        self.segs: list[Segment] = []
        self.norm = ""
        self.raw_len = 0
        self.lead = 0  # leading whitespace of the raw text (all of it while it is blank)
        self.trail = 0  # trailing whitespace of the raw text
        self.has_cjk = False
        self.cjk_points: list[int] = []
        self.points_to = 1  # cjk_points holds the points before this index

    @classmethod
    def of(cls, segs: Sequence[Segment]) -> _Open:
        cue = cls()
        for seg in segs:
            cue.add(seg)
        return cue

    def joined_len(self, cjk: bool) -> int:
        """``len(_join(self.segs, cjk))``."""
        if not cjk:
            return len(self.norm)
        return self.raw_len - self.lead - self.trail if self.lead < self.raw_len else 0

    def add(self, seg: Segment) -> None:
        raw = seg.text
        size = len(raw)
        tokens = raw.split()
        piece = tokens[0] if len(tokens) == 1 else " ".join(tokens)
        lead = size - len(raw.lstrip()) if raw[:1].isspace() else 0
        norm = self.norm
        if piece:
            if not norm:
                self.norm = piece
            elif self.trail == 0 and lead == 0:
                self.norm = norm + piece  # "hel" + "lo": the same word
            else:
                self.norm = norm + " " + piece
        if self.lead == self.raw_len:
            self.lead += lead
        if lead == size:
            self.trail += size
        else:
            self.trail = size - len(raw.rstrip()) if raw[-1:].isspace() else 0
        self.raw_len += size
        self.segs.append(seg)
        if not self.has_cjk and CJK.search(piece):
            self.has_cjk = True

    def points(self) -> list[int]:
        """``_break_points(self.norm)`` under the CJK rules, found up to the end once asked
        for: a point depends on its character and the one before, so those already found
        stay valid as the text grows."""
        if self.points_to < len(self.norm):
            self.cjk_points += _cjk_points(self.norm, self.points_to)
            self.points_to = len(self.norm)
        return self.cjk_points

    def wraps_within(self, limit: int, max_lines: int) -> bool:
        """``len(wrap(_join(self.segs, cjk), limit, max_lines)) <= max_lines``."""
        text = self.norm
        size = len(text)
        if size <= limit:
            return True
        if max_lines != 2:
            return len(wrap(text, limit, max_lines)) <= max_lines
        # Two lines: wrap's balanced split exists when some break point p leaves at most
        # `limit` characters on each side (after trimming the space at p). Otherwise wrap
        # falls back to greedy lines, which are two only when no break point lies within the
        # first line and the hard cut at `limit` leaves at most `limit` characters.
        if not self.has_cjk:
            # Break points are the spaces (single, never first or last): p <= limit and
            # size - p - 1 <= limit.
            if text.find(" ", max(1, size - 1 - limit), limit + 1) != -1:
                return True
            early = text.find(" ", 1, limit + 1) != -1
        else:
            points = self.points()
            for p in points[
                bisect_left(points, size - limit - 1) : bisect_right(points, limit + 1)
            ]:
                first = p - (text[p - 1] == " ")
                second = size - p - (text[p] == " ")
                if first <= limit and second <= limit:
                    return True
            early = bool(points) and points[0] <= limit
        return not early and len(text[limit:].lstrip()) <= limit


def _cjk_points(text: str, start: int) -> list[int]:
    """``_break_points(text)`` (CJK rules) from index ``start`` on: at a space; else, unless
    the character must not start a line, after or before a CJK character or after CJK
    punctuation."""
    end = len(text)
    return [m.start() for m in _CJK_POINT.finditer(text, max(1, start)) if m.start() < end]


def _last_soft_break(group: Sequence[Segment]) -> int:
    """Index just after the last segment ending in soft punctuation (len(group) if none)."""
    for i in range(len(group) - 1, 0, -1):
        if _SOFT_END.search(group[i - 1].text):
            return i
    return len(group)


def _join(group: Sequence[Segment], cjk: bool) -> str:
    # Deltas carry their own spacing (" world"); normalise runs of whitespace.
    text = "".join(s.text for s in group)
    return text.strip() if cjk else " ".join(text.split())


def _fix_times(cues: list[Cue]) -> list[Cue]:
    """No zero-length cues, no overlaps (players show overlapping cues stacked)."""
    fixed: list[Cue] = []
    for i, cue in enumerate(cues):
        start, end = cue.start_ms, cue.end_ms
        if fixed and start < fixed[-1].end_ms:
            start = fixed[-1].end_ms
        nxt = cues[i + 1].start_ms if i + 1 < len(cues) else None
        if end <= start:
            end = start + MIN_CUE_MS
        if nxt is not None and nxt > start and end > nxt:
            end = nxt
        fixed.append(Cue(start, max(end, start + 1), cue.lines, cue.speaker, cue.speaker_id))
    return fixed


def split_sentences(text: str) -> list[str]:
    """Sentences in order, at CJK sentence marks or at ``.!?`` before a space ("3.5" stays)."""
    return [s for s in _SENTENCE_SPLIT.split(text.strip()) if s.strip()]


def fallback_cue(text: str, end_ms: int, *, max_chars: int | None = None) -> Cue | None:
    """Without timestamps: the whole text as one cue from 0 to ``end_ms`` (lines unbounded)."""
    limit = max_chars or line_chars_for(text)
    # One sentence per line (wrapped): with no timing, readable beats compact.
    lines = tuple(line for sentence in split_sentences(text) for line in wrap(sentence, limit))
    if not lines:
        return None
    return Cue(0, max(end_ms, 1), lines)


def format_timestamp(ms: int, *, sep: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or with ``sep="."`` (WebVTT)."""
    ms = max(0, int(ms))
    hours, rem = divmod(ms, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    seconds, millis = divmod(rem, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{sep}{millis:03d}"


def format_clock(ms: int) -> str:
    """``HH:MM:SS`` for Markdown headings and progress."""
    return format_timestamp(ms)[:8]
