"""On-done hooks under the daemon (a real subprocess): no key in their environment, at most
``hook_concurrency`` at once, killed with their process group within the grace period, and
dead when the daemon is SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.test_watch_daemon import Daemon, cli_env, jobs_in, wait_for
from tests.test_watcher import wav
from tui.childenv import clean_child_env
from tui.stepfun.emulator import Emulator
from tui.store.records import JobState

pytestmark = pytest.mark.slow

HOOK = r"""
import json, os, sys, time
log, running, sleep_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
mine = os.path.join(running, str(os.getpid()))
open(mine, "w").close()
seen = len(os.listdir(running))
key = os.environ.get("LEAK_PROBE_KEY", "")
record = {
    "pid": os.getpid(),
    "at_once": seen,
    "has_key_var": "STEPFUN_API_KEY" in os.environ,
    "key_anywhere": bool(key) and any(key in v for v in os.environ.values()),
    "transcript": sys.argv[4],
}
with open(log, "a") as fh:
    fh.write(json.dumps(record) + "\n")
time.sleep(sleep_s)
os.unlink(mine)
"""


def hook_command(tmp_path: Path, sleep_s: float) -> tuple[str, Path, Path]:
    script = tmp_path / "hook.py"
    script.write_text(HOOK)
    log, running = tmp_path / "hooks.jsonl", tmp_path / "running"
    running.mkdir()
    return f"{sys.executable} {script} {log} {running} {sleep_s}", log, running


def records(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (its parent, the daemon, may be gone without reaping it).
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_the_key_never_reaches_a_hook_environment() -> None:
    env = {"STEPFUN_API_KEY": "sk-abcdef123456", "COPY": "x sk-abcdef123456 y", "HOME": "/h"}
    assert clean_child_env(None, env) == {"HOME": "/h"}
    assert clean_child_env("other-key-789", {"A": "other-key-789", "B": "b"}) == {"B": "b"}


def test_hooks_run_two_at_a_time_without_the_key(tmp_path: Path) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "jobs.sqlite3"
    inbox.mkdir()
    command, log, _running = hook_command(tmp_path, 0.8)
    for i in range(8):
        (inbox / f"f{i}.wav").write_bytes(wav(f"file {i}"))
    with Emulator() as emu:
        env = cli_env(emu)
        # The key also sits in another variable: that one must not reach the hook either.
        env["LEAK_PROBE_KEY"] = env["STEPFUN_API_KEY"]
        env["SOME_TOKEN_COPY"] = f"Bearer {env['STEPFUN_API_KEY']}"
        args = [str(inbox), "--db", str(db), "--quiet-period", "0.3", "--concurrency", "4"]
        d = Daemon([*args, "--rpm", "0", "--on-done", command], env)
        try:
            wait_for(lambda: len(records(log)) == 8, what="eight hooks ran")
            wait_for(lambda: not os.listdir(tmp_path / "running"), what="hooks finished")
        finally:
            assert d.stop() == 0, d.output()
    runs = records(log)
    assert max(int(str(r["at_once"])) for r in runs) <= 2
    assert not any(r["has_key_var"] or r["key_anywhere"] for r in runs)
    assert sorted(Path(str(r["transcript"])).name for r in runs) == [f"f{i}.txt" for i in range(8)]
    assert "hook failed" not in d.output()


def test_a_hung_hook_is_killed_within_the_grace_period(tmp_path: Path) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "jobs.sqlite3"
    inbox.mkdir()
    command, log, _running = hook_command(tmp_path, 600)
    (inbox / "a.wav").write_bytes(wav("hangs its hook"))
    with Emulator() as emu:
        args = [str(inbox), "--db", str(db), "--quiet-period", "0.3", "--grace", "1"]
        d = Daemon([*args, "--on-done", command], cli_env(emu))
        wait_for(lambda: len(records(log)) == 1, what="the hook started")
        pid = int(str(records(log)[0]["pid"]))
        started = time.monotonic()
        code = d.stop(signal.SIGTERM, timeout=60)
        stopped_after = time.monotonic() - started
    assert code == 0, d.output()
    assert not alive(pid)
    assert stopped_after < 30, f"SIGTERM took {stopped_after:.1f} s with --grace 1"  # vs 600
    assert [j.state for j in jobs_in(db)] == [JobState.DONE]
    assert "on-done command" in d.output() and "was stopped" in d.output()


def test_hooks_die_with_a_sigkilled_daemon(tmp_path: Path) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "jobs.sqlite3"
    inbox.mkdir()
    command, log, _running = hook_command(tmp_path, 600)
    (inbox / "a.wav").write_bytes(wav("orphaned hook"))
    with Emulator() as emu:
        d = Daemon(
            [str(inbox), "--db", str(db), "--quiet-period", "0.3", "--on-done", command],
            cli_env(emu),
        )
        wait_for(lambda: len(records(log)) == 1, what="the hook started")
        pid = int(str(records(log)[0]["pid"]))
        d.proc.kill()
        d.proc.wait(10)
        wait_for(lambda: not alive(pid), timeout=20, what="the hook gone with the daemon")
