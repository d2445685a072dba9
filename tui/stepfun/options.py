"""What to ask of the model, and how the audio is encoded."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.audio.encoding import AudioFormat

SSE_MODELS = ("stepaudio-2.5-asr", "stepaudio-3-asr-max", "stepaudio-2-asr-pro")
LEGACY_MODELS = ("step-asr", "step-asr-1.1")


@dataclass(frozen=True)
class TranscriptionOptions:
    model: str = "stepaudio-2.5-asr"
    language: str | None = None  # None: let the service detect it
    hotwords: tuple[str, ...] = ()
    enable_itn: bool = True
    enable_timestamp: bool = True


@dataclass(frozen=True)
class AudioInput:
    """A file on disk to send as-is, and the format to declare for it."""

    path: str
    format: AudioFormat
    duration_s: float | None = field(default=None, compare=False)
