"""Bytes in and out of one emulator request: the body read (chunked or sized, within the
size limit, paced by the modelled uplink) and the answers written (sized, chunked, JSON, 404)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from tui.stepfun.emulator import faults as F
from tui.stepfun.emulator.link import PIECE
from tui.stepfun.emulator.records import RequestRecord

if TYPE_CHECKING:
    from tui.stepfun.emulator.server import Emulator

MAX_BODY = 150 * 1024 * 1024
_READ_PIECE = 1 << 20


class BodyTooLarge(Exception):
    """The body is over the limit; ``read`` bytes of it were taken so far."""

    def __init__(self, read: int = 0) -> None:
        super().__init__(read)
        self.read = read


class HttpIO(BaseHTTPRequestHandler):
    """The byte-level half of the emulator's handler (``Handler`` builds on it)."""

    emulator: Emulator  # set on the subclass the Emulator makes

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send(
        self,
        rec: RequestRecord | None,
        status: int,
        ctype: str,
        body: bytes,
        extra: Iterable[tuple[str, str]] = (),
        *,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if rec is not None:
            rec.status = status

    def _send_json(
        self,
        rec: RequestRecord | None,
        status: int,
        payload: bytes,
        *,
        invented: bool,
        close: bool = False,
    ) -> None:
        if rec is not None:
            rec.invented = invented
        extra = [F.INVENTED_HEADER] if invented else []
        self._send(rec, status, "application/json", payload, extra, close=close)

    def _not_found(self, rec: RequestRecord | None) -> None:
        # The 404 status is seen (wrong path, key on the wrong base); this body is not
        # published, so it is labelled like every other invented answer.
        if rec is not None:
            rec.invented = True
        self._send(
            rec,
            404,
            "text/plain; charset=utf-8",
            F.NOT_FOUND_BODY,
            [("X-Content-Type-Options", "nosniff"), F.INVENTED_HEADER],
        )

    def _too_large(self, rec: RequestRecord, read: int) -> None:
        """A body over the emulator's limit: refused with 413 once read, or the connection
        reset while the client is still uploading."""
        length = int(self.headers.get("Content-Length") or 0)
        if self.emulator.body_limit == "reset":
            rec.reset = True
            self.close_connection = True
            conn: socket.socket = self.connection
            # Linger 0: close() sends RST at once, as a gateway hanging up mid-body does.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            conn.close()
            return
        try:
            left = max(0, length - read)
            while left > 0:
                piece = self.rfile.read(min(left, _READ_PIECE))
                if not piece:
                    break
                left -= len(piece)
                read += len(piece)
            rec.body_bytes = read
        except OSError:
            rec.client_disconnected = True
            self.close_connection = True
            return
        rec.error = "request body too large"
        payload = F.envelope(rec.error, "request_too_large")
        self._send_json(rec, 413, payload, invented=True, close=True)

    def _piece(self, n: int) -> int:
        """How much to read next (at most ``n``): small pieces when the uplink is modelled."""
        return min(n, _READ_PIECE if self.emulator.uplink is None else PIECE)

    def _carried(self, k: int) -> None:
        """Wait until ``k`` bytes just read would have crossed the modelled uplink."""
        link = self.emulator.uplink
        if link is not None and k and not link.take(k):
            raise ConnectionError("the emulator is stopping")

    def _read_exact(self, buf: bytearray, n: int) -> None:
        while n > 0:
            piece = self.rfile.read(self._piece(n))
            if not piece:
                raise ConnectionError("client closed the connection mid-body")
            self._carried(len(piece))
            buf += piece
            n -= len(piece)

    def _read_body(self, rec: RequestRecord | None, limit: int | None = None) -> bytearray:
        te = self.headers.get("Transfer-Encoding", "").lower()
        length = self.headers.get("Content-Length")
        buf = bytearray()
        if rec is not None:
            rec.content_length_sent, rec.chunked = length is not None, "chunked" in te
        if "chunked" in te:
            for _ in range(10_000_000):
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("client closed the connection mid-body")
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                if len(buf) + size > min(MAX_BODY, limit or MAX_BODY):
                    raise BodyTooLarge(len(buf))
                self._read_exact(buf, size)
                self.rfile.readline(8)
        elif length is not None:
            n = int(length)
            if n > min(MAX_BODY, limit or MAX_BODY):
                raise BodyTooLarge(0)
            buf = bytearray(n)  # sized once: no growth copies for a 100 MB body
            view, got = memoryview(buf), 0
            while got < n:
                k = self.rfile.readinto(view[got : got + self._piece(n - got)])
                if not k:
                    raise ConnectionError("client closed the connection mid-body")
                self._carried(k)
                got += k
        if rec is not None:
            rec.body_bytes = len(buf)
        return buf
