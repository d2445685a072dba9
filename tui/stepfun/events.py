"""Typed events the client yields while one transcription request runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UploadProgressed:
    """Bytes of the request body handed to the network so far."""

    sent: int
    total: int


@dataclass(frozen=True)
class DeltaReceived:
    """Incremental text. Times are ms offsets into the audio (0 when timestamps are off)."""

    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class AttemptRestarted:
    """A retryable failure happened; the partial text so far must be discarded."""

    attempt: int
    delay_s: float
    reason: str


@dataclass(frozen=True)
class TranscriptDone:
    """The authoritative final text (not the concatenated deltas) and the opaque usage."""

    text: str
    usage: dict[str, Any] = field(default_factory=dict)


ClientEvent = UploadProgressed | DeltaReceived | AttemptRestarted | TranscriptDone
