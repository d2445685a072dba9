"""The result of transcribing one file, as the CLI prints it and the store keeps it."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Segment:
    """One timed piece of text (a delta: roughly a word), ms from the start of the file."""

    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True)
class TrustWarning:
    """Why a transcript deserves a second look. ``serious`` ones put the job in needs_review."""

    code: str  # e.g. "empty", "short_audio", "repetition", "cross_check_differs"
    message: str
    serious: bool = False


@dataclass(frozen=True)
class CostEstimate:
    amount: float
    currency: str  # "CNY" or "USD"
    basis: str = "per audio hour, from the probed duration"


@dataclass(frozen=True)
class CrossCheck:
    model: str
    text: str
    similarity: float  # 0..1


@dataclass
class TranscriptionResult:
    file: str
    text: str
    segments: list[Segment] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    language: str | None = None
    elapsed_s: float = 0.0
    duration_s: float | None = None
    warnings: list[TrustWarning] = field(default_factory=list)
    cost: CostEstimate | None = None
    cross_check: CrossCheck | None = None
    attempts: int = 1

    @property
    def needs_review(self) -> bool:
        return any(w.serious for w in self.warnings)

    def to_json(self) -> dict[str, Any]:
        # Built by hand: asdict() deep-copies every segment, ~0.4 s for 20k of them, and this
        # runs on the event loop whenever a job finishes.
        return {
            "file": self.file,
            "text": self.text,
            "segments": [
                {"start_ms": s.start_ms, "end_ms": s.end_ms, "text": s.text} for s in self.segments
            ],
            "usage": copy.deepcopy(self.usage),
            "model": self.model,
            "language": self.language,
            "elapsed_s": self.elapsed_s,
            "duration_s": self.duration_s,
            "warnings": [asdict(w) for w in self.warnings],
            "cost": asdict(self.cost) if self.cost else None,
            "cross_check": asdict(self.cross_check) if self.cross_check else None,
            "attempts": self.attempts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TranscriptionResult:
        data = dict(data)
        data["segments"] = [Segment(**s) for s in data.get("segments", [])]
        data["warnings"] = [TrustWarning(**w) for w in data.get("warnings", [])]
        if data.get("cost"):
            data["cost"] = CostEstimate(**data["cost"])
        if data.get("cross_check"):
            data["cross_check"] = CrossCheck(**data["cross_check"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
