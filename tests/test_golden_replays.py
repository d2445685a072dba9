"""Published StepFun answers, replayed byte for byte through the real client over loopback.

The data and where each piece comes from: tests/golden/README.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_tone_wav
from tui.audio.encoding import AudioFormat
from tui.errors import AsrError, ErrorKind
from tui.stepfun.client import AsrClient
from tui.stepfun.events import DeltaReceived, TranscriptDone
from tui.stepfun.options import AudioInput, TranscriptionOptions
from tui.transcript.formats import render
from tui.transcript.model import TranscriptionResult

GOLDEN = Path(__file__).parent / "golden"


class NoSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def wav(tmp_path: Path) -> AudioInput:
    path = write_tone_wav(tmp_path / "speech.wav", 2.0)
    return AudioInput(str(path), AudioFormat("wav"), duration_s=2.0)


def golden(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


async def test_seed_skill_live_capture(emu, wav):
    published = golden("seed_skill_live_capture.sse")
    assert published.count(b"{...}") == 3  # the publication elides `meta`
    emu.replay(published.replace(b"{...}", b"{}"))
    events: list[object] = []
    async with AsrClient(emu.demo_key, emu.base_url, sleep=NoSleep()) as client:
        text, segments, usage, attempts = await client.transcribe(
            wav, TranscriptionOptions(language="zh"), on_event=events.append
        )
    assert text == "你好，我是蕾格。" and attempts == 1
    assert [d.text for d in events if isinstance(d, DeltaReceived)] == ["你好，", "我是蕾格。"]
    assert usage == {
        "type": "tokens",
        "input_tokens": 69,
        "input_token_details": {"text_tokens": 69, "audio_tokens": 0},
        "output_tokens": 9,
        "total_tokens": 78,
    }
    assert [e for e in events if isinstance(e, TranscriptDone)] == [TranscriptDone(text, usage)]
    # No start_time/end_time in this capture: no word timing, one cue for the whole text.
    assert all(s.start_ms == s.end_ms == 0 for s in segments)
    result = TranscriptionResult(file="a.wav", text=text, segments=segments, duration_s=2.0)
    assert "你好，我是蕾格。" in render(result, "srt")
    assert len(emu.requests) == 1 and emu.requests[0].fault == "replay"


async def test_docs_example_final_text_wins_and_every_export_has_it(emu, wav):
    emu.replay(golden("docs_sse_example.sse"))
    async with AsrClient(emu.demo_key, emu.base_url, sleep=NoSleep()) as client:
        text, segments, usage, _ = await client.transcribe(wav, TranscriptionOptions())
    assert text == "识别的完整文字内容"  # not the deltas' "识别的"
    assert [(s.text, s.start_ms, s.end_ms) for s in segments] == [("识别的", 228, 1108)]
    assert usage == {"type": "realtime_asr"}
    result = TranscriptionResult(file="a.wav", text=text, segments=segments, duration_s=2.0)
    for fmt in ("txt", "srt", "vtt", "md", "json"):
        assert "识别的完整文字内容" in render(result, fmt), fmt
    srt = render(result, "srt")
    assert srt.startswith("1\n00:00:00,228 --> ")


async def test_seed_skill_wrong_endpoint_body(emu, wav):
    body = golden("seed_skill_wrong_endpoint.json")
    emu.replay(body, status=400, content_type="application/json")
    async with AsrClient(emu.demo_key, emu.base_url, sleep=NoSleep()) as client:
        with pytest.raises(AsrError) as info:
            await client.legacy_transcribe(Path(wav.path), model="stepaudio-2.5-asr")
    err = info.value
    assert err.kind is ErrorKind.WRONG_ENDPOINT and err.status == 400
    assert "model stepaudio-2.5-asr not supported" in str(err)
    assert "/audio/asr/sse" in str(err) and len(emu.requests) == 1


async def test_seed_skill_content_blocked_event(emu, wav):
    emu.replay(golden("seed_skill_content_blocked.sse"), count=4)
    sleeps = NoSleep()
    async with AsrClient(emu.demo_key, emu.base_url, sleep=sleeps) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(wav, TranscriptionOptions())
    err = info.value
    assert err.kind is ErrorKind.MODERATED and "content blocked ..." in str(err)
    assert len(emu.requests) == 1 and sleeps.delays == []  # not retried: it would cost again
