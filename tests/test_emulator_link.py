"""The emulator's uplink and service-time model: what the time-to-transcript benchmark rests on.

Only lower bounds are checked (a body cannot cross the modelled link faster than its rate, an
answer cannot come before the service would have finished): they hold on any machine.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.conftest import write_tone_wav
from tui.audio.encoding import AudioFormat
from tui.stepfun.client import AsrClient
from tui.stepfun.emulator import Emulator
from tui.stepfun.emulator.link import ServiceModel
from tui.stepfun.options import AudioInput, TranscriptionOptions


async def _send(emu: Emulator, wav: Path) -> str:
    async with AsrClient(emu.demo_key, emu.base_url, backoff_s=0.01) as client:
        text, _segments, _usage, _used = await client.transcribe(
            AudioInput(str(wav), AudioFormat("wav"), 3.0), TranscriptionOptions()
        )
    return text


async def test_parallel_uploads_share_one_link(tmp_path: Path) -> None:
    wav = write_tone_wav(tmp_path / "a.wav", 3.0)  # 96 kB, 128 kB as base64 JSON
    with Emulator(uplink_mbit=2.0) as emu:
        started = time.monotonic()
        texts = await asyncio.gather(_send(emu, wav), _send(emu, wav))
        took = time.monotonic() - started
        bodies = sum(r.body_bytes for r in emu.requests)
    assert all(texts)
    # Two bodies over one 2 Mbit/s link: at least their joint size / rate.
    assert took >= bodies * 8 / 2e6 * 0.95


async def test_service_model_paces_the_answer(tmp_path: Path) -> None:
    wav = write_tone_wav(tmp_path / "a.wav", 3.0)
    model = ServiceModel(startup_s=0.3, speed=10.0)
    with Emulator(service=model) as emu:
        started = time.monotonic()
        assert await _send(emu, wav)
        took = time.monotonic() - started
    assert took >= model.at(3.0) * 0.95  # 0.3 s + 3 s / 10


def test_service_model_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        ServiceModel(speed=0)
    with pytest.raises(ValueError):
        Emulator(uplink_mbit=-1.0)


def test_emulator_command_refuses_a_nonsense_link() -> None:
    import subprocess

    from tests.conftest import PYTHON, subprocess_env

    done = subprocess.run(
        [PYTHON, "-m", "tui", "emulator", "--port", "0", "--uplink-mbit", "0"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--uplink-mbit" in done.stderr and "Traceback" not in done.stderr
