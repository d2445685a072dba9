"""Turning HTTP answers into AsrError sentences a person can act on."""

from __future__ import annotations

import json
import re

from tui.errors import AsrError, ErrorKind

_TAGS = re.compile(r"<[^>]+>")
_MODERATION_WORDS = ("block", "censor", "moderat", "sensitive", "violat", "inappropriate")


def error_message(body: bytes) -> tuple[str, str]:
    """(message, type) from the ``{"error": {...}}`` envelope, or a cleaned text snippet."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("msg") or text), str(err.get("type") or "")
        if isinstance(err, str):
            return err, ""
    snippet = " ".join(_TAGS.sub(" ", text).split())
    return snippet[:300], ""


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


def from_status(
    status: int, body: bytes, *, url: str, base_url: str, retry_after: str | None = None
) -> AsrError:
    message, _type = error_message(body)
    shown = f": {message}" if message else ""
    lower = message.lower()
    if status == 401:
        return AsrError(
            ErrorKind.INVALID_KEY,
            f"The API key was rejected (401{shown}). Check it with "
            "`stepfun-asr config show` and set a new one with `stepfun-asr config set-key`. "
            "A Step Plan key only works with region cn-plan/intl-plan.",
            status=status,
        )
    if status == 402:
        return AsrError(
            ErrorKind.NO_BALANCE,
            "The account behind this key has no balance left (402). Top up on the StepFun "
            "platform, or use a Step Plan key with region cn-plan/intl-plan.",
            status=status,
        )
    if status == 404:
        return AsrError(
            ErrorKind.KEY_BASE_MISMATCH,
            f"{url} answered 404. The key and the base URL probably do not match: a Step Plan "
            "key needs region cn-plan/intl-plan (…/step_plan/v1), a normal key cn/intl "
            f"(…/v1). Current base URL: {base_url}. Change it with --region or "
            "`stepfun-asr config set region …`.",
            status=status,
        )
    if status == 400 and "not supported" in lower and "model" in lower:
        return AsrError(
            ErrorKind.WRONG_ENDPOINT,
            f"The server said “{message}”. That means the wrong endpoint, not a missing model: "
            "stepaudio-2.5-asr is served on …/audio/asr/sse. Check --base-url (it should end "
            "in /v1 or /step_plan/v1, with nothing after it).",
            status=status,
        )
    if status == 400:
        return AsrError(
            ErrorKind.BAD_REQUEST, f"The server rejected the request (400){shown}", status=status
        )
    if status == 408:
        return AsrError(
            ErrorKind.TIMEOUT,
            f"The server timed out the request (408){shown}",
            status=status,
            retry_after=parse_retry_after(retry_after),
        )
    if status == 429:
        return AsrError(
            ErrorKind.RATE_LIMITED,
            f"Rate limited by StepFun (429){shown}. Lower the concurrency or the "
            "requests-per-minute setting; the lowest tier allows 5 concurrent / 10 per minute.",
            status=status,
            retry_after=parse_retry_after(retry_after),
        )
    if status == 451:
        return AsrError(
            ErrorKind.MODERATED,
            f"The audio was blocked by StepFun's content moderation (451){shown}. "
            "Retrying will not change this.",
            status=status,
        )
    if status >= 500:
        return AsrError(
            ErrorKind.SERVER_ERROR,
            f"StepFun had a server error ({status}){shown}. Try again later.",
            status=status,
            retry_after=parse_retry_after(retry_after),
        )
    return AsrError(ErrorKind.HTTP_ERROR, f"Unexpected HTTP {status}{shown}", status=status)


def from_error_event(message: str) -> AsrError:
    lower = message.lower()
    if any(word in lower for word in _MODERATION_WORDS):
        return AsrError(
            ErrorKind.MODERATED,
            f"The stream was stopped by content moderation: “{message}”. The partial "
            "transcript was discarded; retrying will not change this.",
        )
    return AsrError(
        ErrorKind.STREAM_ERROR,
        f"The server reported an error mid-stream: “{message}”. The partial transcript was "
        "discarded. If this repeats, try another model or try later.",
    )


def not_sse(
    content_type: str, body: bytes, base_url: str, *, expected: str = "an event stream"
) -> AsrError:
    snippet, _ = error_message(body[:2000])
    return AsrError(
        ErrorKind.NOT_SSE,
        f"The server answered 200 with {content_type or 'no content type'} instead of "
        f"{expected}. A proxy, a captive portal or a wrong base URL ({base_url}) is answering. "
        f"It said: {snippet[:160] or '(nothing)'}",
        status=200,
    )
