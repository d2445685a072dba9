"""The result of transcribing one file, as the CLI prints it and the store keeps it."""

from __future__ import annotations

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
        data = asdict(self)
        data["warnings"] = [asdict(w) for w in self.warnings]
        return data

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
