"""Fault names, their queue, and the error bodies the emulator answers with.

A fault name is one main fault (``truncate``, ``status`` ...), one or more wire-format variants
(``crlf``, ``noise`` ...), or a ``+``-joined mix of both (``crlf+noise+truncate``).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

# Answered before any stream; these also apply to the legacy /audio/transcriptions endpoint.
# ``replay`` answers with given bytes exactly (the golden tests' published captures).
PRE_STREAM = frozenset({"status", "html200", "echo_key", "replay"})
# Change what happens inside the SSE stream.
STREAM = frozenset({"error_event", "internal_error", "truncate", "stall", "hold_open", "repeat"})
# The stream is still complete and valid; only its bytes look different.
WIRE = frozenset(
    {
        "crlf",
        "noise",
        "done_sentinel",
        "split_utf8",
        "latin1_charset",
        "multiline_data",
        "no_trailing_blank",
    }
)
# The stream is complete and valid, but its deltas differ from the final text (as in the
# docs' own example: a delta "识别的" against a final "识别的完整文字内容").
# ``stop_early`` (param ``at``: seconds) and ``skip`` (params ``start``, ``end``) drop the words
# of a stretch and still end with a clean ``done`` whose text matches: a model that stopped
# before the end of the audio, or skipped a bad stretch.
CONTENT = frozenset({"drift", "stop_early", "skip"})
MODIFIERS = WIRE | CONTENT  # combine with one main fault
ALL = PRE_STREAM | STREAM | MODIFIERS

STATUS_CODES = (400, 401, 402, 403, 404, 408, 413, 429, 451, 500, 502, 503, 504)
MAX_WAIT_S = 600.0  # no stall or hold ever keeps a server thread longer than this


@dataclass(frozen=True)
class Fault:
    name: str  # as given, e.g. "crlf+truncate"
    main: str | None  # the one non-wire fault, if any
    wire: frozenset[str]  # the modifiers: wire variants and "drift"
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def pre_stream(self) -> bool:
        return self.main in PRE_STREAM

    def get_int(self, key: str, default: int) -> int:
        return int(self.params.get(key, default))

    def get_float(self, key: str, default: float) -> float:
        return float(self.params.get(key, default))

    def wait_s(self, default: float) -> float:
        return max(0.0, min(MAX_WAIT_S, self.get_float("seconds", default)))


def parse_fault(name: str, params: dict[str, Any] | None = None) -> Fault:
    """Validate a fault name and its params; raises ValueError with the reason."""
    parts = [p.strip() for p in str(name).split("+") if p.strip()]
    unknown = [p for p in parts if p not in ALL]
    if not parts or unknown:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(ALL))}")
    mains = [p for p in parts if p not in MODIFIERS]
    if len(mains) > 1:
        raise ValueError(f"fault {name!r} combines {mains}; only one non-wire fault at a time")
    main = mains[0] if mains else None
    p = dict(params or {})
    if main == "status":
        code = int(p.get("code", 0))
        if code not in STATUS_CODES:
            raise ValueError(f"status fault needs code in {STATUS_CODES}, got {code}")
    if main == "echo_key" and int(p.get("code", 401)) not in (400, 401):
        raise ValueError("echo_key fault takes code 400 or 401")
    if main == "repeat" and float(p.get("factor", 3.5)) < 1:
        raise ValueError("repeat factor must be >= 1")
    if main == "replay":
        body = p.get("body")
        if not isinstance(body, bytes | str):
            raise ValueError("replay fault needs body (bytes or text)")
        int(p.get("code", 200))
    return Fault(name="+".join(parts), main=main, wire=frozenset(parts) - {main}, params=p)


class FaultQueue:
    """Injected faults, applied in order to the next requests. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[list[Any]] = deque()  # [Fault, remaining count]

    def push(self, fault: Fault, count: int) -> None:
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._items.append([fault, count])

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def pending(self) -> list[tuple[str, int]]:
        with self._lock:
            return [(item[0].name, item[1]) for item in self._items]

    def take(self, *, legacy: bool = False) -> Fault | None:
        """The head fault for one request. The legacy endpoint only takes pre-stream faults and
        leaves stream faults queued for the next SSE request."""
        with self._lock:
            if not self._items:
                return None
            item = self._items[0]
            fault: Fault = item[0]
            if legacy and not fault.pre_stream:
                return None
            item[1] -= 1
            if item[1] <= 0:
                self._items.popleft()
            return fault


# ------------------------------------------------------------------------------ error bodies
#
# Provenance. Only two error bodies have been published byte for byte: the legacy endpoint's
# ``{"error":{"message":"model stepaudio-2.5-asr not supported","type":"request_params_invalid"}}``
# (seed skill references/, live, April 2026) and the mid-stream ``{"type":"error","message":…}``
# shape (seed skill; docs). Statuses and types seen without bodies: 401 invalid_api_key (docs),
# 404 model_invalid for an unknown model on the legacy endpoint (openless PR #835, July 2026),
# 400 "no speech found" (same PR). Every other body here is invented: JSON ones carry an
# ``"_emulator"`` member saying so, and every invented answer has an X-Emulator-Invented header.

INVENTED = "invented by the emulator: no published example of this body"
INVENTED_HEADER = ("X-Emulator-Invented", "1")

_STATUS_BODIES: dict[int, tuple[str, str]] = {
    400: ("invalid request parameters", "request_params_invalid"),
    401: ("Incorrect API key provided", "invalid_api_key"),
    402: ("insufficient balance, please recharge your account", "insufficient_balance"),
    403: ("access to this resource is forbidden", "permission_denied"),
    413: ("request body too large", "request_too_large"),
    408: ("request timeout", "request_timeout"),
    429: (
        "rate limit reached for requests: too many requests, please slow down",
        "rate_limit_exceeded",
    ),
    451: (
        "content moderation: the request was rejected because it contains sensitive content",
        "content_filter",
    ),
    500: ("internal error", "server_error"),
    503: ("the server is overloaded, please try again later", "server_overloaded"),
}

# Go's net/http NotFound page. The 404 status is seen (wrong path, a key on the wrong base);
# the body is not published, so it goes out with the invented-answer header.
NOT_FOUND_BODY = b"404 page not found\n"

_GATEWAY_HTML = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)

CAPTIVE_PORTAL_HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Network login</title></head>'
    "<body><h1>Welcome to Guest Wi-Fi</h1><p>Please sign in to continue browsing.</p>"
    '<form method="post" action="/login"><input name="room"><button>Connect</button>'
    "</form></body></html>"
)


def envelope(message: str, kind: str, *, invented: bool = True) -> bytes:
    """The ``{"error": {...}}`` envelope; an invented one says so in an extra member (clients
    ignore unknown members, so the label does not change how the body is read)."""
    obj: dict[str, Any] = {"error": {"message": message, "type": kind}}
    if invented:
        obj["_emulator"] = INVENTED
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def status_body(code: int, message: str | None = None) -> tuple[str, bytes]:
    """(content type, body) for a status fault. 404 is the bare Go page; 502/504 come from the
    proxy in front of the API, so they are nginx HTML, not JSON."""
    if code == 404:
        return "text/plain; charset=utf-8", NOT_FOUND_BODY
    if code in (502, 504):
        reason = "Bad Gateway" if code == 502 else "Gateway Time-out"
        return "text/html", _GATEWAY_HTML.format(code=code, reason=reason).encode()
    default_msg, kind = _STATUS_BODIES[code]
    return "application/json", envelope(message or default_msg, kind)
