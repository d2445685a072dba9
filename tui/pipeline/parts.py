"""A long recording as parts: their live events in file order, their results put back together.

Parts run in parallel, yet deltas are delivered in file order: the earliest unfinished part
streams live, later parts are held back until it finishes. When the live part restarts,
``AttemptRestarted`` keeps its meaning ("discard the partial text") and the text of the parts
already finished is sent again right after it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tui.audio.split import PartPlan, Silence, silent_share
from tui.errors import AsrError
from tui.pipeline.stages import EventCallback
from tui.stepfun.events import AttemptRestarted, ClientEvent, DeltaReceived, UploadProgressed
from tui.stepfun.options import AudioInput
from tui.transcript.cues import format_clock
from tui.transcript.model import CrossCheck, Segment, TrustWarning, WarningKind
from tui.transcript.quality import repetition_warning
from tui.transcript.text import needs_space

# An empty part this silent (by silencedetect) is expected to be empty: no hole.
MOSTLY_SILENT = 0.9


@dataclass
class Part:
    plan: PartPlan
    audio: AudioInput
    text: str = ""
    segments: list[Segment] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    cross_check: CrossCheck | None = None


class OrderedEvents:
    """Forwards part events in file order (see the module docstring)."""

    def __init__(self, emit: EventCallback, count: int) -> None:
        self.emit = emit
        self.count = count
        self.live = 1
        self.done: set[int] = set()
        self.held: dict[int, list[DeltaReceived]] = {i: [] for i in range(1, count + 1)}
        self.sent: dict[int, list[DeltaReceived]] = {i: [] for i in range(1, count + 1)}
        self.upload: dict[int, tuple[int, int]] = {}

    def feed(self, index: int, event: ClientEvent) -> None:
        if self.count == 1:
            self.emit(event)
            return
        if isinstance(event, DeltaReceived):
            if index == self.live:
                self._deliver(index, event)
            else:
                self.held[index].append(event)
        elif isinstance(event, AttemptRestarted):
            if index == self.live:
                self.sent[index].clear()
                self.emit(event)
                for earlier in range(1, index):
                    for delta in self.sent[earlier]:
                        self.emit(delta)
            else:
                self.held[index].clear()
        elif isinstance(event, UploadProgressed):
            self.upload[index] = (event.sent, event.total)
            self.emit(
                UploadProgressed(
                    sum(s for s, _ in self.upload.values()), sum(t for _, t in self.upload.values())
                )
            )
        # A part's own TranscriptDone is not the file's; the job sends one at the end.

    def finished(self, index: int) -> None:
        self.done.add(index)
        while self.live in self.done and self.live < self.count:
            self.live += 1
            for delta in self.held[self.live]:
                self._deliver(self.live, delta)
            self.held[self.live].clear()

    def _deliver(self, index: int, delta: DeltaReceived) -> None:
        if not self.sent[index] and index > 1:
            # A part's first word has no leading space; the joined text has one (Latin).
            before = next(
                (d.text for i in range(index - 1, 0, -1) for d in reversed(self.sent[i]) if d.text),
                "",
            )
            if before and needs_space(before[-1], delta.text[:1]):
                delta = replace(delta, text=" " + delta.text)
        self.sent[index].append(delta)
        self.emit(delta)


def shift_segments(segments: list[Segment], offset_ms: int) -> list[Segment]:
    """A part's segments in file time.

    All or nothing: when the part has any real timestamp, every segment moves (a first word
    at 0–0 included, or it would sort before the previous part); when all are 0–0
    (timestamps off), none does, or they would look like real times.
    """
    if offset_ms <= 0 or not any(s.start_ms or s.end_ms for s in segments):
        return segments
    return [Segment(s.start_ms + offset_ms, s.end_ms + offset_ms, s.text) for s in segments]


def texts_by_time(segments: Sequence[Segment], plans: Sequence[PartPlan]) -> list[str] | None:
    """Each part's text rebuilt from a finished transcript's segments (file time), for checks
    run later (a cross-check); None when the segments carry no timestamps to place them by."""
    if not any(s.start_ms or s.end_ms for s in segments):
        return None
    starts = [round(p.offset_s * 1000) for p in plans]
    texts: list[list[str]] = [[] for _ in plans]
    for segment in segments:
        texts[max(0, bisect_right(starts, segment.start_ms) - 1)].append(segment.text)
    return ["".join(t).strip() for t in texts]


def describe(plan: PartPlan) -> str:
    """E.g. "part 2 of 3 (00:25:00–00:50:00)"."""
    span = f"{format_clock(round(plan.offset_s * 1000))}–{format_clock(round(plan.end_s * 1000))}"
    return f"part {plan.index} of {plan.count} ({span})"


def part_error(plan: PartPlan, err: AsrError) -> AsrError:
    """The error of a failed part, saying which part (a one-part job's error stays as it is)."""
    if plan.count == 1:
        return err
    return AsrError(
        err.kind,
        f"{describe(plan)} failed: {err.message}",
        status=err.status,
        retryable=err.retryable,
    )


def part_warnings(
    parts: Sequence[Part], silences: Sequence[Silence], language: str | None
) -> list[TrustWarning]:
    """What the whole-file checks cannot see in a long recording: an empty part between
    others (a hole) and a loop in one part, diluted below the thresholds in the whole."""
    if len(parts) < 2 or not any(p.text.strip() for p in parts):
        return []  # one part, or all empty: the whole-file checks say it
    warnings: list[TrustWarning] = []
    for part in parts:
        where = describe(part.plan).capitalize()
        if part.text.strip():
            found = repetition_warning(
                part.text,
                part.plan.duration_s,
                language,
                part.cross_check,
                where=where,
                part=part.plan.index,
            )
            warnings += [found] if found else []
        elif silent_share(silences, part.plan.offset_s, part.plan.end_s) >= MOSTLY_SILENT:
            warnings.append(
                TrustWarning(
                    WarningKind.EMPTY_PART,
                    f"{where} is almost all silence and came back empty, as expected.",
                    part=part.plan.index,
                )
            )
        else:
            warnings.append(
                TrustWarning(
                    WarningKind.EMPTY_PART,
                    f"{where} came back empty although it is not silent: the "
                    "transcript may have a hole there. Listen to that stretch, or transcribe the "
                    "file again.",
                    serious=True,
                    part=part.plan.index,
                )
            )
    return warnings


def sum_usage(usages: list[dict[str, Any]]) -> dict[str, Any]:
    """Numeric leaves added, nested dicts merged, other values kept from the first part."""
    if len(usages) == 1:
        return dict(usages[0])
    total: dict[str, Any] = {}
    for usage in usages:
        _add_into(total, usage)
    return total


def _add_into(total: dict[str, Any], usage: dict[str, Any]) -> None:
    for key, value in usage.items():
        if isinstance(value, bool):
            total.setdefault(key, value)
        elif isinstance(value, int | float):
            current = total.get(key, 0)
            total[key] = (current if isinstance(current, int | float) else 0) + value
        elif isinstance(value, dict):
            sub = total.setdefault(key, {})
            if isinstance(sub, dict):
                _add_into(sub, value)
        else:
            total.setdefault(key, value)
