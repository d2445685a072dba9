"""Digital silence is never sent: the job ends with an "empty: silence" warning at no cost.
Real audio from ffmpeg; the emulator's request log shows what was (not) sent."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tui.config import Settings
from tui.engine.engine import Engine
from tui.pipeline.silence import silent_duration
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator
from tui.store.records import JobState
from tui.transcript.model import WarningKind

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is missing")


def lavfi(path: Path, source: str, seconds: float) -> Path:
    assert FFMPEG is not None
    subprocess.run(
        [
            FFMPEG,
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            source,
            "-t",
            str(seconds),
            "-ac",
            "1",
            "-ar",
            "16000",
            str(path),
        ],
        check=True,
    )
    return path


async def test_two_hours_of_digital_silence_cost_nothing(tmp_path: Path) -> None:
    silent = lavfi(tmp_path / "meeting.flac", "anullsrc=r=16000:cl=mono", 6840)  # 1.9 h
    quiet = lavfi(tmp_path / "whisper.wav", "sine=f=300:r=16000,volume=-35dB", 3)
    with Emulator() as emu:
        settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
        with Engine(settings, db_path=tmp_path / "jobs.sqlite3", requests_per_minute=0) as eng:
            a = eng.submit(silent)
            b = eng.submit(quiet)
            await eng.drain([a.id, b.id])
            jobs = {j.id: j for j in eng.store.list_jobs()}
            result = eng.store.get_result(a.id)
            quiet_result = eng.store.get_result(b.id)
        assert quiet_result is not None
        assert jobs[a.id].state is JobState.NEEDS_REVIEW
        assert result is not None and result.text == "" and result.cost is None
        assert [w.code for w in result.warnings] == [WarningKind.SILENCE]
        assert result.warnings[0].message.startswith("empty: silence")
        assert result.duration_s == pytest.approx(6840, abs=1)
        assert jobs[a.id].cost_amount is None
        # Quiet is not silence: a -53 dBFS tone is sent as usual (one request, and only it).
        assert WarningKind.SILENCE not in [w.code for w in quiet_result.warnings]
        sse = [r for r in emu.requests if r.endpoint == "sse"]
        assert len(sse) == 1


async def test_an_undecodable_file_is_left_to_the_normal_path(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + b"\0" * 100)
    assert await silent_duration(junk, FFMPEG) is None
    assert await silent_duration(junk, None) is None


async def test_sound_read_late_by_a_busy_loop_still_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop too busy to read ffmpeg's output as it comes (the suite on two loaded cores):
    the reader's buffer fills and its pipe pauses before the first loud block is looked at.
    Leaving early must still end: on Python 3.11 ``wait()`` also waits for the pipe to close,
    and a paused pipe never did, which left a workbench job ``running`` for ever."""
    loud = lavfi(tmp_path / "talk.wav", "sine=f=300:r=16000", 60)  # ~960 KB decoded
    spawned: list[asyncio.subprocess.Process] = []
    paused: list[bool] = []
    real = asyncio.create_subprocess_exec

    async def late_reader(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        proc = await real(*args, **kwargs)
        spawned.append(proc)
        assert proc.stdout is not None
        stdout = proc.stdout
        # Private, but the only view of the pause: the pipe a busy loop stopped reading.
        pipe = proc._transport.get_pipe_transport(1)  # type: ignore[attr-defined]
        read = stdout.read

        async def first_read_once_paused(n: int = -1) -> bytes:
            for _ in range(3000):  # the pause comes after ~128 KB; bounded all the same
                if not pipe.is_reading():
                    paused.append(True)
                    break
                await asyncio.sleep(0.01)
            stdout.read = read  # type: ignore[method-assign]
            return await read(n)

        stdout.read = first_read_once_paused  # type: ignore[method-assign]
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", late_reader)
    # A bound on a hang, not on speed: without the fix this never returns.
    found = await asyncio.wait_for(silent_duration(loud, FFMPEG), timeout=30)
    assert paused == [True]  # the pipe was paused when the loud block was read
    assert found is None  # sound: sent as usual
    assert spawned[0].returncode is not None  # ffmpeg ended and was reaped
