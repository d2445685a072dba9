"""What the runner calls to transcribe one file, and the real one (the pipeline + one client)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from tui.config import Settings
from tui.jobs.ratelimit import RateLimitedTransport, RateLimiter
from tui.transcript.model import TranscriptionResult


class TranscribeFn(Protocol):
    """What the runner calls for one file: ``tui.jobs.pipeline.transcribe_file`` with its client
    bound, or a fake in tests. ``settings`` carries the job's model/language/hotwords."""

    def __call__(
        self, path: Path, *, settings: Settings, on_event: Callable[[Any], None] | None,
        cancel: asyncio.Event | None, cross_check: bool,
    ) -> Awaitable[TranscriptionResult]: ...


@contextlib.asynccontextmanager
async def pipeline_transcriber(
    settings: Settings, limiter: RateLimiter | None = None,
) -> AsyncIterator[TranscribeFn]:
    """The real transcriber: one AsrClient shared by all jobs, every HTTP request rate-limited."""
    from tui.jobs.pipeline import transcribe_file
    from tui.stepfun.client import AsrClient

    transport = RateLimitedTransport(limiter) if limiter and not limiter.unlimited else None
    async with AsrClient(settings.require_key(), settings.resolved_base_url,
                         transport=transport) as client:
        fn: Any = functools.partial(transcribe_file, client=client)
        yield fn
