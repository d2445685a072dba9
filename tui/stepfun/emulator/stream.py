"""The SSE answer of the emulated asr-sse endpoint: deltas paced like the service, the final
event, and the stream faults that cut, stall or hold it."""

from __future__ import annotations

import select
import socket
import time
from typing import Any

from tui.stepfun.emulator import faults as F
from tui.stepfun.emulator.http_io import HttpIO
from tui.stepfun.emulator.records import RequestRecord
from tui.stepfun.emulator.script import Script, drifted
from tui.stepfun.emulator.wire import EventFactory, encode, pieces

_CUT_FAULTS = ("error_event", "internal_error", "truncate", "stall")


class SseStream(HttpIO):
    """Writes the SSE answer; ``Handler`` decides when, after routing and validation."""

    def _stream(
        self,
        rec: RequestRecord,
        script: Script | None,
        fault: F.Fault | None,
        enable_timestamp: bool,
        error_now: str | None = None,
    ) -> None:
        wire = fault.wire if fault else frozenset()
        main = fault.main if fault else None
        emu = self.emulator
        self.send_response(200)
        charset = "; charset=iso-8859-1" if "latin1_charset" in wire else ""
        self.send_header("Content-Type", "text/event-stream" + charset)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "keep-alive" if main == "hold_open" else "close")
        self.end_headers()
        self.close_connection = True
        rec.status = 200
        events = EventFactory(enable_timestamp)
        seq = 0

        def send(obj: dict[str, Any] | str, final: bool = False) -> None:
            nonlocal seq
            for piece in pieces(encode(obj, wire, seq, final=final), wire, seq + 1):
                self._chunk(piece)
            seq += 1

        if emu.first_event_delay_s > 0 and emu._stop.wait(emu.first_event_delay_s):
            return
        if error_now is not None or script is None:
            rec.error = error_now
            send(events.error(error_now or "internal error"), final=True)
            self._end_chunks()
            return
        tokens = script.tokens
        if "drift" in wire or emu.drift:
            tokens = drifted(tokens)
            rec.drifted = "".join(t.text for t in tokens) != script.text
        if fault is not None and main in _CUT_FAULTS:
            tokens = tokens[: max(0, fault.get_int("after", 0 if main == "stall" else 2))]
        t0 = time.monotonic()
        for tok in tokens:
            if emu.service is not None:
                wait = t0 + emu.service.at(tok.end_ms / 1000) - time.monotonic()
            else:
                wait = t0 + tok.end_ms / 1000 * emu.rtf - time.monotonic()
            if wait > 0 and emu._stop.wait(wait):
                return  # the server is stopping
            rec.deltas_sent += 1  # counted first: a client that has N deltas sees >= N here
            send(events.delta(tok))
        if fault is not None and main in ("error_event", "internal_error"):
            default = (
                "internal error"
                if main == "internal_error"
                else "content blocked: the audio contains sensitive content"
            )
            rec.error = str(fault.params.get("message", default))
            send(events.error(rec.error), final=True)
            self._end_chunks()
            return
        if fault is not None and main == "truncate":
            if not fault.params.get("abrupt"):
                self._end_chunks()  # a clean end of the body, just without `done`
            return
        if fault is not None and main == "stall":
            self._linger(rec, fault.wait_s(30.0))
            return  # closed without ending the body
        if emu.service is not None:
            # The answer is complete only once the service has worked through all the audio.
            wait = t0 + emu.service.at(script.duration_s or 0.0) - time.monotonic()
            if wait > 0 and emu._stop.wait(wait):
                return
        sentinel = "done_sentinel" in wire
        rec.done_sent = True
        send(events.done(script), final=not sentinel)
        if sentinel:
            send("[DONE]", final=True)
        if fault is not None and main == "hold_open":
            self._linger(rec, fault.wait_s(10.0))
        self._end_chunks()

    def _linger(self, rec: RequestRecord, seconds: float) -> None:
        """Send nothing for ``seconds``, returning early if the client hangs up or the server
        stops. Bounded by the caller (faults.MAX_WAIT_S)."""
        deadline = time.monotonic() + seconds
        conn: socket.socket = self.connection
        while not self.emulator._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                readable, _, _ = select.select([conn], [], [], min(0.2, left))
                if readable and conn.recv(1, socket.MSG_PEEK) == b"":
                    rec.client_disconnected = True
                    return
                if readable:
                    time.sleep(0.05)  # the client sent something; keep ignoring it
            except (OSError, ValueError):
                rec.client_disconnected = True
                return
