"""Narrow unit tests of the event parser: every chunk boundary, every tolerated oddity.

MockTransport is fine here (it only feeds bytes); the error paths are proven against the
real loopback emulator in test_client.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tui.audio.encoding import AudioFormat
from tui.errors import AsrError, ErrorKind
from tui.stepfun.client import AsrClient
from tui.stepfun.options import AudioInput, TranscriptionOptions


def _stream(text: str, done_text: str, *, sep: str = "\n") -> bytes:
    events = [
        {
            "type": "transcript.text.delta",
            "delta": piece,
            "start_time": i * 100,
            "end_time": i * 100 + 90,
        }
        for i, piece in enumerate(text.split("|"))
    ]
    events.append({"type": "transcript.text.done", "text": done_text, "usage": {"n": 1}})
    body = "".join(f"data: {json.dumps(e, ensure_ascii=False)}{sep}{sep}" for e in events)
    return body.encode("utf-8")


async def _run(payload: bytes, tmp_path: Path, *, piece: int, ctype: str = "text/event-stream"):
    async def chunks():
        for i in range(0, len(payload), piece):
            yield payload[i : i + piece]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": ctype}, content=chunks())

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF0000WAVEfmt ")

    async def no_sleep(_delay: float) -> None:
        return None

    async with AsrClient(
        "test-key", "http://127.0.0.1:9/v1", sleep=no_sleep, transport=httpx.MockTransport(handler)
    ) as client:
        return await client.transcribe(
            AudioInput(str(audio), AudioFormat("wav")), TranscriptionOptions()
        )


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 7, 64])
@pytest.mark.parametrize("sep", ["\n", "\r\n"])
async def test_split_anywhere_including_inside_utf8(tmp_path, piece, sep):
    payload = _stream("你好，|世界。|U+2028\u2028ok", "你好，世界。", sep=sep)
    text, segments, usage, _ = await _run(payload, tmp_path, piece=piece)
    assert text == "你好，世界。" and usage == {"n": 1}
    assert [s.text for s in segments] == ["你好，", "世界。", "U+2028\u2028ok"]
    assert segments[1].start_ms == 100


async def test_done_text_is_authoritative_over_deltas(tmp_path):
    text, segments, *_ = await _run(_stream("a|b", "A B"), tmp_path, piece=16)
    assert text == "A B" and "".join(s.text for s in segments) == "ab"


async def test_wrong_charset_still_decodes_utf8(tmp_path):
    payload = _stream("日本|語", "日本語")
    text, *_ = await _run(payload, tmp_path, piece=4, ctype="text/event-stream; charset=iso-8859-1")
    assert text == "日本語"


async def test_missing_done_is_truncation(tmp_path):
    payload = _stream("a|b", "ab").rsplit(b"data:", 1)[0]
    with pytest.raises(AsrError) as info:
        await _run(payload, tmp_path, piece=8)
    assert info.value.kind is ErrorKind.TRUNCATED


async def test_non_finite_or_junk_timestamps_become_zero(tmp_path):
    events = [
        '{"type":"transcript.text.delta","delta":"a","start_time":NaN,"end_time":Infinity}',
        '{"type":"transcript.text.delta","delta":"b","start_time":"12.7","end_time":"x"}',
        '{"type":"transcript.text.done","text":"ab","usage":{}}',
    ]
    payload = "".join(f"data: {e}\n\n" for e in events).encode()
    text, segments, *_ = await _run(payload, tmp_path, piece=9)
    assert text == "ab"
    assert [(s.start_ms, s.end_ms) for s in segments] == [(0, 0), (12, 0)]


async def test_undecodable_content_encoding_is_a_clear_error(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
            content=b"this is not gzip at all",
        )

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF0000WAVEfmt ")
    async with AsrClient(
        "test-key", "http://127.0.0.1:9/v1", transport=httpx.MockTransport(handler)
    ) as client:
        with pytest.raises(AsrError) as info:
            await client.transcribe(
                AudioInput(str(audio), AudioFormat("wav")), TranscriptionOptions()
            )
    assert info.value.kind is ErrorKind.HTTP_ERROR and "decoded" in str(info.value)


@pytest.mark.parametrize("piece", [1, 3, 7, 64])
@pytest.mark.parametrize(
    ("record", "words"),
    [
        ("data: 上游超时 upstream timeout\n\n", "上游超时 upstream timeout"),
        ('data: {"type":"transcript.text.error","message":"解码失败"}\n\n', "解码失败"),
        ('event: error\r\ndata: {"msg":"x"}\r\n\r\n', '"msg"'),
    ],
)
async def test_error_like_records_split_anywhere_are_errors_not_truncation(
    tmp_path, piece, record, words
):
    payload = _stream("a|b", "ab").rsplit(b"data:", 1)[0] + record.encode("utf-8")
    with pytest.raises(AsrError) as info:
        await _run(payload, tmp_path, piece=piece)
    assert info.value.kind is ErrorKind.STREAM_ERROR and words in str(info.value)


async def test_whitespace_only_data_is_a_keep_alive(tmp_path):
    payload = b"data:  \n\n" + _stream("a|b", "ab")
    text, *_ = await _run(payload, tmp_path, piece=5)
    assert text == "ab"
