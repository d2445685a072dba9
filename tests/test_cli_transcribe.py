"""`stepfun-asr transcribe` as a user runs it: a real process against the loopback emu."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, subprocess_env, write_tone_wav
from tui.stepfun.emulator import write_directive_wav

TEXT = "Hello there. This is a short test, with two sentences."


def run_cli(*args: str, emu=None, key: str | None = None, **env: str):
    if emu is not None:
        env.setdefault("STEPFUN_BASE_URL", emu.base_url)
        env.setdefault("STEPFUN_API_KEY", key or emu.demo_key)
    return subprocess.run(
        [PYTHON, "-m", "tui", "transcribe", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(**env),
        timeout=120,
        check=False,
    )


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    return write_directive_wav(tmp_path / "talk.wav", 6.0, text=TEXT)


def test_missing_key_exits_2_before_any_request(emu, speech):
    done = run_cli(str(speech), STEPFUN_BASE_URL=emu.base_url)
    assert done.returncode == 2
    assert "config set-key" in done.stderr and "STEPFUN_API_KEY" in done.stderr
    assert emu.requests == []


def test_prints_the_final_text(emu, speech):
    done = run_cli(str(speech), emu=emu)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == TEXT
    assert emu.demo_key not in done.stdout + done.stderr


def test_json_has_every_documented_field(emu, speech):
    done = run_cli("--json", "--language", "en", str(speech), emu=emu)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    for name in (
        "file",
        "text",
        "segments",
        "usage",
        "elapsed_s",
        "model",
        "language",
        "warnings",
        "duration_s",
        "cost",
    ):
        assert name in data, name
    assert data["text"] == TEXT and data["model"] == "stepaudio-2.5-asr"
    assert data["language"] == "en" and data["warnings"] == []
    assert abs(data["duration_s"] - 6.0) < 0.05
    first = data["segments"][0]
    assert set(first) == {"start_ms", "end_ms", "text"} and first["end_ms"] > first["start_ms"]
    assert "".join(s["text"] for s in data["segments"]).strip() == TEXT


def test_each_file_fails_on_its_own_and_the_run_goes_on(emu, tmp_path, speech):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    blocked = write_directive_wav(tmp_path / "blocked.wav", 4.0, text="x y z", fault="error_event")
    second = write_tone_wav(tmp_path / "tone.wav", 3.0)
    done = run_cli(
        "--json",
        str(empty),
        str(speech),
        str(blocked),
        str(second),
        str(tmp_path / "missing.wav"),
        emu=emu,
    )
    assert done.returncode == 1
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [Path(r["file"]).name for r in rows] == [
        "empty.wav",
        "talk.wav",
        "blocked.wav",
        "tone.wav",
        "missing.wav",
    ]
    assert [("error" in r) for r in rows] == [True, False, True, False, True]
    assert "empty" in rows[0]["error"]
    assert rows[2]["error_kind"] == "moderated"
    assert rows[1]["text"] == TEXT and rows[3]["text"]


def test_output_files_written_atomically(emu, tmp_path, speech):
    out = tmp_path / "out"
    done = run_cli("-o", "txt,srt,vtt,json", "--out-dir", str(out), str(speech), emu=emu)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "talk.json",
        "talk.srt",
        "talk.txt",
        "talk.vtt",
    ]
    assert (out / "talk.txt").read_text(encoding="utf-8").strip() == TEXT
    assert (out / "talk.srt").read_text(encoding="utf-8").startswith("1\n00:00:0")
    assert (out / "talk.vtt").read_text(encoding="utf-8").startswith("WEBVTT")
    assert json.loads((out / "talk.json").read_text(encoding="utf-8"))["text"] == TEXT
    # Next to the audio when no --out-dir.
    assert run_cli("-o", "srt", str(speech), emu=emu).returncode == 0
    assert (speech.parent / "talk.srt").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["-o", "docx"],
        ["--format", "pcm"],
        ["--rate", "16000"],
        ["--base-url", "http://api.example.com/v1"],
        ["--region", "mars"],
    ],
)
def test_usage_errors_exit_2(emu, speech, args):
    done = run_cli(*args, str(speech), emu=emu)
    assert done.returncode == 2, done.stderr
    assert emu.requests == []


def test_plan_key_on_normal_region_fails_with_the_explanation(emu, speech):
    done = run_cli(str(speech), emu=emu, key=emu.plan_key)
    assert done.returncode == 1
    assert "cn-plan" in done.stderr and emu.plan_key not in done.stderr


def test_server_echoing_the_key_is_redacted(emu, speech):
    emu.inject("echo_key")
    done = run_cli(str(speech), emu=emu)
    assert done.returncode == 1
    assert emu.demo_key not in done.stdout + done.stderr
    assert "REDACTED" in done.stderr


def test_pcm_flags(emu, tmp_path):
    wav = write_tone_wav(tmp_path / "t.wav", 3.0)
    raw = tmp_path / "t.pcm"
    raw.write_bytes(wav.read_bytes()[44:])
    done = run_cli(
        "--format", "pcm", "--rate", "16000", "--bits", "16", "--channel", "1", str(raw), emu=emu
    )
    assert done.returncode == 0, done.stderr
    assert emu.requests[-1].format_type == "pcm"


def test_unwritable_out_dir_still_prints_text_and_exits_1(emu, tmp_path, speech):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the out dir should be")
    done = run_cli("-o", "txt", "--out-dir", str(blocker), str(speech), emu=emu)
    assert done.returncode == 1
    assert done.stdout.strip() == TEXT
    assert "Could not write the transcript" in done.stderr


def test_same_stem_inputs_do_not_overwrite_each_other(emu, tmp_path):
    one = write_directive_wav(tmp_path / "a" / "talk.wav", 3.0, text="First file.")
    two = write_directive_wav(tmp_path / "b" / "talk.wav", 3.0, text="Second file.")
    out = tmp_path / "out"
    done = run_cli("-o", "txt", "--out-dir", str(out), str(one), str(two), emu=emu)
    assert done.returncode == 0, done.stderr
    texts = sorted(p.read_text(encoding="utf-8").strip() for p in out.iterdir())
    assert texts == ["First file.", "Second file."]


def test_rejected_key_stops_the_batch_and_names_the_files_not_sent(emu, tmp_path):
    files = [write_tone_wav(tmp_path / f"rec{i}.wav", 2.0, freq=220 + 50 * i) for i in range(3)]
    done = run_cli(*map(str, files), emu=emu, key="wrong-" + "x" * 24)
    assert done.returncode == 1
    # One upload met the 401; the other two files were never sent.
    assert len([r for r in emu.requests if r.endpoint == "sse"]) == 1
    lines = done.stderr.splitlines()
    assert sum(line.startswith("error: stopped: ") for line in lines) == 1
    assert f"error: {files[0]}: not transcribed (job 1;" in done.stderr
    for f in files[1:]:
        assert f"error: {f}: not sent (job" in done.stderr
    assert "Traceback" not in done.stderr
    # Left canceled, not queued: nothing sends them later unless asked (`retry`).
    jobs = subprocess.run(
        [PYTHON, "-m", "tui", "jobs", "--json"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )
    assert jobs.stdout.count('"canceled"') == 3, jobs.stdout + jobs.stderr


def test_estimate_sends_nothing_and_needs_no_key(emu, tmp_path):
    files = [write_tone_wav(tmp_path / f"est{i}.wav", 6.0 * (i + 1)) for i in range(2)]
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"no audio here")
    done = run_cli("--estimate", *map(str, files), STEPFUN_BASE_URL=emu.base_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"   0.10 min  {files[0]}" and lines[1] == f"   0.20 min  {files[1]}"
    assert lines[2].startswith("2 files · 0.3 min of audio · about ¥0.0008 (stepaudio-2.5-asr")
    assert "nothing sent" in lines[2]
    checked = run_cli("--estimate", "--cross-check", str(files[0]))
    assert "1 file · 0.1 min of audio · about ¥0.0039" in checked.stdout  # (0.15 + 2.2) / h
    intl = run_cli("--estimate", "--cross-check", str(files[0]), "--region", "intl")
    assert "priced in CNY only: ¥0.0037 CNY" in intl.stdout
    bad = run_cli("--estimate", str(junk), str(files[0]))
    assert bad.returncode == 1 and f"error: {junk}: its length cannot be read" in bad.stderr
    assert emu.requests == []


def test_an_outage_stops_the_batch_and_names_the_files_not_sent(tmp_path):
    from tui.stepfun.emulator import Emulator

    emu = Emulator().start()
    emu.stop()  # nothing answers on this port
    files = [write_tone_wav(tmp_path / f"out{i}.wav", 2.0, freq=300 + 40 * i) for i in range(2)]
    done = run_cli(*map(str, files), emu=emu)
    assert done.returncode == 1
    assert "error: stopped: Service unreachable since " in done.stderr
    assert "retrying" not in done.stderr.split("error: stopped:")[1].splitlines()[0]
    assert f"error: {files[0]}: not transcribed" in done.stderr
    assert f"error: {files[1]}: not sent" in done.stderr
    assert "Traceback" not in done.stderr
