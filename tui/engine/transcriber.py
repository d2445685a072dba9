"""What the runner calls to transcribe one file or cross-check a finished one, and the real
ones (the pipeline + one client)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from tui.config import Settings
from tui.engine.ratelimit import RateLimitedTransport, RateLimiter
from tui.transcript.model import TranscriptionResult


class TranscribeFn(Protocol):
    """What the runner calls for one file: ``tui.pipeline.transcription.transcribe_file`` with its client
    bound, or a fake in tests. ``settings`` carries the job's model/language/hotwords."""

    def __call__(
        self,
        path: Path,
        *,
        settings: Settings,
        on_event: Callable[[Any], None] | None,
        cancel: asyncio.Event | None,
        cross_check: bool,
    ) -> Awaitable[TranscriptionResult]: ...


class CrossCheckFn(Protocol):
    """What the runner calls to cross-check a finished job: ``tui.pipeline.transcription.
    cross_check_file`` with its client bound, or a fake in tests. Returns ``result`` updated."""

    def __call__(
        self,
        path: Path,
        *,
        settings: Settings,
        result: TranscriptionResult,
        on_event: Callable[[Any], None] | None,
        cancel: asyncio.Event | None,
    ) -> Awaitable[TranscriptionResult]: ...


@contextlib.asynccontextmanager
async def pipeline_engines(
    settings: Settings,
    limiter: RateLimiter | None = None,
) -> AsyncIterator[tuple[TranscribeFn, CrossCheckFn]]:
    """The real transcriber and cross-checker: one AsrClient shared by all jobs, every HTTP
    request (the cross-check engine's too) rate-limited."""
    from tui.pipeline.transcription import cross_check_file, transcribe_file
    from tui.stepfun.client import AsrClient

    transport = RateLimitedTransport(limiter) if limiter and not limiter.unlimited else None
    async with AsrClient(
        settings.require_key(), settings.resolved_base_url, transport=transport
    ) as client:
        fn: Any = functools.partial(transcribe_file, client=client)
        check: Any = functools.partial(cross_check_file, client=client)
        yield fn, check
