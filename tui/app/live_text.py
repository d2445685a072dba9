"""Transcript text as the workbench shows it, kept outside any widget (no Textual here).

While a job streams, :class:`LiveText` turns deltas into display lines: a new line after each
sentence (so no line grows without bound — a TextArea rewraps a whole line per edit), with a
``[HH:MM:SS]`` stamp from the delta's start time at each line start. Deltas accumulate in a
pending buffer that the pane drains ~20 times a second: one widget edit per flush, never one
per delta. :func:`format_result` renders a finished transcript one cue per line.
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


@dataclass
class LiveText:
    """The streamed text of one running job (current attempt)."""

    timed: bool = False
    parts: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    chars: int = 0
    line_len: int = 0
    at_line_start: bool = True

    def add(self, text: str, start_ms: int, end_ms: int) -> None:
        if not text:
            return
        self.chars += len(text)
        if start_ms or end_ms:
            self.timed = True
        out: list[str] = []
        if self.at_line_start:
            text = text.lstrip()
            if not text:
                return
            if self.timed:
                out.append(stamp(start_ms))
            self.at_line_start = False
        out.append(text)
        self.line_len += len(text)
        if (
            _SENTENCE_END.search(text)
            or self.line_len >= HARD_LINE_LIMIT
            or (self.line_len >= SOFT_LINE_LIMIT and _SOFT_END.search(text))
        ):
            out.append("\n")
            self.line_len = 0
            self.at_line_start = True
        piece = "".join(out)
        self.parts.append(piece)
        self.pending.append(piece)

    def take_pending(self) -> str:
        if not self.pending:
            return ""
        chunk = "".join(self.pending)
        self.pending.clear()
        return chunk

    @property
    def text(self) -> str:
        """Everything so far (what a pane switching to this job loads)."""
        if len(self.parts) > 1:
            self.parts[:] = ["".join(self.parts)]  # keep joins cheap on repeated switches
        return self.parts[0] if self.parts else ""


def format_result(result: TranscriptionResult) -> str:
    """One cue per line, each with its start time; without timestamps one sentence per line."""
    if has_timestamps(result.segments):
        # The final text on the deltas' times: what the exports hold (deltas can drift); with
        # speaker labels, cues split where the speaker changes and each names its speaker.
        if speaker_labels.has_labels(result):
            cues = speaker_labels.labelled_cues(result)
        else:
            cues = build_cues(aligned_segments(result))
        sep = "" if is_cjk_text(result.text) else " "
        return "\n".join(
            stamp(c.start_ms) + (f"{c.speaker}: " if c.speaker else "") + sep.join(c.lines)
            for c in cues
        )
    cue = fallback_cue(result.text, 1)
    return "\n".join(cue.lines) if cue else ""


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
