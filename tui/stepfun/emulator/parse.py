"""Request bodies: the SSE JSON (validated like the real API) and the legacy multipart form."""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any

from tui.audio.encoding import FORMAT_TYPES
from tui.stepfun.emulator.script import FormatSpec
from tui.stepfun.options import LEGACY_ACCEPTS, LEGACY_MODELS, SSE_MODELS

# The base64 string is found by pattern and cut out before json.loads, so a 100 MB body is not
# copied three times over (bytes -> str -> parsed str). The lookbehind skips escaped quotes.
_DATA_FIELD = re.compile(rb'(?<!\\)"data"\s*:\s*"([A-Za-z0-9+/=]*)"')


class BadRequest(Exception):
    """A 4xx in the real API's JSON envelope; ``invented`` unless its body was published."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        kind: str = "request_params_invalid",
        *,
        invented: bool = True,
    ):
        super().__init__(message)
        self.message, self.status, self.kind = message, status, kind
        self.invented = invented
        self.model: str | None = None  # the model refused, for the request record


def _about(model: str, exc: BadRequest) -> BadRequest:
    exc.model = model
    return exc


def not_supported(model: str) -> BadRequest:
    """The published wrong-endpoint answer (seed skill, live, April 2026)."""
    return _about(model, BadRequest(f"model {model} not supported", invented=False))


def no_such_model(model: str) -> BadRequest:
    """The error-code page's 400 "model does not exist or no permission" (body invented)."""
    return _about(model, BadRequest(f"model {model} does not exist or no permission"))


@dataclass
class SseRequest:
    model: str
    format: FormatSpec
    audio: bytes
    language: str | None = None
    hotwords: list[str] = field(default_factory=list)
    enable_timestamp: bool = False
    enable_itn: bool = True


@dataclass
class LegacyRequest:
    model: str
    response_format: str
    audio: bytes
    hotwords: list[str] = field(default_factory=list)


def _b64decode(data: bytes | bytearray | memoryview) -> bytes:
    # One call on the view: no copy of the input, one allocation for the output.
    if len(data) % 4:
        raise BadRequest("audio.data is not valid base64 (length is not a multiple of 4)")
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        raise BadRequest("audio.data is not valid base64") from None


def _dict(obj: Any, path: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise BadRequest(f"{path} is required and must be an object")
    return obj


def split_body(body: bytes | bytearray) -> tuple[dict[str, Any], bytes]:
    """(parsed JSON, decoded audio)."""
    m = _DATA_FIELD.search(body)
    obj: Any = None
    if m:
        try:
            obj = json.loads(bytes(body[: m.start(1)]) + bytes(body[m.end(1) :]))
        except (json.JSONDecodeError, UnicodeDecodeError):
            obj = None
        audio_obj = obj.get("audio") if isinstance(obj, dict) else None
        if isinstance(audio_obj, dict) and audio_obj.get("data") == "":
            return obj, _b64decode(memoryview(body)[m.start(1) : m.end(1)])
    try:
        obj = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("invalid request body: it is not valid JSON") from None
    audio_obj = _dict(_dict(obj, "body").get("audio"), "audio")
    data = audio_obj.get("data")
    if not isinstance(data, str) or not data:
        raise BadRequest("audio.data is required (the base64 of the audio file)")
    if data.startswith("data:"):
        raise BadRequest(
            "audio.data is not valid base64: send bare base64 without a 'data:...;base64,' prefix"
        )
    try:
        raw = data.encode("ascii")
    except UnicodeEncodeError:
        raise BadRequest("audio.data is not valid base64") from None
    return obj, _b64decode(raw)


def parse_sse(body: bytes | bytearray, *, plan: bool = False) -> SseRequest:
    """The SSE body, validated. ``plan``: a Step Plan key, which has stepaudio-2.5-asr only."""
    obj, audio = split_body(body)
    if not audio:
        raise BadRequest("audio.data is empty")
    inp = _dict(_dict(obj.get("audio"), "audio").get("input"), "audio.input")
    tr = _dict(inp.get("transcription"), "audio.input.transcription")
    model = tr.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("audio.input.transcription.model is required")
    if model in LEGACY_MODELS:
        raise not_supported(model)  # by analogy with the legacy endpoint's answer
    if model not in SSE_MODELS or (plan and model != SSE_MODELS[0]):
        raise no_such_model(model)
    fmt = _dict(inp.get("format"), "audio.input.format")
    ftype = fmt.get("type")
    if ftype not in FORMAT_TYPES:
        if not ftype:
            raise BadRequest("audio.input.format.type is required")
        raise BadRequest(
            f"audio.input.format.type {ftype!r} is not supported; "
            f"use one of {', '.join(FORMAT_TYPES)}"
        )
    spec = FormatSpec(str(ftype))
    if ftype == "pcm":
        missing = [k for k in ("codec", "rate", "bits", "channel") if fmt.get(k) in (None, "")]
        if missing:
            raise BadRequest(
                f"audio.input.format.{', '.join(missing)} is required when format.type is pcm"
            )
        if fmt["codec"] != "pcm_s16le":
            raise BadRequest(f"audio.input.format.codec {fmt['codec']!r} is not supported")
        try:
            spec = FormatSpec("pcm", int(fmt["rate"]), int(fmt["bits"]), int(fmt["channel"]))
        except (TypeError, ValueError):
            raise BadRequest("audio.input.format rate, bits and channel must be integers") from None
    hotwords = tr.get("hotwords", [])
    if not isinstance(hotwords, list) or not all(isinstance(h, str) for h in hotwords):
        raise BadRequest("audio.input.transcription.hotwords must be an array of strings")
    language = tr.get("language")
    return SseRequest(
        model=model,
        format=spec,
        audio=audio,
        language=language if isinstance(language, str) else None,
        hotwords=list(hotwords),
        enable_timestamp=tr.get("enable_timestamp") is True,
        enable_itn=tr.get("enable_itn", True) is not False,
    )


def parse_legacy(
    content_type: str, body: bytes | bytearray, *, accepts: tuple[str, ...] = LEGACY_ACCEPTS
) -> LegacyRequest:
    """The multipart form, validated; ``accepts``: the models the endpoint takes."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise BadRequest("Content-Type must be multipart/form-data")
    msg = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + bytes(body)
    )
    fields: dict[str, bytes] = {}
    if msg.is_multipart():
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload
    model = fields.get("model", b"").decode("utf-8", "replace").strip()
    if not model:
        raise BadRequest("model is required")
    if model not in accepts:
        if model in SSE_MODELS:
            raise not_supported(model)  # the famous wrong-endpoint trap
        # An unknown model here answered 404 model_invalid (July 2026; message invented).
        raise _about(
            model, BadRequest(f"model {model} not found", status=404, kind="model_invalid")
        )
    if "file" not in fields:
        raise BadRequest("file is required")
    response_format = fields.get("response_format", b"json").decode("utf-8", "replace").strip()
    if response_format not in ("json", "text"):
        raise BadRequest(f"response_format {response_format!r} is not supported")
    hotwords: Any = []
    if "hotwords" in fields:
        try:
            hotwords = json.loads(fields["hotwords"].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            hotwords = None
        if not isinstance(hotwords, list) or not all(isinstance(h, str) for h in hotwords):
            raise BadRequest("hotwords must be a JSON-encoded array of strings")
    return LegacyRequest(model, response_format, fields["file"], list(hotwords))
