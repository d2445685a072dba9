"""The Emulator: a stdlib HTTP/1.1 server on loopback, run in a daemon thread."""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tui.stepfun.emulator.faults import FaultQueue, parse_fault
from tui.stepfun.emulator.handler import Handler
from tui.stepfun.emulator.link import ServiceModel, Uplink
from tui.stepfun.emulator.records import RecordLog, RequestRecord
from tui.stepfun.options import LEGACY_ACCEPTS

KEY_KINDS = ("normal", "plan")
BODY_LIMIT_ACTIONS = ("413", "reset")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64


class Emulator:
    """A fake StepFun ASR service on ``http://host:port``.

    ``rtf``: wall seconds per audio second when pacing deltas (0: as fast as possible).
    ``first_event_delay_s``: pause between the response headers and the first event.
    ``keys``: key -> "normal" | "plan"; by default one of each is generated
    (``demo_key``, ``plan_key``). Both may be changed while running.
    ``drift``: every stream's deltas differ from its final text (the docs' own example does;
    per request, the ``drift`` fault does the same).
    ``max_body_bytes``: the largest request body taken; a larger one is answered per
    ``body_limit``: ``"413"`` (read, then refused with an invented 413 body) or ``"reset"``
    (the connection is reset while the body is still uploading). No source shows what the
    real service does with an oversized body, so both are offered.
    ``legacy_models``: what /audio/transcriptions accepts (others: 404 model_invalid, or the
    wrong-endpoint 400 for an SSE model). step-asr-1.1 was seen there in April 2026 only, so
    tests can take it away.
    ``uplink_mbit``: request bodies are read at this rate, one link shared by all connections
    (None: as fast as loopback). ``service``: how long the service takes to answer
    (``ServiceModel()``: the seed's 0.8 s + audio / 95; None: at once, or paced by ``rtf``).
    ``region_words``: one word per voiced stretch of 16-bit PCM, chosen by the stretch's length
    instead of a hash of the whole body, so the same speech cut into parts gives the same words
    (how the parallel path is checked against the one-request path).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rtf: float = 0.0,
        first_event_delay_s: float = 0.0,
        keys: dict[str, str] | None = None,
        drift: bool = False,
        max_body_bytes: int | None = None,
        body_limit: str = "413",
        legacy_models: tuple[str, ...] = LEGACY_ACCEPTS,
        uplink_mbit: float | None = None,
        service: ServiceModel | None = None,
        region_words: bool = False,
    ) -> None:
        if keys is None:
            keys = {
                "emu-" + secrets.token_hex(16): "normal",
                "emu-plan-" + secrets.token_hex(16): "plan",
            }
        bad = {k: v for k, v in keys.items() if v not in KEY_KINDS or not k}
        if bad:
            raise ValueError(f"key kinds must be one of {KEY_KINDS} (got {sorted(bad.values())})")
        self.host, self._port = host, port
        self.rtf = rtf
        self.first_event_delay_s = first_event_delay_s
        if body_limit not in BODY_LIMIT_ACTIONS:
            raise ValueError(f"body_limit must be one of {BODY_LIMIT_ACTIONS}")
        self.drift = drift
        self.max_body_bytes = max_body_bytes
        self.body_limit = body_limit
        self.legacy_models = tuple(legacy_models)
        self._keys = dict(keys)
        self._faults = FaultQueue()
        self._records = RecordLog()
        self._stop = threading.Event()
        self.uplink = Uplink(uplink_mbit, self._stop) if uplink_mbit else None
        self.service = service
        self.region_words = region_words
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._directive_uses: dict[str, int] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------- lifecycle

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        handler = type("EmulatorHandler", (Handler,), {"emulator": self})
        self._stop.clear()
        self._server = _Server((self.host, self._port), handler)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"stepfun-emulator:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stop.set()  # ends stalls, holds and pacing waits
        server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # wake handler threads blocked reading a kept-alive connection
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # ---------------------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        return self._port

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    @property
    def plan_base_url(self) -> str:
        return self.root_url + "/step_plan/v1"

    # --------------------------------------------------------------------------------- keys

    @property
    def keys(self) -> dict[str, str]:
        return dict(self._keys)

    def _first_key(self, kind: str) -> str:
        for key, k in self._keys.items():
            if k == kind:
                return key
        raise LookupError(f"this emulator has no {kind} key")

    @property
    def demo_key(self) -> str:
        """A normal (pay-as-you-go) key: use it with ``base_url``."""
        return self._first_key("normal")

    @property
    def plan_key(self) -> str:
        """A Step Plan key: use it with ``plan_base_url``."""
        return self._first_key("plan")

    def add_key(self, key: str, kind: str = "normal") -> None:
        if kind not in KEY_KINDS or not key:
            raise ValueError(f"kind must be one of {KEY_KINDS}")
        with self._lock:
            self._keys[key] = kind

    def key_kind(self, key: str) -> str | None:
        return self._keys.get(key) if key else None

    # ------------------------------------------------------------------------------- faults

    def inject(self, fault: str, count: int = 1, **params: Any) -> None:
        """Apply ``fault`` to the next ``count`` ASR requests that pass validation (valid key,
        right base, well-formed body). Raises ValueError for an unknown fault or bad params."""
        self._faults.push(parse_fault(fault, params), int(count))

    def replay(
        self,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = "text/event-stream",
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` valid ASR requests with exactly ``body`` (and ``status``,
        ``content_type``): how the golden tests replay published captures byte for byte."""
        self.inject("replay", count, body=bytes(body), code=status, content_type=content_type)

    def clear_faults(self) -> None:
        self._faults.clear()

    def pending_faults(self) -> list[tuple[str, int]]:
        return self._faults.pending()

    def _count_directive_use(self, digest: str) -> int:
        with self._lock:
            self._directive_uses[digest] = self._directive_uses.get(digest, 0) + 1
            return self._directive_uses[digest]

    # ------------------------------------------------------------------------------ records

    @property
    def requests(self) -> list[RequestRecord]:
        return self._records.snapshot()

    def clear_requests(self) -> None:
        self._records.clear()

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> list[RequestRecord]:
        """Wait until ``n`` requests have been fully handled; returns the handled ones (fewer
        than ``n`` if the timeout passed first)."""
        return self._records.wait_finished(n, timeout)
