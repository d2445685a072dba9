"""What the runner calls to transcribe one file or cross-check a finished one.

The runner is given a ``TranscriberFactory``: called with the settings and the rate limiter
when serving starts, it opens the transcriber for the session (the real one: the pipeline and
one HTTP client whose transport waits on the limiter before every request). Tests give a
factory of their own; the runner takes the same path either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tui.audio.encoding import AudioFormat
from tui.config import Settings
from tui.engine.ratelimit import RateLimiter
from tui.transcript.model import TranscriptionResult


class TranscribeFn(Protocol):
    """Transcribe one file. ``settings`` carry the job's model/language/hotwords/compression."""

    def __call__(
        self,
        path: Path,
        *,
        settings: Settings,
        on_event: Callable[[Any], None] | None,
        cancel: asyncio.Event | None,
        cross_check: bool,
        format_override: AudioFormat | None,
    ) -> Awaitable[TranscriptionResult]: ...


class CrossCheckFn(Protocol):
    """Cross-check a finished job; returns ``result`` updated."""

    def __call__(
        self,
        path: Path,
        *,
        settings: Settings,
        result: TranscriptionResult,
        on_event: Callable[[Any], None] | None,
        cancel: asyncio.Event | None,
    ) -> Awaitable[TranscriptionResult]: ...


@dataclass(frozen=True)
class Transcriber:
    transcribe: TranscribeFn
    cross_check: CrossCheckFn
    # During an outage: one small request that raises AsrError while the service is
    # unreachable (None: the next job is the probe).
    probe: Callable[[], Awaitable[None]] | None = None


TranscriberFactory = Callable[
    [Settings, RateLimiter], contextlib.AbstractAsyncContextManager[Transcriber]
]


# Requests at once, all jobs together: the lowest pay-as-you-go tier's concurrency limit
# (5, stepfun-api.md), so parts of long recordings sent at once stay within it.
IN_FLIGHT = 5


@contextlib.asynccontextmanager
async def pipeline_transcriber(
    settings: Settings, limiter: RateLimiter
) -> AsyncIterator[Transcriber]:
    """The real transcriber: one AsrClient shared by all jobs, every HTTP request (the
    cross-check engine's too) rate-limited."""
    from tui.engine.limited_transport import RateLimitedTransport
    from tui.pipeline.transcription import cross_check_file, transcribe_file
    from tui.stepfun.client import AsrClient
    from tui.stepfun.uplink_meter import UplinkMeter

    transport = None if limiter.unlimited else RateLimitedTransport(limiter)
    async with AsrClient(
        settings.require_key(),
        settings.resolved_base_url,
        transport=transport,
        uplink=UplinkMeter.shared(),  # the rate the last process measured is a start
        max_in_flight=IN_FLIGHT,
    ) as client:
        fn: Any = functools.partial(transcribe_file, client=client)
        check: Any = functools.partial(cross_check_file, client=client)
        probe = functools.partial(probe_service, settings.resolved_base_url, settings)
        yield Transcriber(fn, check, probe)


PROBE_TIMEOUT_S = 10.0


async def probe_service(base_url: str, settings: Settings) -> None:
    """One GET of ``{base}/models`` (no audio, nothing billed): AsrError(CONNECTION or
    SERVER_ERROR) while the service cannot be reached or answers 5xx; any other answer means
    it is there. The key goes in the header only, and no redirect is followed."""
    import httpx

    from tui.errors import AsrError, ErrorKind
    from tui.secrets import redact

    key = settings.require_key()
    try:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S, follow_redirects=False) as http:
            response = await http.get(
                f"{base_url}/models", headers={"Authorization": f"Bearer {key}"}
            )
    except httpx.HTTPError as exc:
        detail = redact(str(exc) or type(exc).__name__, key)
        raise AsrError(ErrorKind.CONNECTION, f"cannot reach {base_url}: {detail}") from None
    if response.status_code >= 500:
        raise AsrError(
            ErrorKind.SERVER_ERROR,
            f"{base_url} answered {response.status_code}",
            status=response.status_code,
        )
