"""The requests for one file's parts: in file order, as many at once as the settings allow.

A part goes as soon as it is cut and a send slot is free; its live text reaches the caller in
file order (``OrderedEvents``). A part that fails for a reason worth it is tried once more;
audio refused as too large is sent once more, smaller (``tui.pipeline.reduce``), and a note
says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from tui.errors import RETRYABLE, AsrError, ErrorKind
from tui.pipeline import reduce
from tui.pipeline.parts import OrderedEvents, Part, part_error, shift_segments
from tui.pipeline.prepare import Preparer
from tui.pipeline.stages import EventCallback, PartStarted
from tui.stepfun.client import AsrClient
from tui.stepfun.events import AttemptRestarted, ClientEvent, DeltaReceived
from tui.stepfun.options import AudioInput, TranscriptionOptions
from tui.transcript.model import Segment, TrustWarning

# Kinds worth one more try of a failed part (after the client's own retries).
PART_RETRY_KINDS = RETRYABLE | {ErrorKind.STREAM_ERROR}


class PartRequests:
    """Sends a file's parts through ``client``; ``notes`` says where the audio was reduced."""

    def __init__(
        self,
        client: AsrClient,
        options: TranscriptionOptions,
        prep: Preparer,
        emit: EventCallback,
        parallel: int,
    ) -> None:
        self.client = client
        self.options = options
        self.prep = prep
        self.emit = emit
        self.parallel = max(1, parallel)
        self.notes: list[TrustWarning] = []  # the payload was reduced

    async def run(self, parts: list[Part]) -> None:
        """Transcribe ``parts`` (their text, segments and usage are set on each)."""
        order = OrderedEvents(self.emit, len(parts))
        limit = asyncio.Semaphore(self.parallel)

        async def one(part: Part) -> None:
            # Slots are taken in file order (the semaphore is FIFO) and the parts are cut
            # earliest first, so a part goes as soon as it is cut and a slot is free.
            async with limit:
                await self.prep.ready(part.plan.index)
                await self._transcribe_part(part, order)

        if len(parts) == 1:
            await self.prep.ready(1)
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
        tries = 2 if plan.count > 1 else 1
        for attempt in range(1, tries + 1):
            if plan.count > 1:
                self.emit(PartStarted(plan.index, plan.count, plan.offset_s))
            try:
                text, segments, usage, used = await self._send(part, part.audio, 0.0, order)
            except AsrError as err:
                if err.kind == ErrorKind.PAYLOAD_TOO_LARGE:
                    order.feed(plan.index, AttemptRestarted(attempt + 1, 0.0, err.message))
                    await self._send_smaller(part, order, err)
                    order.finished(plan.index)
                    return
                if (
                    err.kind == ErrorKind.CANCELED
                    or err.kind not in PART_RETRY_KINDS
                    or attempt == tries
                ):
                    raise part_error(plan, err) from None
                order.feed(plan.index, AttemptRestarted(attempt + 1, 0.0, err.message))
                continue
            part.text, part.segments, part.usage = text, segments, usage
            part.attempts = used + (attempt - 1)
            order.finished(plan.index)
            return

    async def _send(
        self, part: Part, audio: AudioInput, offset_s: float, order: OrderedEvents
    ) -> tuple[str, list[Segment], dict[str, Any], int]:
        """One client request for (some of) ``part``, its times moved into file time."""
        offset_ms = round((part.plan.offset_s + offset_s) * 1000)
        shift = self.options.enable_timestamp and offset_ms > 0

        def on_client(event: ClientEvent) -> None:
            if isinstance(event, DeltaReceived) and shift and (event.start_ms or event.end_ms):
                event = replace(
                    event, start_ms=event.start_ms + offset_ms, end_ms=event.end_ms + offset_ms
                )
            order.feed(part.plan.index, event)

        text, segments, usage, used = await self.client.transcribe(
            audio, self.options, on_event=on_client
        )
        return text, shift_segments(segments, offset_ms) if shift else segments, usage, used

    async def _send_smaller(self, part: Part, order: OrderedEvents, refused: AsrError) -> None:
        """The one retry of audio refused as too large: smaller, by itself (never again)."""

        async def send(
            audio: AudioInput, offset_s: float
        ) -> tuple[str, list[Segment], dict[str, Any]]:
            text, segments, usage, _used = await self._send(part, audio, offset_s, order)
            return text, segments, usage

        try:
            self.notes.append(await reduce.send_smaller(self.prep, part, refused, send))
        except AsrError as err:
            raise part_error(part.plan, err) from None
