"""The answer's server-sent events, read within bounds: parsed JSON events, the final event's
text and the timestamps of a delta."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from tui.errors import AsrError, ErrorKind
from tui.stepfun import failures


async def read_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parsed JSON events. Tolerates CRLF, comments, `event:`/`id:` lines, multi-line data,
    `[DONE]`, a last event with no closing blank line, and a wrong charset. A ``data:`` that is
    not a JSON object is an error with the server's words (where an event was due)."""
    response.encoding = "utf-8"  # the protocol is UTF-8 whatever the Content-Type says
    lines = SSELineDecoder()
    decoder = SSEDecoder()

    def parsed(line: str) -> dict[str, Any] | None:
        sse = decoder.decode(line.rstrip("\n"))
        if sse is None or sse.data.strip() in ("", "[DONE]"):
            return None
        try:
            data = json.loads(sse.data)
        except ValueError:
            raise failures.not_an_event(sse.data) from None
        if not isinstance(data, dict):
            raise failures.not_an_event(sse.data)
        data.setdefault("type", sse.event if sse.event != "message" else None)
        return data

    pending = event_size = 0  # characters since the last line break / in the current event
    async for text in response.aiter_text():
        cut = max(text.rfind("\n"), text.rfind("\r"))
        pending = len(text) - cut - 1 if cut >= 0 else pending + len(text)
        if pending > MAX_SSE_LINE:
            raise _oversized("a line")
        for line in lines.decode(text):
            event_size = event_size + len(line) if line.strip() else 0
            if event_size > MAX_SSE_EVENT:
                raise _oversized("an event")
            if (event := parsed(line)) is not None:
                yield event
    # A final event without its blank line would be dropped by a strict parser; dispatch it.
    for line in [*lines.flush(), ""]:
        if (event := parsed(line)) is not None:
            yield event


MAX_SSE_LINE = 16 << 20  # characters; the real service's lines are a few KB
MAX_SSE_EVENT = 16 << 20


def _oversized(what: str) -> AsrError:
    return AsrError(
        ErrorKind.STREAM_ERROR,
        f"The answer sent {what} longer than {MAX_SSE_LINE >> 20} MB; it is not a transcript "
        "event and was not read further (a proxy or a faulty server).",
        retryable=False,
    )


def done_text(event: dict[str, Any]) -> str:
    """The final event's text; anything but a string (or nothing) is not a transcript."""
    text = event.get("text")
    if text is None:
        return ""
    if not isinstance(text, str):
        raise AsrError(
            ErrorKind.STREAM_ERROR,
            f"The final event's text is {type(text).__name__}, not a string; the answer is "
            "not trusted and was discarded.",
            retryable=False,
        )
    return text


def timestamp_ms(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return 0  # NaN/Infinity or junk: a missing timestamp, not a reason to fail the job
