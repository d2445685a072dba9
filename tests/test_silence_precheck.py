"""Digital silence is never sent: the job ends with an "empty: silence" warning at no cost.
Real audio from ffmpeg; the emulator's request log shows what was (not) sent."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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
