"""The CLI never shows a traceback: unknown IDs, unexpected exceptions, routing, clear errors."""

from __future__ import annotations

import argparse
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, subprocess_env, write_tone_wav
from tui import cli, locations, logs


def run(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "tui", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(**env),
        cwd=cwd,
        timeout=60,
        check=False,
    )


def commands_taking_an_id() -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(
        name
        for name, p in sub.choices.items()
        if any(a.dest == "job_id" for a in p._actions if not a.option_strings)
    )


@pytest.fixture(autouse=True)
def fresh_logging():
    yield
    logs.uninstall()


def test_every_command_taking_an_id_says_there_is_no_such_job(tmp_path, fake_key):
    names = commands_taking_an_id()
    assert {"show", "retry", "cross-check"} <= set(names)
    db = tmp_path / "jobs.sqlite3"
    for name in names:
        done = run(name, "99", "--db", str(db), STEPFUN_API_KEY=fake_key)
        assert done.returncode != 0, name
        assert "Traceback" not in done.stderr, name
        assert done.stderr.strip().splitlines() == [
            "stepfun-asr: there is no job 99; `stepfun-asr jobs` lists the job IDs."
        ], name
    # --queue-only does not need the key, and still checks the ID first.
    done = run("retry", "99", "--queue-only", "--db", str(db))
    assert done.returncode == 1 and "there is no job 99" in done.stderr


def test_an_unexpected_exception_is_one_line_and_a_logged_traceback(monkeypatch, capsys, fake_key):
    import tui.commands.jobs_cmd as jobs_cmd

    monkeypatch.setenv("STEPFUN_API_KEY", fake_key)

    def broken(args: argparse.Namespace) -> int:
        raise RuntimeError(f"boom with Authorization: Bearer {fake_key} inside")

    monkeypatch.setattr(jobs_cmd, "run", broken)
    assert cli.main(["jobs"]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    log = locations.log_file()
    assert "RuntimeError" in lines[0] and str(log) in lines[0]
    assert fake_key not in err and "Traceback" not in err
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "def broken" not in text
    assert "in broken" in text and "RuntimeError: boom" in text
    assert fake_key not in text and "[REDACTED]" in text


def test_ctrl_c_is_exit_130_without_a_traceback(monkeypatch, capsys):
    import tui.commands.jobs_cmd as jobs_cmd

    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs_cmd, "run", interrupted)
    assert cli.main(["jobs"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_a_folder_as_the_first_word_opens_the_workbench_on_it(monkeypatch, tmp_path):
    import tui.commands.tui_cmd as tui_cmd

    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(tui_cmd, "run_tui", lambda args: seen.append(args) or 0)
    assert cli.main([str(tmp_path)]) == 0
    assert cli.main(["-v", str(tmp_path), "--watch"]) == 0
    assert cli.main([]) == 0
    assert [a.path for a in seen] == [tmp_path, tmp_path, None]
    assert seen[1].watch is True and seen[1].verbose == 1


def test_a_file_as_the_first_word_points_to_transcribe(tmp_path):
    wav = write_tone_wav(tmp_path / "talk.wav", 1.0)
    done = run(str(wav))
    assert done.returncode == 2
    assert f"`stepfun-asr transcribe {wav}`" in done.stderr


def test_an_unknown_command_lists_the_real_ones(tmp_path):
    done = run("transcrib", "x.wav", cwd=tmp_path)
    assert done.returncode == 2 and "transcribe" in done.stderr and "Traceback" not in done.stderr


def test_pcm_extension_takes_the_layout_flags_alone(emu, tmp_path):
    wav = write_tone_wav(tmp_path / "t.wav", 2.0)
    raw = tmp_path / "t.pcm"
    raw.write_bytes(wav.read_bytes()[44:])
    env = {"STEPFUN_BASE_URL": emu.base_url, "STEPFUN_API_KEY": emu.demo_key}
    done = run("transcribe", "--rate", "16000", "--bits", "16", "--channel", "1", str(raw), **env)
    assert done.returncode == 0, done.stderr
    assert emu.requests[-1].format_type == "pcm"
    # A .pcm file without its layout: one error naming the file once and flags that exist.
    done = run("transcribe", str(raw), **env)
    assert done.returncode == 1
    line = done.stderr.strip()
    assert line.count("t.pcm") == 1, line
    flags = {w.strip("().,") for w in line.split() if w.startswith("--")}
    parser_flags = {
        f
        for a in next(
            a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)
        )
        .choices["transcribe"]
        ._actions
        for f in a.option_strings
    }
    assert flags and flags <= parser_flags, flags
    # The layout flags on a file that is not raw PCM are a usage error.
    done = run("transcribe", "--rate", "16000", str(wav), **env)
    assert done.returncode == 2 and ".pcm" in done.stderr
    assert len(emu.requests) == 1


def test_a_missing_file_is_named_once(emu, tmp_path):
    env = {"STEPFUN_BASE_URL": emu.base_url, "STEPFUN_API_KEY": emu.demo_key}
    done = run("transcribe", str(tmp_path / "gone.wav"), **env)
    assert done.returncode == 1
    assert done.stderr.count("gone.wav") == 1, done.stderr


def _in_a_terminal(args: list[str], **env: str) -> str:
    """Run with stderr on a pseudo-terminal; what the terminal showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [PYTHON, "-m", "tui", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env=subprocess_env(**env),
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path):
    args = ["jobs", "--limit", "-1", "--db", str(tmp_path / "j.sqlite3")]
    env = {"TERM": "xterm"}
    assert "\x1b[31m" in _in_a_terminal(args, **env)
    assert "\x1b[" not in _in_a_terminal(args, NO_COLOR="1", **env)
    piped = run(*args, TERM="xterm")
    assert piped.returncode == 2 and "\x1b[" not in piped.stderr


def test_a_workbench_crash_is_logged_not_printed(capsys, tmp_path):
    from textual.app import App

    from tui.app.running import run_app

    class Broken(App[None]):
        def on_mount(self) -> None:
            raise ValueError("the workbench broke")

    with pytest.raises(ValueError, match="the workbench broke"):
        run_app(Broken(), headless=True)
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out and "the workbench broke" not in out.err


def test_every_flag_a_message_suggests_exists():
    """Messages anywhere in the code that name a `--flag` name one the command line has."""
    import ast

    flags: set[str] = set()

    def collect(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            flags.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    collect(sub)

    collect(cli.build_parser())
    # systemctl's, in the printed unit's comment; pip's, run by `speakers install`.
    other_programs = {
        "--user",
        "--now",
        "--no-deps",
        "--only-binary",
        "--disable-pip-version-check",
    }
    pattern = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
    unknown = []
    for path in Path(cli.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for flag in pattern.findall(node.value):
                    if flag not in flags | other_programs:
                        unknown.append(f"{path.name}: {flag}")
    assert unknown == []


def test_every_command_takes_quiet_and_verbose():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        options = {f for a in command._actions for f in a.option_strings}
        assert {"-q", "--quiet", "-v", "--verbose", "--log-file"} <= options, name


def test_quiet_config_set_prints_nothing_and_still_saves(tmp_path):
    done = run("config", "set", "region", "intl", "-q")
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    assert "intl" in run("config", "show").stdout


def test_speakers_without_the_model_is_one_sentence_before_any_request(tmp_path: Path) -> None:
    from tui.stepfun.emulator import Emulator

    wav = write_tone_wav(tmp_path / "talk.wav", 1.0)
    with Emulator() as emu:
        done = run(
            "transcribe",
            "--speakers",
            "3",
            str(wav),
            STEPFUN_API_KEY=emu.demo_key,
            STEPFUN_BASE_URL=emu.base_url,
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert "stepfun-asr speakers install" in done.stderr and "Traceback" not in done.stderr
        assert emu.requests == []
    bad = run("transcribe", "--speakers", "many", str(wav), STEPFUN_API_KEY="sk-test-000000000")
    assert bad.returncode == 2 and "--speakers" in bad.stderr
