"""The HTTP handler: routing, validation in the real API's order, faults, the control endpoint.

The SSE answer is ``stream.SseStream``; reading the body and writing answers, ``http_io.HttpIO``.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import urlsplit

from tui.audio.headers import header_info_from_bytes
from tui.stepfun.emulator import faults as F
from tui.stepfun.emulator.directive import read_directive
from tui.stepfun.emulator.http_io import BodyTooLarge
from tui.stepfun.emulator.parse import BadRequest, parse_legacy, parse_sse
from tui.stepfun.emulator.records import RequestRecord
from tui.stepfun.emulator.script import FormatSpec, build, without
from tui.stepfun.emulator.stream import SseStream

_ROUTE = re.compile(r"/(v1|step_plan/v1)/audio/(asr/sse|transcriptions)/?")


class Handler(SseStream):
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection does not hold a thread forever
    disable_nagle_algorithm = True  # tiny SSE writes (split_utf8) must not wait for ACKs

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the demo print what matters themselves

    def setup(self) -> None:
        super().setup()
        self.emulator._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.emulator._track(self.connection, add=False)

    # ------------------------------------------------------------------------------ routing

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_DELETE(self) -> None:
        self._route()

    def do_PUT(self) -> None:
        self._route()

    def _route(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/_emulator/"):
            self._control(path)
            return
        m = _ROUTE.fullmatch(path)
        endpoint = ("sse" if m.group(2) == "asr/sse" else "legacy") if m else "other"
        rec = RequestRecord(self.command, path, endpoint, base=m.group(1) if m else None)
        self.emulator._records.add(rec)
        try:
            self._handle(rec, m is not None and self.command == "POST")
        except OSError:  # broken pipe, reset, or a client that stopped reading (timeout)
            rec.client_disconnected = True
            self.close_connection = True
        finally:
            self.emulator._records.finish(rec)

    def _handle(self, rec: RequestRecord, is_asr: bool) -> None:
        rec.accept = self.headers.get("Accept")
        rec.content_type = self.headers.get("Content-Type")
        limit = self.emulator.max_body_bytes if is_asr else None
        try:
            body = self._read_body(rec, limit)
        except BodyTooLarge as big:
            self._too_large(rec, big.read)
            return
        except (ConnectionError, ValueError):
            rec.client_disconnected = True
            self.close_connection = True
            return
        if not is_asr or (rec.endpoint == "legacy" and rec.base == "step_plan/v1"):
            # Step Plan lists no /audio/transcriptions (a June 2026 PR saw 404s there).
            self._not_found(rec)
            return
        auth = self.headers.get("Authorization", "")
        key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        kind = self.emulator.key_kind(key)
        if kind is None:
            # The type is documented (error-code page); the message is invented.
            rec.error = "Incorrect API key provided"
            self._send_json(rec, 401, F.envelope(rec.error, "invalid_api_key"), invented=True)
            return
        rec.auth_ok, rec.key_kind = True, kind
        if kind != ("plan" if rec.base == "step_plan/v1" else "normal"):
            self._not_found(rec)  # what a key on the wrong base really gets
            return
        try:
            if rec.endpoint == "sse":
                self._require_headers()
                self._asr_sse(rec, body, auth, plan=kind == "plan")
            else:
                self._asr_legacy(rec, body, auth)
        except BadRequest as exc:
            rec.error = exc.message
            rec.model = rec.model or exc.model
            payload = F.envelope(exc.message, exc.kind, invented=exc.invented)
            self._send_json(rec, exc.status, payload, invented=exc.invented)

    def _require_headers(self) -> None:
        """The asr-sse reference marks Content-Type and Accept as required (one probe without
        Accept still worked; the emulator is the stricter of the two)."""
        ctype = self.headers.get("Content-Type", "").partition(";")[0].strip().lower()
        if ctype != "application/json":
            raise BadRequest("Content-Type must be application/json")
        accept = self.headers.get("Accept", "").lower()
        if "text/event-stream" not in accept:
            raise BadRequest("Accept must be text/event-stream")

    # ------------------------------------------------------------------------------ the ASR

    def _pick_fault(
        self, rec: RequestRecord, audio: bytes, *, legacy: bool
    ) -> tuple[F.Fault | None, dict[str, Any] | None]:
        directive = read_directive(audio)
        rec.directive = directive is not None
        fault = self.emulator._faults.take(legacy=legacy)
        if fault is None and directive and directive.get("fault"):
            params = {k: v for k, v in directive.items() if k not in ("fault", "text")}
            try:
                candidate = F.parse_fault(str(directive["fault"]), params)
            except ValueError:
                candidate = None
            if candidate is not None and (not legacy or candidate.pre_stream):
                digest = hashlib.sha256(audio).hexdigest()
                if self.emulator._count_directive_use(digest) <= int(params.get("times", 1 << 30)):
                    fault = candidate
        rec.fault = fault.name if fault else None
        return fault, directive

    def _asr_sse(self, rec: RequestRecord, body: bytearray, auth: str, *, plan: bool) -> None:
        req = parse_sse(body, plan=plan)
        del body
        rec.model, rec.format_type = req.model, req.format.type
        rec.language, rec.hotwords = req.language, req.hotwords
        rec.enable_timestamp, rec.audio_bytes = req.enable_timestamp, len(req.audio)
        fault, directive = self._pick_fault(rec, req.audio, legacy=False)
        if fault is not None and fault.pre_stream:
            self._pre_stream_fault(rec, fault, auth)
            return
        if req.model == "stepaudio-2-asr-pro":  # listed, but it answers this in practice
            self._stream(rec, None, fault, req.enable_timestamp, error_now="internal error")
            return
        text = directive.get("text") if directive else None
        language = req.language
        if fault is not None and "split_utf8" in fault.wire:
            language = "zh"  # multibyte characters for the split to cut through
        repeat = fault.get_float("factor", 3.5) if fault and fault.main == "repeat" else None
        script = build(
            req.audio,
            req.format,
            language=language,
            hotwords=req.hotwords,
            text=text if isinstance(text, str) else None,
            repeat_factor=repeat,
            region_words=self.emulator.region_words,
        )
        if fault is not None and "stop_early" in fault.wire:
            script = without(script, fault.get_float("at", (script.duration_s or 0) / 2), 1e9)
        if fault is not None and "skip" in fault.wire:
            script = without(script, fault.get_float("start", 0), fault.get_float("end", 0))
        self._stream(rec, script, fault, req.enable_timestamp)

    def _asr_legacy(self, rec: RequestRecord, body: bytearray, auth: str) -> None:
        req = parse_legacy(
            self.headers.get("Content-Type", ""), body, accepts=self.emulator.legacy_models
        )
        del body
        rec.model, rec.hotwords, rec.audio_bytes = req.model, req.hotwords, len(req.audio)
        info = header_info_from_bytes(req.audio, len(req.audio))
        if info is not None and info.format not in ("wav", "mp3", "ogg"):
            raise BadRequest("the audio format is not supported; use mp3, wav, ogg or pcm")
        # No recognisable header: raw pcm, taken as the documented 16 kHz 16-bit mono.
        fmt = FormatSpec(info.format) if info else FormatSpec("pcm", 16000, 16, 1)
        rec.format_type = fmt.type
        fault, directive = self._pick_fault(rec, req.audio, legacy=True)
        if fault is not None:
            self._pre_stream_fault(rec, fault, auth)
            return
        text = directive.get("text") if directive else None
        # The repetition hallucination is an SSE-model quirk: step-asr gets the text right.
        script = build(
            req.audio, fmt, hotwords=req.hotwords, text=text if isinstance(text, str) else None
        )
        if not script.text:
            raise BadRequest("no speech found")
        if req.response_format == "text":
            self._send(rec, 200, "text/plain; charset=utf-8", script.text.encode("utf-8"))
        else:
            payload = json.dumps({"text": script.text}, ensure_ascii=False).encode("utf-8")
            self._send(rec, 200, "application/json", payload)

    def _pre_stream_fault(self, rec: RequestRecord, fault: F.Fault, auth: str) -> None:
        if fault.main == "replay":
            body = fault.params["body"]
            payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            code = fault.get_int("code", 200)
            ctype = str(fault.params.get("content_type") or "text/event-stream")
            if code != 200:
                rec.error = payload.decode("utf-8", "replace")[:200]
            self._send(rec, code, ctype, payload, close=True)
            return
        if fault.main == "html200":
            page = F.CAPTIVE_PORTAL_HTML.encode()
            self._send(rec, 200, "text/html; charset=utf-8", page, [F.INVENTED_HEADER])
        elif fault.main == "echo_key":
            code = fault.get_int("code", 401)
            rec.error = "(message echoing the Authorization header)"
            msg = (
                f"Incorrect API key provided: {auth}"
                if code == 401
                else f"invalid request header Authorization: {auth}"
            )
            kind = "invalid_api_key" if code == 401 else "request_params_invalid"
            self._send_json(rec, code, F.envelope(msg, kind), invented=True)
        else:
            code = fault.get_int("code", 500)
            message = fault.params.get("message")
            ctype, payload = F.status_body(code, str(message) if message else None)
            extra = [F.INVENTED_HEADER]
            if fault.params.get("retry_after") is not None:
                extra.append(("Retry-After", str(fault.params["retry_after"])))
            rec.error = payload.decode("utf-8", "replace")[:200]
            rec.invented = True
            self._send(rec, code, ctype, payload, extra)

    # ------------------------------------------------------------------------------ control

    def _control(self, path: str) -> None:
        emu = self.emulator
        body = self._read_body(None)
        if path == "/_emulator/faults" and self.command == "POST":
            try:
                spec = json.loads(body or b"{}")
                name = spec.pop("fault")
                count = int(spec.pop("count", 1))
                emu.inject(name, count, **spec)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                self._send(
                    None,
                    400,
                    "application/json",
                    F.envelope(f"bad fault: {exc}", "request_params_invalid"),
                )
                return
            self._json({"ok": True, "pending": emu.pending_faults()})
        elif path == "/_emulator/faults" and self.command == "DELETE":
            emu.clear_faults()
            self._json({"ok": True, "pending": []})
        elif path == "/_emulator/faults" and self.command == "GET":
            self._json({"pending": emu.pending_faults()})
        elif path == "/_emulator/requests" and self.command == "GET":
            self._json([r.as_dict() for r in emu.requests])
        elif path == "/_emulator/requests" and self.command == "DELETE":
            emu.clear_requests()
            self._json({"ok": True})
        else:
            self._not_found(None)

    def _json(self, obj: Any) -> None:
        self._send(None, 200, "application/json", json.dumps(obj, ensure_ascii=False).encode())
