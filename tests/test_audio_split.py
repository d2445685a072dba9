"""Splitting long recordings: silence parsing, cut planning, and real cuts of a 31-minute file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tui.audio.ffmpeg import find_ffmpeg
from tui.audio.headers import read_header_info
from tui.audio.split import (
    PartPlan,
    Silence,
    chunk_seconds,
    cut_part,
    detect_silences,
    parse_silences,
    plan_cuts,
    plan_parts,
    silent_share,
)

needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")


def make_long_file(
    path: Path, *, tone_s: float = 50, pause_s: float = 10, repeats: int = 31, rate: int = 8000
) -> Path:
    """tone + pause, repeated: 31 minutes at 8 kHz in well under a second with sox."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            str(rate),
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(tone_s),
            "sine",
            "300",
            "vol",
            "0.5",
            "pad",
            "0",
            str(pause_s),
            "repeat",
            str(repeats - 1),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def test_chunk_seconds_clamps_to_ceiling() -> None:
    assert chunk_seconds(25) == 1500
    assert chunk_seconds(45) == 1800  # hard ceiling: 30 minutes
    assert chunk_seconds(0) == 15


def test_parse_silences() -> None:
    stderr = (
        "[silencedetect @ 0x5581] silence_start: 49.9\n"
        "size=N/A time=00:01:00\n"
        "[silencedetect @ 0x5581] silence_end: 60.02 | silence_duration: 10.12\n"
        "[silencedetect @ 0x5581] silence_start: -0.01\n"
        "[silencedetect @ 0x5581] silence_end: 1.5 | silence_duration: 1.51\n"
        "[silencedetect @ 0x5581] silence_start: 118\n"
    )
    assert parse_silences(stderr, 120.0) == [
        Silence(49.9, 60.02),
        Silence(0.0, 1.5),
        Silence(118.0, 120.0),
    ]


def test_no_split_when_it_fits() -> None:
    assert plan_cuts(1500.0, [], 1500.0) == []
    assert plan_parts(1500.0, []) == [PartPlan(1, 1, 0.0, 1500.0)]


def test_cut_at_the_longest_pause_near_the_aim() -> None:
    # 31 min, limit 25: two parts, aimed at 15:30 each; pauses at 14:00 (2 s) and 16:00 (4 s).
    silences = [Silence(838.0, 840.0), Silence(958.0, 962.0), Silence(100.0, 110.0)]
    cuts = plan_cuts(1860.0, silences, 1500.0)
    assert cuts == [960.0]  # the 4 s pause; the 10 s one at 1:45 is far from the aim
    parts = plan_parts(1860.0, cuts)
    assert [(p.index, p.count, p.offset_s, p.duration_s) for p in parts] == [
        (1, 2, 0.0, 960.0),
        (2, 2, 960.0, 900.0),
    ]


def test_hard_cut_without_pauses_and_limits_hold() -> None:
    for duration in (1501.0, 3000.0, 3001.0, 7300.0):
        cuts = plan_cuts(duration, [], 1500.0)
        parts = plan_parts(duration, cuts)
        assert all(p.duration_s <= 1500.0 + 1e-6 for p in parts)
        assert len(parts) == -(-int(duration) // 1500)
        assert abs(sum(p.duration_s for p in parts) - duration) < 1e-6
        # Even shares: no tiny tail.
        assert min(p.duration_s for p in parts) > 0.5 * max(p.duration_s for p in parts)


def test_pause_never_makes_a_part_too_long() -> None:
    # A tempting long pause just past the limit is not taken.
    silences = [Silence(1510.0, 1530.0)]
    cuts = plan_cuts(2000.0, silences, 1500.0)
    assert all(p.duration_s <= 1500.0 for p in plan_parts(2000.0, cuts))


def test_pauses_everywhere_each_part_under_limit() -> None:
    # 5900 s needs 4 parts and leaves some slack for choosing pauses.
    silences = [Silence(t + 50.0, t + 60.0) for t in range(0, 5900, 60)]
    cuts = plan_cuts(5900.0, silences, 1500.0)
    parts = plan_parts(5900.0, cuts)
    assert len(parts) == 4
    assert all(p.duration_s <= 1500.0 for p in parts)
    # Every cut is in the middle of a pause.
    assert all(any(s.start_s < c < s.end_s for s in silences) for c in cuts)


@needs_sox
@pytest.mark.slow
async def test_split_real_31_minute_file(tmp_path: Path) -> None:
    exe = find_ffmpeg()
    assert exe is not None
    src = make_long_file(tmp_path / "long.wav")
    info = read_header_info(src)
    assert info is not None and info.duration_s is not None
    duration = info.duration_s
    assert 1859 < duration < 1861

    silences = await detect_silences(exe, src, duration)
    # 31 pauses of 10 s (the last one runs to the end of the file).
    assert len(silences) == 31
    assert all(9.0 < s.length_s < 10.5 for s in silences)

    cuts = plan_cuts(duration, silences, chunk_seconds(25))
    assert len(cuts) == 1
    assert any(s.start_s < cuts[0] < s.end_s for s in silences)  # inside a pause
    parts = plan_parts(duration, cuts)

    total = 0.0
    for part in parts:
        dst = tmp_path / f"part{part.index}.wav"
        await cut_part(exe, src, part, dst, compress=False)
        got = read_header_info(dst)
        assert got is not None and got.duration_s is not None
        assert got.sample_rate == 16000 and got.channels == 1
        assert abs(got.duration_s - part.duration_s) < 0.05
        total += got.duration_s
    assert abs(total - duration) < 0.1


@needs_sox
async def test_last_part_runs_to_the_end_even_if_the_duration_was_low(tmp_path: Path) -> None:
    # The probe can underestimate (a VBR MP3 without a Xing header is sized by its first
    # frame's bitrate): the last part must still reach the end of the file.
    exe = find_ffmpeg()
    assert exe is not None
    src = make_long_file(tmp_path / "a.wav", tone_s=8, pause_s=2, repeats=2)  # 20 s
    believed = plan_parts(14.0, [7.0])  # as if the probe had said 14 s
    durations = []
    for part in believed:
        dst = tmp_path / f"p{part.index}.wav"
        await cut_part(exe, src, part, dst, compress=False)
        info = read_header_info(dst)
        assert info is not None and info.duration_s is not None
        durations.append(info.duration_s)
    assert abs(durations[0] - 7.0) < 0.05  # a middle part keeps its planned length
    assert abs(durations[1] - 13.0) < 0.05  # the last one: 7 s to the real end, not 7 s


def test_silent_share() -> None:
    silences = [Silence(0.0, 2.0), Silence(9.0, 30.0)]
    assert silent_share(silences, 0.0, 10.0) == pytest.approx(0.3)
    assert silent_share(silences, 10.0, 20.0) == 1.0
    assert silent_share([], 0.0, 10.0) == 0.0
