"""The pipeline's own events (besides the client's): probed, preparing, a part started.

``tui.pipeline.transcription`` re-exports all of these; import them from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tui.stepfun.events import ClientEvent


@dataclass(frozen=True)
class Probed:
    duration_s: float
    estimated: bool = False  # a guess, not a measurement: show it as "~3:00"


@dataclass(frozen=True)
class Preparing:
    what: str  # e.g. "transcoding to Opus"


@dataclass(frozen=True)
class PartStarted:
    index: int  # 1-based ("part 2 of 3")
    count: int
    offset_s: float


PipelineEvent = Probed | Preparing | PartStarted
Event = ClientEvent | PipelineEvent
EventCallback = Callable[[Event], None]
