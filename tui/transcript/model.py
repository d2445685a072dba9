"""The result of transcribing one file, as the CLI prints it and the store keeps it."""

from __future__ import annotations

import copy
import enum
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Segment:
    """One timed piece of text (a delta: roughly a word), ms from the start of the file."""

    start_ms: int
    end_ms: int
    text: str


class WarningKind(enum.StrEnum):
    """What a trust warning is about. Stored by value, so values never change."""

    EMPTY = "empty"
    EMPTY_PART = "empty_part"
    SHORT_AUDIO = "short_audio"
    REPETITION = "repetition"
    CROSS_CHECK_DIFFERS = "cross_check_differs"
    CROSS_CHECK_FAILED = "cross_check_failed"
    NOT_COMPRESSED = "not_compressed"
    # The file itself (real-world audio).
    TRUNCATED_FILE = "truncated_file"
    ESTIMATED_DURATION = "estimated_duration"
    DURATION_MISMATCH = "duration_mismatch"
    # What the service returned.
    UNCOVERED_AUDIO = "uncovered_audio"
    LANGUAGE_HINT = "language_hint"
    PAYLOAD_REDUCED = "payload_reduced"
    ENGINE_FALLBACK = "engine_fallback"
    SILENCE = "silence"
    # Local analysis.
    SPEAKERS_UNSURE = "speakers_unsure"
    OTHER = "other"  # a kind this version does not know (written by a newer one)

    @classmethod
    def parse(cls, value: str) -> WarningKind:
        try:
            return cls(value)
        except ValueError:
            return cls.OTHER


@dataclass(frozen=True)
class TrustWarning:
    """Why a transcript deserves a second look. ``serious`` ones put the job in needs_review.

    ``part`` is the 1-based part of a long recording the warning is about (None: the whole
    file); ``spans`` are the stretches of audio (seconds) it points at, for jumping to them."""

    code: WarningKind
    message: str
    serious: bool = False
    part: int | None = None
    spans: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrustWarning:
        return cls(
            WarningKind.parse(str(data.get("code", ""))),
            str(data.get("message", "")),
            bool(data.get("serious", False)),
            data.get("part"),
            tuple((float(a), float(b)) for a, b in data.get("spans") or ()),
        )


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


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of audio (ms) where one speaker talks; speakers are numbered from 1."""

    start_ms: int
    end_ms: int
    speaker: int


@dataclass
class SpeakerTurns:
    """Who spoke when, estimated on this machine (tui.speakers), plus the user's edits: a
    name per speaker and merges (speaker → the one it is folded into). ``voices`` holds a
    unit voice vector per speaker (rounded), for matching names across a folder's jobs."""

    turns: list[SpeakerTurn] = field(default_factory=list)
    count: int = 0
    requested: str = "auto"
    model: str = ""
    unsure: bool = False
    suggested: int | None = None
    names: dict[int, str] = field(default_factory=dict)
    merged: dict[int, int] = field(default_factory=dict)
    voices: dict[int, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "turns": [[t.start_ms, t.end_ms, t.speaker] for t in self.turns],
            "count": self.count,
            "requested": self.requested,
            "model": self.model,
            "unsure": self.unsure,
            "suggested": self.suggested,
            "names": {str(k): v for k, v in self.names.items()},
            "merged": {str(k): v for k, v in self.merged.items()},
            "voices": {str(k): v for k, v in self.voices.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpeakerTurns:
        return cls(
            turns=[SpeakerTurn(int(a), int(b), int(s)) for a, b, s in data.get("turns") or ()],
            count=int(data.get("count") or 0),
            requested=str(data.get("requested") or "auto"),
            model=str(data.get("model") or ""),
            unsure=bool(data.get("unsure", False)),
            suggested=data.get("suggested"),
            names={int(k): str(v) for k, v in (data.get("names") or {}).items()},
            merged={int(k): int(v) for k, v in (data.get("merged") or {}).items()},
            voices={int(k): [float(x) for x in v] for k, v in (data.get("voices") or {}).items()},
        )


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
    # True when duration_s is an estimate, not a measurement: show it as approximate ("~3:00").
    duration_estimated: bool = False
    warnings: list[TrustWarning] = field(default_factory=list)
    cost: CostEstimate | None = None
    cross_check: CrossCheck | None = None
    attempts: int = 1
    speakers: SpeakerTurns | None = None

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
            "duration_estimated": self.duration_estimated,
            "warnings": [asdict(w) for w in self.warnings],
            "cost": asdict(self.cost) if self.cost else None,
            "cross_check": asdict(self.cross_check) if self.cross_check else None,
            "attempts": self.attempts,
            "speakers": self.speakers.to_json() if self.speakers else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TranscriptionResult:
        data = dict(data)
        # A JSON export keeps the raw deltas as "deltas" (its "segments" are the final text
        # aligned onto them): the deltas are what a result holds.
        raw = data["deltas"] if isinstance(data.get("deltas"), list) else data.get("segments")
        data["segments"] = [Segment(**s) for s in raw or []]
        data["warnings"] = [TrustWarning.from_json(w) for w in data.get("warnings", [])]
        data["duration_estimated"] = bool(data.get("duration_estimated", False))
        if data.get("cost"):
            data["cost"] = CostEstimate(**data["cost"])
        if data.get("cross_check"):
            data["cross_check"] = CrossCheck(**data["cross_check"])
        if data.get("speakers"):
            data["speakers"] = SpeakerTurns.from_json(data["speakers"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
