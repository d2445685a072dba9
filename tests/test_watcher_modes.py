"""Watcher modes and trouble: polling (network mounts), folders that vanish, empty files."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from tests.test_watcher import until, watching, wav
from tui.jobs import events as ev
from tui.stepfun.emulator import Emulator


async def test_polling_mode_catches_slow_writes_and_renames(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    body = wav("polled") + bytes(200_000)
    with Emulator() as emu:
        async with watching([inbox], tmp_path / "db", emu, force_polling=True,
                            quiet_period_s=1.2) as h:
            # Several writes inside one second: polling alone would miss the last (#319).
            with (inbox / "slow.wav").open("wb") as fh:
                for i in range(8):
                    fh.write(body[i * len(body) // 8:(i + 1) * len(body) // 8])
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
            await until(lambda: any(e.folder == a for e in h.of(ev.FolderMissing)),
                        what="a reported missing")
            (b / "one.wav").write_bytes(wav("still watching b"))
            await h.settled(1)
            a.mkdir()
            (a / "two.wav").write_bytes(wav("a is back"))
            await until(lambda: any(e.folder == a for e in h.of(ev.FolderRestored)),
                        what="a restored")
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
            await until(lambda: any("empty" in e.reason for e in h.of(ev.FileSkipped)),
                        what="empty reported")
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
            await until(lambda: any("retry" in e.reason for e in h.of(ev.FileSkipped)),
                        what="skip with a retry hint")
        assert len([r for r in emu.requests if r.endpoint == "sse"]) == sent
        assert len(h.jobs()) == 1
