"""The client against a hostile server on loopback (a real socket, raw HTTP): a line with no
end, a gzip bomb, a final event whose text is not a string. Each is a clear error; none is
read into memory whole."""

from __future__ import annotations

import asyncio
import gzip
import json
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.conftest import write_tone_wav
from tui.audio.encoding import AudioFormat
from tui.errors import AsrError, ErrorKind
from tui.stepfun.client import AsrClient
from tui.stepfun.options import AudioInput, TranscriptionOptions
from tui.stepfun.sse import MAX_SSE_LINE

Reply = Callable[[asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def hostile_server(reply: Reply, seen: list[bytes]) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head)
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        try:
            await reply(writer)
        except (ConnectionError, OSError):
            pass  # the client hung up on us, as it should
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.close()
        await server.wait_closed()


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"


async def endless_line(writer: asyncio.StreamWriter) -> None:
    writer.write(SSE_HEAD + b"\r\ndata: ")
    chunk = b"x" * (1 << 20)
    for _ in range(64):  # 64 MB without a newline, unless the client stops reading first
        writer.write(chunk)
        await writer.drain()


# ~48 KB on the wire, 48 MB inflated; made once, before memory is traced.
BOMB = gzip.compress(b"data: " + b"A" * (48 << 20), 9)


async def gzip_bomb(writer: asyncio.StreamWriter) -> None:
    body = BOMB
    writer.write(
        SSE_HEAD + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )
    await writer.drain()


async def done_with_a_list(writer: asyncio.StreamWriter) -> None:
    event = {"type": "transcript.text.done", "text": ["not", "a", "string"], "usage": {}}
    writer.write(SSE_HEAD + b"\r\n" + f"data: {json.dumps(event)}\n\n".encode())
    await writer.drain()


@pytest.fixture
def audio(tmp_path: Path) -> AudioInput:
    path = write_tone_wav(tmp_path / "speech.wav", 1.0)
    return AudioInput(str(path), AudioFormat("wav"), duration_s=1.0)


async def no_sleep(_s: float) -> None:
    return None


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (endless_line, "longer than 16 MB"),
        (gzip_bomb, "came compressed (gzip)"),
        (done_with_a_list, "not a string"),
    ],
)
async def test_a_hostile_answer_is_a_clear_error_and_stays_small(
    audio: AudioInput, reply: Reply, words: str
) -> None:
    seen: list[bytes] = []
    tracemalloc.start()
    try:
        async with (
            hostile_server(reply, seen) as base,
            AsrClient("test-key-0123456789", base, sleep=no_sleep) as client,
        ):
            with pytest.raises(AsrError) as caught:
                await client.transcribe(audio, TranscriptionOptions())
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.kind is ErrorKind.STREAM_ERROR and words in caught.value.message
    assert len(seen) == 1  # not retried: the same server would send the same thing
    assert b"accept-encoding: identity" in seen[0].lower()
    # Bounded by the caps (a line is at most 16 MB of characters), not by what was sent.
    assert peak < 6 * MAX_SSE_LINE
