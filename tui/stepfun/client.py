"""The async StepFun ASR client: one POST, one SSE stream, typed events, bounded retries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tui import __version__
from tui.errors import AsrError, ErrorKind
from tui.secrets import redact
from tui.stepfun import failures
from tui.stepfun.events import (
    AttemptRestarted,
    ClientEvent,
    DeltaReceived,
    TranscriptDone,
    UploadProgressed,
)
from tui.stepfun.options import AudioInput, TranscriptionOptions
from tui.stepfun.request import StreamedBody
from tui.stepfun.sse import done_text, read_events, timestamp_ms
from tui.stepfun.uplink_meter import UplinkMeter
from tui.transcript.model import Segment

EventCallback = Callable[[ClientEvent], None]
# `read` is the longest silence between two chunks; it must also cover the server draining a
# long upload and thinking before its first event (stack-notes §2.1), so it is generous.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, write=60.0, read=300.0, pool=10.0)
MAX_RETRY_AFTER_S = 60.0
# A connection dropped before any answer while a body at least this large was sent is read
# as "too large for the service" (no source shows the status for an oversized body; some
# gateways just hang up): not retried as it is, but once, smaller, by the pipeline. Whether
# our side had handed the whole body to the kernel when the reset came is a race (socket
# buffers), so it does not decide.
LARGE_BODY_BYTES = 8 * 1024 * 1024
LEGACY_MIME = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "pcm": "application/octet-stream",
}


def default_deadline(duration_s: float | None, size_bytes: int) -> float:
    """A per-job ceiling on all attempts together: generous, but never forever."""
    audio = duration_s if duration_s is not None else size_bytes / 4000  # ~32 kbit/s guess
    # 50 KB/s is a poor uplink; the model runs ~85x real time, 2x of slack covers retries.
    return 120.0 + audio / 2 + size_bytes / 50_000


class AsrClient:
    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = 3,
        backoff_s: float = 1.0,
        timeout: httpx.Timeout | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        large_body_bytes: int = LARGE_BODY_BYTES,
        uplink: UplinkMeter | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        if not api_key:
            raise AsrError(
                ErrorKind.MISSING_KEY,
                "No API key: set STEPFUN_API_KEY or run `stepfun-asr config set-key`.",
            )
        self._key = api_key
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.large_body_bytes = large_body_bytes
        # What uploads through this client measured (the pipeline decides compression by it).
        self.uplink = uplink if uplink is not None else UplinkMeter()
        # Requests at once through this client (all jobs' parts and cross-checks): the
        # account's concurrency limit, so parts sent at once do not earn 429s.
        self._in_flight = asyncio.Semaphore(max_in_flight) if max_in_flight else None
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            # Connect errors are safe to retry at the transport: nothing was sent yet.
            transport=transport or httpx.AsyncHTTPTransport(retries=1),
            timeout=timeout or DEFAULT_TIMEOUT,
            headers={"User-Agent": f"stepfun-asr/{__version__}"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> AsrClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _headers(self, accept: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}", "Accept": accept}

    def _redacted(self, err: AsrError) -> AsrError:
        clean = redact(err.message, self._key)
        if clean == err.message:
            return err
        return AsrError(
            err.kind, clean, status=err.status, retry_after=err.retry_after, retryable=err.retryable
        )

    async def transcribe(
        self,
        audio: AudioInput,
        options: TranscriptionOptions,
        *,
        on_event: EventCallback | None = None,
        deadline_s: float | None = None,
    ) -> tuple[str, list[Segment], dict[str, Any], int]:
        """Final text, segments from deltas, usage and attempts used. Raises AsrError."""
        emit = on_event or (lambda _e: None)
        path = Path(audio.path)
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except OSError as exc:
            raise AsrError(ErrorKind.BAD_INPUT, f"Cannot read {path}: {exc.strerror}") from None
        if size == 0:
            raise AsrError(ErrorKind.BAD_INPUT, f"{path.name} is empty (0 bytes).")
        deadline = (
            deadline_s if deadline_s is not None else default_deadline(audio.duration_s, size)
        )
        try:
            async with asyncio.timeout(deadline):
                return await self._with_retries(lambda: self._attempt(audio, options, emit), emit)
        except TimeoutError:
            raise AsrError(
                ErrorKind.TIMEOUT,
                f"No complete result for {path.name} within {deadline:.0f} s (the per-job "
                "deadline, scaled to the audio length), after all retries.",
                retryable=False,
            ) from None

    async def _with_retries(
        self,
        attempt_fn: Callable[[], Awaitable[tuple[str, list[Segment], dict[str, Any]]]],
        emit: EventCallback,
    ) -> tuple[str, list[Segment], dict[str, Any], int]:
        attempt = 1
        while True:
            try:
                text, segments, usage = await attempt_fn()
                return text, segments, usage, attempt
            except AsrError as raw:
                err = self._redacted(raw)
                if not err.retryable or attempt > self.max_retries:
                    if attempt > 1 and err.retryable:
                        raise AsrError(
                            err.kind,
                            f"{err.message} (gave up after {attempt} attempts)",
                            status=err.status,
                        ) from None
                    raise err from None
                delay = self._delay(attempt, err.retry_after)
                emit(AttemptRestarted(attempt + 1, delay, err.message))
                await self._sleep(delay)
                attempt += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_S)
        base = self.backoff_s * 2.0 ** (attempt - 1)
        return base * random.uniform(0.75, 1.25)  # jitter, not crypto

    async def _attempt(
        self, audio: AudioInput, options: TranscriptionOptions, emit: EventCallback
    ) -> tuple[str, list[Segment], dict[str, Any]]:
        uploaded = [0]

        def progressed(sent: int, total: int) -> None:
            uploaded[0] = sent
            emit(UploadProgressed(sent, total))

        body = StreamedBody(Path(audio.path), options, audio.format, on_progress=progressed)
        url = f"{self.base_url}/audio/asr/sse"
        headers = self._headers("text/event-stream")
        headers.update(
            {
                "Content-Type": "application/json",
                "Cache-Control": "no-store",
                # No compressed answers: a small gzip body can inflate to gigabytes.
                "Accept-Encoding": "identity",
                "Content-Length": str(body.content_length),
            }
        )
        segments: list[Segment] = []
        async with self._in_flight or contextlib.nullcontext():
            return await self._stream(body, url, headers, options, emit, segments, uploaded)

    async def _stream(
        self,
        body: StreamedBody,
        url: str,
        headers: dict[str, str],
        options: TranscriptionOptions,
        emit: EventCallback,
        segments: list[Segment],
        uploaded: list[int],
    ) -> tuple[str, list[Segment], dict[str, Any]]:
        started = time.monotonic()
        answered = False
        try:
            async with self._http.stream(
                "POST", url, content=body.chunks(), headers=headers
            ) as response:
                answered = True
                await self._check_response(response, url, options.model)
                self.uplink.record(body.content_length, time.monotonic() - started)
                async for event in read_events(response):
                    if (problem := failures.stream_record_error(event)) is not None:
                        raise problem
                    kind = event.get("type")
                    if kind == "transcript.text.delta":
                        delta = DeltaReceived(
                            str(event.get("delta") or ""),
                            timestamp_ms(event.get("start_time")),
                            timestamp_ms(event.get("end_time")),
                        )
                        segments.append(Segment(delta.start_ms, delta.end_ms, delta.text))
                        emit(delta)
                    elif kind == "transcript.text.done":
                        done = TranscriptDone(done_text(event), dict(event.get("usage") or {}))
                        emit(done)
                        # Return now: leaving the context closes the connection even if the
                        # server would hold it open after `done`.
                        return done.text, segments, done.usage
        except httpx.TimeoutException as exc:
            raise AsrError(ErrorKind.TIMEOUT, _timeout_message(exc, url)) from None
        except httpx.DecodingError as exc:
            raise AsrError(
                ErrorKind.HTTP_ERROR,
                f"The answer from {urlsplit(url).netloc} could "
                f"not be decoded ({exc}); a proxy may be altering it.",
            ) from None
        except httpx.TransportError as exc:
            host = urlsplit(url).netloc
            total = body.content_length
            hung_up = not answered and not isinstance(exc, httpx.ConnectError)
            if hung_up and total >= self.large_body_bytes:
                raise AsrError(
                    ErrorKind.PAYLOAD_TOO_LARGE,
                    f"{host} closed the connection without an answer after "
                    f"{uploaded[0] / 1e6:.1f} of {total / 1e6:.1f} MB of the upload: the "
                    "audio is probably too large for one request.",
                ) from None
            raise AsrError(
                ErrorKind.CONNECTION, f"Connection to {host} failed: {exc or type(exc).__name__}"
            ) from None
        raise AsrError(
            ErrorKind.TRUNCATED,
            f"The stream ended before the final event after {len(segments)} pieces of text; "
            "the partial transcript is not trusted and was discarded.",
        )

    async def _check_response(self, response: httpx.Response, url: str, model: str) -> None:
        if response.status_code != 200:
            # The body must be read before it can be looked at (ResponseNotRead otherwise);
            # only its start: an error page is never worth more.
            body = await _read_some(response, MAX_ERROR_BODY)
            raise failures.from_status(
                response.status_code,
                body,
                url=url,
                base_url=self.base_url,
                retry_after=response.headers.get("retry-after"),
                model=model,
            )
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            # We asked for none: a compressed stream could inflate past any bound in one chunk.
            raise AsrError(
                ErrorKind.STREAM_ERROR,
                f"The answer came compressed ({encoding}) although it was asked for "
                "uncompressed; it was not read (a proxy may be altering it).",
                retryable=False,
            )
        ctype = response.headers.get("content-type", "")
        if "text/event-stream" not in ctype.partition(";")[0].lower():
            body = await _read_some(response, 4096)
            # A JSON error envelope with 200 is still the server speaking: its words.
            raise failures.error_in_body(body) or failures.not_sse(ctype, body, self.base_url)

    async def legacy_transcribe(
        self,
        path: Path,
        *,
        model: str = "step-asr-1.1",
        hotwords: tuple[str, ...] = (),
        fmt: str = "wav",
    ) -> str:
        """The older multipart endpoint, used as a second opinion (cross-check)."""

        async def attempt() -> tuple[str, list[Segment], dict[str, Any]]:
            return await self._legacy_once(path, model, hotwords, fmt), [], {}

        text, *_ = await self._with_retries(attempt, lambda _e: None)
        return text

    async def _legacy_once(
        self, path: Path, model: str, hotwords: tuple[str, ...], fmt: str
    ) -> str:
        url = f"{self.base_url}/audio/transcriptions"
        data = {"model": model, "response_format": "json"}
        if hotwords:
            data["hotwords"] = json.dumps(list(hotwords), ensure_ascii=False)
        try:
            # Read off the loop; cross-check inputs are prepared Opus/WAV well under the
            # endpoint's 100 MB limit, so holding one in memory is fine.
            audio = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise AsrError(ErrorKind.BAD_INPUT, f"Cannot read {path}: {exc.strerror}") from None
        files = {"file": (path.name, audio, LEGACY_MIME.get(fmt, "application/octet-stream"))}
        try:
            response = await self._http.post(
                url, data=data, files=files, headers=self._headers("application/json")
            )
        except httpx.TimeoutException as exc:
            raise AsrError(ErrorKind.TIMEOUT, _timeout_message(exc, url)) from None
        except httpx.TransportError as exc:
            raise AsrError(ErrorKind.CONNECTION, f"Connection failed: {exc}") from None
        if response.status_code != 200:
            raise failures.from_status(
                response.status_code,
                response.content,
                url=url,
                base_url=self.base_url,
                retry_after=response.headers.get("retry-after"),
                model=model,
            )
        try:
            return str(json.loads(response.content.decode("utf-8"))["text"])
        except (ValueError, KeyError, TypeError):
            # We asked for JSON: anything else (a proxy's HTML page) is not step-asr's text.
            raise failures.not_sse(
                response.headers.get("content-type", ""),
                response.content,
                self.base_url,
                expected="a JSON answer",
            ) from None


MAX_ERROR_BODY = 64 << 10


async def _read_some(response: httpx.Response, limit: int) -> bytes:
    buf = b""
    async for chunk in response.aiter_bytes():
        buf += chunk
        if len(buf) >= limit:
            break
    return buf[:limit]


def _timeout_message(exc: httpx.TimeoutException, url: str) -> str:
    what = {
        httpx.ConnectTimeout: "connecting",
        httpx.WriteTimeout: "uploading the audio",
        httpx.ReadTimeout: "waiting for the next piece of the answer",
        httpx.PoolTimeout: "waiting for a free connection",
    }.get(type(exc), "talking to the server")
    return f"Timed out {what} ({urlsplit(url).netloc})."
