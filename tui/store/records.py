"""What the job store holds, as plain frozen records: jobs, their states and options, and the
watch ledger's rows. No SQL here; ``tui.store.store`` reads and writes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from tui.audio.encoding import AudioFormat
from tui.transcript.exports import ExportSpec


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"
    CANCELED = "canceled"


FINISHED = frozenset({JobState.DONE, JobState.NEEDS_REVIEW})
ENDED = FINISHED | {JobState.FAILED, JobState.CANCELED}


class JobStateError(ValueError):
    """The job is not in a state that allows the action; the message says which it is in."""


@dataclass(frozen=True)
class JobOptions:
    """Per-job request settings (None: the settings' value) and what to export when done."""

    model: str | None = None
    language: str | None = None
    hotwords: tuple[str, ...] | None = None
    cross_check: bool = False
    export: ExportSpec | None = None
    # How to send the audio: a declared format (``--format``) and whether big WAV/PCM may be
    # compressed (None: the settings decide).
    audio_format: AudioFormat | None = None
    compress: bool | None = None
    # Speaker labels for this job (off | auto | N | MIN-MAX), e.g. the workbench's answer to
    # "How many speakers?"; None: the folder's file or the settings decide.
    speakers: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "language": self.language,
            "hotwords": list(self.hotwords) if self.hotwords is not None else None,
            "cross_check": self.cross_check,
            "export": self.export.to_json() if self.export else None,
            "audio_format": self.audio_format.as_dict() if self.audio_format else None,
            "compress": self.compress,
            "speakers": self.speakers,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobOptions:
        hot = data.get("hotwords")
        exp = data.get("export")
        return cls(
            model=data.get("model"),
            language=data.get("language"),
            hotwords=tuple(hot) if hot is not None else None,
            cross_check=bool(data.get("cross_check")),
            export=ExportSpec.from_json(exp) if exp else None,
            audio_format=AudioFormat(**fmt) if (fmt := data.get("audio_format")) else None,
            compress=data.get("compress"),
            speakers=data.get("speakers"),
        )


@dataclass(frozen=True)
class Job:
    id: int
    source: Path
    state: JobState
    options: JobOptions = field(default_factory=JobOptions)
    origin: str = "manual"  # "manual" | "cli" | "watch" | "tui"
    watch_id: str | None = None
    size: int | None = None
    mtime: float | None = None
    content_hash: str | None = None
    attempts: int = 0
    error_message: str | None = None
    error_kind: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None
    cost_amount: float | None = None
    cost_currency: str | None = None
    reviewed: bool = False
    outputs: tuple[Path, ...] = ()
    owner: str | None = None
    # What it ran with (the jobs table's model and language columns): the job's own option
    # until it starts, then the effective value. ``ran_language`` "" means auto-detect.
    ran_model: str | None = None
    ran_language: str | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def model(self) -> str | None:
        """The model it ran (or will run) with; None: the settings' model, once it starts."""
        return self.ran_model or self.options.model

    @property
    def language(self) -> str | None:
        """The language it ran (or will run) with: a code, "" for auto-detect, or None when it
        will take the settings' language once it starts."""
        if self.ran_language is not None:
            return self.ran_language
        if self.state in FINISHED:  # rows from before languages were recorded: NULL was auto
            return ""
        return self.options.language


@dataclass(frozen=True)
class SeenFile:
    path: Path
    size: int
    mtime_ns: int
    content_hash: str
    job_id: int | None
    exported: bool


@dataclass(frozen=True)
class LedgerEntry:
    content_hash: str
    job_id: int | None
    first_path: Path
    outputs: tuple[Path, ...]
    first_seen_at: float
    done_at: float | None


@dataclass(frozen=True)
class Admission:
    """The watcher's answer for one stable file. ``new``: a job was queued (or a still-queued
    job for this path took the new content). ``known``: this path with this content already
    has a job. ``copy``: the same bytes were seen under another name."""

    kind: Literal["new", "known", "copy"]
    job: Job
    exported: bool = False


@dataclass(frozen=True)
class Totals:
    jobs: int
    audio_s: float
    cost: dict[str, float]  # currency → amount
