"""One file end to end: probe, prepare (transcode / split), transcribe, check, price.

``transcribe_file`` is the single path the runner and the CLI share. Events go to ``on_event``:
the client's (``UploadProgressed``, ``DeltaReceived`` with timestamps in file time,
``AttemptRestarted``, one final ``TranscriptDone``) and the pipeline's (``Probed``, ``Preparing``,
``PartStarted``).

Long files run as parts in parallel, yet deltas are delivered in file order: the earliest
unfinished part streams live, later parts are held back until it finishes. When the live part
restarts, ``AttemptRestarted`` keeps its meaning ("discard the partial text") and the text of the
parts already finished is sent again right after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tui import locations
from tui.audio import ffmpeg as ff
from tui.audio.probe import ProbeResult, bad_input, check_readable, probe
from tui.audio.sniff import sniff_format
from tui.audio.split import (
    PartPlan,
    chunk_seconds,
    cut_part,
    detect_silences,
    plan_cuts,
    plan_parts,
)
from tui.audio.transcode import to_opus
from tui.config import Settings
from tui.stepfun.client import AsrClient
from tui.stepfun.errors import RETRYABLE, AsrError, ErrorKind
from tui.stepfun.events import (
    AttemptRestarted,
    ClientEvent,
    DeltaReceived,
    TranscriptDone,
    UploadProgressed,
)
from tui.stepfun.options import AudioFormat, AudioInput, TranscriptionOptions
from tui.transcript import cost as costs
from tui.transcript.cues import format_clock, is_cjk_text
from tui.transcript.model import CrossCheck, Segment, TranscriptionResult, TrustWarning
from tui.transcript.quality import assess
from tui.transcript.similarity import similarity


@dataclass(frozen=True)
class Probed:
    duration_s: float


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

# Sent as they are. m4a too (newer docs), but only when there is no ffmpeg to make Opus.
NATIVE = frozenset({"wav", "mp3", "ogg"})
NATIVE_OGG_CODECS = frozenset({"opus", "vorbis"})
LEGACY_FORMATS = frozenset({"mp3", "pcm", "ogg", "wav"})
LEGACY_MAX_BYTES = 100 * 1000 * 1000
CROSS_CHECK_MODEL = "step-asr-1.1"
# Kinds worth one more try of a failed part (after the client's own retries).
PART_RETRY_KINDS = RETRYABLE | {ErrorKind.STREAM_ERROR}


@dataclass
class _Part:
    plan: PartPlan
    audio: AudioInput
    text: str = ""
    segments: list[Segment] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


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
    job = _Job(Path(path), settings, client, on_event, cross_check or settings.cross_check_auto,
               format_override, cancel)
    if cancel is None:
        return await job.run()
    if cancel.is_set():
        raise AsrError(ErrorKind.CANCELED, "Canceled.")
    task = asyncio.ensure_future(job.run())
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
    def __init__(self, path: Path, settings: Settings, client: AsrClient,
                 on_event: EventCallback | None, cross_check: bool,
                 format_override: AudioFormat | None, cancel: asyncio.Event | None) -> None:
        self.path = path
        self.settings = settings
        self.client = client
        self._on_event = on_event
        self.cross_check = cross_check
        self.override = format_override
        self.cancel = cancel
        self.warnings: list[TrustWarning] = []
        self.ffmpeg = ff.find_ffmpeg(settings.ffmpeg_path)
        self._tmp: Path | None = None
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

    @property
    def tmp(self) -> Path:
        if self._tmp is None:
            self._tmp = locations.cache_dir() / "work" / uuid.uuid4().hex
            self._tmp.mkdir(parents=True, mode=0o700)
        return self._tmp

    def need_ffmpeg(self, why: str) -> str:
        return ff.require_ffmpeg(self.settings.ffmpeg_path, f"{self.path.name} ({why})")

    async def run(self) -> TranscriptionResult:
        started = time.monotonic()
        try:
            return await self._run(started)
        finally:
            if self._tmp is not None:
                await asyncio.to_thread(shutil.rmtree, self._tmp, True)

    async def _run(self, started: float) -> TranscriptionResult:
        size = check_readable(self.path)
        kind = self.override.type if self.override else sniff_format(self.path)
        pcm = self.override if self.override and self.override.type == "pcm" else None
        if kind == "pcm" and pcm is None:
            raise bad_input(self.path, "raw PCM has no header; pass its layout (e.g. --format "
                            "pcm --rate 16000 --bits 16 --channel 1).")
        info = await probe(self.path, ffmpeg=self.ffmpeg, pcm=pcm, cancel=self.cancel)
        duration = info.duration_s
        self.emit(Probed(duration))

        chunk_s = chunk_seconds(self.settings.chunk_minutes)
        if duration > chunk_s:
            parts = await self._split(duration, chunk_s, pcm)
        else:
            audio = await self._prepare_single(kind, info, size, pcm)
            parts = [_Part(PartPlan(1, 1, 0.0, duration), audio)]
        await self._transcribe_parts(parts)

        text = _join_texts([p.text for p in parts])
        result = TranscriptionResult(
            file=str(self.path),
            text=text,
            segments=[s for p in parts for s in p.segments],
            usage=_sum_usage([p.usage for p in parts]),
            model=self.options.model,
            language=self.options.language,
            duration_s=duration,
            attempts=max((p.attempts for p in parts), default=1),
        )
        if len(parts) > 1:
            self.emit(TranscriptDone(text, result.usage))
        region = self.settings.region
        result.cost = costs.estimate(self.options.model, duration, region, self.settings.prices)
        if self.cross_check:
            try:
                result.cross_check = await self._cross_check(parts, text)
            except AsrError as err:
                if err.kind == ErrorKind.CANCELED:
                    raise
                # The transcript itself is fine; say the second opinion is missing.
                self.warnings.append(TrustWarning(
                    "cross_check_failed", f"The cross-check with {CROSS_CHECK_MODEL} could "
                    f"not run: {err.message}"))
            else:
                extra = costs.estimate(CROSS_CHECK_MODEL, duration, region,
                                       self.settings.prices)
                result.cost = costs.combine(result.cost, extra, "cross-check")
        result.warnings = [*self.warnings, *assess(result, duration, self.options.language)]
        result.elapsed_s = round(time.monotonic() - started, 3)
        return result

    # ------------------------------------------------------------------ preparing the audio

    async def _prepare_single(self, kind: str | None, info: ProbeResult, size: int,
                              pcm: AudioFormat | None) -> AudioInput:
        native = self._native_format(kind, info, pcm)
        big = size > self.settings.compress_threshold_mb * 1_000_000
        uncompressed = kind in ("wav", "pcm")
        if native is not None and not (uncompressed and big and self.settings.compress):
            return AudioInput(str(self.path), native, info.duration_s)
        if native is not None and self.ffmpeg is None:
            # Compression is an optimisation: without ffmpeg, send the file as it is.
            self.warnings.append(TrustWarning(
                "not_compressed", f"Sent uncompressed ({size / 1e6:.1f} MB) because ffmpeg was "
                f"not found. {ff.FFMPEG_HELP}"))
            return AudioInput(str(self.path), native, info.duration_s)
        if native is None and kind == "m4a" and self.ffmpeg is None:
            return AudioInput(str(self.path), AudioFormat("m4a"), info.duration_s)
        exe = self.need_ffmpeg(f"{kind or 'unknown format'} must be converted first")
        self.emit(Preparing("compressing to Opus" if native else "transcoding to Opus"))
        dst = self.tmp / "audio.ogg"
        await to_opus(exe, self.path, dst, pcm=pcm, cancel=self.cancel)
        return AudioInput(str(dst), AudioFormat("ogg"), info.duration_s)

    def _native_format(self, kind: str | None, info: ProbeResult, pcm: AudioFormat | None
                       ) -> AudioFormat | None:
        """The format to declare when the file can go as it is, else None."""
        if pcm is not None:
            return pcm
        if kind == "ogg" and info.codec and info.codec not in NATIVE_OGG_CODECS:
            return None  # e.g. FLAC in Ogg
        if kind == "wav" and info.codec and not info.codec.startswith(("pcm_s", "pcm_u8")):
            return None  # float / ADPCM / mu-law WAV
        if kind in NATIVE:
            return AudioFormat(kind)
        return None

    async def _split(self, duration: float, chunk_s: float, pcm: AudioFormat | None
                     ) -> list[_Part]:
        exe = self.need_ffmpeg(f"{format_clock(int(duration * 1000))} is longer than the "
                               f"{chunk_s / 60:.0f}-minute limit and must be split")
        self.emit(Preparing("finding pauses to split at"))
        silences = await detect_silences(exe, self.path, duration, pcm=pcm, cancel=self.cancel)
        plans = plan_parts(duration, plan_cuts(duration, silences, chunk_s))
        self.emit(Preparing(f"splitting into {len(plans)} parts"))
        compress = self.settings.compress
        fmt = AudioFormat("ogg" if compress else "wav")
        suffix = ".ogg" if compress else ".wav"
        parts: list[_Part] = []
        for plan in plans:
            dst = self.tmp / f"part_{plan.index:03d}{suffix}"
            await cut_part(exe, self.path, plan, dst, compress=compress, pcm=pcm,
                           cancel=self.cancel)
            parts.append(_Part(plan, AudioInput(str(dst), fmt, plan.duration_s)))
        return parts

    # ------------------------------------------------------------------ transcribing

    async def _transcribe_parts(self, parts: list[_Part]) -> None:
        order = _OrderedEvents(self.emit, len(parts))
        limit = asyncio.Semaphore(max(1, self.settings.chunk_parallelism))

        async def one(part: _Part) -> None:
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

    async def _transcribe_part(self, part: _Part, order: _OrderedEvents) -> None:
        plan = part.plan
        offset_ms = round(plan.offset_s * 1000)
        shift = self.options.enable_timestamp and offset_ms > 0
        tries = 2 if plan.count > 1 else 1
        for attempt in range(1, tries + 1):
            if plan.count > 1:
                self.emit(PartStarted(plan.index, plan.count, plan.offset_s))

            def on_client(event: ClientEvent, attempt: int = attempt) -> None:
                if isinstance(event, DeltaReceived) and shift and (
                        event.start_ms or event.end_ms):
                    event = replace(event, start_ms=event.start_ms + offset_ms,
                                    end_ms=event.end_ms + offset_ms)
                order.feed(plan.index, event)

            try:
                text, segments, usage, used = await self.client.transcribe(
                    part.audio, self.options, on_event=on_client)
            except AsrError as err:
                if err.kind == ErrorKind.CANCELED or err.kind not in PART_RETRY_KINDS \
                        or attempt == tries:
                    raise self._part_error(plan, err) from None
                order.feed(plan.index, AttemptRestarted(attempt + 1, 0.0, err.message))
                continue
            part.text = text
            part.segments = [
                Segment(s.start_ms + offset_ms, s.end_ms + offset_ms, s.text)
                if shift and (s.start_ms or s.end_ms) else s
                for s in segments
            ]
            part.usage = usage
            part.attempts = used + (attempt - 1)
            order.finished(plan.index)
            return

    def _part_error(self, plan: PartPlan, err: AsrError) -> AsrError:
        if plan.count == 1:
            return err
        span = f"{_clock(plan.offset_s)}–{_clock(plan.end_s)}"
        return AsrError(err.kind, f"part {plan.index} of {plan.count} ({span}) failed: "
                        f"{err.message}", status=err.status, retryable=err.retryable)

    # ------------------------------------------------------------------ cross-check

    async def _cross_check(self, parts: list[_Part], main_text: str) -> CrossCheck:
        texts: list[str] = []
        for part in parts:
            audio = part.audio
            src = Path(audio.path)
            fmt = audio.format
            # The legacy endpoint reads raw PCM as 16 kHz 16-bit mono only.
            odd_pcm = fmt.type == "pcm" and (fmt.rate, fmt.bits, fmt.channel) != (16000, 16, 1)
            if fmt.type not in LEGACY_FORMATS or odd_pcm or _size(src) >= LEGACY_MAX_BYTES:
                exe = self.need_ffmpeg("the cross-check engine takes only mp3/pcm/ogg/wav "
                                       "under 100 MB")
                self.emit(Preparing("transcoding to Opus for the cross-check"))
                dst = self.tmp / f"cross_{part.plan.index:03d}.ogg"
                src = await to_opus(exe, src, dst, pcm=fmt if fmt.type == "pcm" else None,
                                    cancel=self.cancel)
                fmt = AudioFormat("ogg")
            self.emit(Preparing(f"cross-checking with {CROSS_CHECK_MODEL}"))
            texts.append(await self.client.legacy_transcribe(
                src, model=CROSS_CHECK_MODEL, hotwords=self.options.hotwords, fmt=fmt.type))
        other = _join_texts(texts)
        return CrossCheck(CROSS_CHECK_MODEL, other, similarity(main_text, other))


class _OrderedEvents:
    """Forwards part events in file order (see the module docstring)."""

    def __init__(self, emit: EventCallback, count: int) -> None:
        self.emit = emit
        self.count = count
        self.live = 1
        self.done: set[int] = set()
        self.held: dict[int, list[DeltaReceived]] = {i: [] for i in range(1, count + 1)}
        self.sent: dict[int, list[DeltaReceived]] = {i: [] for i in range(1, count + 1)}
        self.upload: dict[int, tuple[int, int]] = {}

    def feed(self, index: int, event: ClientEvent) -> None:
        if self.count == 1:
            self.emit(event)
            return
        if isinstance(event, DeltaReceived):
            if index == self.live:
                self._deliver(index, event)
            else:
                self.held[index].append(event)
        elif isinstance(event, AttemptRestarted):
            if index == self.live:
                self.sent[index].clear()
                self.emit(event)
                for earlier in range(1, index):
                    for delta in self.sent[earlier]:
                        self.emit(delta)
            else:
                self.held[index].clear()
        elif isinstance(event, UploadProgressed):
            self.upload[index] = (event.sent, event.total)
            self.emit(UploadProgressed(sum(s for s, _ in self.upload.values()),
                                       sum(t for _, t in self.upload.values())))
        # A part's own TranscriptDone is not the file's; the job sends one at the end.

    def finished(self, index: int) -> None:
        self.done.add(index)
        while self.live in self.done and self.live < self.count:
            self.live += 1
            for delta in self.held[self.live]:
                self._deliver(self.live, delta)
            self.held[self.live].clear()

    def _deliver(self, index: int, delta: DeltaReceived) -> None:
        if not self.sent[index] and index > 1:
            # A part's first word has no leading space; the joined text has one (Latin).
            before = next((d.text for i in range(index - 1, 0, -1)
                           for d in reversed(self.sent[i]) if d.text), "")
            if before and _needs_space(before[-1], delta.text[:1]):
                delta = replace(delta, text=" " + delta.text)
        self.sent[index].append(delta)
        self.emit(delta)


def _size(path: Path) -> int:
    return path.stat().st_size


def _clock(seconds: float) -> str:
    total = round(seconds)
    hours, rem = divmod(total, 3600)
    minutes, secs = divmod(rem, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _needs_space(last: str, first: str) -> bool:
    """Between two pieces of text: a space unless either side is CJK or already a space."""
    if not last or not first or last.isspace() or first.isspace():
        return False
    return not (is_cjk_text(last) or is_cjk_text(first))


def _join_texts(texts: list[str]) -> str:
    out = ""
    for piece in (t.strip() for t in texts):
        if not piece:
            continue
        if out and _needs_space(out[-1], piece[0]):
            out += " "
        out += piece
    return out


def _sum_usage(usages: list[dict[str, Any]]) -> dict[str, Any]:
    """Numeric leaves added, nested dicts merged, other values kept from the first part."""
    if len(usages) == 1:
        return dict(usages[0])
    total: dict[str, Any] = {}
    for usage in usages:
        _add_into(total, usage)
    return total


def _add_into(total: dict[str, Any], usage: dict[str, Any]) -> None:
    for key, value in usage.items():
        if isinstance(value, bool):
            total.setdefault(key, value)
        elif isinstance(value, int | float):
            current = total.get(key, 0)
            total[key] = (current if isinstance(current, int | float) else 0) + value
        elif isinstance(value, dict):
            sub = total.setdefault(key, {})
            if isinstance(sub, dict):
                _add_into(sub, value)
        else:
            total.setdefault(key, value)
