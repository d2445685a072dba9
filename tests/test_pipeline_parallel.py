"""The parallel path (a recording cut at pauses into parts sent at once) gives the transcript the
one-request path gives: same words, timestamps in file time and in order.

The emulator's ``region_words`` names each voiced stretch by its length, so the same speech gives
the same word however the file is cut; the bursts are k/2 + 1/4 s long so the 50 ms windowing
can never tip one into the next word.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from tui.audio.ffmpeg import find_ffmpeg
from tui.config import Settings
from tui.pipeline.transcription import transcribe_file
from tui.pipeline.uplink import choose, part_count
from tui.stepfun.client import AsrClient
from tui.stepfun.emulator import Emulator

pytestmark = pytest.mark.skipif(find_ffmpeg() is None, reason="needs ffmpeg")
RATE = 16000


def bursts_wav(path: Path, seconds: float) -> Path:
    """Tone bursts of 1.25-3.75 s (cycling) with 1 s of silence after each."""
    silence = bytes(2 * RATE)
    blocks = {}
    for k in range(2, 8):
        n = int((k / 2 + 0.25) * RATE)
        blocks[k] = b"".join(
            struct.pack("<h", int(9000 * math.sin(2 * math.pi * 300 * i / RATE))) for i in range(n)
        )
    out = bytearray()
    k = 2
    while len(out) < seconds * RATE * 2:
        out += blocks[k] + silence
        k = k + 1 if k < 7 else 2
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(out[: int(seconds * RATE) * 2]))
    return path


async def test_parallel_parts_give_the_one_request_transcript(tmp_path: Path) -> None:
    wav = bursts_wav(tmp_path / "talk.wav", 400.0)
    with Emulator(region_words=True) as emu:
        async with AsrClient(emu.demo_key, emu.base_url, backoff_s=0.01) as client:
            whole = await transcribe_file(
                wav, Settings(compress=False, chunk_parallelism=1), client
            )
            assert len(emu.requests) == 1
            emu.clear_requests()
            parallel = await transcribe_file(
                wav, Settings(compress=False, chunk_parallelism=4), client
            )
            reqs = emu.requests
    assert len(reqs) == 4 and all(r.format_type == "wav" for r in reqs)
    assert whole.text and parallel.text.split() == whole.text.split()
    assert len(parallel.segments) == len(whole.segments)
    starts = [s.start_ms for s in parallel.segments]
    assert starts == sorted(starts)
    for a, b in zip(parallel.segments, whole.segments, strict=True):
        # The windowing moves an end by under 50 ms on each side of a cut.
        assert abs(a.start_ms - b.start_ms) <= 100 and abs(a.end_ms - b.end_ms) <= 100
    assert parallel.duration_s == whole.duration_s == 400.0
    # The trust checks find the same things (the cycling bursts read as a loop either way).
    assert {w.code for w in parallel.warnings} == {w.code for w in whole.warnings}


def test_choice_follows_the_link() -> None:
    # 20 minutes of 16 kHz WAV: compressed on a 10 Mbit/s link, as 16 kHz WAV parts on a very
    # fast one; a short small file goes whole as it is.
    usual = {"parallel": 4, "limit_s": 1500, "can_compress": True, "can_cut": True, "n_cores": 2}
    slow = choose(1200, 32000, uplink_bps=10e6 / 8, **usual)
    fast = choose(1200, 32000, uplink_bps=1e9 / 8, **usual)
    short = choose(60, 4000, uplink_bps=10e6 / 8, **usual)
    assert (slow.compress, slow.parts) == (True, 8)
    assert (fast.compress, fast.parts) == (False, 8)
    assert (short.compress, short.parts) == (False, 1)
    # Without ffmpeg nothing is cut; a 40-minute file still needs its parts.
    assert part_count(2400, 2, 1500) == 4 and part_count(100, 8, 1500) == 1


def test_uplink_meter_learns_and_remembers(tmp_path: Path) -> None:
    from tui.stepfun.uplink_meter import DEFAULT_BPS, UplinkMeter

    path = tmp_path / "uplink.json"
    meter = UplinkMeter(path)
    assert meter.bytes_per_s == DEFAULT_BPS
    meter.record(10_000, 0.001)  # too small a body to say anything about the link
    assert meter.bytes_per_s == DEFAULT_BPS
    meter.record(12_500_000, 1.0)  # 100 Mbit/s
    assert meter.bytes_per_s == 12_500_000
    meter.record(1_250_000, 1.0)  # a slower upload pulls the figure halfway down
    assert meter.bytes_per_s == 6_875_000
    assert UplinkMeter(path).bytes_per_s == 6_875_000  # the next process starts from it
    path.write_text("not json")
    assert UplinkMeter(path).bytes_per_s == DEFAULT_BPS


async def test_client_measures_its_uploads(tmp_path: Path) -> None:
    from tests.conftest import write_tone_wav
    from tui.audio.encoding import AudioFormat
    from tui.stepfun.options import AudioInput, TranscriptionOptions
    from tui.stepfun.uplink_meter import DEFAULT_BPS

    wav = write_tone_wav(tmp_path / "a.wav", 12.0)  # 384 kB: enough to measure
    with Emulator(uplink_mbit=20.0) as emu:
        async with AsrClient(emu.demo_key, emu.base_url) as client:
            await client.transcribe(
                AudioInput(str(wav), AudioFormat("wav"), 12.0), TranscriptionOptions()
            )
            measured = client.uplink.bytes_per_s
    # Never faster than the modelled link (the headers come after the whole body).
    assert measured != DEFAULT_BPS and measured <= 20e6 / 8 * 1.05


async def test_pause_scan_in_parallel_finds_the_same_pauses(tmp_path: Path) -> None:
    from tui.audio.split import detect_silences

    exe = find_ffmpeg()
    assert exe is not None
    wav = bursts_wav(tmp_path / "talk.wav", 200.0)
    one = await detect_silences(exe, wav, 200.0)
    three = await detect_silences(exe, wav, 200.0, jobs=3)
    # A boundary can fall inside a pause: its two halves may each be too short to count.
    assert len(one) - 2 <= len(three) <= len(one)
    for pause in three:
        assert any(p.start_s - 0.05 <= pause.start_s and pause.end_s <= p.end_s + 0.05 for p in one)
    # Times are in file time: the last pause is near the end, not near 200 / 3.
    assert three[-1].start_s > 190


async def test_client_keeps_to_its_requests_in_flight(tmp_path: Path) -> None:
    import asyncio

    from tests.conftest import write_tone_wav
    from tui.audio.encoding import AudioFormat
    from tui.stepfun.emulator.link import ServiceModel
    from tui.stepfun.options import AudioInput, TranscriptionOptions

    wav = write_tone_wav(tmp_path / "a.wav", 2.0)
    with Emulator(service=ServiceModel(startup_s=0.3, speed=20.0)) as emu:
        async with AsrClient(emu.demo_key, emu.base_url, max_in_flight=2) as client:
            most = 0

            async def one() -> None:
                await client.transcribe(
                    AudioInput(str(wav), AudioFormat("wav"), 2.0), TranscriptionOptions()
                )

            async def watch() -> None:
                nonlocal most
                while True:
                    live = [r for r in emu.requests if r.status == 200 and not r.done_sent]
                    most = max(most, len(live))
                    await asyncio.sleep(0.01)

            watcher = asyncio.ensure_future(watch())
            await asyncio.gather(*(one() for _ in range(5)))
            watcher.cancel()
    assert len(emu.requests) == 5
    assert 1 <= most <= 2
