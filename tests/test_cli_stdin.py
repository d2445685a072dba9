"""`stepfun-asr transcribe -`: audio piped in, sniffed from its bytes, outputs named stdin.*."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, subprocess_env, write_tone_wav
from tui.stepfun.emulator import write_directive_wav

TEXT = "Piped audio works like any other file."


def run_cli(*args: str, emu, stdin, cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    env.setdefault("STEPFUN_BASE_URL", emu.base_url)
    env.setdefault("STEPFUN_API_KEY", emu.demo_key)
    return subprocess.run(
        [PYTHON, "-m", "tui", "transcribe", *args],
        stdin=stdin,
        capture_output=True,
        env=subprocess_env(**env),
        cwd=cwd,
        timeout=120,
        check=False,
    )


def to_ogg(wav: Path) -> Path:
    ogg = wav.with_suffix(".ogg")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), "-c:a", "libopus", str(ogg)],
        check=True,
        timeout=60,
    )
    return ogg


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    return write_directive_wav(tmp_path / "src" / "talk.wav", 5.0, text=TEXT)


def pipe(path: Path) -> subprocess.Popen[bytes]:
    """A real pipe (not a file redirect): `cat FILE |`."""
    return subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE)


@pytest.mark.parametrize("kind", ["wav", "ogg"])
def test_piped_audio_is_sniffed_and_outputs_are_named_stdin(emu, speech, tmp_path, kind):
    source = speech if kind == "wav" else to_ogg(speech)
    out = tmp_path / "out"
    out.mkdir()
    cat = pipe(source)
    done = run_cli("-", "-o", "srt,txt", emu=emu, stdin=cat.stdout, cwd=out)
    cat.wait(timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    text = done.stdout.decode().strip()
    # The emulator reads its script from a WAV chunk; an Ogg gets its stand-in text instead.
    assert text == TEXT if kind == "wav" else text
    assert sorted(p.name for p in out.iterdir()) == ["stdin.srt", "stdin.txt"]
    assert (out / "stdin.txt").read_text(encoding="utf-8").strip() == text
    # The emulator got the container the bytes name (Ogg/Opus is sent as it is).
    assert emu.requests[-1].format_type == kind
    # The temporary copy is gone once the run is over.
    assert "stepfun-asr-stdin-" not in done.stderr.decode()


def test_a_redirected_file_is_used_in_place_and_name_sets_the_outputs(emu, speech, tmp_path):
    out = tmp_path / "out"
    with speech.open("rb") as fh:
        done = run_cli(
            "/dev/stdin",
            "--name",
            "meeting",
            "-o",
            "txt",
            "--out-dir",
            str(out),
            emu=emu,
            stdin=fh,
            cwd=tmp_path,
        )
    assert done.returncode == 0, done.stderr.decode()
    assert [p.name for p in out.iterdir()] == ["meeting.txt"]


def test_json_names_the_input_stdin(emu, speech, tmp_path):
    cat = pipe(speech)
    done = run_cli("-", "--json", emu=emu, stdin=cat.stdout, cwd=tmp_path)
    cat.wait(timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    import json

    assert json.loads(done.stdout)["file"] == "stdin"


def test_raw_pcm_on_stdin_with_a_pcm_name_needs_no_format_flag(emu, tmp_path):
    wav = write_tone_wav(tmp_path / "tone.wav", 3.0)
    raw = tmp_path / "tone.raw"
    raw.write_bytes(wav.read_bytes()[44:])
    cat = pipe(raw)
    done = run_cli(
        "-",
        "--name",
        "tone.pcm",
        "--rate",
        "16000",
        "--bits",
        "16",
        "--channel",
        "1",
        emu=emu,
        stdin=cat.stdout,
        cwd=tmp_path,
    )
    cat.wait(timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    assert emu.requests[-1].format_type == "pcm"


def test_empty_stdin_is_a_usage_error_and_nothing_is_sent(emu, tmp_path):
    done = run_cli("-", emu=emu, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert done.returncode == 2
    assert b"0 bytes" in done.stderr and b"Traceback" not in done.stderr
    assert emu.requests == []


def test_quiet_prints_nothing_on_success(emu, speech, tmp_path):
    cat = pipe(speech)
    done = run_cli("-", "-q", "-o", "txt", emu=emu, stdin=cat.stdout, cwd=tmp_path)
    cat.wait(timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"" and done.stderr == b""
    assert (tmp_path / "stdin.txt").read_text(encoding="utf-8").strip() == TEXT


def test_a_regular_file_on_stdin_is_not_copied_but_a_pipe_is(speech):
    import os
    import threading

    from tui.commands.stdin_audio import label, open_stdin

    with speech.open("rb") as fh, open_stdin(stream=fh) as audio:
        assert audio.copied_bytes == 0 and audio.path.is_symlink()
        assert audio.path.name == "stdin.wav" and label(audio.path) == "stdin"
        assert audio.path.read_bytes() == speech.read_bytes()
    assert not audio.path.parent.exists()

    data = speech.read_bytes()
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as w:
            w.write(data)

    feeder = threading.Thread(target=feed)
    feeder.start()
    with os.fdopen(read_end, "rb") as r, open_stdin(name="call.m4a", stream=r) as audio:
        feeder.join(timeout=30)
        # The bytes say WAV, so the extension follows them, not the --name hint.
        assert audio.path.name == "call.wav" and not audio.path.is_symlink()
        assert audio.copied_bytes == len(data) and audio.path.read_bytes() == data


def test_quiet_without_output_files_prints_just_the_text(emu, speech, tmp_path):
    cat = pipe(speech)
    done = run_cli("-", "-q", emu=emu, stdin=cat.stdout, cwd=tmp_path)
    cat.wait(timeout=30)
    assert done.returncode == 0 and done.stderr == b""
    assert done.stdout.decode().strip() == TEXT
