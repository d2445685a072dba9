"""The StepFun emulator, driven with raw httpx over real loopback HTTP."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx_sse
import pytest

from tui.stepfun.emulator import FAULTS, Emulator, read_directive, write_directive_wav
from tui.stepfun.emulator.directive import wav_bytes

SSE = "/audio/asr/sse"
LEGACY = "/audio/transcriptions"
MODEL = "stepaudio-2.5-asr"


HTTP = httpx.Client(timeout=20)  # one client: building one costs ~45 ms (its SSL context)


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    HTTP.close()


@pytest.fixture
def speech(tmp_path: Path) -> bytes:
    return write_directive_wav(tmp_path / "speech.wav", 4.0).read_bytes()


def body(audio: bytes, fmt: str = "wav", *, model: str = MODEL, **tr: Any) -> dict[str, Any]:
    fmt_obj: dict[str, Any] = {"type": fmt}
    if fmt == "pcm":
        fmt_obj.update(codec="pcm_s16le", rate=16000, bits=16, channel=1)
    return {
        "audio": {
            "data": base64.b64encode(audio).decode(),
            "input": {"transcription": {"model": model, **tr}, "format": fmt_obj},
        }
    }


def auth(key: str) -> dict[str, str]:
    # Accept is required by the asr-sse reference, and so by the emulator.
    return {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}


def post(
    emu: Emulator,
    payload: Any,
    *,
    key: str | None = None,
    base: str | None = None,
    path: str = SSE,
    **kw: Any,
) -> httpx.Response:
    headers = (
        auth(emu.demo_key if key is None else key) if key != "" else {"Accept": "text/event-stream"}
    )
    kw.setdefault("timeout", 20)
    return HTTP.post((base or emu.base_url) + path, json=payload, headers=headers, **kw)


def events(resp: httpx.Response) -> list[dict[str, Any]]:
    """Parse a finished response the way a spec-following SSE client does (httpx-sse)."""
    out = []
    for sse in httpx_sse.EventSource(resp).iter_sse():
        out.append({"type": "[DONE]"} if sse.data == "[DONE]" else json.loads(sse.data))
    return out


def stream(emu: Emulator, payload: Any, **kw: Any) -> tuple[httpx.Response, list[dict[str, Any]]]:
    with HTTP.stream(
        "POST", emu.base_url + SSE, json=payload, headers=auth(emu.demo_key), **kw
    ) as r:
        r.read()
        return r, events(r)


def split(evs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    deltas = [e for e in evs if e["type"] == "transcript.text.delta"]
    done = [e for e in evs if e["type"] == "transcript.text.done"]
    return deltas, (done[0] if done else None)


# ----------------------------------------------------------------------------- success path


def test_success_stream_shape(emu: Emulator, speech: bytes) -> None:
    r, evs = stream(emu, body(speech, enable_timestamp=True))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["transfer-encoding"] == "chunked"
    deltas, done = split(evs)
    assert done is not None and evs[-1] is done
    assert len(deltas) >= 5
    for d in deltas:
        assert set(d) == {
            "type",
            "meta",
            "delta",
            "item_id",
            "content_index",
            "start_time",
            "end_time",
        }
        assert d["meta"]["session_id"].startswith("sse_") and d["content_index"] == 0
        assert 0 <= d["start_time"] <= d["end_time"] <= 4000
    assert [d["start_time"] for d in deltas] == sorted(d["start_time"] for d in deltas)
    assert "".join(d["delta"] for d in deltas) == done["text"]
    usage = done["usage"]
    assert usage["type"] == "tokens" and usage["input_token_details"]["audio_tokens"] == 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    rec = emu.wait_for_requests(1)[0]
    assert (rec.status, rec.done_sent, rec.deltas_sent) == (200, True, len(deltas))
    assert rec.content_length_sent and not rec.chunked and rec.body_bytes == len(r.request.content)


def test_same_audio_same_text_and_other_audio_differs(
    emu: Emulator, tmp_path: Path, speech: bytes
) -> None:
    other = write_directive_wav(tmp_path / "o.wav", 4.0, tone_hz=330).read_bytes()
    texts = [split(stream(emu, body(a))[1])[1] for a in (speech, speech, other)]
    assert texts[0] is not None and texts[1] is not None and texts[2] is not None
    assert texts[0]["text"] == texts[1]["text"] != texts[2]["text"]


def test_timestamps_zero_when_disabled(emu: Emulator, speech: bytes) -> None:
    deltas, done = split(stream(emu, body(speech, enable_timestamp=False))[1])
    assert done is not None and deltas
    assert all(d["start_time"] == d["end_time"] == 0 for d in deltas)


def test_words_only_in_voiced_regions(emu: Emulator, tmp_path: Path) -> None:
    gaps = [(2.0, 4.0), (6.0, 6.8)]
    audio = write_directive_wav(tmp_path / "g.wav", 8.0, silence_gaps=gaps).read_bytes()
    deltas, done = split(stream(emu, body(audio, enable_timestamp=True))[1])
    assert done is not None and len(deltas) >= 10
    for d in deltas:
        for a, b in gaps:  # one 50 ms window of slack at each edge
            assert d["end_time"] <= a * 1000 + 50 or d["start_time"] >= b * 1000 - 50, d


def test_english_sentences_break_on_punctuation(emu: Emulator, tmp_path: Path) -> None:
    audio = write_directive_wav(tmp_path / "l.wav", 12.0).read_bytes()
    deltas, done = split(stream(emu, body(audio, language="en"))[1])
    assert done is not None
    ends = [i for i, d in enumerate(deltas) if d["delta"].rstrip()[-1] in ".?"]
    assert len(ends) >= 2 and ends[-1] == len(deltas) - 1
    gaps = [b - a for a, b in zip([-1, *ends], ends, strict=False)]
    assert max(gaps) <= 12
    assert 0.5 * 12 * 2.5 <= len(deltas) <= 1.5 * 12 * 2.5


def test_chinese_chunks(emu: Emulator, tmp_path: Path) -> None:
    audio = write_directive_wav(tmp_path / "z.wav", 6.0).read_bytes()
    deltas, done = split(stream(emu, body(audio, language="zh"))[1])
    assert done is not None and "。" in done["text"]
    for d in deltas:
        assert 1 <= len(d["delta"].rstrip("，。")) <= 3


def test_silent_and_short_audio_give_empty_text(emu: Emulator, tmp_path: Path) -> None:
    silent = write_directive_wav(tmp_path / "s.wav", 3.0, amplitude=0).read_bytes()
    short = write_directive_wav(tmp_path / "t.wav", 0.8).read_bytes()
    for audio in (silent, short):
        deltas, done = split(stream(emu, body(audio))[1])
        assert deltas == [] and done is not None and done["text"] == ""
        assert done["usage"]["total_tokens"] == 0


def test_pcm_format_and_missing_params(emu: Emulator, tmp_path: Path) -> None:
    wav = write_directive_wav(tmp_path / "p.wav", 3.0).read_bytes()
    pcm = wav[wav.index(b"data") + 8 :]
    deltas, done = split(stream(emu, body(pcm, "pcm", enable_timestamp=True))[1])
    assert done is not None and done["text"] and deltas[-1]["end_time"] <= 3000
    bad = body(pcm, "pcm")
    del bad["audio"]["input"]["format"]["rate"], bad["audio"]["input"]["format"]["channel"]
    r = post(emu, bad)
    assert r.status_code == 400
    assert "rate" in r.json()["error"]["message"] and "channel" in r.json()["error"]["message"]


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="needs ffmpeg")
def test_compressed_format_spreads_words_and_wrong_type_is_empty(
    emu: Emulator, tmp_path: Path
) -> None:
    src = write_directive_wav(tmp_path / "c.wav", 5.0, silence_gaps=[(1, 3)])
    mp3 = tmp_path / "c.mp3"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(src), "-b:a", "32k", str(mp3)],
        check=True,
    )
    deltas, done = split(stream(emu, body(mp3.read_bytes(), "mp3", enable_timestamp=True))[1])
    assert done is not None and done["text"]
    assert deltas[0]["start_time"] < 1000 and deltas[-1]["end_time"] >= 4500  # whole file
    _, done = split(stream(emu, body(mp3.read_bytes(), "wav"))[1])
    assert done is not None and done["text"] == ""  # wrong format type: empty, no error


def test_hotwords_reach_the_text(emu: Emulator, tmp_path: Path) -> None:
    audio = write_directive_wav(tmp_path / "h.wav", 6.0).read_bytes()
    _, done = split(stream(emu, body(audio, hotwords=["Zorblax"]))[1])
    assert done is not None and "Zorblax" in done["text"]
    assert emu.wait_for_requests(1)[0].hotwords == ["Zorblax"]


# ------------------------------------------------------------------------------- validation


def test_auth_errors(emu: Emulator, speech: bytes) -> None:
    # The type is documented; the message is not, so the body says it is invented.
    expected = {
        "error": {"message": "Incorrect API key provided", "type": "invalid_api_key"},
        "_emulator": "invented by the emulator: no published example of this body",
    }
    for key in ("", "test-" + secrets.token_hex(8)):
        r = post(emu, body(speech), key=key)
        assert (r.status_code, r.json()) == (401, expected)
        assert r.headers["x-emulator-invented"] == "1"


def test_key_and_base_mismatch_is_a_bare_404(emu: Emulator, speech: bytes) -> None:
    for key, base in ((emu.plan_key, emu.base_url), (emu.demo_key, emu.plan_base_url)):
        r = post(emu, body(speech), key=key, base=base)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("text/plain")
        assert r.text == "404 page not found\n"
    r = post(emu, body(speech), key=emu.plan_key, base=emu.plan_base_url)
    assert r.status_code == 200 and split(events(r))[1] is not None


def test_custom_keys() -> None:
    key, plan = "test-" + secrets.token_hex(8), "test-" + secrets.token_hex(8)
    with Emulator(keys={key: "normal", plan: "plan"}) as e:
        assert (e.demo_key, e.plan_key) == (key, plan)
    with pytest.raises(ValueError):
        Emulator(keys={key: "gold"})


@pytest.mark.parametrize(
    ("mutate", "status", "needle"),
    [
        (
            lambda b: b["audio"].update(data="data:audio/wav;base64," + b["audio"]["data"]),
            400,
            "base64",
        ),
        (lambda b: b["audio"].update(data="@@not base64@@"), 400, "base64"),
        (lambda b: b["audio"].update(data=b["audio"]["data"][:-1]), 400, "base64"),
        (
            lambda b: b["audio"]["input"]["transcription"].update(model="whisper-9"),
            400,
            "model whisper-9 does not exist or no permission",
        ),
        (lambda b: b["audio"]["input"]["transcription"].pop("model"), 400, "model"),
        (lambda b: b["audio"]["input"]["format"].update(type="flac"), 400, "format.type"),
        (lambda b: b["audio"]["input"]["transcription"].update(hotwords='["a"]'), 400, "hotwords"),
        (lambda b: b["audio"].pop("input"), 400, "audio.input"),
    ],
)
def test_body_validation(
    emu: Emulator, speech: bytes, mutate: Any, status: int, needle: str
) -> None:
    payload = body(speech)
    mutate(payload)
    r = post(emu, payload)
    assert r.status_code == status
    err = r.json()["error"]
    assert needle in err["message"] and err["type"] == "request_params_invalid"


def test_invalid_json_and_other_routes(emu: Emulator) -> None:
    headers = {**auth(emu.demo_key), "Content-Type": "application/json"}
    r = HTTP.post(emu.base_url + SSE, content=b"{not json", headers=headers)
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]
    for method, url in (
        ("POST", emu.base_url + "/chat/completions"),
        ("GET", emu.base_url + SSE),
        ("POST", emu.root_url + "/audio/asr/sse"),
    ):
        r = HTTP.request(method, url, headers=auth(emu.demo_key))
        assert (r.status_code, r.text) == (404, "404 page not found\n")


def test_pro_model_answers_internal_error(emu: Emulator, speech: bytes) -> None:
    r = post(emu, body(speech, model="stepaudio-2-asr-pro"))
    assert r.status_code == 200
    evs = events(r)
    assert [e["type"] for e in evs] == ["error"] and evs[0]["message"] == "internal error"


def test_records_never_hold_the_key(emu: Emulator, speech: bytes) -> None:
    post(emu, body(speech))
    post(emu, body(speech), key=emu.plan_key)
    emu.inject("echo_key")
    post(emu, body(speech))
    emu.wait_for_requests(3)
    dump = repr(emu.requests) + HTTP.get(emu.root_url + "/_emulator/requests").text
    assert emu.demo_key not in dump and emu.plan_key not in dump


# ------------------------------------------------------------------------------ large bodies


@pytest.mark.slow
def test_sixty_megabyte_body(emu: Emulator) -> None:
    audio = wav_bytes(b"\0" * 45_000_000)  # ~23 minutes of silence, 60 MB as base64
    payload = json.dumps(body(audio), separators=(",", ":")).encode()
    assert len(payload) > 60_000_000
    r = HTTP.post(
        emu.base_url + SSE,
        content=payload,
        headers={**auth(emu.demo_key), "Content-Type": "application/json"},
        timeout=120,
    )
    assert r.status_code == 200
    done = split(events(r))[1]
    assert done is not None and done["text"] == ""
    rec = emu.wait_for_requests(1)[0]
    assert rec.body_bytes == len(payload) and rec.audio_bytes == len(audio)
    assert rec.content_length_sent and not rec.chunked


def test_chunked_request_body_is_accepted_and_recorded(emu: Emulator, speech: bytes) -> None:
    payload = json.dumps(body(speech)).encode()

    def gen() -> Iterator[bytes]:
        for i in range(0, len(payload), 7000):
            yield payload[i : i + 7000]

    headers = {**auth(emu.demo_key), "Content-Type": "application/json"}
    r = HTTP.post(emu.base_url + SSE, content=gen(), headers=headers)
    assert r.status_code == 200 and split(events(r))[1] is not None
    rec = emu.wait_for_requests(1)[0]
    assert rec.chunked and not rec.content_length_sent and rec.body_bytes == len(payload)


# ---------------------------------------------------------------------------------- faults


def test_error_event_fault(emu: Emulator, speech: bytes) -> None:
    emu.inject("error_event", after=2)
    r, evs = stream(emu, body(speech))
    assert r.status_code == 200
    assert [e["type"] for e in evs] == ["transcript.text.delta"] * 2 + ["error"]
    assert evs[-1]["message"].startswith("content blocked") and "meta" in evs[-1]
    emu.inject("internal_error", after=0)
    _, evs = stream(emu, body(speech))
    assert evs == [
        {
            "type": "error",
            "meta": evs[0]["meta"],
            "message": "internal error",
            "_emulator": "invented by the emulator: no published example of this body",
        }
    ]
    assert [r.fault for r in emu.wait_for_requests(2)] == ["error_event", "internal_error"]


def test_truncate_fault_clean_and_abrupt(emu: Emulator, speech: bytes) -> None:
    emu.inject("truncate", after=3)
    r, evs = stream(emu, body(speech))  # the body ends cleanly, just without `done`
    assert r.status_code == 200 and [e["type"] for e in evs] == ["transcript.text.delta"] * 3
    emu.inject("truncate", after=1, abrupt=True)
    with pytest.raises(httpx.RemoteProtocolError):
        stream(emu, body(speech))


@pytest.mark.parametrize("code", [400, 401, 402, 404, 408, 429, 451, 500, 502, 503, 504])
def test_status_fault(emu: Emulator, speech: bytes, code: int) -> None:
    emu.inject("status", code=code, retry_after=7)
    r = post(emu, body(speech))
    assert r.status_code == code and r.headers["retry-after"] == "7"
    if code == 404:
        assert r.text == "404 page not found\n"
    elif code in (502, 504):
        assert r.headers["content-type"].startswith("text/html") and str(code) in r.text
    else:
        err = r.json()["error"]
        assert err["message"] and err["type"]
        words = {402: "balance", 429: "rate limit", 451: "moderation", 503: "overloaded"}
        assert words.get(code, "") in err["message"]
    assert post(emu, body(speech)).status_code == 200  # count=1: the next one is normal


def test_html200_fault(emu: Emulator, speech: bytes) -> None:
    emu.inject("html200")
    r = post(emu, body(speech))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<html" in r.text


def test_echo_key_fault_puts_the_header_in_the_message(emu: Emulator, speech: bytes) -> None:
    emu.inject("echo_key")
    r = post(emu, body(speech))
    assert r.status_code == 401 and f"Bearer {emu.demo_key}" in r.json()["error"]["message"]
    emu.inject("echo_key", code=400)
    r = post(emu, body(speech))
    assert r.status_code == 400 and emu.demo_key in r.text


def test_stall_fault_ends_when_the_client_gives_up(emu: Emulator, speech: bytes) -> None:
    emu.inject("stall", after=1, seconds=120)
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.Client(timeout=httpx.Timeout(5, read=0.5)) as c,
        c.stream("POST", emu.base_url + SSE, json=body(speech), headers=auth(emu.demo_key)) as r,
    ):
        assert r.status_code == 200
        for _ in r.iter_raw():
            pass
    recs = emu.wait_for_requests(1, timeout=15)  # far less than the 120 s stall
    assert recs and recs[0].client_disconnected and recs[0].deltas_sent == 1
    assert not recs[0].done_sent


def test_short_stall_then_close_without_done(emu: Emulator, speech: bytes) -> None:
    emu.inject("stall", seconds=0.2)
    with pytest.raises(httpx.RemoteProtocolError):
        post(emu, body(speech))


def test_hold_open_fault_keeps_the_connection_after_done(emu: Emulator, speech: bytes) -> None:
    emu.inject("hold_open", seconds=120)
    with HTTP.stream(
        "POST", emu.base_url + SSE, json=body(speech), headers=auth(emu.demo_key)
    ) as r:
        assert r.headers["connection"] == "keep-alive"
        it = httpx_sse.EventSource(r).iter_sse()  # held, so the connection stays open
        types: list[str] = []
        while not types or types[-1] != "transcript.text.done":
            types.append(json.loads(next(it).data)["type"])
        for _ in range(100):  # the server is holding the stream open after `done`
            rec = emu.requests[0]
            assert not rec.finished and not rec.client_disconnected
            if rec.done_sent:
                break
            threading.Event().wait(0.02)
        assert emu.requests[0].done_sent
        r.close()  # a good client stops here instead of waiting for the hang-up
    recs = emu.wait_for_requests(1, timeout=15)  # far less than the 120 s hold
    assert recs and recs[0].done_sent and recs[0].client_disconnected


def test_repeat_fault_multiplies_the_text(emu: Emulator, speech: bytes) -> None:
    _, normal = split(stream(emu, body(speech))[1])
    emu.inject("repeat", factor=3)
    deltas, rep = split(stream(emu, body(speech, enable_timestamp=True))[1])
    assert normal is not None and rep is not None
    assert rep["text"] == " ".join([normal["text"]] * 3)
    assert deltas[-1]["end_time"] <= 4000  # squeezed into the same audio


@pytest.mark.parametrize(
    "variant",
    [
        "crlf",
        "noise",
        "done_sentinel",
        "latin1_charset",
        "multiline_data",
        "crlf+noise+multiline_data",
    ],
)
def test_wire_variants_still_parse(emu: Emulator, speech: bytes, variant: str) -> None:
    emu.inject(variant)
    r, evs = stream(emu, body(speech))
    raw = r.content
    deltas, done = split([e for e in evs if e["type"] != "[DONE]"])
    assert done is not None and "".join(d["delta"] for d in deltas) == done["text"]
    if "crlf" in variant:
        assert b"\r\n\r\n" in raw and b"\n\n" not in raw.replace(b"\r\n", b"")
    if "noise" in variant:
        assert b"\n: keep-alive" in raw.replace(b"\r", b"") and b"event: " in raw
        assert b"id: " in raw
    if variant == "done_sentinel":
        assert evs[-1] == {"type": "[DONE]"} and raw.endswith(b"data: [DONE]\n\n")
    if variant == "latin1_charset":
        assert "charset=iso-8859-1" in r.headers["content-type"]
    if "multiline_data" in variant:
        assert raw.replace(b"\r", b"").count(b"\ndata: ") >= 2 * len(evs) - 1


def test_latin1_header_but_utf8_bytes(emu: Emulator, tmp_path: Path) -> None:
    audio = write_directive_wav(tmp_path / "u.wav", 3.0, text="你好，世界。").read_bytes()
    emu.inject("latin1_charset")
    r = post(emu, body(audio))
    assert "iso-8859-1" in r.headers["content-type"]
    assert "你好，世界。" in r.content.decode("utf-8")


def test_split_utf8_fault_writes_tiny_pieces(emu: Emulator, speech: bytes) -> None:
    emu.inject("split_utf8")
    pieces: list[bytes] = []
    with HTTP.stream(
        "POST", emu.base_url + SSE, json=body(speech), headers=auth(emu.demo_key)
    ) as r:
        pieces = list(r.iter_raw())
    assert max(len(p) for p in pieces) <= 7

    def cuts_a_char(p: bytes) -> bool:
        try:
            p.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False

    assert any(cuts_a_char(p) for p in pieces)
    text = b"".join(pieces).decode("utf-8")
    evs = [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: ")]
    deltas, done = split(evs)
    assert done is not None and "。" in done["text"]  # zh text, for the multibyte cuts
    assert "".join(d["delta"] for d in deltas) == done["text"]


def test_no_trailing_blank_drops_done_for_a_spec_parser(emu: Emulator, speech: bytes) -> None:
    emu.inject("no_trailing_blank")
    r, evs = stream(emu, body(speech))
    assert b"transcript.text.done" in r.content and not r.content.endswith(b"\n\n")
    deltas, done = split(evs)
    assert deltas and done is None  # so the client must call it truncated


def test_fault_queue_counts_order_and_clear(emu: Emulator, speech: bytes) -> None:
    emu.inject("status", count=2, code=503)
    emu.inject("status", code=429)
    assert emu.pending_faults() == [("status", 2), ("status", 1)]
    assert [post(emu, body(speech)).status_code for _ in range(4)] == [503, 503, 429, 200]
    emu.inject("truncate", count=5)
    emu.clear_faults()
    assert emu.pending_faults() == [] and post(emu, body(speech)).status_code == 200
    # Invalid requests do not use up a fault.
    emu.inject("status", code=500)
    assert post(emu, body(speech), key="test-" + secrets.token_hex(4)).status_code == 401
    assert post(emu, body(speech)).status_code == 500


def test_inject_rejects_unknown_faults(emu: Emulator) -> None:
    for name, params in (
        ("explode", {}),
        ("status", {"code": 418}),
        ("truncate+stall", {}),
        ("repeat", {"factor": 0.5}),
    ):
        with pytest.raises(ValueError):
            emu.inject(name, **params)
    assert "truncate" in FAULTS and "no_trailing_blank" in FAULTS


# ---------------------------------------------------------------------------- directives


def test_directive_text_is_emitted_exactly(emu: Emulator, tmp_path: Path) -> None:
    text = "Alpha beta gamma. Delta epsilon?"
    path = write_directive_wav(tmp_path / "d.wav", 5.0, text=text, silence_gaps=[(2, 3)])
    assert read_directive(path.read_bytes()) == {"text": text}
    deltas, done = split(stream(emu, body(path.read_bytes(), enable_timestamp=True))[1])
    assert done is not None and done["text"] == text
    assert [d["delta"] for d in deltas] == ["Alpha", " beta", " gamma.", " Delta", " epsilon?"]
    assert all(d["end_time"] <= 2050 or d["start_time"] >= 2950 for d in deltas)
    assert emu.wait_for_requests(1)[0].directive


def test_directive_fault_with_times(emu: Emulator, tmp_path: Path) -> None:
    audio = write_directive_wav(
        tmp_path / "f.wav", 3.0, fault="status", code=503, times=1
    ).read_bytes()
    assert [post(emu, body(audio)).status_code for _ in range(2)] == [503, 200]
    cut = write_directive_wav(tmp_path / "c.wav", 3.0, fault="truncate", after=1).read_bytes()
    for _ in range(2):  # no `times`: every request with this audio
        _, evs = stream(emu, body(cut))
        assert [e["type"] for e in evs] == ["transcript.text.delta"]


# -------------------------------------------------------------------------------- legacy


def legacy(
    emu: Emulator,
    audio: bytes,
    model: str = "step-asr-1.1",
    *,
    key: str | None = None,
    base: str | None = None,
    **fields: str,
) -> httpx.Response:
    return HTTP.post(
        (base or emu.base_url) + LEGACY,
        headers=auth(key or emu.demo_key),
        timeout=20,
        data={"model": model, **fields},
        files={"file": ("a.wav", audio)},
    )


def test_legacy_endpoint(emu: Emulator, tmp_path: Path, speech: bytes) -> None:
    r = legacy(emu, speech)
    assert r.status_code == 200 and r.json()["text"]
    r2 = legacy(
        emu, speech, model="step-asr", response_format="text", hotwords=json.dumps(["Zorblax"])
    )
    assert r2.status_code == 200 and r2.headers["content-type"].startswith("text/plain")
    assert "Zorblax" in r2.text
    r = legacy(emu, speech, hotwords="Zorblax")  # not JSON-encoded
    assert r.status_code == 400 and "hotwords" in r.json()["error"]["message"]
    silent = write_directive_wav(tmp_path / "s.wav", 2.0, amplitude=0).read_bytes()
    r = legacy(emu, silent)
    assert r.status_code == 400 and r.json()["error"]["message"] == "no speech found"


def test_legacy_endpoint_models_as_the_service_answers_them(emu: Emulator, speech: bytes) -> None:
    # stepaudio-2.5-asr: seen accepted on /audio/transcriptions since July 2026.
    r = legacy(emu, speech, model=MODEL)
    assert r.status_code == 200 and r.json()["text"]
    # Other SSE models: the published wrong-endpoint body, byte for byte, not labelled.
    r = legacy(emu, speech, model="stepaudio-3-asr-max")
    assert r.status_code == 400 and "x-emulator-invented" not in r.headers
    assert r.content == (
        b'{"error":{"message":"model stepaudio-3-asr-max not supported",'
        b'"type":"request_params_invalid"}}'
    )
    # An unknown model: 404 model_invalid (July 2026); its message is invented.
    r = legacy(emu, speech, model="whisper-1")
    assert r.status_code == 404 and r.json()["error"]["type"] == "model_invalid"
    assert r.headers["x-emulator-invented"] == "1"
    # Step Plan has no legacy endpoint at all.
    r = legacy(emu, speech, key=emu.plan_key, base=emu.plan_base_url)
    assert (r.status_code, r.text) == (404, "404 page not found\n")


def test_sse_requires_the_documented_headers(emu: Emulator, speech: bytes) -> None:
    payload = json.dumps(body(speech)).encode()
    key = {"Authorization": f"Bearer {emu.demo_key}"}
    for headers, missing in (
        ({**key, "Content-Type": "application/json"}, "Accept"),
        ({**key, "Accept": "text/event-stream", "Content-Type": "text/plain"}, "Content-Type"),
    ):
        r = HTTP.post(emu.base_url + SSE, content=payload, headers=headers)
        assert r.status_code == 400 and missing in r.json()["error"]["message"]
        assert r.headers["x-emulator-invented"] == "1"
    ok = {**key, "Accept": "text/event-stream", "Content-Type": "application/json"}
    r = HTTP.post(emu.base_url + SSE, content=payload, headers=ok)
    assert r.status_code == 200 and split(events(r))[1] is not None


def test_unknown_and_off_plan_models_on_the_sse_endpoint(emu: Emulator, speech: bytes) -> None:
    r = post(emu, body(speech, model="whisper-1"))
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "model whisper-1 does not exist or no permission"
    r = post(emu, body(speech, model="step-asr"))
    assert r.status_code == 400 and r.json()["error"]["message"] == "model step-asr not supported"
    # Step Plan offers stepaudio-2.5-asr only.
    r = post(
        emu, body(speech, model="stepaudio-3-asr-max"), key=emu.plan_key, base=emu.plan_base_url
    )
    assert r.status_code == 400 and "does not exist or no permission" in r.text


def test_drift_fault_sends_deltas_that_differ_from_the_final_text(
    emu: Emulator, speech: bytes
) -> None:
    emu.inject("drift")
    _, evs = stream(emu, body(speech, enable_timestamp=True))
    deltas, done = split(evs)
    assert done is not None and deltas
    joined = "".join(d["delta"] for d in deltas)
    assert joined != done["text"] and emu.wait_for_requests(1)[0].drifted
    # Without the fault the same audio gives the same final text, and deltas that match it.
    _, evs = stream(emu, body(speech, enable_timestamp=True))
    plain, again = split(evs)
    assert again is not None and again["text"] == done["text"]
    assert "".join(d["delta"] for d in plain) == again["text"]


@pytest.mark.parametrize("action", ["413", "reset"])
def test_body_size_limit(tmp_path: Path, action: str) -> None:
    big = write_directive_wav(tmp_path / "big.wav", 30.0).read_bytes()  # ~1 MB
    small = write_directive_wav(tmp_path / "small.wav", 2.0).read_bytes()
    with Emulator(max_body_bytes=200_000, body_limit=action) as e:
        if action == "413":
            r = post(e, body(big))
            assert r.status_code == 413 and r.headers["x-emulator-invented"] == "1"
        else:
            with pytest.raises(httpx.TransportError):
                post(e, body(big))
            assert e.wait_for_requests(1)[0].reset
        assert post(e, body(small)).status_code == 200


def test_legacy_gets_repetitive_audio_right(emu: Emulator, tmp_path: Path) -> None:
    text = "the same phrase again."
    audio = write_directive_wav(
        tmp_path / "r.wav", 6.0, text=text, fault="repeat", factor=4
    ).read_bytes()
    _, done = split(stream(emu, body(audio))[1])
    assert done is not None and done["text"].count("same phrase") == 4
    assert legacy(emu, audio).json()["text"] == text


# ------------------------------------------------------------------------ pacing, control


def test_rtf_paces_deltas_in_order(tmp_path: Path) -> None:
    audio = write_directive_wav(tmp_path / "p.wav", 6.0).read_bytes()
    with Emulator(rtf=0.01) as e:
        _, evs = stream(e, body(audio, enable_timestamp=True))
    deltas, done = split(evs)
    assert done is not None and evs[-1] is done and len(deltas) >= 10
    ends = [d["end_time"] for d in deltas]
    assert ends == sorted(ends)


def test_rtf_streams_incrementally(tmp_path: Path) -> None:
    audio = write_directive_wav(tmp_path / "p.wav", 10.0).read_bytes()
    # Real time: the last words are ~8 s away when the first two arrive.
    with (
        Emulator(rtf=1.0) as e,
        httpx.Client(timeout=20) as c,
        c.stream(
            "POST",
            e.base_url + SSE,
            json=body(audio, enable_timestamp=True),
            headers=auth(e.demo_key),
        ) as r,
    ):
        it = httpx_sse.EventSource(r).iter_sse()
        first, second = json.loads(next(it).data), json.loads(next(it).data)
        assert first["type"] == second["type"] == "transcript.text.delta"
        assert first["end_time"] <= second["start_time"]
        rec = e.requests[0]
        assert 2 <= rec.deltas_sent < 10 and not rec.done_sent
        r.close()


def test_control_endpoints(emu: Emulator, speech: bytes) -> None:
    r = HTTP.post(
        emu.root_url + "/_emulator/faults", json={"fault": "status", "code": 429, "count": 2}
    )
    assert r.status_code == 200 and r.json()["pending"] == [["status", 2]]
    assert HTTP.post(emu.root_url + "/_emulator/faults", json={"fault": "nope"}).status_code == 400
    assert [post(emu, body(speech)).status_code for _ in range(3)] == [429, 429, 200]
    recs = HTTP.get(emu.root_url + "/_emulator/requests").json()
    assert [(x["status"], x["fault"]) for x in recs] == [(429, "status")] * 2 + [(200, None)]
    HTTP.post(emu.root_url + "/_emulator/faults", json={"fault": "truncate"})
    assert HTTP.delete(emu.root_url + "/_emulator/faults").json()["pending"] == []
    assert HTTP.delete(emu.root_url + "/_emulator/requests").status_code == 200
    assert emu.requests == []


def test_stop_does_not_hang_on_a_stalled_stream(tmp_path: Path) -> None:
    audio = write_directive_wav(tmp_path / "s.wav", 2.0).read_bytes()
    e = Emulator().start()
    e.inject("stall", seconds=600)
    outcome: list[object] = []

    def client() -> None:
        try:
            post(e, body(audio), timeout=httpx.Timeout(5, read=60))
            outcome.append("returned")
        except httpx.HTTPError as exc:
            outcome.append(exc)

    t = threading.Thread(target=client, daemon=True)
    t.start()
    opened = False
    for _ in range(400):  # until the stream is open (bounded)
        if e.requests and e.requests[0].status == 200:
            opened = True
            break
        threading.Event().wait(0.05)
    assert opened
    e.stop()
    t.join(timeout=15)
    assert not t.is_alive() and outcome and isinstance(outcome[0], httpx.HTTPError)


def test_emulator_command_serves_until_signalled(tmp_path: Path) -> None:
    key = "test-" + secrets.token_hex(8)
    code = (
        "import argparse, sys; from tui.commands import emulator_cmd; "
        "p = argparse.ArgumentParser(); s = p.add_subparsers(); emulator_cmd.register(s); "
        "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "emulator", "--port", "0", "--key", key],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        base = first.strip().rsplit(" ", 1)[-1]
        assert base.startswith("http://127.0.0.1:") and base.endswith("/v1")
        audio = write_directive_wav(tmp_path / "c.wav", 2.0).read_bytes()
        r = HTTP.post(base + SSE, json=body(audio), headers=auth(key), timeout=20)
        assert r.status_code == 200 and split(events(r))[1] is not None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert f"STEPFUN_API_KEY={key}" in first + proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_wav_bytes_helper_is_a_valid_wav() -> None:
    data = wav_bytes(struct.pack("<4h", 0, 1, 2, 3))
    assert data[:4] == b"RIFF" and struct.unpack("<I", data[40:44])[0] == 8
