"""The SSE client against the loopback emu: success, every failure, retries, redaction."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.conftest import write_tone_wav
from tui.audio.encoding import AudioFormat
from tui.errors import AsrError, ErrorKind
from tui.stepfun.client import AsrClient
from tui.stepfun.events import AttemptRestarted, DeltaReceived, UploadProgressed
from tui.stepfun.options import AudioInput, TranscriptionOptions

OPTS = TranscriptionOptions()


class Sleeps:
    """Records backoff delays instead of sleeping: retries are checked, not waited for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def wav(tmp_path: Path) -> AudioInput:
    path = write_tone_wav(tmp_path / "speech.wav", 4.0, gaps=((1.5, 2.0),))
    return AudioInput(str(path), AudioFormat("wav"), duration_s=4.0)


def client_for(emu, *, key: str | None = None, base: str | None = None, **kw) -> AsrClient:
    kw.setdefault("sleep", Sleeps())
    return AsrClient(key or emu.demo_key, base or emu.base_url, **kw)


async def test_success_returns_done_text_segments_and_usage(emu, wav):
    events: list[object] = []
    async with client_for(emu) as client:
        text, segments, usage, attempts = await client.transcribe(wav, OPTS, on_event=events.append)
    assert text and attempts == 1 and usage
    deltas = [e for e in events if isinstance(e, DeltaReceived)]
    assert "".join(d.text for d in deltas).strip() == text.strip()
    assert len(segments) == len(deltas)
    assert all(s.end_ms >= s.start_ms for s in segments) and segments[-1].end_ms <= 4000
    uploads = [e for e in events if isinstance(e, UploadProgressed)]
    assert uploads[-1].sent == uploads[-1].total
    record = emu.requests[-1]
    # The body went with an exact Content-Length, never chunked.
    assert record.content_length_sent and not record.chunked
    assert record.body_bytes == uploads[-1].total


async def test_request_carries_options(emu, wav):
    opts = TranscriptionOptions(
        language="en", hotwords=("StepFun", "Textual"), enable_itn=False, enable_timestamp=False
    )
    async with client_for(emu) as client:
        _text, segments, _usage, _ = await client.transcribe(wav, opts)
    record = emu.requests[-1]
    assert (record.model, record.language, record.hotwords, record.enable_timestamp) == (
        "stepaudio-2.5-asr",
        "en",
        ["StepFun", "Textual"],
        False,
    )
    assert all(s.start_ms == 0 and s.end_ms == 0 for s in segments)


@pytest.mark.parametrize(
    ("code", "kind", "phrase"),
    [
        (401, ErrorKind.INVALID_KEY, "config set-key"),
        (402, ErrorKind.NO_BALANCE, "no balance"),
        (451, ErrorKind.MODERATED, "moderation"),
        (400, ErrorKind.BAD_REQUEST, "400"),
    ],
)
async def test_non_retryable_statuses_fail_once_with_a_sentence(emu, wav, code, kind, phrase):
    emu.inject("status", code=code)
    sleeps = Sleeps()
    async with client_for(emu, sleep=sleeps) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS)
    assert info.value.kind is kind and info.value.status == code
    assert phrase in str(info.value)
    assert len(emu.requests) == 1 and sleeps.delays == []


async def test_wrong_key_is_401(emu, wav):
    async with client_for(emu, key="test-not-a-known-key") as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS)
    assert info.value.kind is ErrorKind.INVALID_KEY


async def test_plan_key_on_normal_base_explains_the_mismatch(emu, wav):
    async with client_for(emu, key=emu.plan_key) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS)
    assert info.value.kind is ErrorKind.KEY_BASE_MISMATCH
    assert "cn-plan" in str(info.value) and "404" in str(info.value)
    async with client_for(emu, key=emu.plan_key, base=emu.plan_base_url) as client:
        text, *_ = await client.transcribe(wav, OPTS)
    assert text


async def test_unknown_model_shows_server_message(emu, wav):
    async with client_for(emu) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, TranscriptionOptions(model="no-such-model"))
    assert info.value.kind is ErrorKind.MODEL_UNAVAILABLE
    assert "no-such-model" in str(info.value) and "does not exist" in str(info.value)
    assert "stepaudio-2.5-asr" in str(info.value)  # what this region offers instead


async def test_legacy_endpoint_model_not_supported_means_wrong_endpoint(emu, wav):
    async with client_for(emu) as client:
        with pytest.raises(AsrError) as info:
            await client.legacy_transcribe(Path(wav.path), model="stepaudio-3-asr-max")
        assert info.value.kind is ErrorKind.WRONG_ENDPOINT
        assert "wrong endpoint" in str(info.value) and "stepaudio-3-asr-max" in str(info.value)
        # Accepted there since July 2026.
        assert await client.legacy_transcribe(Path(wav.path), model="stepaudio-2.5-asr")
        assert await client.legacy_transcribe(
            Path(wav.path), model="step-asr-1.1", hotwords=("StepFun",)
        )


async def test_429_honours_retry_after_then_succeeds(emu, wav):
    emu.inject("status", count=2, code=429, retry_after=7)
    sleeps = Sleeps()
    events: list[object] = []
    async with client_for(emu, sleep=sleeps) as client:
        text, _s, _u, attempts = await client.transcribe(wav, OPTS, on_event=events.append)
    assert text and attempts == 3 and sleeps.delays == [7.0, 7.0]
    assert [e.attempt for e in events if isinstance(e, AttemptRestarted)] == [2, 3]


async def test_503_gives_up_after_three_retries_with_backoff(emu, wav):
    emu.inject("status", count=10, code=503)
    sleeps = Sleeps()
    async with client_for(emu, sleep=sleeps) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS)
    assert info.value.kind is ErrorKind.SERVER_ERROR
    assert "after 4 attempts" in str(info.value)
    assert len(sleeps.delays) == 3
    assert sleeps.delays[0] < sleeps.delays[1] < sleeps.delays[2]  # exponential backoff
    assert len(emu.requests) == 4


async def test_truncated_stream_is_retried_and_never_delivered(emu, wav):
    emu.inject("truncate", count=1, after=2)
    events: list[object] = []
    async with client_for(emu) as client:
        text, segments, _u, attempts = await client.transcribe(wav, OPTS, on_event=events.append)
    assert attempts == 2
    restart = next(i for i, e in enumerate(events) if isinstance(e, AttemptRestarted))
    assert sum(isinstance(e, DeltaReceived) for e in events[:restart]) == 2
    # Segments come only from the successful attempt.
    assert "".join(s.text for s in segments).strip() == text.strip()

    emu.inject("truncate", count=10, after=1)
    async with client_for(emu) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS)
    assert info.value.kind is ErrorKind.TRUNCATED


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("error_event", ErrorKind.MODERATED), ("internal_error", ErrorKind.STREAM_ERROR)],
)
async def test_mid_stream_error_event_fails_without_retry(emu, wav, fault, kind):
    emu.inject(fault, after=2)
    async with client_for(emu) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS)
    assert info.value.kind is kind and "discarded" in str(info.value)
    assert len(emu.requests) == 1


async def test_html_200_is_not_an_event_stream(emu, wav):
    emu.inject("html200")
    async with client_for(emu) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS)
    assert info.value.kind is ErrorKind.NOT_SSE and "text/html" in str(info.value)


async def test_html_200_on_the_legacy_endpoint_is_not_a_cross_check_text(emu, wav):
    """A proxy page answering the cross-check engine must fail the check, not become the
    second opinion's "text" (which would then "disagree" with the real transcript)."""
    emu.inject("html200")
    async with client_for(emu) as client:
        with pytest.raises(AsrError) as info:
            await client.legacy_transcribe(Path(wav.path))
    assert info.value.kind is ErrorKind.NOT_SSE and "text/html" in str(info.value)
    assert "<" not in str(info.value)


async def test_stall_times_out_and_deadline_bounds_all_attempts(emu, wav):
    emu.inject("stall", count=10, after=1, seconds=20)
    timeout = httpx.Timeout(5.0, read=0.5)
    async with client_for(emu, timeout=timeout, max_retries=0) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS)
    assert info.value.kind is ErrorKind.TIMEOUT and "next piece" in str(info.value)

    async with client_for(emu, sleep=asyncio.sleep, backoff_s=0.01) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS, deadline_s=1.0)
    assert info.value.kind is ErrorKind.TIMEOUT and "deadline" in str(info.value)


async def test_returns_at_done_even_if_server_holds_connection(emu, wav):
    emu.inject("hold_open", seconds=30)
    async with client_for(emu) as client:
        # If the client waited for the server to hang up this would take 30 s.
        async with asyncio.timeout(15):
            text, *_ = await client.transcribe(wav, OPTS)
    assert text


async def test_wire_variants_all_parse_to_the_same_text(emu, wav):
    opts = TranscriptionOptions(language="zh")
    async with client_for(emu) as client:
        reference, *_ = await client.transcribe(wav, opts)
        for fault in (
            "crlf",
            "noise",
            "done_sentinel",
            "split_utf8",
            "latin1_charset",
            "multiline_data",
            "no_trailing_blank",
        ):
            emu.inject(fault)
            text, _s, _u, attempts = await client.transcribe(wav, opts)
            assert (fault, text, attempts) == (fault, reference, 1)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in reference)


async def test_key_echoed_by_server_is_redacted(emu, wav):
    emu.inject("echo_key")
    async with client_for(emu) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS)
    assert emu.demo_key not in str(info.value)
    assert emu.demo_key not in repr(info.value)


async def test_connection_refused_is_a_connection_error(wav):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with AsrClient(
        "test-key", f"http://127.0.0.1:{port}/v1", max_retries=1, sleep=Sleeps()
    ) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, OPTS)
    assert info.value.kind is ErrorKind.CONNECTION and "127.0.0.1" in str(info.value)


async def test_bad_inputs_fail_before_sending(emu, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    raw = tmp_path / "raw.pcm"
    raw.write_bytes(b"\0\0" * 16000)
    async with client_for(emu) as client:
        with pytest.raises(AsrError, match="empty"):
            await client.transcribe(AudioInput(str(empty), AudioFormat("wav")), OPTS)
        with pytest.raises(AsrError, match="--rate"):
            await client.transcribe(AudioInput(str(raw), AudioFormat("pcm")), OPTS)
        with pytest.raises(AsrError, match="Cannot read"):
            await client.transcribe(
                AudioInput(str(tmp_path / "nope.wav"), AudioFormat("wav")), OPTS
            )
    assert emu.requests == []


async def test_pcm_with_parameters_is_accepted(emu, tmp_path):
    raw = tmp_path / "raw.pcm"
    wav = write_tone_wav(tmp_path / "t.wav", 3.0)
    raw.write_bytes(wav.read_bytes()[44:])
    fmt = AudioFormat("pcm", "pcm_s16le", 16000, 16, 1)
    async with client_for(emu) as client:
        text, *_ = await client.transcribe(AudioInput(str(raw), fmt), OPTS)
    assert text and emu.requests[-1].format_type == "pcm"
