"""Watcher modes and trouble: polling (network mounts), folders that vanish, empty files."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import until
from tests.test_watcher import watching, wav
from tui.engine import events as ev
from tui.stepfun.emulator import Emulator


async def test_polling_mode_catches_slow_writes_and_renames(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    body = wav("polled") + bytes(200_000)
    with Emulator() as emu:
        async with watching(
            [inbox], tmp_path / "db", emu, force_polling=True, quiet_period_s=1.2
        ) as h:
            # Several writes inside one second: polling alone would miss the last (#319).
            with (inbox / "slow.wav").open("wb") as fh:
                for i in range(8):
                    fh.write(body[i * len(body) // 8 : (i + 1) * len(body) // 8])
                    fh.flush()
                    await asyncio.sleep(0.15)
            (inbox / "b.wav.part").write_bytes(wav("renamed"))
            os.rename(inbox / "b.wav.part", inbox / "b.wav")
            await h.settled(2)
            slow = next(j for j in h.jobs() if j.source.name == "slow.wav")
            assert slow.size == len(body)
            assert (inbox / "slow.txt").read_text() == "polled\n"
            assert (inbox / "b.txt").read_text() == "renamed\n"
            assert len(h.jobs()) == 2 and h.completed_requests() == 2


async def test_a_missing_folder_does_not_stop_the_others_and_comes_back(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    with Emulator() as emu:
        async with watching([a, b], tmp_path / "db", emu) as h:
            shutil.rmtree(a)
            await until(
                lambda: any(e.folder == a for e in h.of(ev.FolderMissing)),
                what="a reported missing",
            )
            (b / "one.wav").write_bytes(wav("still watching b"))
            await h.settled(1)
            a.mkdir()
            (a / "two.wav").write_bytes(wav("a is back"))
            await until(
                lambda: any(e.folder == a for e in h.of(ev.FolderRestored)), what="a restored"
            )
            await h.settled(2)
            assert (b / "one.txt").read_text() == "still watching b\n"
            assert (a / "two.txt").read_text() == "a is back\n"
            assert h.completed_requests() == 2


async def test_an_empty_file_waits_and_is_picked_up_once_written(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with Emulator() as emu:
        async with watching([inbox], tmp_path / "db", emu, empty_give_up_s=0.8) as h:
            (inbox / "late.wav").touch()
            await until(
                lambda: any("empty" in e.reason for e in h.of(ev.FileSkipped)),
                what="empty reported",
            )
            assert h.jobs() == []
            (inbox / "late.wav").write_bytes(wav("filled later"))
            await h.settled(1)
            assert (inbox / "late.txt").read_text() == "filled later\n"
            assert h.completed_requests() == 1


async def test_a_failed_file_is_not_resent_on_restart(tmp_path: Path) -> None:
    from tui.stepfun.emulator import write_directive_wav

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_directive_wav(inbox / "broken.wav", 1.5, fault="status", code=400)
    with Emulator() as emu:
        async with watching([inbox], tmp_path / "db", emu) as h:
            await until(lambda: bool(h.of(ev.JobFailed)), what="job failed")
        assert len(h.store.list_jobs("failed")) == 1
        sent = len([r for r in emu.requests if r.endpoint == "sse"])
        async with watching([inbox], tmp_path / "db", emu) as h:
            await until(
                lambda: any("retry" in e.reason for e in h.of(ev.FileSkipped)),
                what="skip with a retry hint",
            )
        assert len([r for r in emu.requests if r.endpoint == "sse"]) == sent
        assert len(h.jobs()) == 1


# A watcher (real pipeline, the test's emulator) in a child process, so that it can run without
# root's power to read anything. It prints skips and writes; it stops when its stdin closes.
WATCH_CHILD = """
import asyncio, os, sys
from pathlib import Path
from tui.config import Settings
from tui.engine import events as ev
from tui.engine.engine import Engine
from tui.engine.watch_files import WatchConfig
from tui.secrets import Secret

def show(e):
    if isinstance(e, ev.FileSkipped):
        print("skipped", e.path, e.reason, flush=True)
    elif isinstance(e, ev.ExportWritten):
        print("wrote", e.source, flush=True)

async def main():
    settings = Settings(base_url=os.environ["EMU_URL"], api_key=Secret(os.environ["EMU_KEY"]))
    engine = Engine(settings, db_path=Path(sys.argv[2]), requests_per_minute=0)
    engine.bus.subscribe(show)
    engine.watch(WatchConfig(folders=(Path(sys.argv[1]),), recursive=True, quiet_period_s=0.3,
                             stat_interval_s=0.1, recheck_s=0.3, empty_give_up_s=1.0))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(0, lambda: (loop.remove_reader(0), stop.set()))
    await engine.serve(stop)

asyncio.run(main())
"""


def without_root_powers() -> list[str]:
    """As root, permissions are not checked: drop the capabilities that bypass them."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv is missing")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_unreadable_files_are_reported_and_picked_up_once_readable(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    locked = inbox / "locked"
    locked.mkdir(parents=True)
    (locked / "inside.wav").write_bytes(wav("behind a locked door"))
    (inbox / "secret.wav").write_bytes(wav("no read permission"))
    locked.chmod(0o600)  # `chmod -R 644`: listable, but nothing inside can be looked at
    (inbox / "secret.wav").chmod(0o000)
    lines: list[str] = []

    def wait_for(text: str, limit_s: float = 30.0) -> None:
        end = time.monotonic() + limit_s
        while not any(text in line for line in lines):
            if time.monotonic() > end or proc.poll() is not None:
                raise AssertionError(f"no line with {text!r} in:\n" + "\n".join(lines))
            time.sleep(0.05)

    with Emulator() as emu:
        env = dict(os.environ, EMU_URL=emu.base_url, EMU_KEY=emu.demo_key)
        proc = subprocess.Popen(
            [
                *without_root_powers(),
                sys.executable,
                "-c",
                WATCH_CHILD,
                str(inbox),
                str(tmp_path / "jobs.sqlite3"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert proc.stdout is not None and proc.stdin is not None

        def read(out: IO[str]) -> None:
            for line in out:
                lines.append(line.rstrip())

        reader = threading.Thread(target=read, args=(proc.stdout,), daemon=True)
        reader.start()
        try:
            wait_for(f"skipped {locked / 'inside.wav'} cannot read it")
            wait_for(f"skipped {inbox / 'secret.wav'} cannot read it")
            locked.chmod(0o755)
            (inbox / "secret.wav").chmod(0o644)
            wait_for(f"wrote {locked / 'inside.wav'}")
            wait_for(f"wrote {inbox / 'secret.wav'}")
        finally:
            proc.stdin.close()
            proc.wait(30)
            reader.join(5)
        assert (locked / "inside.txt").read_text() == "behind a locked door\n"
        assert (inbox / "secret.txt").read_text() == "no read permission\n"
        assert sum(1 for r in emu.requests if r.endpoint == "sse" and r.done_sent) == 2
