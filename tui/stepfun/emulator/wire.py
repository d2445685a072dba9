"""SSE bytes for the emulator's events, in the normal shape or one of the odd-but-valid ones."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

from tui.stepfun.emulator.faults import INVENTED
from tui.stepfun.emulator.script import Script, Token


def _meta(session: str) -> dict[str, Any]:
    return {"session_id": session, "timestamp": int(time.time() * 1000)}


class EventFactory:
    """Builds the JSON objects of one stream (one session id, one item id)."""

    def __init__(self, enable_timestamp: bool) -> None:
        self.session = "sse_" + secrets.token_hex(12)
        self.item = "item_" + secrets.token_hex(12)
        self.enable_timestamp = enable_timestamp

    def delta(self, tok: Token) -> dict[str, Any]:
        ts = self.enable_timestamp
        return {
            "type": "transcript.text.delta",
            "meta": _meta(self.session),
            "delta": tok.text,
            "item_id": self.item,
            "content_index": 0,
            "start_time": tok.start_ms if ts else 0,
            "end_time": tok.end_ms if ts else 0,
        }

    def done(self, script: Script) -> dict[str, Any]:
        return {
            "type": "transcript.text.done",
            "meta": _meta(self.session),
            "text": script.text,
            "usage": script.usage,
        }

    def error(self, message: str) -> dict[str, Any]:
        # The shape is published ({"type":"error","message":…}); this exact event is not.
        return {
            "type": "error",
            "meta": _meta(self.session),
            "message": message,
            "_emulator": INVENTED,
        }


def encode(obj: dict[str, Any] | str, wire: frozenset[str], seq: int, *, final: bool) -> bytes:
    """One SSE record. ``obj`` may be a raw data string (the ``[DONE]`` sentinel)."""
    nl = "\r\n" if "crlf" in wire else "\n"
    lines: list[str] = []
    payload = (
        obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    )
    if "noise" in wire:
        if seq == 0:
            lines += [": stream opened", "retry: 3000"]
        lines += [": keep-alive"]
        if isinstance(obj, dict):
            lines.append(f"event: {obj.get('type', 'message')}")
        lines.append(f"id: {seq}")
    if "multiline_data" in wire and isinstance(obj, dict):
        # Split between two JSON members: a newline there is whitespace, so the joined data
        # (lines are joined with "\n") is still the same JSON.
        cut = payload.index(",") + 1
        lines += ["data: " + payload[:cut], "data: " + payload[cut:]]
    else:
        lines.append("data: " + payload)
    text = nl.join(lines) + nl
    if not (final and "no_trailing_blank" in wire):
        text += nl
    return text.encode("utf-8")


def pieces(data: bytes, wire: frozenset[str], seed: int) -> Iterator[bytes]:
    """Write units: the whole record, or 1–7 byte slices (splitting UTF-8 sequences)."""
    if "split_utf8" not in wire:
        yield data
        return
    pos, k = 0, seed
    while pos < len(data):
        k = (k * 1103515245 + 12345) & 0x7FFFFFFF
        n = 1 + k % 7
        yield data[pos : pos + n]
        pos += n
