"""The headless daemon as a real subprocess (`python -m tui watch`), killed and restarted, and
the `jobs` / `show` / `retry` commands against the same database."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tui.config import Settings
from tui.engine.engine import Engine
from tui.engine.watch_files import WatchConfig
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import JobState
from tui.store.store import Store

pytestmark = pytest.mark.slow


def wait_for(pred: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what or pred}")
        time.sleep(0.05)


def cli_env(emu: Emulator, **extra: str) -> dict[str, str]:
    env = dict(os.environ)  # already isolated XDG_* / STEPFUN_ASR_CONFIG (conftest)
    env.update(
        STEPFUN_API_KEY=emu.demo_key, STEPFUN_BASE_URL=emu.base_url, PYTHONUNBUFFERED="1", **extra
    )
    return env


class Daemon:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui", "watch", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def output(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(10)


def jobs_in(db: Path) -> list[Any]:
    with Store(db) as s:
        return s.list_jobs(newest_first=False)


def mid_flight(emu: Emulator) -> bool:
    return any(r.endpoint == "sse" and r.deltas_sent > 0 and not r.finished for r in emu.requests)


def test_sigkill_mid_job_then_restart_loses_nothing_and_repeats_nothing(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "jobs.sqlite3"
    inbox.mkdir()
    texts = {f"rec{i}": f"Recording number {i} says hello." for i in range(3)}
    for name, text in texts.items():
        write_directive_wav(
            inbox / f"{name}.wav", 4.0, text=text, tone_hz=200 + len(name) * 7 + int(name[-1])
        )
    args = [
        str(inbox),
        "--db",
        str(db),
        "--concurrency",
        "1",
        "--quiet-period",
        "0.3",
        "--formats",
        "txt,srt",
    ]
    with Emulator(rtf=0.5) as emu:  # 4 s of audio streams over ~2 s
        env = cli_env(emu)
        first = Daemon(args, env)
        daemons.append(first)
        wait_for(lambda: mid_flight(emu), what="a job mid-flight")
        first.proc.kill()  # SIGKILL: no cleanup at all
        first.proc.wait(10)
        killed = [j for j in jobs_in(db) if j.state is JobState.RUNNING]
        assert len(killed) == 1
        assert all(
            j.state in (JobState.QUEUED, JobState.RUNNING, JobState.DONE) for j in jobs_in(db)
        )

        second = Daemon(args, env)
        daemons.append(second)
        wait_for(
            lambda: len([j for j in jobs_in(db) if j.state is JobState.DONE]) == 3,
            90,
            "three done jobs after the restart",
        )
        wait_for(lambda: all((inbox / f"{n}.srt").exists() for n in texts), 10, "exports")
        assert second.stop(signal.SIGINT) == 0

        jobs = jobs_in(db)
        assert len(jobs) == 3  # no job was created twice
        by_name = {j.source.stem: j for j in jobs}
        assert by_name[killed[0].source.stem].attempts == 2
        for name, text in texts.items():
            assert (inbox / f"{name}.txt").read_text() == text + "\n"
        completed = [r for r in emu.requests if r.endpoint == "sse" and r.done_sent]
        assert len(completed) == 3  # nothing ran twice to completion
        assert second.saw("requeued") and second.saw("stopped:")
        for d in (first, second):
            assert emu.demo_key not in d.output()


def test_sigterm_with_no_grace_requeues_and_sigint_waits_for_the_job(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "jobs.sqlite3"
    inbox.mkdir()
    write_directive_wav(inbox / "long.wav", 6.0, text="A long one.")
    base = [str(inbox), "--db", str(db), "--quiet-period", "0.3"]
    with Emulator(rtf=0.5) as emu:
        env = cli_env(emu)
        d = Daemon([*base, "--grace", "0"], env)
        daemons.append(d)
        wait_for(lambda: mid_flight(emu), what="mid-flight")
        assert d.stop(signal.SIGTERM, timeout=30) == 0
        assert [j.state for j in jobs_in(db)] == [JobState.QUEUED]
        assert d.saw("stopping (SIGTERM)") and d.saw("requeued")

        d2 = Daemon(base, env)  # default grace: the job may finish
        daemons.append(d2)
        wait_for(lambda: mid_flight(emu) and d2.saw("started"), what="mid-flight again")
        assert d2.stop(signal.SIGINT, timeout=60) == 0
        assert [j.state for j in jobs_in(db)] == [JobState.DONE]
        assert (inbox / "long.txt").read_text() == "A long one.\n"


def test_missing_key_exits_2_before_any_request(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_directive_wav(inbox / "a.wav", 1.0, text="x")
    with Emulator() as emu:
        env = cli_env(emu)
        env.pop("STEPFUN_API_KEY")
        res = subprocess.run(
            [sys.executable, "-m", "tui", "watch", str(inbox), "--db", str(tmp_path / "db")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 2 and "API key" in res.stderr
        assert emu.requests == []
        bad = subprocess.run(
            [sys.executable, "-m", "tui", "watch", str(tmp_path / "nope")],
            env=cli_env(emu),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode == 2 and "none of the folders exists" in bad.stderr


def test_jobs_show_and_retry_commands(tmp_path: Path, daemons: list[Daemon]) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "jobs.sqlite3"
    inbox.mkdir()
    write_directive_wav(inbox / "ok.wav", 1.5, text="Fine words.")
    write_directive_wav(
        inbox / "flaky.wav", 1.5, text="Second time lucky.", fault="status", code=400, times=1
    )
    with Emulator() as emu:
        env = cli_env(emu)
        d = Daemon([str(inbox), "--db", str(db), "--quiet-period", "0.3"], env)
        daemons.append(d)
        wait_for(
            lambda: (
                len([j for j in jobs_in(db) if j.state in (JobState.DONE, JobState.FAILED)]) == 2
            ),
            what="both settled",
        )
        assert d.stop() == 0
        assert d.saw("FAILED")

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "tui", *args, "--db", str(db)],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        listed = [json.loads(line) for line in cli("jobs", "--json").stdout.splitlines()]
        assert {j["state"] for j in listed} == {"done", "failed"}
        failed = next(j for j in listed if j["state"] == "failed")
        table = cli("jobs", "--state", "failed")
        assert (
            table.returncode == 0 and "flaky.wav" in table.stdout and "ok.wav" not in table.stdout
        )

        retried = cli("retry", str(failed["id"]))
        assert retried.returncode == 0, retried.stdout + retried.stderr
        shown = cli("show", str(failed["id"]))
        assert shown.returncode == 0 and "Second time lucky." in shown.stdout
        assert "attempts:  2" in shown.stdout
        assert (inbox / "flaky.txt").read_text() == "Second time lucky.\n"
        assert cli("retry", str(failed["id"])).returncode == 1  # done: nothing to retry
        assert cli("show", "999").returncode == 1
        for res in (retried, shown):
            assert emu.demo_key not in res.stdout + res.stderr


async def test_the_daemon_stops_when_its_runner_dies(
    tmp_path: Path, fake_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A runner stopped by an error (here: another process holds the database's write lock)
    must take the daemon down with it, not leave a watcher queueing files nobody runs."""
    from tui.commands import watch_cmd

    inbox, db = tmp_path / "inbox", tmp_path / "jobs.sqlite3"
    inbox.mkdir()
    store = Store(db, timeout_s=0.2)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        settings = Settings(base_url="http://127.0.0.1:9/v1", api_key=Secret(fake_key))
        args = argparse.Namespace(grace=1.0)
        engine = Engine(settings, store=store, concurrency=1, requests_per_minute=0, grace_s=1.0)
        engine.watch(WatchConfig(folders=(inbox,)))
        code = await asyncio.wait_for(watch_cmd._daemon(args, engine), 30)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        store.close()
    out = capsys.readouterr().out
    assert code == 1
    assert "error: OperationalError: database is locked" in out
    assert "watch stopped" in out and fake_key not in out


def test_a_negative_rpm_is_a_usage_error(tmp_path: Path, fake_key: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = dict(os.environ, STEPFUN_API_KEY=fake_key, STEPFUN_BASE_URL="http://127.0.0.1:9/v1")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui",
            "watch",
            str(inbox),
            "--rpm",
            "-1",
            "--db",
            str(tmp_path / "db"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2 and "--rpm must be 0" in res.stderr
