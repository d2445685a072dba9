"""One file end to end: probe, prepare (transcode / split), transcribe, check, price.

``transcribe_file`` is the single path the runner and the CLI share. Events go to ``on_event``:
the client's (``UploadProgressed``, ``DeltaReceived`` with timestamps in file time,
``AttemptRestarted``, one final ``TranscriptDone``) and the pipeline's (``Probed``, ``Preparing``,
``PartStarted``). Long files run as parts in parallel, their live text still in file order
(``tui.pipeline.part_requests``); preparing the audio is ``tui.pipeline.prepare``.

``cross_check_file`` adds the second opinion to a result transcribed earlier: the same audio
preparation and the same step-asr-1.1 comparison as ``transcribe_file(cross_check=True)``, without
running the main model again. Step Plan has no legacy endpoint, so there the cross-check says it
is unavailable instead of failing; a refused step-asr-1.1 falls back to step-asr (the legacy
docs' fixed model) once, and the result records which engine answered.

Audio the service refuses as too large is sent again once, smaller (``tui.pipeline.reduce``).
While the audio is transcribed, the stretches holding sound are found (``tui.audio.activity``)
for the coverage check.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from tui.audio.activity import SoundScan, Span
from tui.audio.encoding import AudioFormat
from tui.audio.probe import bad_input, check_readable, probe
from tui.audio.sniff import sniff_format
from tui.audio.split import PartPlan, chunk_seconds
from tui.config import Settings
from tui.errors import AsrError, ErrorKind
from tui.pipeline.part_requests import PART_RETRY_KINDS, PartRequests
from tui.pipeline.parts import Part, part_warnings, sum_usage, texts_by_time
from tui.pipeline.prepare import (
    LEGACY_FORMATS,
    LEGACY_MAX_BYTES,
    NATIVE,
    NATIVE_OGG_CODECS,
    Preparer,
    WorkDir,
)
from tui.pipeline.second_opinion import (
    CROSS_CHECK_MODEL,
    SecondOpinion,
    plan_no_cross_check,
    unavailable_here,
)
from tui.pipeline.sendable import send_plan
from tui.pipeline.silence import silent_file_result
from tui.pipeline.stages import (
    Event,
    EventCallback,
    PartStarted,
    PipelineEvent,
    Preparing,
    Probed,
)
from tui.pipeline.uplink import choose
from tui.speakers.background import SpeakerJob, start_speakers
from tui.stepfun.client import AsrClient
from tui.stepfun.events import TranscriptDone
from tui.stepfun.options import TranscriptionOptions
from tui.transcript import cost as costs
from tui.transcript.align import align
from tui.transcript.model import (
    TranscriptionResult,
    TrustWarning,
    WarningKind,
)
from tui.transcript.quality import assess, coverage_warning, language_hint
from tui.transcript.text import join_texts

__all__ = [
    "CROSS_CHECK_MODEL",
    "LEGACY_FORMATS",
    "LEGACY_MAX_BYTES",
    "NATIVE",
    "NATIVE_OGG_CODECS",
    "PART_RETRY_KINDS",
    "Event",
    "EventCallback",
    "PartStarted",
    "PipelineEvent",
    "Preparing",
    "Probed",
    "cross_check_file",
    "transcribe_file",
]

# Warnings a cross-check run works out again; any other (e.g. "not_compressed", about how the
# audio was sent) describes the original run and is kept as it was.
RECHECKED = frozenset(
    {
        WarningKind.SHORT_AUDIO,
        WarningKind.EMPTY,
        WarningKind.REPETITION,
        WarningKind.CROSS_CHECK_DIFFERS,
        WarningKind.CROSS_CHECK_FAILED,
        WarningKind.EMPTY_PART,
        WarningKind.ENGINE_FALLBACK,
    }
)
# The file must still be the one transcribed: its probed length may differ by this much.
SAME_DURATION_S = 0.5


async def transcribe_file(
    path: Path,
    settings: Settings,
    client: AsrClient,
    *,
    on_event: EventCallback | None = None,
    cross_check: bool = False,
    format_override: AudioFormat | None = None,
    cancel: asyncio.Event | None = None,
) -> TranscriptionResult:
    """Transcribe one file. Raises AsrError (BAD_INPUT for the file itself, CANCELED, ...)."""
    job = _Job(
        Path(path),
        settings,
        client,
        on_event,
        cross_check or settings.cross_check_auto,
        format_override,
        cancel,
    )
    return await _cancellable(job.run, cancel)


async def cross_check_file(
    path: Path,
    settings: Settings,
    client: AsrClient,
    result: TranscriptionResult,
    *,
    on_event: EventCallback | None = None,
    cancel: asyncio.Event | None = None,
) -> TranscriptionResult:
    """``result`` (transcribed from ``path`` earlier) with a step-asr-1.1 cross-check added:
    its text and similarity, the warnings worked out again, the cost including the second
    engine. ``result`` itself is left as it is. Raises AsrError when the check cannot run
    (the file is gone or changed, the second engine failed, CANCELED)."""
    job = _Job(Path(path), settings, client, on_event, True, None, cancel)
    return await _cancellable(lambda: job.check(result), cancel)


async def _cancellable(
    run: Callable[[], Awaitable[TranscriptionResult]], cancel: asyncio.Event | None
) -> TranscriptionResult:
    if cancel is None:
        return await run()
    if cancel.is_set():
        raise AsrError(ErrorKind.CANCELED, "Canceled.")
    task = asyncio.ensure_future(run())
    waiter = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            # Cancelling the task kills any ffmpeg child and the HTTP stream, and the
            # job's finally-blocks remove its temporary files before we return.
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, AsrError):
                await task
    if not task.done() or task.cancelled():
        raise AsrError(ErrorKind.CANCELED, "Canceled.")
    return task.result()


class _Job:
    def __init__(
        self,
        path: Path,
        settings: Settings,
        client: AsrClient,
        on_event: EventCallback | None,
        cross_check: bool,
        format_override: AudioFormat | None,
        cancel: asyncio.Event | None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.client = client
        self._on_event = on_event
        self.cross_check = cross_check
        self.override = format_override
        self.cancel = cancel
        self.work = WorkDir()
        self.speakers: SpeakerJob | None = None
        self.prep = Preparer(path, settings, self.work, self.emit, cancel)
        self.second = SecondOpinion(client, self.prep, tuple(settings.hotwords), self.emit)
        self.pcm: AudioFormat | None = None
        self.options = TranscriptionOptions(
            model=settings.model,
            language=settings.language or None,
            hotwords=tuple(settings.hotwords),
            enable_itn=settings.itn,
            enable_timestamp=settings.timestamps,
        )
        self.requests = PartRequests(
            client, self.options, self.prep, self.emit, settings.chunk_parallelism
        )

    def emit(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event)

    @property
    def _plan(self) -> bool:
        return unavailable_here(self.settings, self.client.base_url)

    def _scan(self, duration: float) -> SoundScan:
        """The stretches holding sound, found while the audio is transcribed (one ffmpeg
        decode) unless splitting found the pauses already; not at all when neither the
        coverage check nor the language hint would use them."""
        return SoundScan(
            self.prep.ffmpeg,
            self.path,
            duration,
            silences=self.prep.silences,
            pcm=self.pcm,
            cancel=self.cancel,
            wanted=self.options.enable_timestamp or not self.options.language,
        )

    async def run(self) -> TranscriptionResult:
        return await self._in_work_dir(self._transcribe())

    async def check(self, previous: TranscriptionResult) -> TranscriptionResult:
        return await self._in_work_dir(self._check(previous))

    async def _in_work_dir(self, body: Awaitable[TranscriptionResult]) -> TranscriptionResult:
        try:
            return await body
        finally:
            if self.speakers is not None:
                self.speakers.cancel()
            await self.prep.stop_cuts()
            await self.work.remove()

    async def _prepare(self) -> tuple[list[Part], float]:
        """Probe the file and get its audio ready to send: one part, or parts cut at pauses."""
        size = check_readable(self.path)
        kind = self.override.type if self.override else sniff_format(self.path)
        pcm = self.override if self.override and self.override.type == "pcm" else None
        self.pcm = pcm
        if kind == "pcm" and pcm is None:
            raise bad_input(
                self.path,
                "raw PCM has no header; pass its layout (e.g. --rate 16000 --bits 16 --channel 1).",
            )
        info = await probe(self.path, ffmpeg=self.prep.ffmpeg, pcm=pcm, cancel=self.cancel)
        self.prep.probed(info)
        duration = info.duration_s
        self.emit(Probed(duration, info.estimated))

        limit_s = chunk_seconds(self.settings.chunk_minutes)
        has_ffmpeg = self.prep.ffmpeg is not None
        native = send_plan(kind, info, pcm).native is not None
        choice = choose(
            duration,
            size / max(duration, 0.001),
            parallel=max(1, self.settings.chunk_parallelism),
            limit_s=limit_s,
            can_compress=self.settings.compress,  # without ffmpeg: a note says what it cost
            can_cut=has_ffmpeg,
            whole_ok=native,
            uplink_bps=self.client.uplink.bytes_per_s,
        )
        if duration > limit_s or choice.parts > 1:
            # Parts of at most d / (n - 1/2): plan_cuts makes n of them, aiming at even shares,
            # with room to move each cut to a pause.
            part_s = min(limit_s, duration / max(0.5, choice.parts - 0.5))
            parts = await self.prep.split(
                duration,
                part_s,
                pcm,
                compress=choice.compress if self.settings.compress else False,
                limit_s=limit_s,
            )
            return parts, duration
        audio = await self.prep.single(kind, info, size, pcm, worth=choice.compress)
        return [Part(PartPlan(1, 1, 0.0, duration), audio)], duration

    async def _transcribe(self) -> TranscriptionResult:
        started = time.monotonic()
        pcm = self.override if self.override and self.override.type == "pcm" else None
        if quiet := await silent_file_result(
            self.path, self.prep.ffmpeg, self.options.model, self.options.language, pcm, self.cancel
        ):
            return quiet  # digital silence: nothing to send, nothing to pay
        # Speaker labels are computed here while the audio uploads (None when off).
        self.speakers = start_speakers(self.path, self.settings.speakers, self.prep.ffmpeg)
        parts, duration = await self._prepare()
        scan = self._scan(duration)
        try:
            await self.requests.run(parts)
            sound = await scan.result()
        finally:
            await scan.close()

        text = join_texts([p.text for p in parts])
        result = TranscriptionResult(
            file=str(self.path),
            text=text,
            segments=[s for p in parts for s in p.segments],
            usage=sum_usage([p.usage for p in parts]),
            model=self.options.model,
            language=self.options.language,
            duration_s=duration,
            duration_estimated=self.prep.duration_estimated,
            attempts=max((p.attempts for p in parts), default=1),
        )
        if len(parts) > 1:
            self.emit(TranscriptDone(text, result.usage))
        result.cost = costs.estimate(
            self.options.model, duration, self.settings.region, self.settings.prices
        )
        warnings = list(self.prep.warnings)
        if self.cross_check and self._plan:
            warnings.append(TrustWarning(WarningKind.CROSS_CHECK_FAILED, plan_no_cross_check()))
        elif self.cross_check:
            try:
                await self._add_cross_check(result, parts, duration)
            except AsrError as err:
                if err.kind == ErrorKind.CANCELED:
                    raise
                # The transcript itself is fine; say the second opinion is missing.
                warnings.append(
                    TrustWarning(
                        WarningKind.CROSS_CHECK_FAILED,
                        f"The cross-check with {self.second.model} could not run: {err.message}",
                    )
                )
        per_part = part_warnings(parts, self.prep.silences, self.options.language)
        notes = [*self.requests.notes, *self.second.notes]
        result.warnings = [*warnings, *notes, *self._checks(result, per_part, sound, fresh=True)]
        if self.speakers is not None:
            await self.speakers.attach(result)
        result.elapsed_s = round(time.monotonic() - started, 3)
        return result

    async def _check(self, previous: TranscriptionResult) -> TranscriptionResult:
        if self._plan:
            raise AsrError(ErrorKind.MODEL_UNAVAILABLE, plan_no_cross_check())
        parts, duration = await self._prepare()
        await self.prep.all_ready()
        known = previous.duration_s
        if known is not None and abs(duration - known) > max(SAME_DURATION_S, known * 0.01):
            raise bad_input(
                self.path,
                f"it is {duration:.1f} s long now but was {known:.1f} s "
                "when transcribed: the file changed. Transcribe it again instead.",
            )
        result = replace(previous, segments=list(previous.segments), warnings=[])
        kept = [w for w in previous.warnings if w.code not in RECHECKED]
        texts = (
            [previous.text]
            if len(parts) == 1
            # The final text (not the deltas, which can drift) placed by the deltas' times.
            else texts_by_time(align(previous.segments, previous.text), [p.plan for p in parts])
        )
        for part, text in zip(parts, texts or [], strict=False):
            part.text = text
        await self._add_cross_check(result, parts, duration)
        if texts is not None:
            per_part = part_warnings(parts, self.prep.silences, self.options.language)
        else:
            # Several parts but no timestamps: a part's own text is unknown, so the part-level
            # warnings stay as they were (a serious one is never dropped unchecked).
            per_part = [
                w
                for w in previous.warnings
                if w.code == WarningKind.EMPTY_PART
                or (w.code == WarningKind.REPETITION and w.part is not None)
            ]
        # The coverage and language checks are about the transcript, which has not changed:
        # theirs are among the warnings kept.
        result.warnings = [*kept, *self.second.notes, *self._checks(result, per_part)]
        return result

    async def _add_cross_check(
        self, result: TranscriptionResult, parts: list[Part], duration: float
    ) -> None:
        result.cross_check = await self.second.check(parts, result.text)
        extra = costs.estimate(
            self.second.model, duration, self.settings.region, self.settings.prices
        )
        result.cost = costs.combine(result.cost, extra, "cross-check")

    def _checks(
        self,
        result: TranscriptionResult,
        per_part: list[TrustWarning],
        sound: list[Span] | None = None,
        *,
        fresh: bool = False,
    ) -> list[TrustWarning]:
        """The trust checks; ``fresh`` (a new transcript) adds the language and coverage
        checks, which a cross-check run keeps from the original instead."""
        found = assess(result, result.duration_s, self.options.language)
        if fresh:
            sound_s = sum(b - a for a, b in sound) if sound is not None else result.duration_s
            hint = language_hint(result.text, sound_s, self.options.language)
            found += [hint] if hint else []
        if fresh and sound and result.text.strip():
            covered = coverage_warning(result.segments, sound)
            found += [covered] if covered else []
        if any(w.code == WarningKind.REPETITION for w in found):
            per_part = [
                w for w in per_part if w.code != WarningKind.REPETITION
            ]  # said once is enough
        return [*found, *per_part]
