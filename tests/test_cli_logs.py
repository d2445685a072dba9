"""The log file: dated lines, the key redacted, rotation, `config path`, --log-file, -q/-v."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PYTHON, subprocess_env
from tests.test_watch_daemon import Daemon, cli_env, wait_for
from tui import config, locations, logs
from tui.stepfun.emulator import write_directive_wav

DATED = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} ")


@pytest.fixture(autouse=True)
def fresh_logging():
    yield
    logs.uninstall()


def test_a_log_line_has_its_date_and_never_the_key(tmp_path, fake_key):
    config.save_key(fake_key)  # the key in the config file is protected from the start
    path = logs.install(tmp_path / "app.log")
    log = logging.getLogger("tui.test")
    log.warning("server said: invalid key %s", fake_key)
    log.info("sent Authorization: Bearer abcdef123456 to the proxy")
    try:
        raise ValueError(f"echoed {fake_key}")
    except ValueError:
        log.exception("request failed")
    logs.uninstall()
    text = path.read_text(encoding="utf-8")
    assert fake_key not in text and "abcdef123456" not in text
    assert text.count("[REDACTED]") == 3
    records = [line for line in text.splitlines() if " tui.test: " in line]
    assert len(records) == 3 and all(DATED.match(line) for line in records)
    assert "Traceback (most recent call last)" in text and "ValueError: echoed [REDACTED]" in text


def test_the_log_rotates(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    path = logs.install(tmp_path / "small.log")
    for i in range(100):
        logging.getLogger("tui.test").info("line %d %s", i, "x" * 50)
    logs.uninstall()
    assert path.stat().st_size <= 2000
    assert (tmp_path / "small.log.1").exists()
    assert not (tmp_path / f"small.log.{logs.BACKUPS + 1}").exists()


def test_config_path_lists_the_log():
    done = subprocess.run(
        [PYTHON, "-m", "tui", "config", "path"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=True,
    )
    assert f"log     {locations.log_file()}" in done.stdout.splitlines()
    # The state dir, not the config dir (XDG_STATE_HOME on Linux).
    assert "state" in locations.log_file().parts


@pytest.mark.slow
def test_the_daemon_logs_to_log_file_and_dates_its_console_lines(emu, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    log_file = tmp_path / "logs" / "watch.log"
    daemon = Daemon([str(folder), "--log-file", str(log_file)], cli_env(emu))
    try:
        wait_for(lambda: daemon.saw("watching"), what="the watch to start")
        write_directive_wav(folder / "memo.wav", 3.0, text="A memo.")
        wait_for(lambda: daemon.saw("wrote"), what="the transcript")
    finally:
        assert daemon.stop(signal.SIGTERM) == 0
    console = [line for line in daemon.lines if line.strip()]
    assert console and all(DATED.match(line) for line in console), console
    text = log_file.read_text(encoding="utf-8")
    assert "watch daemon started" in text and "wrote" in text and "memo.wav" in text
    assert all(DATED.match(line) for line in text.splitlines() if line and line[0].isdigit())
    assert emu.demo_key not in text


@pytest.mark.slow
def test_watch_quiet_prints_only_problems(emu, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_directive_wav(folder / "good.wav", 3.0, text="Fine.")
    write_directive_wav(folder / "bad.wav", 3.0, text="x", fault="error_event")
    daemon = Daemon([str(folder), "-q"], cli_env(emu))
    try:
        wait_for(lambda: daemon.saw("FAILED"), what="the failure")
        time.sleep(0.5)
    finally:
        daemon.stop(signal.SIGTERM)
    lines = [line for line in daemon.lines if line.strip()]
    assert lines and all("FAILED" in line or "stopping" in line for line in lines), lines


def test_verbose_shows_requests_and_timings(emu, tmp_path: Path):
    wav = write_directive_wav(tmp_path / "talk.wav", 3.0, text="Verbose.")
    done = subprocess.run(
        [PYTHON, "-m", "tui", "transcribe", "-v", str(wav)],
        capture_output=True,
        text=True,
        env=subprocess_env(STEPFUN_API_KEY=emu.demo_key, STEPFUN_BASE_URL=emu.base_url),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "HTTP Request: POST" in done.stderr and "transcribed in" in done.stderr
    assert emu.demo_key not in done.stderr


def test_a_command_that_logs_nothing_leaves_no_log_file():
    subprocess.run(
        [PYTHON, "-m", "tui", "config", "path"], env=subprocess_env(), timeout=60, check=True
    )
    assert not locations.log_file().exists() and not locations.log_dir().exists()


def test_an_unwritable_log_sends_the_crash_to_a_temporary_file(tmp_path, monkeypatch, capsys):
    import argparse

    import tui.commands.jobs_cmd as jobs_cmd
    from tui import cli

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    def broken(args: argparse.Namespace) -> int:
        raise OSError("disk on fire")

    monkeypatch.setattr(jobs_cmd, "run", broken)
    assert cli.main(["--log-file", str(blocker / "x.log"), "jobs"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    crash = Path(err[0].split("the traceback is in ")[1].split(". Please")[0])
    assert crash.name.startswith("stepfun-asr-crash-") and crash.parent != blocker
    try:
        assert "OSError: disk on fire" in crash.read_text(encoding="utf-8")
    finally:
        logs.uninstall()
        crash.unlink()
