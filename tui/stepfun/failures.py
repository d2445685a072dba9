"""Turning HTTP answers and error-like stream records into AsrError sentences a person can act
on, read from what the server says, not only from the status.

Published facts this relies on (docs/stepfun-api.md §1, §4, §8):
- error-code page: 400 "model does not exist or no permission", 401 ``invalid_api_key``,
  402 insufficient balance, 404 "request path is not correct", 429, 451, 500, 503;
- a key from the other console is a plain 401 (".ai" is international, ".com" China);
- an unknown model on /audio/transcriptions answered 404 ``model_invalid`` (July 2026);
- ``{"error":{"message":"model stepaudio-2.5-asr not supported","type":"request_params_invalid"}}``
  came from sending an SSE model to /audio/transcriptions (April 2026, seed skill);
- two maintained clients treat 403 as an auth failure;
- mid-stream errors arrive as ``{"type":"error","message":…}`` with HTTP 200 and no code.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from tui.errors import AsrError, ErrorKind
from tui.stepfun.options import LEGACY_MODELS, SSE_MODELS, models_for

_TAGS = re.compile(r"<[^>]+>")
_MODERATION_WORDS = ("block", "censor", "moderat", "sensitive", "violat", "inappropriate")
_MODERATION_TYPES = ("censorship_block", "content_filter", "content_blocked")
# "model … not found", "model … does not exist or no permission", "model … no access".
_MODEL_REFUSED = re.compile(
    r"\bmodel\b.*\b(not found|not exist|does not exist|no permission|no access|"
    r"not available|invalid|not allowed)",
    re.IGNORECASE | re.DOTALL,
)
_MODEL_NOT_SUPPORTED = re.compile(r"\bmodel\b.*\bnot supported\b", re.IGNORECASE | re.DOTALL)
_NAMED_MODEL = re.compile(r"\bmodel\s+[\"'“]?([A-Za-z0-9][\w.\-]*)", re.IGNORECASE)


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
            kind = err.get("type") or err.get("code") or ""
            return str(err.get("message") or err.get("msg") or text), str(kind)
        if isinstance(err, str):
            return err, str(data.get("type") or data.get("code") or "")
    snippet = " ".join(_TAGS.sub(" ", text).split())
    return snippet[:300], ""


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


def region_of(base_url: str) -> tuple[str | None, bool]:
    """(console, plan) guessed from the base URL: console "cn" for stepfun.com, "intl" for
    stepfun.ai, None for anything else (a proxy, the emulator); plan for …/step_plan/…."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    console = (
        "intl"
        if host == "stepfun.ai" or host.endswith(".stepfun.ai")
        else "cn"
        if host == "stepfun.com" or host.endswith(".stepfun.com")
        else None
    )
    return console, "/step_plan" in parts.path


def _is_legacy(url: str) -> bool:
    return urlsplit(url).path.rstrip("/").endswith("/audio/transcriptions")


def _region_name(base_url: str) -> str:
    console, plan = region_of(base_url)
    return (console or "cn") + ("-plan" if plan else "")


def _named_model(message: str) -> str | None:
    m = _NAMED_MODEL.search(message)
    return m.group(1) if m else None


def key_advice(base_url: str) -> str:
    """What a rejected key may be, briefly, for where it was sent."""
    console, plan = region_of(base_url)
    if console == "cn":
        other = "a key from the international console (platform.stepfun.ai) needs region intl"
    elif console == "intl":
        other = "a key from the China console (platform.stepfun.com) needs region cn"
    else:
        other = (
            "a key from platform.stepfun.com needs region cn, one from platform.stepfun.ai "
            "region intl"
        )
    plan_part = (
        "this base URL is Step Plan's, which takes only a Step Plan key (a pay-as-you-go key "
        "needs region cn or intl)"
        if plan
        else "a Step Plan key needs region cn-plan or intl-plan"
    )
    return (
        "It may be mistyped or revoked (check it with `stepfun-asr config show`, set a new "
        f"one with `stepfun-asr config set-key`); {other}; {plan_part}."
    )


def from_status(
    status: int,
    body: bytes,
    *,
    url: str,
    base_url: str,
    retry_after: str | None = None,
    model: str | None = None,
) -> AsrError:
    message, kind = error_message(body)
    shown = f": {message}" if message else ""
    legacy = _is_legacy(url)
    if status in (401, 403):
        return AsrError(
            ErrorKind.INVALID_KEY,
            f"The API key was rejected ({status}{shown}). {key_advice(base_url)}",
            status=status,
        )
    if status == 402:
        return AsrError(
            ErrorKind.NO_BALANCE,
            f"StepFun says the account behind this key has no balance left (402{shown}). Top "
            "it up on the StepFun platform, or use a Step Plan key with region "
            "cn-plan/intl-plan.",
            status=status,
        )
    if status == 413:
        return AsrError(
            ErrorKind.PAYLOAD_TOO_LARGE,
            f"The audio was too large for the service (413{shown}).",
            status=status,
        )
    if kind.lower() in _MODERATION_TYPES or (status == 451):
        return AsrError(
            ErrorKind.MODERATED,
            f"The audio was blocked by StepFun's content moderation ({status}{shown}). "
            "Retrying will not change this.",
            status=status,
        )
    if status in (400, 404) and _MODEL_NOT_SUPPORTED.search(message):
        return _not_supported(status, message, model, legacy, base_url)
    if status in (400, 404) and (kind == "model_invalid" or _MODEL_REFUSED.search(message)):
        return _model_unavailable(status, shown, model or _named_model(message), legacy, base_url)
    if status == 404:
        return AsrError(
            ErrorKind.KEY_BASE_MISMATCH,
            f"{url} answered 404{shown}. The key and the base URL probably do not match: a "
            "Step Plan key needs region cn-plan/intl-plan (…/step_plan/v1), a normal key "
            f"cn/intl (…/v1). Current base URL: {base_url}. Change it with --region or "
            "`stepfun-asr config set region …`.",
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
            f"Rate limited by StepFun (429){shown}. {_rate_advice(base_url)}",
            status=status,
            retry_after=parse_retry_after(retry_after),
        )
    if status >= 500:
        return AsrError(
            ErrorKind.SERVER_ERROR,
            f"StepFun had a server error ({status}){shown}. Try again later.",
            status=status,
            retry_after=parse_retry_after(retry_after),
        )
    return AsrError(ErrorKind.HTTP_ERROR, f"Unexpected HTTP {status}{shown}", status=status)


def _rate_advice(base_url: str) -> str:
    console, plan = region_of(base_url)
    if plan:
        return (
            "Step Plan limits use by credit windows, not per-minute tiers: wait for the "
            "window to reset, or send fewer files at once."
        )
    rpm = {"cn": "10", "intl": "100"}.get(console or "", "10 (China) or 100 (international)")
    return (
        "Lower the concurrency or the requests-per-minute setting; the lowest pay-as-you-go "
        f"tier allows 5 concurrent requests and {rpm} per minute (a higher top-up tier "
        "raises it)."
    )


def _not_supported(
    status: int, message: str, model: str | None, legacy: bool, base_url: str
) -> AsrError:
    sent = model or _named_model(message) or "the model"
    # Wrong endpoint is the likely cause only when the model belongs to the other endpoint.
    wrong_endpoint = (legacy and sent in SSE_MODELS) or (not legacy and sent in LEGACY_MODELS)
    if wrong_endpoint:
        home = "/audio/transcriptions" if sent in LEGACY_MODELS else "/audio/asr/sse"
        return AsrError(
            ErrorKind.WRONG_ENDPOINT,
            f"The server said “{message}” for {sent}. That means the wrong endpoint, not a "
            f"missing model: {sent} is served on …{home}. Check --base-url (it should end in "
            "/v1 or /step_plan/v1, with nothing after it).",
            status=status,
        )
    return _model_unavailable(status, f": {message}", sent, legacy, base_url)


def _model_unavailable(
    status: int, shown: str, model: str | None, legacy: bool, base_url: str
) -> AsrError:
    name = model or "the requested model"
    if legacy:
        hint = "The legacy /audio/transcriptions endpoint's docs fix its model to step-asr."
    else:
        region = _region_name(base_url)
        hint = f"Models offered here: {', '.join(models_for(region))}."
    return AsrError(
        ErrorKind.MODEL_UNAVAILABLE,
        f"The model {name} is not available to this key or region ({status}{shown}). {hint}",
        status=status,
    )


# ---------------------------------------------------------------------------- stream records


def stream_record_error(record: dict[str, Any]) -> AsrError | None:
    """The error an error-like SSE record reports (a ``type`` ending in "error", or an
    ``error`` member), with the server's words; None for any other record."""
    kind = str(record.get("type") or "")
    err = record.get("error")
    if not kind.lower().endswith("error") and not err:
        return None
    message = record.get("message")
    code = record.get("code")
    if isinstance(err, dict):
        message = message or err.get("message") or err.get("msg")
        code = code or err.get("type") or err.get("code")
    elif isinstance(err, str) and err:
        message = message or err
    if not message:
        message = json.dumps(record, ensure_ascii=False)[:300]
    return from_error_event(str(message), code=str(code) if code else None)


def from_error_event(message: str, *, code: str | None = None) -> AsrError:
    lower = message.lower()
    if (code or "").lower() in _MODERATION_TYPES or any(w in lower for w in _MODERATION_WORDS):
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


def error_in_body(body: bytes) -> AsrError | None:
    """The error a 200 answer's JSON body reports (``{"error": …}``), or None."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return stream_record_error(data) if isinstance(data, dict) else None


def not_an_event(data: str) -> AsrError:
    """A ``data:`` line that is not a JSON event where one was due: the server's words, as an
    error (not a truncation to retry: each retry is a paid upload)."""
    shown = " ".join(data.split())[:200]
    return AsrError(
        ErrorKind.STREAM_ERROR,
        f"The server sent something that is not an event mid-stream: “{shown}”. The partial "
        "transcript was discarded.",
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
