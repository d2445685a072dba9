"""Errors read from what the server says, through the real client over loopback.

The bodies here are the emulator's (labelled invented where no example was published) or
replayed bytes; what each answer means comes from docs/stepfun-api.md §4 and §8.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from tests.conftest import write_tone_wav
from tui.audio.encoding import AudioFormat
from tui.errors import AsrError, ErrorKind
from tui.stepfun.client import AsrClient
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.stepfun.options import AudioInput, TranscriptionOptions

OPTS = TranscriptionOptions()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def wav(tmp_path: Path) -> AudioInput:
    path = write_tone_wav(tmp_path / "speech.wav", 3.0)
    return AudioInput(str(path), AudioFormat("wav"), duration_s=3.0)


def client_for(emu: Emulator, *, key: str | None = None, base: str | None = None, **kw):
    kw.setdefault("sleep", Sleeps())
    return AsrClient(key or emu.demo_key, base or emu.base_url, **kw)


async def fails(client: AsrClient, wav: AudioInput, opts=OPTS) -> AsrError:
    with pytest.raises(AsrError) as info:
        await client.transcribe(wav, opts)
    return info.value


# ------------------------------------------------------------------------------ statuses


async def test_404_naming_a_model_is_about_the_model_not_the_key(emu, wav):
    async with client_for(emu) as client:
        with pytest.raises(AsrError) as info:
            await client.legacy_transcribe(Path(wav.path), model="whisper-1")
    err = info.value
    assert err.kind is ErrorKind.MODEL_UNAVAILABLE and err.status == 404
    assert "whisper-1" in str(err) and "step-asr" in str(err)
    assert "base URL" not in str(err)
    # Only a bare 404 keeps the key/base-URL advice.
    emu.inject("status", code=404)
    async with client_for(emu) as client:
        err = await fails(client, wav)
    assert err.kind is ErrorKind.KEY_BASE_MISMATCH and "base URL" in str(err)


@pytest.mark.parametrize("code", [401, 403])
async def test_401_and_403_say_every_likely_cause(emu, wav, code):
    emu.inject("status", code=code)
    async with client_for(emu) as client:
        err = await fails(client, wav)
    text = str(err)
    assert err.kind is ErrorKind.INVALID_KEY and err.status == code
    for phrase in ("mistyped or revoked", "platform.stepfun.ai", "region intl", "cn-plan"):
        assert phrase in text


def test_401_advice_follows_the_console_of_the_base_url():
    from tui.stepfun.failures import from_status

    body = b'{"error":{"message":"Incorrect API key provided","type":"invalid_api_key"}}'
    cn = from_status(401, body, url="u", base_url="https://api.stepfun.com/v1")
    assert "international console (platform.stepfun.ai) needs region intl" in str(cn)
    intl = from_status(401, body, url="u", base_url="https://api.stepfun.ai/v1")
    assert "China console (platform.stepfun.com) needs region cn" in str(intl)
    plan = from_status(401, body, url="u", base_url="https://api.stepfun.ai/step_plan/v1")
    assert "takes only a Step Plan key" in str(plan)


async def test_censorship_block_400_is_moderation(emu, wav):
    body = b'{"error":{"message":"audio rejected","type":"censorship_block"}}'
    emu.replay(body, status=400, content_type="application/json")
    async with client_for(emu) as client:
        err = await fails(client, wav)
    assert err.kind is ErrorKind.MODERATED and "audio rejected" in str(err)


async def test_402_keeps_the_servers_text(emu, wav):
    emu.inject("status", code=402, message="账户余额不足 (account 42)")
    async with client_for(emu) as client:
        err = await fails(client, wav)
    assert err.kind is ErrorKind.NO_BALANCE and "账户余额不足 (account 42)" in str(err)
    assert len(emu.requests) == 1


async def test_429_advice_differs_for_step_plan_and_pay_as_you_go(emu, wav):
    emu.inject("status", count=4, code=429)
    async with client_for(emu, max_retries=0) as client:
        payg = await fails(client, wav)
    emu.clear_faults()
    emu.inject("status", count=4, code=429)
    async with client_for(emu, key=emu.plan_key, base=emu.plan_base_url, max_retries=0) as c:
        plan = await fails(c, wav)
    assert payg.kind is plan.kind is ErrorKind.RATE_LIMITED
    assert "5 concurrent" in str(payg) and "credit window" not in str(payg)
    assert "credit windows" in str(plan) and "5 concurrent" not in str(plan)


async def test_not_supported_names_the_model_sent_and_blames_the_endpoint_only_when_likely(
    emu, wav
):
    # A legacy model sent to the SSE endpoint: the endpoint is the likely cause.
    async with client_for(emu) as client:
        err = await fails(client, wav, TranscriptionOptions(model="step-asr"))
    assert err.kind is ErrorKind.WRONG_ENDPOINT and "step-asr" in str(err)
    assert "/audio/transcriptions" in str(err)
    # The same words for the SSE endpoint's own model: about the model, not the endpoint.
    body = b'{"error":{"message":"model stepaudio-2.5-asr not supported","type":"x"}}'
    emu.replay(body, status=400, content_type="application/json")
    async with client_for(emu) as client:
        err = await fails(client, wav)
    assert err.kind is ErrorKind.MODEL_UNAVAILABLE
    assert "stepaudio-2.5-asr" in str(err) and "wrong endpoint" not in str(err)


# --------------------------------------------------------------------- error-like records


@pytest.mark.parametrize(
    ("stream", "words"),
    [
        (b'data: {"type":"transcript.text.error","message":"decoder overflow"}\n\n', "decoder"),
        (b'data: {"error":{"message":"quota exhausted","type":"quota"}}\n\n', "quota exhausted"),
        (b'event: error\ndata: {"message":"upstream gone"}\n\n', "upstream gone"),
        (b"data: upstream request timeout\n\n", "upstream request timeout"),
        (b'data: ["not", "an", "event"]\n\n', "not"),
    ],
)
async def test_error_like_records_are_errors_with_the_servers_words(emu, wav, stream, words):
    delta = {"type": "transcript.text.delta", "delta": "hello", "start_time": 0, "end_time": 1}
    payload = f"data: {json.dumps(delta)}\n\n".encode() + stream
    emu.replay(payload, count=5)
    sleeps = Sleeps()
    async with client_for(emu, sleep=sleeps) as client:
        err = await fails(client, wav)
    assert err.kind is ErrorKind.STREAM_ERROR and words in str(err)
    assert "truncat" not in str(err).lower()
    # Not retried: each retry would be another paid upload.
    assert len(emu.requests) == 1 and sleeps.delays == []


# ---------------------------------------------------------------------------- too large


async def test_413_is_payload_too_large_and_not_retried(tmp_path):
    audio = write_directive_wav(tmp_path / "big.wav", 20.0)
    inp = AudioInput(str(audio), AudioFormat("wav"), duration_s=20.0)
    with Emulator(max_body_bytes=100_000) as emu:
        async with client_for(emu) as client:
            err = await fails(client, inp)
        assert err.kind is ErrorKind.PAYLOAD_TOO_LARGE and err.status == 413
        assert len(emu.requests) == 1


async def test_reset_while_a_large_body_uploads_is_payload_too_large(tmp_path):
    audio = write_directive_wav(tmp_path / "big.wav", 120.0)  # ~3.8 MB, ~5 MB as base64
    inp = AudioInput(str(audio), AudioFormat("wav"), duration_s=120.0)
    with Emulator(max_body_bytes=100_000, body_limit="reset") as emu:
        async with client_for(emu, large_body_bytes=1_000_000) as client:
            err = await fails(client, inp)
        assert err.kind is ErrorKind.PAYLOAD_TOO_LARGE and "too large" in str(err)
        assert len(emu.wait_for_requests(1)) == 1 and emu.requests[0].reset


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        # The whole body already in the socket when the reset came: still no answer.
        (httpx.ReadError("Connection reset by peer"), ErrorKind.PAYLOAD_TOO_LARGE),
        (httpx.RemoteProtocolError("Server disconnected"), ErrorKind.PAYLOAD_TOO_LARGE),
    ],
    ids=["reset-after-the-last-byte", "disconnected"],
)
async def test_a_large_body_without_an_answer_is_too_large_whenever_the_reset_lands(
    tmp_path, failure, kind
):
    """Narrow unit test (MockTransport takes the whole body in before answering): a reset
    that comes after our last byte reached the socket is the same refusal as one during the
    upload (which side of that race it lands on depends on socket buffers)."""
    audio = write_directive_wav(tmp_path / "big.wav", 40.0)  # ~1.3 MB
    inp = AudioInput(str(audio), AudioFormat("wav"), duration_s=40.0)
    read: list[int] = []

    async def hang_up(request: httpx.Request) -> httpx.Response:
        read.append(len(await request.aread()))
        raise failure

    transport = httpx.MockTransport(hang_up)
    async with AsrClient(
        "sk-test",
        "http://127.0.0.1:9",
        transport=transport,
        sleep=Sleeps(),
        large_body_bytes=1_000_000,
        max_retries=1,
    ) as client:
        err = await fails(client, inp)
    assert err.kind is kind, err
    assert read == [read[0]] and read[0] > 1_000_000  # not sent a second time as it is


async def test_a_large_body_to_a_closed_port_is_a_connection_failure_not_too_large(tmp_path):
    """Nothing listens there: the service is unreachable, which says nothing about size (a
    smaller re-send would only fail the same way)."""
    audio = write_directive_wav(tmp_path / "big.wav", 40.0)
    inp = AudioInput(str(audio), AudioFormat("wav"), duration_s=40.0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: connections are refused
    async with AsrClient(
        "sk-test",
        f"http://127.0.0.1:{port}",
        sleep=Sleeps(),
        large_body_bytes=1_000_000,
        max_retries=1,
    ) as client:
        err = await fails(client, inp)
    assert err.kind is ErrorKind.CONNECTION, err


async def test_a_json_error_with_200_is_the_servers_words_not_a_proxy(emu, wav):
    body = b'{"error":{"message":"audio decode failed","type":"request_params_invalid"}}'
    emu.replay(body, content_type="application/json")
    async with client_for(emu) as client:
        err = await fails(client, wav)
    assert err.kind is ErrorKind.STREAM_ERROR and "audio decode failed" in str(err)
    assert "proxy" not in str(err) and len(emu.requests) == 1
