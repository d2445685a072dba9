"""What an unattended daemon meets over weeks: odd names, watch limits, a start-up race, a folder
whose watch breaks, a locked or full database. Real processes, real files, the loopback
emulator; every test checks the store and the emulator's request log (nothing lost, nothing
sent twice)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import until
from tests.test_watch_daemon import Daemon, cli_env, jobs_in, wait_for
from tests.test_watcher import watching, wav
from tui.config import Settings
from tui.engine import events as ev
from tui.engine.engine import Engine
from tui.engine.watch_files import WatchConfig
from tui.engine.watch_folders import FolderWatch
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator
from tui.store.records import JobState
from tui.store.store import Store

pytestmark = pytest.mark.slow


def sent(emu: Emulator) -> int:
    """Finished transcription requests the emulator answered."""
    return sum(1 for r in emu.requests if r.endpoint == "sse" and r.done_sent)


def bytes_path(folder: Path, name: bytes) -> Path:
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))


def test_names_that_are_not_utf8_or_hold_newlines_are_transcribed_and_shown_escaped(
    tmp_path: Path,
) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "jobs.sqlite3"
    inbox.mkdir()
    # Present at start (the scan) and dropped later (an event), plus a name that tries to
    # forge a daemon line.
    early = bytes_path(inbox, b"caf\xe9-latin1.wav")
    late = bytes_path(inbox, b"\xff\xfe-late.wav")
    forged = inbox / "evil\n12:00:00 done      #99 fake.wav"
    early.write_bytes(wav("early bytes"))
    with Emulator() as emu:
        d = Daemon([str(inbox), "--db", str(db), "--quiet-period", "0.3"], cli_env(emu))
        try:
            wait_for(lambda: d.saw("wrote"), what="the early file written")
            late.write_bytes(wav("late bytes"))
            forged.write_bytes(wav("forged"))
            wait_for(lambda: len([j for j in jobs_in(db) if j.state is JobState.DONE]) == 3)
        finally:
            assert d.stop() == 0, d.output()
        assert sorted(j.source for j in jobs_in(db)) == sorted([early, late, forged])
        assert sent(emu) == 3
    names = set(os.listdir(os.fsencode(inbox)))
    assert {
        b"caf\xe9-latin1.txt",
        b"\xff\xfe-late.txt",
        b"evil\n12:00:00 done      #99 fake.txt",
    } <= names
    assert bytes_path(inbox, b"\xff\xfe-late.txt").read_text() == "late bytes\n"
    out = d.output()
    assert "caf\\xe9-latin1.wav" in out and "\\xff\\xfe-late.wav" in out
    assert "evil\\n12:00:00 done" in out
    assert not any(line.startswith("12:00:00 done") for line in d.lines), out
    assert "Traceback" not in out, out
    assert "WATCH TROUBLE" not in out  # an odd name restarts the OS watch, it does not poll


def in_small_user_namespace(max_watches: int) -> list[str]:
    """A command prefix running the child in its own user namespace whose inotify watch
    limit is ``max_watches`` (the machine's limit is left alone)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare is missing")
    probe = subprocess.run(
        [
            unshare,
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            f"echo {max_watches} > /proc/sys/user/max_inotify_watches",
        ],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot lower the inotify limit in a user namespace: {probe.stderr!r}")
    script = f'echo {max_watches} > /proc/sys/user/max_inotify_watches && exec "$@"'
    return [unshare, "--user", "--map-root-user", "sh", "-c", script, "sh"]


def test_the_inotify_limit_switches_the_tree_to_polling_and_says_so_once(
    tmp_path: Path,
) -> None:
    tree, db = tmp_path / "tree", tmp_path / "jobs.sqlite3"
    for i in range(40):
        (tree / f"d{i:02d}" / "deeper").mkdir(parents=True)
    prefix = in_small_user_namespace(20)
    with Emulator() as emu:
        args = [str(tree), "--recursive", "--db", str(db), "--quiet-period", "0.3"]
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "tui", "watch", *args],
            env=cli_env(emu),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        d = Daemon.__new__(Daemon)  # reuse the line reader around our own process
        d.proc, d.lines = proc, []
        d._reader = threading.Thread(target=d._read, daemon=True)
        d._reader.start()
        try:
            wait_for(lambda: d.saw("watching"), what="watching")
            drops = [tree / f"d{i:02d}" / "deeper" / f"f{i}.wav" for i in range(0, 40, 4)]
            for i, path in enumerate(drops):
                path.write_bytes(wav(f"deep file {i}"))
            wait_for(lambda: sum(j.state is JobState.DONE for j in jobs_in(db)) == len(drops))
        finally:
            assert d.stop() == 0, d.output()
        assert sorted(j.source for j in jobs_in(db)) == sorted(drops)
        assert sent(emu) == len(drops)
    trouble = [line for line in d.lines if "WATCH TROUBLE" in line]
    assert len(trouble) == 1, d.output()
    assert "inotify watch limit" in trouble[0] and "fs.inotify.max_user_watches" in trouble[0]


async def test_a_file_dropped_as_the_watch_starts_is_never_missed(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    rounds, per_round = 3, 10
    with Emulator() as emu, Store(tmp_path / "jobs.sqlite3") as store:
        settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
        for round_ in range(rounds):
            # Files land 0–27 ms after the watch says it started: some before the OS watch
            # is up, some while the start-up scan runs, some after.
            drops = [
                (inbox / f"race{round_}-{i}.wav", wav(f"race {round_} {i}"), i * 0.003)
                for i in range(per_round)
            ]
            engine = Engine(settings, store=store, requests_per_minute=0)

            def drop(event: ev.Event, drops: list[tuple[Path, bytes, float]] = drops) -> None:
                if isinstance(event, ev.WatchStarted):
                    for target, body, delay in drops:
                        threading.Timer(delay, target.write_bytes, (body,)).start()

            engine.bus.subscribe(drop)
            engine.watch(
                WatchConfig(
                    folders=(inbox,), quiet_period_s=0.3, stat_interval_s=0.1, rescan_s=3600.0
                )
            )
            stop = asyncio.Event()
            serving = asyncio.ensure_future(engine.serve(stop))
            want = (round_ + 1) * per_round
            try:
                await until(
                    lambda want=want: len(store.list_jobs(JobState.DONE)) == want,  # type: ignore[misc]
                    30,
                    f"round {round_}: every file transcribed without a restart",
                )
            finally:
                stop.set()
                await serving
        assert sent(emu) == rounds * per_round


async def test_a_folder_whose_watch_fails_is_reported_and_restarts_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    real_scan = FolderWatch._scan
    broken = {a}

    async def scan(self: FolderWatch, root: Path, *args: Any, **kw: Any) -> None:
        if root in broken:
            broken.discard(root)
            raise RuntimeError("the folder listing broke")
        await real_scan(self, root, *args, **kw)

    monkeypatch.setattr(FolderWatch, "_scan", scan)
    with Emulator() as emu:
        async with watching([a, b], tmp_path / "jobs.sqlite3", emu) as h:
            await until(lambda: h.of(ev.WatchDegraded), 10, "the failure reported")
            (b / "other.wav").write_bytes(wav("b kept going"))
            await h.settled(1)
            (a / "after.wav").write_bytes(wav("a came back"))
            await h.settled(2)
        degraded = h.of(ev.WatchDegraded)
        assert len(degraded) == 1 and degraded[0].folder == a
        assert "restarts by itself" in degraded[0].message and "broke" in degraded[0].message
        assert not h.of(ev.WatchFailed)
        assert sent(emu) == 2


def hold_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """A second process holding the database's write lock for ``seconds``."""
    code = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "c.execute('COMMIT')\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(db), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


async def test_a_locked_database_delays_new_files_and_loses_none(tmp_path: Path) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "jobs.sqlite3"
    inbox.mkdir()
    with Emulator() as emu:
        async with watching([inbox], db, emu) as h:
            h.store._db.conn.execute("PRAGMA busy_timeout = 200")  # a lock outlasts the wait
            (inbox / "before.wav").write_bytes(wav("before the lock"))
            await h.settled(1)
            locker = await asyncio.to_thread(hold_lock, db, 4.0)
            try:
                for i in range(3):
                    (inbox / f"during{i}.wav").write_bytes(wav(f"during the lock {i}"))
                await until(lambda: h.of(ev.WatchDegraded), 20, "the lock reported")
            finally:
                await asyncio.to_thread(locker.wait, 30)
            await h.settled(4, "every file once the lock is gone")
        assert not h.of(ev.FileSkipped)
        assert "cannot be written" in h.of(ev.WatchDegraded)[0].message
        assert sorted(j.source.name for j in h.jobs()) == [
            "before.wav",
            "during0.wav",
            "during1.wav",
            "during2.wav",
        ]
        assert sent(emu) == 4


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 3 MB tmpfs (root only; skipped elsewhere)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr!r}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def test_a_full_disk_delays_new_files_until_space_returns(
    tmp_path: Path, small_disk: Path
) -> None:
    inbox, db = tmp_path / "inbox", small_disk / "jobs.sqlite3"
    inbox.mkdir()
    with Emulator() as emu:
        async with watching([inbox], db, emu) as h:
            (inbox / "first.wav").write_bytes(wav("room to spare"))
            await h.settled(1)
            filler = small_disk / "filler"
            with filler.open("wb") as fh, pytest.raises(OSError):
                while True:  # fill every last block
                    fh.write(b"\0" * 65536)
                    fh.flush()
            for i in range(3):
                (inbox / f"full{i}.wav").write_bytes(wav(f"disk full {i}"))
            await until(lambda: h.of(ev.WatchDegraded), 30, "the full disk reported")
            assert len(h.jobs()) == 1
            filler.unlink()
            await h.settled(4, "every file once space is back")
        assert "full" in h.of(ev.WatchDegraded)[0].message
        assert not h.of(ev.FileSkipped)
        assert sorted(j.source.name for j in h.jobs()) == [
            "first.wav",
            "full0.wav",
            "full1.wav",
            "full2.wav",
        ]
        assert sent(emu) == 4


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_damaged_database_is_a_sentence_and_db_repair_recovers_it(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    with Store(db) as store:
        for i in range(400):
            store.add_job(tmp_path / f"recording-{i:03d}-{'x' * 200}.wav")
        store._db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with db.open("r+b") as fh:  # scribble over a page in the middle of the jobs table
        fh.seek(size // 2 // 4096 * 4096)
        fh.write(b"\xde\xad\xbe\xef" * 1024)
    env = dict(os.environ)
    listing = run_cli("jobs", "--db", str(db), env=env)
    assert listing.returncode == 1
    assert "Traceback" not in listing.stderr
    assert "is damaged" in listing.stderr and "stepfun-asr db repair" in listing.stderr

    check = run_cli("db", "check", "--db", str(db), env=env)
    assert check.returncode == 1 and "is damaged" in check.stdout

    fixed = run_cli("db", "repair", "--db", str(db), env=env)
    assert fixed.returncode == 0, fixed.stderr
    backups = [
        p for p in tmp_path.glob("jobs.sqlite3.damaged-*") if p.name[-4:] not in ("-wal", "-shm")
    ]
    assert len(backups) == 1 and backups[0].stat().st_size == size
    assert run_cli("db", "check", "--db", str(db), env=env).returncode == 0
    with Store(db) as store:
        recovered = store.list_jobs()
    assert 300 < len(recovered) < 400  # the scribbled page's rows are gone, the rest kept
    assert all(j.state is JobState.QUEUED for j in recovered)
    assert run_cli("jobs", "--db", str(db), env=env).returncode == 0


def test_commands_say_a_locked_database_in_a_sentence(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    with Store(db) as store:
        job = store.add_job(tmp_path / "a.wav")
        store.fail_job(job.id, "broken", "bad_input")
    locker = hold_lock(db, 30.0)
    try:
        env = dict(os.environ, STEPFUN_API_KEY="test-key-not-used")
        start = time.monotonic()
        retry = run_cli("retry", str(job.id), "--db", str(db), env=env)
    finally:
        locker.send_signal(signal.SIGTERM)
        locker.wait(10)
    assert retry.returncode == 1, retry.stdout
    assert "Traceback" not in retry.stderr
    assert "locked by another program" in retry.stderr
    assert time.monotonic() - start < 60
