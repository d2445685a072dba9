"""`watch --print-service systemd|launchd`: a unit that runs this exact watch, key not in it."""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, subprocess_env
from tui import config


def print_service(kind: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "tui", "watch", *args, "--print-service", kind],
        capture_output=True,
        text=True,
        env=subprocess_env(**env),
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.fixture
def setup(tmp_path: Path, fake_key: str) -> tuple[Path, str]:
    config.save_key(fake_key)
    (tmp_path / "my recordings").mkdir()
    (tmp_path / "out").mkdir()
    return tmp_path, fake_key


def exec_start(unit: str) -> list[str]:
    line = next(x for x in unit.splitlines() if x.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("%%", "%").replace("$$", "$"))


def test_systemd_unit_runs_the_same_watch_with_absolute_paths_and_no_key(setup):
    cwd, key = setup
    done = print_service(
        "systemd",
        "my recordings",
        "--output-format",
        "txt,srt",
        "--output-dir",
        "out",
        "--rpm",
        "0",
        "--policy",
        "suffix",
        "--poll",
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    unit = done.stdout
    assert key not in unit and "STEPFUN_API_KEY" not in unit
    argv = exec_start(unit)
    assert argv[:3] == [PYTHON, "-m", "tui"] or argv[0].endswith("stepfun-asr")
    assert Path(argv[0]).is_absolute()
    watch = argv[argv.index("watch") + 1 :]
    assert watch[-2:] == ["--", str(cwd / "my recordings")]
    assert "--formats" in watch and "--out-dir" in watch  # the canonical spellings
    assert "Restart=on-failure" in unit and "RestartPreventExitStatus=2" in unit
    # The command it runs is the same watch: the parser reads back every value.
    from tui.cli import build_parser

    parsed = build_parser().parse_args(["watch", *watch])
    assert parsed.folders == [cwd / "my recordings"] and parsed.poll is True
    assert parsed.formats == "txt,srt" and parsed.out_dir == cwd / "out"
    assert parsed.rpm == 0 and parsed.policy == "suffix" and parsed.print_service is None


def test_systemd_unit_passes_systemd_analyze_verify(setup, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt package systemd)")
    cwd, _ = setup
    done = print_service("systemd", "my recordings", "--formats", "txt", cwd=cwd)
    assert done.returncode == 0, done.stderr
    unit = tmp_path / "stepfun-asr-watch.service"
    unit.write_text(done.stdout, encoding="utf-8")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(unit)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    if "Failed to initialize manager" in verify.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {verify.stderr.strip()}")
    # verify exits 0 even for unknown keys; it prints a line for each problem.
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr


def test_launchd_plist_is_valid_and_restarts_on_failure(setup):
    cwd, key = setup
    done = print_service("launchd", "my recordings", cwd=cwd)
    assert done.returncode == 0, done.stderr
    assert key not in done.stdout
    plist = plistlib.loads(done.stdout.encode("utf-8"))
    assert plist["ProgramArguments"][-1] == str(cwd / "my recordings")
    assert plist["KeepAlive"] == {"SuccessfulExit": False} and plist["RunAtLoad"] is True
    assert "STEPFUN_API_KEY" not in plist["EnvironmentVariables"]


def test_a_key_only_in_the_environment_is_not_copied_and_says_so(tmp_path, fake_key):
    (tmp_path / "in").mkdir()
    done = print_service("systemd", "in", cwd=tmp_path, STEPFUN_API_KEY=fake_key)
    assert done.returncode == 0, done.stderr
    assert fake_key not in done.stdout + done.stderr
    assert "config set-key" in done.stderr


def test_a_missing_folder_prints_no_unit(setup):
    cwd, _ = setup
    done = print_service("systemd", "nowhere", cwd=cwd)
    assert done.returncode == 2 and done.stdout == ""
