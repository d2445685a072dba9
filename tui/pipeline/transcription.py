"""One file end to end: probe, prepare (transcode / split), transcribe, check, price.

``transcribe_file`` is the single path the runner and the CLI share. Events go to ``on_event``:
the client's (``UploadProgressed``, ``DeltaReceived`` with timestamps in file time,
``AttemptRestarted``, one final ``TranscriptDone``) and the pipeline's (``Probed``, ``Preparing``,
``PartStarted``). Long files run as parts in parallel, their live text still in file order
(``tui.pipeline.parts``); preparing the audio is ``tui.pipeline.prepare``.

``cross_check_file`` adds the second opinion to a result transcribed earlier: the same audio
preparation and the same step-asr-1.1 comparison as ``transcribe_file(cross_check=True)``, without
running the main model again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from tui.audio.encoding import AudioFormat
from tui.audio.probe import bad_input, check_readable, probe
from tui.audio.sniff import sniff_format
from tui.audio.split import PartPlan, chunk_seconds
from tui.config import Settings
from tui.errors import RETRYABLE, AsrError, ErrorKind
from tui.pipeline.parts import (
    OrderedEvents,
    Part,
    part_error,
    part_warnings,
    shift_segments,
    sum_usage,
    texts_by_time,
)
from tui.pipeline.prepare import (
    LEGACY_FORMATS,
    LEGACY_MAX_BYTES,
    NATIVE,
    NATIVE_OGG_CODECS,
    Preparer,
    WorkDir,
)
from tui.pipeline.silence import silent_file_result
from tui.pipeline.stages import (
    Event,
    EventCallback,
    PartStarted,
    PipelineEvent,
    Preparing,
    Probed,
)
from tui.stepfun.client import AsrClient
from tui.stepfun.events import AttemptRestarted, ClientEvent, DeltaReceived, TranscriptDone
from tui.stepfun.options import TranscriptionOptions
from tui.transcript import cost as costs
from tui.transcript.model import CrossCheck, TranscriptionResult, TrustWarning, WarningKind
from tui.transcript.quality import assess
from tui.transcript.similarity import similarity
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

CROSS_CHECK_MODEL = "step-asr-1.1"
# Kinds worth one more try of a failed part (after the client's own retries).
PART_RETRY_KINDS = RETRYABLE | {ErrorKind.STREAM_ERROR}
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
        self.prep = Preparer(path, settings, self.work, self.emit, cancel)
        self.options = TranscriptionOptions(
            model=settings.model,
            language=settings.language or None,
            hotwords=tuple(settings.hotwords),
            enable_itn=settings.itn,
            enable_timestamp=settings.timestamps,
        )

    def emit(self, event: Event) -> None:
        if self._on_event is not None:
            self._on_event(event)

    async def run(self) -> TranscriptionResult:
        return await self._in_work_dir(self._transcribe())

    async def check(self, previous: TranscriptionResult) -> TranscriptionResult:
        return await self._in_work_dir(self._check(previous))

    async def _in_work_dir(self, body: Awaitable[TranscriptionResult]) -> TranscriptionResult:
        try:
            return await body
        finally:
            await self.work.remove()

    async def _prepare(self) -> tuple[list[Part], float]:
        """Probe the file and get its audio ready to send: one part, or parts cut at pauses."""
        size = check_readable(self.path)
        kind = self.override.type if self.override else sniff_format(self.path)
        pcm = self.override if self.override and self.override.type == "pcm" else None
        if kind == "pcm" and pcm is None:
            raise bad_input(
                self.path,
                "raw PCM has no header; pass its layout (e.g. --format "
                "pcm --rate 16000 --bits 16 --channel 1).",
            )
        info = await probe(self.path, ffmpeg=self.prep.ffmpeg, pcm=pcm, cancel=self.cancel)
        duration = info.duration_s
        self.emit(Probed(duration))

        chunk_s = chunk_seconds(self.settings.chunk_minutes)
        if duration > chunk_s:
            return await self.prep.split(duration, chunk_s, pcm), duration
        audio = await self.prep.single(kind, info, size, pcm)
        return [Part(PartPlan(1, 1, 0.0, duration), audio)], duration

    async def _transcribe(self) -> TranscriptionResult:
        started = time.monotonic()
        pcm = self.override if self.override and self.override.type == "pcm" else None
        if quiet := await silent_file_result(
            self.path, self.prep.ffmpeg, self.options.model, self.options.language, pcm, self.cancel
        ):
            return quiet  # digital silence: nothing to send, nothing to pay
        parts, duration = await self._prepare()
        await self._transcribe_parts(parts)

        text = join_texts([p.text for p in parts])
        result = TranscriptionResult(
            file=str(self.path),
            text=text,
            segments=[s for p in parts for s in p.segments],
            usage=sum_usage([p.usage for p in parts]),
            model=self.options.model,
            language=self.options.language,
            duration_s=duration,
            attempts=max((p.attempts for p in parts), default=1),
        )
        if len(parts) > 1:
            self.emit(TranscriptDone(text, result.usage))
        result.cost = costs.estimate(
            self.options.model, duration, self.settings.region, self.settings.prices
        )
        warnings = list(self.prep.warnings)
        if self.cross_check:
            try:
                await self._add_cross_check(result, parts, duration)
            except AsrError as err:
                if err.kind == ErrorKind.CANCELED:
                    raise
                # The transcript itself is fine; say the second opinion is missing.
                warnings.append(
                    TrustWarning(
                        WarningKind.CROSS_CHECK_FAILED,
                        f"The cross-check with {CROSS_CHECK_MODEL} could not run: {err.message}",
                    )
                )
        per_part = part_warnings(parts, self.prep.silences, self.options.language)
        result.warnings = [*warnings, *self._checks(result, per_part)]
        result.elapsed_s = round(time.monotonic() - started, 3)
        return result

    async def _check(self, previous: TranscriptionResult) -> TranscriptionResult:
        parts, duration = await self._prepare()
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
            else texts_by_time(previous.segments, [p.plan for p in parts])
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
        result.warnings = [*kept, *self._checks(result, per_part)]
        return result

    async def _add_cross_check(
        self, result: TranscriptionResult, parts: list[Part], duration: float
    ) -> None:
        result.cross_check = await self._cross_check(parts, result.text)
        extra = costs.estimate(
            CROSS_CHECK_MODEL, duration, self.settings.region, self.settings.prices
        )
        result.cost = costs.combine(result.cost, extra, "cross-check")

    def _checks(
        self, result: TranscriptionResult, per_part: list[TrustWarning]
    ) -> list[TrustWarning]:
        found = assess(result, result.duration_s, self.options.language)
        if any(w.code == WarningKind.REPETITION for w in found):
            per_part = [
                w for w in per_part if w.code != WarningKind.REPETITION
            ]  # said once is enough
        return [*found, *per_part]

    # ------------------------------------------------------------------ transcribing

    async def _transcribe_parts(self, parts: list[Part]) -> None:
        order = OrderedEvents(self.emit, len(parts))
        limit = asyncio.Semaphore(max(1, self.settings.chunk_parallelism))

        async def one(part: Part) -> None:
            async with limit:
                await self._transcribe_part(part, order)

        if len(parts) == 1:
            await self._transcribe_part(parts[0], order)
            return
        try:
            async with asyncio.TaskGroup() as group:
                for part in parts:
                    group.create_task(one(part))
        except BaseExceptionGroup as group_error:
            # The first failure cancelled the other parts; report it, not a group.
            errors = list(group_error.exceptions)
            first = next((e for e in errors if isinstance(e, AsrError)), errors[0])
            raise first from None

    async def _transcribe_part(self, part: Part, order: OrderedEvents) -> None:
        plan = part.plan
        offset_ms = round(plan.offset_s * 1000)
        shift = self.options.enable_timestamp and offset_ms > 0
        tries = 2 if plan.count > 1 else 1
        for attempt in range(1, tries + 1):
            if plan.count > 1:
                self.emit(PartStarted(plan.index, plan.count, plan.offset_s))

            def on_client(event: ClientEvent) -> None:
                if isinstance(event, DeltaReceived) and shift and (event.start_ms or event.end_ms):
                    event = replace(
                        event, start_ms=event.start_ms + offset_ms, end_ms=event.end_ms + offset_ms
                    )
                order.feed(plan.index, event)

            try:
                text, segments, usage, used = await self.client.transcribe(
                    part.audio, self.options, on_event=on_client
                )
            except AsrError as err:
                if (
                    err.kind == ErrorKind.CANCELED
                    or err.kind not in PART_RETRY_KINDS
                    or attempt == tries
                ):
                    raise part_error(plan, err) from None
                order.feed(plan.index, AttemptRestarted(attempt + 1, 0.0, err.message))
                continue
            part.text = text
            part.segments = shift_segments(segments, offset_ms) if shift else segments
            part.usage = usage
            part.attempts = used + (attempt - 1)
            order.finished(plan.index)
            return

    # ------------------------------------------------------------------ cross-check

    async def _cross_check(self, parts: list[Part], main_text: str) -> CrossCheck:
        texts: list[str] = []
        for part in parts:
            src, fmt = await self.prep.for_legacy(part)
            self.emit(Preparing(f"cross-checking with {CROSS_CHECK_MODEL}"))
            other = await self._legacy(src, fmt)
            texts.append(other)
            if len(parts) > 1:  # a part's own second opinion, for its own checks
                score = await asyncio.to_thread(similarity, part.text, other)
                part.cross_check = CrossCheck(CROSS_CHECK_MODEL, other, score)
        other = join_texts(texts)
        # difflib over a long transcript takes about a second: not on the event loop.
        score = await asyncio.to_thread(similarity, main_text, other)
        return CrossCheck(CROSS_CHECK_MODEL, other, score)

    async def _legacy(self, src: Path, fmt: str) -> str:
        try:
            return await self.client.legacy_transcribe(
                src, model=CROSS_CHECK_MODEL, hotwords=self.options.hotwords, fmt=fmt
            )
        except AsrError as err:
            # step-asr answers a silent stretch with 400 "no speech found": that is an empty
            # text (a second opinion that agrees with an empty part), not a failed check.
            if err.kind == ErrorKind.BAD_REQUEST and "no speech found" in err.message.lower():
                return ""
            raise
