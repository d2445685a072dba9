"""What the emulator saw and did for each request (never the key itself)."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class RequestRecord:
    method: str
    path: str
    endpoint: str  # "sse", "legacy" or "other"
    base: str | None = None  # "v1" or "step_plan/v1"
    status: int = 0  # the HTTP status sent (0: none sent yet)
    auth_ok: bool = False
    key_kind: str | None = None  # "normal" / "plan" for a known key
    model: str | None = None
    format_type: str | None = None
    language: str | None = None
    hotwords: list[str] | None = None
    enable_timestamp: bool | None = None
    body_bytes: int = 0  # request body bytes received
    audio_bytes: int = 0  # after base64 decoding
    accept: str | None = None  # the Accept header sent
    content_type: str | None = None  # the Content-Type header sent
    content_length_sent: bool = False
    chunked: bool = False  # the request body came with Transfer-Encoding: chunked
    fault: str | None = None  # the fault applied, e.g. "truncate" or "crlf+noise"
    directive: bool = False  # the audio carried an emux directive
    error: str | None = None  # error message sent (JSON envelope or error event)
    invented: bool = False  # the answer's body is invented (no published example)
    reset: bool = False  # the connection was reset mid-upload (the body-size limit)
    drifted: bool = False  # the deltas sent differ from the final text
    deltas_sent: int = 0  # set just before each write, so never behind what a client has
    done_sent: bool = False
    client_disconnected: bool = False
    finished: bool = False  # the handler is through with this request

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class RecordLog:
    """Thread-safe list of records with a way to wait for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._items: list[RequestRecord] = []

    def add(self, rec: RequestRecord) -> None:
        with self._cond:
            self._items.append(rec)
            self._cond.notify_all()

    def finish(self, rec: RequestRecord) -> None:
        with self._cond:
            rec.finished = True
            self._cond.notify_all()

    def snapshot(self) -> list[RequestRecord]:
        with self._cond:
            return list(self._items)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def wait_finished(self, n: int, timeout: float) -> list[RequestRecord]:
        """Block until at least ``n`` requests are finished (or the timeout passes); returns
        the finished ones."""
        with self._cond:
            self._cond.wait_for(lambda: sum(r.finished for r in self._items) >= n, timeout)
            return [r for r in self._items if r.finished]
