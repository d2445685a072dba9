"""Transcript text as the workbench shows it, kept outside any widget (no Textual here).

While a job streams, :class:`LiveText` turns deltas into :class:`PaneLine` s: a new line after
each sentence (so no line grows without bound: only the last line changes while streaming, and
the pane re-wraps only it), with a ``[HH:MM:SS]`` stamp from the first delta's start time. The
pane takes what changed 5 times a second: one widget update per flush, never one per delta.
:func:`result_lines` lays out a finished transcript one cue per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tui.transcript import speaker_labels
from tui.transcript.cues import build_cues, fallback_cue, format_clock, has_timestamps, is_cjk_text
from tui.transcript.formats import aligned_segments
from tui.transcript.model import TranscriptionResult

_SENTENCE_END = re.compile(r"[。！？.!?…][\"'”’」』)）]*\s*$")
_SOFT_END = re.compile(r"[，,、;；:：\s]$")
# Without sentence punctuation a line still breaks, at a soft point, past this many characters.
SOFT_LINE_LIMIT = 240
HARD_LINE_LIMIT = 1000


def stamp(ms: int) -> str:
    return f"[{format_clock(ms)}] "


@dataclass(frozen=True, slots=True)
class PaneLine:
    """One line of the pane: a cue of a finished transcript, or a streamed sentence. Kept in
    parts so that the pane can style them (stamp dim, speaker in its colour, text plain)."""

    text: str
    stamp: str = ""  # "[00:01:02] " (with its space), or "" without timestamps
    start_ms: int | None = None
    speaker: str = ""  # the label as shown ("Speaker 1", or the name the user gave)
    speaker_id: int | None = None  # the (merged) speaker's id: its colour survives renames

    @property
    def label(self) -> str:
        return f"{self.speaker}: " if self.speaker else ""

    @property
    def plain(self) -> str:
        """The line as text (what copying and searching see)."""
        return self.stamp + self.label + self.text


@dataclass
class LiveText:
    """The streamed text of one running job (current attempt), as pane lines: the finished
    sentences and the one still arriving."""

    timed: bool = False
    lines: list[PaneLine] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    current_start: int | None = None
    line_len: int = 0
    at_line_start: bool = True
    seen: int = 0  # lines the pane has taken in their final form
    changed: bool = False

    def add(self, text: str, start_ms: int, end_ms: int) -> None:
        if not text:
            return
        if start_ms or end_ms:
            self.timed = True
        if self.at_line_start:
            text = text.lstrip()
            if not text:
                return
            self.current_start = start_ms if self.timed else None
            self.at_line_start = False
        self.current.append(text)
        self.changed = True
        self.line_len += len(text)
        if (
            _SENTENCE_END.search(text)
            or self.line_len >= HARD_LINE_LIMIT
            or (self.line_len >= SOFT_LINE_LIMIT and _SOFT_END.search(text))
        ):
            self.lines.append(self._current_line())
            self.current.clear()
            self.line_len = 0
            self.at_line_start = True

    def _current_line(self) -> PaneLine:
        start = self.current_start
        if start is None:
            return PaneLine("".join(self.current))
        return PaneLine("".join(self.current), stamp(start), start)

    def take_changes(self) -> tuple[int, list[PaneLine]] | None:
        """What changed since the last take: the index of the first changed line and the lines
        from there on (the last one possibly still growing); None when nothing arrived."""
        if not self.changed:
            return None
        self.changed = False
        start = self.seen
        tail = self.lines[start:]
        if self.current:
            tail.append(self._current_line())
        self.seen = len(self.lines)
        return start, tail

    def snapshot(self) -> list[PaneLine]:
        """Everything so far (what a pane switching to this job loads); changes are taken."""
        self.take_changes()
        out = list(self.lines)
        if self.current:
            out.append(self._current_line())
        return out


def result_lines(result: TranscriptionResult) -> list[PaneLine]:
    """One line per cue, each with its start time (and speaker, when labelled); without
    timestamps one sentence per line."""
    if has_timestamps(result.segments):
        # The final text on the deltas' times: what the exports hold (deltas can drift); with
        # speaker labels, cues split where the speaker changes and each names its speaker.
        if speaker_labels.has_labels(result):
            cues = speaker_labels.labelled_cues(result)
        else:
            cues = build_cues(aligned_segments(result))
        sep = "" if is_cjk_text(result.text) else " "
        return [
            PaneLine(
                sep.join(c.lines),
                stamp(c.start_ms),
                c.start_ms,
                c.speaker or "",
                c.speaker_id if c.speaker else None,
            )
            for c in cues
        ]
    cue = fallback_cue(result.text, 1)
    return [PaneLine(line) for line in cue.lines] if cue else []


def format_result(result: TranscriptionResult) -> str:
    """The pane's lines of ``result`` as text."""
    return "\n".join(line.plain for line in result_lines(result))


def find_all(text: str, query: str, limit: int = 100_000) -> list[int]:
    """Start offsets of case-insensitive occurrences of ``query`` (offsets into ``text``)."""
    if not query:
        return []
    found: list[int] = []
    for match in re.finditer(re.escape(query), text, re.IGNORECASE):
        found.append(match.start())
        if len(found) >= limit:
            break
    return found
