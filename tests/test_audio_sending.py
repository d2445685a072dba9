"""Real-world files end to end against the loopback emulator: what is sent, what is warned, and
the environment ffmpeg runs in (issue 11, and the child-environment part of issue 16)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_tone_wav
from tui.audio import ffmpeg as ff
from tui.audio.transcode import to_opus
from tui.childenv import clean_child_env
from tui.config import Settings
from tui.pipeline.transcription import Probed, transcribe_file
from tui.stepfun.client import AsrClient
from tui.stepfun.emulator import Emulator
from tui.transcript.model import TranscriptionResult, WarningKind

FFMPEG = ff.find_ffmpeg()


def run(*cmd: str | Path) -> None:
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True, timeout=120)


@pytest.fixture
def settings() -> Settings:
    return Settings(region="cn")


async def test_mp2_named_mp3_and_24_bit_wav_are_sent_as_opus(
    tmp_path: Path, emu: Emulator, client: AsrClient, settings: Settings
) -> None:
    src = write_tone_wav(tmp_path / "src.wav", 3.0, rate=48000)
    mp2 = tmp_path / "radio.mp3"
    run("twolame", "--quiet", src, mp2)
    wide = tmp_path / "studio.wav"
    run("sox", src, "-b", "24", wide)
    for path in (mp2, wide):
        result = await transcribe_file(path, settings, client)
        assert result.duration_s == pytest.approx(3.0, abs=0.1)
        assert not result.duration_estimated
    assert [r.format_type for r in emu.requests] == ["ogg", "ogg"]


async def test_truncated_wav_is_measured_warned_and_reviewed(
    tmp_path: Path, emu: Emulator, client: AsrClient, settings: Settings
) -> None:
    full = write_tone_wav(tmp_path / "full.wav", 8.0)
    cut = tmp_path / "copy.wav"
    cut.write_bytes(full.read_bytes()[: 44 + 16000 * 2 * 3])  # 3 s of the 8 arrived
    result = await transcribe_file(cut, settings, client)
    assert result.duration_s == pytest.approx(3.0, abs=0.01)
    (warning,) = [w for w in result.warnings if w.code == WarningKind.TRUNCATED_FILE]
    assert warning.serious and result.needs_review
    assert "header says 8.0 s, 3.0 s is present" in warning.message
    (req,) = emu.requests
    assert req.format_type == "ogg"  # re-encoded: the service gets a well-formed file


async def test_estimated_length_without_ffmpeg_is_marked_approximate(
    tmp_path: Path,
    emu: Emulator,
    client: AsrClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loud, soft, both = (tmp_path / n for n in ("loud.wav", "soft.wav", "both.wav"))
    run("sox", "-n", "-r", "44100", "-c", "1", "-b", "16", loud, "synth", "4", "whitenoise")
    run("sox", "-n", "-r", "44100", "-c", "1", "-b", "16", soft, "synth", "16", "sine", "220")
    run("sox", loud, soft, both)
    plain = tmp_path / "plain.mp3"
    run("lame", "--quiet", "-V", "4", "-t", both, plain)  # VBR, no Xing tag
    # Damaged in the middle, so counting frames breaks off and only an estimate is left.
    raw = plain.read_bytes()
    vbr = tmp_path / "memo.mp3"
    vbr.write_bytes(raw[: len(raw) // 2] + b"\x00\x11" * 4096 + raw[len(raw) // 2 :])
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    assert ff.find_ffmpeg() is None
    seen: list[object] = []
    result = await transcribe_file(vbr, settings, client, on_event=seen.append)
    assert result.duration_estimated
    assert [e for e in seen if isinstance(e, Probed)] == [Probed(result.duration_s or 0, True)]
    assert result.duration_s is not None and abs(result.duration_s - 20.0) > 2
    (warning,) = [w for w in result.warnings if w.code == WarningKind.ESTIMATED_DURATION]
    assert f"~{result.duration_s:.1f} s" in warning.message
    (req,) = emu.requests
    assert req.format_type == "mp3"
    again = TranscriptionResult.from_json(result.to_json())
    assert again.duration_estimated
    legacy = result.to_json()
    del legacy["duration_estimated"]
    assert TranscriptionResult.from_json(legacy).duration_estimated is False


# ------------------------------------------------------------------ the environment of children


def test_clean_child_env_drops_the_key_wherever_it_is() -> None:
    key = "sk-" + "a1b2c3d4" * 4
    base = {
        "PATH": "/usr/bin",
        "STEPFUN_API_KEY": key,
        "MY_WRAPPER_TOKEN": key,
        "CURL_HEADER": f"Authorization: Bearer {key}",
        "HOME": "/home/x",
    }
    assert clean_child_env(None, base) == {"PATH": "/usr/bin", "HOME": "/home/x"}
    other = {"PATH": "/usr/bin", "SECRET_FROM_CONFIG": key}
    assert clean_child_env(key, other) == {"PATH": "/usr/bin"}
    assert clean_child_env("abc", {"PATH": "/usr/abc/bin"}) == {"PATH": "/usr/abc/bin"}


async def test_ffmpeg_runs_without_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert FFMPEG is not None
    key = "sk-live-" + "9f8e7d6c" * 4
    monkeypatch.setenv("STEPFUN_API_KEY", key)
    monkeypatch.setenv("EXPORTED_BY_WRAPPER", key)
    monkeypatch.setenv("HARMLESS", "kept")
    dump = tmp_path / "env.txt"
    wrapper = tmp_path / "ffmpeg"
    # A real ffmpeg run behind a wrapper that records the environment it was given.
    wrapper.write_text(f'#!/bin/sh\nenv > "{dump}"\nexec "{FFMPEG}" "$@"\n')
    wrapper.chmod(0o755)
    out = await to_opus(str(wrapper), write_tone_wav(tmp_path / "a.wav", 1.0), tmp_path / "a.ogg")
    assert out.stat().st_size > 0
    seen = dump.read_text()
    assert "HARMLESS=kept" in seen
    assert key not in seen and "STEPFUN_API_KEY" not in seen


def dtx_call(tmp_path: Path) -> Path:
    call = tmp_path / "call.wav"
    run("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", call, "synth", "2", "sine", "300", ":",
        "synth", "5", "sine", "300", "vol", "0", ":", "synth", "2", "sine", "500")  # fmt: skip
    amr = tmp_path / "call.amr"
    run("sox", call, "-t", "amr-nb", "-C", "7", amr)  # DTX: pauses become SID/NO_DATA frames
    return amr


async def test_amr_call_keeps_its_length_end_to_end(
    tmp_path: Path, emu: Emulator, client: AsrClient, settings: Settings
) -> None:
    result = await transcribe_file(dtx_call(tmp_path), settings, client)
    assert result.duration_s == pytest.approx(9.0, abs=0.01)
    assert [w for w in result.warnings if w.code == WarningKind.DURATION_MISMATCH] == []
    (req,) = emu.requests
    assert req.format_type == "ogg"


async def test_sent_shorter_than_the_source_is_a_warning(
    tmp_path: Path,
    emu: Emulator,
    client: AsrClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Take away the timeline keeping, as older versions ran: ffmpeg closes the DTX pauses up.
    import tui.audio.transcode as transcode

    # (Samples are still renumbered, so the written length is what was really sent.)
    plain = [
        "asetpts=N/SR/TB" if a == transcode.KEEP_TIMELINE[1] else a for a in transcode.OPUS_ARGS
    ]
    assert plain != transcode.OPUS_ARGS
    monkeypatch.setattr(transcode, "OPUS_ARGS", plain)
    result = await transcribe_file(dtx_call(tmp_path), settings, client)
    (warning,) = [w for w in result.warnings if w.code == WarningKind.DURATION_MISMATCH]
    assert warning.serious and result.needs_review
    assert "but the source is 9.0 s" in warning.message
