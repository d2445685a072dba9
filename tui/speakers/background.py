"""Speaker labels computed while the audio uploads: the pipeline's hook.

``start_speakers`` begins decoding and embedding in a worker thread as the job starts (the
speech mask then comes from the audio's energy, since the words are not back yet); ``attach``
waits for it and puts the turns and any warning on the finished result. A failure here never
costs the transcript: it becomes a warning. Without the model the job fails before any audio
is sent, with the one sentence saying how to add it.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from tui.errors import AsrError, ErrorKind
from tui.speakers.setting import parse_speakers
from tui.transcript.model import TranscriptionResult, TrustWarning, WarningKind


class SpeakerJob:
    def __init__(self, path: Path, count: str, ffmpeg_path: str | None) -> None:
        from tui.speakers.diarize import diarize_file
        from tui.speakers.encoder import VoiceEncoder
        from tui.speakers.model_files import ModelMissingError, require_model

        wanted = parse_speakers(count)
        assert wanted is not None
        try:
            weights = require_model()
        except ModelMissingError as exc:
            raise AsrError(ErrorKind.LOCAL, str(exc)) from None
        self._stop = threading.Event()

        def run() -> object:
            encoder = VoiceEncoder.load(weights)
            return diarize_file(
                path, wanted, (), ffmpeg_path=ffmpeg_path, encoder=encoder, stop=self._stop
            )

        self._task = asyncio.ensure_future(asyncio.to_thread(run))
        # A job that fails before attach() never awaits this: its error is read here so it is
        # not reported as "never retrieved".
        self._task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def cancel(self) -> None:
        """Stop the worker at its next batch (the job failed or was canceled)."""
        self._stop.set()

    async def attach(self, result: TranscriptionResult) -> None:
        from tui.speakers.diarize import Diarization

        try:
            found = await self._task
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the transcript stands; say the labels are missing
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            result.warnings.append(
                TrustWarning(
                    WarningKind.SPEAKERS_UNSURE,
                    f"Speaker labels could not be computed: {reason}",
                )
            )
            return
        assert isinstance(found, Diarization)
        result.speakers = found.turns
        if found.warning is not None:
            result.warnings.append(found.warning)


def start_speakers(path: Path, speakers: str | None, ffmpeg_path: str | None) -> SpeakerJob | None:
    """A running speaker job for ``path``, or None when the setting is off.
    Raises AsrError(LOCAL) when the model is not installed (before anything is sent)."""
    try:
        wanted = parse_speakers(speakers)
    except ValueError as exc:
        raise AsrError(ErrorKind.BAD_INPUT, str(exc)) from None
    if wanted is None:
        return None
    return SpeakerJob(path, str(wanted), ffmpeg_path)
