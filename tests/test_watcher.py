"""The watcher against real file operations, with the real pipeline and the loopback emulator.

Every scenario checks "exactly once" on both sides: the store's jobs and the emulator's log of
finished SSE requests. Waits are conditions with deadlines, never timed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fake_transcriber, until
from tui.config import Settings
from tui.engine import events as ev
from tui.engine.engine import Engine
from tui.engine.runner import Runner
from tui.engine.watch_files import WatchConfig, skip_reason
from tui.engine.watcher import Watcher
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator
from tui.stepfun.emulator.directive import directive_chunk, synth_pcm16, wav_bytes
from tui.store.ledger import WatchLedger
from tui.store.records import Job, JobOptions, JobState
from tui.store.store import Store
from tui.transcript.exports import ExportSpec
from tui.transcript.model import TranscriptionResult

PCM = synth_pcm16(1.5)


def wav(text: str) -> bytes:
    """A distinct 1.5 s WAV whose transcript (from the emulator) is ``text``."""
    return wav_bytes(PCM, extra_chunks=directive_chunk({"text": text}))


@dataclass
class Harness:
    store: Store
    runner: Runner
    engine: Engine
    emu: Emulator
    events: list[ev.Event] = field(default_factory=list)

    def jobs(self) -> list[Job]:
        return self.store.list_jobs(newest_first=False)

    def finished(self) -> list[Job]:
        return [j for j in self.jobs() if j.state in (JobState.DONE, JobState.NEEDS_REVIEW)]

    def completed_requests(self) -> int:
        return sum(1 for r in self.emu.requests if r.endpoint == "sse" and r.done_sent)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def exported(self, path: Path) -> bool:
        return any(e.source == path for e in self.of(ev.ExportWritten))

    async def settled(self, n_jobs: int, what: str = "", limit_s: float = 60.0) -> None:
        """n jobs finished and nothing left settling or running."""
        await until(
            lambda: (
                len(self.finished()) >= n_jobs
                and not self.engine.settling
                and not self.runner.running_ids
                and not self.store.has_queued()
            ),
            limit_s,
            what or f"{n_jobs} finished jobs",
        )


@contextlib.asynccontextmanager
async def watching(
    folders: list[Path], db: Path, emu: Emulator, **cfg: Any
) -> AsyncIterator[Harness]:
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    store = Store(db)
    engine = Engine(
        settings,
        store=store,
        concurrency=cfg.pop("concurrency", 4),
        requests_per_minute=0,
        grace_s=5,
    )
    h_events: list[ev.Event] = []
    engine.bus.subscribe(h_events.append)
    cfg.setdefault("quiet_period_s", 0.6)
    cfg.setdefault("stat_interval_s", 0.1)
    cfg.setdefault("recheck_s", 0.3)
    engine.watch(WatchConfig(folders=tuple(folders), **cfg))
    stop = asyncio.Event()
    tasks = asyncio.ensure_future(engine.serve(stop))
    harness = Harness(store, engine.runner, engine, emu, h_events)
    try:
        await until(lambda: bool(harness.of(ev.WatchStarted)), 10, "watch started")
        yield harness
    finally:
        stop.set()
        await tasks  # the store stays open so a test can still look at it afterwards


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    inbox, staging = tmp_path / "inbox", tmp_path / "staging"
    inbox.mkdir()
    staging.mkdir()
    return inbox, staging, tmp_path / "jobs.sqlite3"


def test_name_filter() -> None:
    root = Path("/in")
    assert skip_reason(Path("/in/a.wav"), root) is None
    assert skip_reason(Path("/in/A.MP3"), root) is None
    assert skip_reason(Path("/in/.a.wav"), root) == "hidden"
    assert skip_reason(Path("/in/.sub/a.wav"), root) == "hidden"
    for name in ("a.wav.part", "a.mp3.crdownload", "a.download", "a.partial", "a.tmp", "a.wav~"):
        assert skip_reason(Path("/in") / name, root) == "partial download"
    assert skip_reason(Path("/in/a.txt"), root) == "not audio or video"


async def test_real_drops_are_each_transcribed_exactly_once(
    dirs: tuple[Path, Path, Path], emu: Emulator
) -> None:
    inbox, staging, db = dirs
    async with watching([inbox], db, emu, quiet_period_s=1.2) as h:
        # Already there at start: picked up by the initial scan.
        (inbox / "early.wav").write_bytes(wav("early"))
        # A fast copy.
        (staging / "copy.wav").write_bytes(wav("copy"))
        shutil.copy2(staging / "copy.wav", inbox / "copy.wav")
        # Written as .part, then renamed.
        (inbox / "dl.wav.part").write_bytes(wav("download"))
        os.rename(inbox / "dl.wav.part", inbox / "dl.wav")
        # mv from another folder on the same file system.
        (staging / "moved.wav").write_bytes(wav("moved"))
        await asyncio.to_thread(
            subprocess.run, ["mv", str(staging / "moved.wav"), str(inbox / "moved.wav")], check=True
        )
        # rsync: a hidden temp file, then a rename.
        (staging / "synced.wav").write_bytes(wav("synced"))
        await asyncio.to_thread(
            subprocess.run,
            ["rsync", "-a", str(staging / "synced.wav"), str(inbox) + "/"],
            check=True,
        )
        # Dotfiles and partials never count.
        (inbox / ".hidden.wav").write_bytes(wav("hidden"))
        (inbox / "never.wav.crdownload").write_bytes(wav("never"))
        # A slow write: ten chunks, well apart, but each gap shorter than the quiet period.
        slow_bytes = wav("slow") + bytes(160_000)
        with (inbox / "slow.wav").open("wb") as fh:
            for i in range(10):
                fh.write(slow_bytes[i * len(slow_bytes) // 10 : (i + 1) * len(slow_bytes) // 10])
                fh.flush()
                await asyncio.sleep(0.3)
        await h.settled(6, "six drops")
        names = sorted(j.source.name for j in h.jobs())
        assert names == ["copy.wav", "dl.wav", "early.wav", "moved.wav", "slow.wav", "synced.wav"]
        assert h.completed_requests() == 6
        slow = next(j for j in h.jobs() if j.source.name == "slow.wav")
        assert slow.size == len(slow_bytes)
        assert slow.content_hash == hashlib.sha256(slow_bytes).hexdigest()
        for name, text in [
            ("copy", "copy"),
            ("dl", "download"),
            ("moved", "moved"),
            ("synced", "synced"),
            ("early", "early"),
            ("slow", "slow"),
        ]:
            assert (inbox / f"{name}.txt").read_text() == text + "\n"
        assert not (inbox / ".hidden.txt").exists() and not (inbox / "never.txt").exists()
        assert not any(e.path.name.startswith(".") for e in h.of(ev.FileDetected))


async def test_restart_touch_rename_and_copy_are_not_sent_again(
    dirs: tuple[Path, Path, Path], emu: Emulator
) -> None:
    inbox, _, db = dirs
    (inbox / "talk.wav").write_bytes(wav("talk once"))
    async with watching([inbox], db, emu) as h:
        await h.settled(1)
    assert h.completed_requests() == 1

    async with watching([inbox], db, emu) as h:
        os.utime(inbox / "talk.wav")  # touch: new mtime, same bytes
        shutil.copy(inbox / "talk.wav", inbox / "talk-copy.wav")
        await until(lambda: h.exported(inbox / "talk-copy.wav"), what="copy exported")
        os.rename(inbox / "talk-copy.wav", inbox / "renamed.wav")
        await until(lambda: h.exported(inbox / "renamed.wav"), what="rename exported")
        await h.settled(1)
        assert (inbox / "talk-copy.txt").read_text() == "talk once\n"
        assert (inbox / "renamed.txt").read_text() == "talk once\n"
        skipped = [e for e in h.of(ev.FileSkipped) if "same audio" in e.reason]
        assert {e.path.name for e in skipped} == {"talk-copy.wav", "renamed.wav"}
    assert len(h.jobs()) == 1 and h.completed_requests() == 1


async def test_copies_are_resent_when_asked_but_renames_are_not(
    dirs: tuple[Path, Path, Path], emu: Emulator
) -> None:
    inbox, _, db = dirs
    async with watching([inbox], db, emu, skip_duplicate_content=False) as h:
        (inbox / "a.wav").write_bytes(wav("same"))
        await h.settled(1)
        shutil.copy(inbox / "a.wav", inbox / "b.wav")
        await h.settled(2, "the copy sent again")
        os.rename(inbox / "b.wav", inbox / "c.wav")
        await until(lambda: h.exported(inbox / "c.wav"), what="rename exported")
        assert len(h.jobs()) == 2 and h.completed_requests() == 2


async def test_a_copy_arriving_while_the_original_runs_gets_its_transcript(
    dirs: tuple[Path, Path, Path],
) -> None:
    inbox, _, db = dirs
    with Emulator(rtf=1.0) as slow_emu:  # 1.5 s of audio takes 1.5 s
        async with watching([inbox], db, slow_emu) as h:
            (inbox / "orig.wav").write_bytes(wav("twin"))
            await until(lambda: bool(h.runner.running_ids), what="original running")
            shutil.copy(inbox / "orig.wav", inbox / "twin.wav")
            await until(lambda: h.exported(inbox / "twin.wav"), what="twin exported")
            assert (inbox / "twin.txt").read_text() == "twin\n"
            assert len(h.jobs()) == 1 and h.completed_requests() == 1


async def test_existing_transcripts_follow_the_policy(tmp_path: Path, emu: Emulator) -> None:
    for policy in ("skip", "suffix", "overwrite"):
        inbox = tmp_path / policy
        inbox.mkdir()
        (inbox / "memo.txt").write_text("my own notes\n")
        async with watching(
            [inbox],
            tmp_path / f"{policy}.db",
            emu,
            export=ExportSpec(formats=("txt",), policy=policy),
        ) as h:
            (inbox / "memo.wav").write_bytes(wav(f"memo {policy}"))
            if policy == "skip":
                await until(lambda: bool(h.of(ev.FileSkipped)), what="skip reported")
                assert "already exists" in h.of(ev.FileSkipped)[0].reason
                assert h.jobs() == []
                assert (inbox / "memo.txt").read_text() == "my own notes\n"
            else:
                await h.settled(1)
                if policy == "suffix":
                    assert (inbox / "memo.txt").read_text() == "my own notes\n"
                    assert (inbox / "memo.1.txt").read_text() == "memo suffix\n"
                else:
                    assert (inbox / "memo.txt").read_text() == "memo overwrite\n"
    assert sum(r.done_sent for r in emu.requests) == 2


async def test_two_hundred_files_at_once(dirs: tuple[Path, Path, Path], emu: Emulator) -> None:
    inbox, staging, db = dirs
    for i in range(200):
        (staging / f"f{i:03d}.wav").write_bytes(wav(f"file {i}"))
    async with watching([inbox], db, emu, concurrency=4) as h:
        for i in range(200):
            os.rename(staging / f"f{i:03d}.wav", inbox / f"f{i:03d}.wav")
        await h.settled(200, limit_s=240)
        jobs = h.jobs()
        assert len(jobs) == 200 and len({j.source for j in jobs}) == 200
        assert h.completed_requests() == 200
        assert all((inbox / f"f{i:03d}.txt").read_text() == f"file {i}\n" for i in range(200))


async def test_recursive_watch_with_an_output_folder_inside(
    dirs: tuple[Path, Path, Path], emu: Emulator
) -> None:
    inbox, staging, db = dirs
    out = inbox / "transcripts"
    (inbox / "day1").mkdir()
    async with watching(
        [inbox],
        db,
        emu,
        recursive=True,
        export=ExportSpec(formats=("txt", "json"), out_dir=str(out)),
    ) as h:
        (inbox / "day1" / "a.wav").write_bytes(wav("day one"))
        # A folder moved in with a file already inside.
        (staging / "day2").mkdir()
        (staging / "day2" / "b.wav").write_bytes(wav("day two"))
        os.rename(staging / "day2", inbox / "day2")
        await h.settled(2)
        assert (out / "day1" / "a.txt").read_text() == "day one\n"
        assert (out / "day2" / "b.txt").read_text() == "day two\n"
        # Audio put inside the output folder is not ours to transcribe.
        (out / "stray.wav").write_bytes(wav("stray"))
        (inbox / "c.wav").write_bytes(wav("top"))
        await h.settled(3)
        assert sorted(j.source.name for j in h.jobs()) == ["a.wav", "b.wav", "c.wav"]
        assert not any(e.path.is_relative_to(out) for e in h.of(ev.FileDetected))
        assert h.completed_requests() == 3


async def test_an_out_dir_that_is_the_watched_folder_is_still_watched(
    dirs: tuple[Path, Path, Path], emu: Emulator
) -> None:
    """Only an output folder *inside* a watched folder is left out; `--out-dir` naming the
    watched folder itself must not silently exclude every file in it."""
    inbox, _, db = dirs
    async with watching(
        [inbox], db, emu, export=ExportSpec(formats=("txt",), out_dir=str(inbox))
    ) as h:
        (inbox / "memo.wav").write_bytes(wav("same folder"))
        await until(lambda: bool(h.of(ev.FileDetected)), 15, "memo.wav detected")
        await h.settled(1)
        assert (inbox / "memo.txt").read_text() == "same folder\n"
        assert h.completed_requests() == 1


async def test_a_file_renamed_while_queued_is_transcribed_under_its_new_name(
    dirs: tuple[Path, Path, Path],
) -> None:
    inbox, _, db = dirs
    with Emulator(rtf=1.0) as slow_emu:  # the first file keeps the only worker busy
        async with watching([inbox], db, slow_emu, concurrency=1) as h:
            (inbox / "first.wav").write_bytes(wav("first"))
            await until(lambda: bool(h.runner.running_ids), what="first running")
            (inbox / "take1.wav").write_bytes(wav("the renamed one"))
            await until(
                lambda: any(j.source.name == "take1.wav" for j in h.jobs()), what="take1 queued"
            )
            os.rename(inbox / "take1.wav", inbox / "final.wav")
            await until((inbox / "final.txt").exists, what="final.txt written")
            await h.settled(2)
            jobs = h.jobs()
            assert [j.source.name for j in jobs] == ["first.wav", "final.wav"]
            assert (inbox / "final.txt").read_text() == "the renamed one\n"
            assert not (inbox / "take1.txt").exists()
            assert h.completed_requests() == 2


async def test_a_copy_admitted_by_another_process_meanwhile_is_not_queued_again(
    tmp_path: Path,
) -> None:
    """Two watchers on one folder and database (the workbench and the daemon): a copy must not
    become a second paid job because the other process admitted the original just after this
    one looked at the ledger."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = wav("twins")
    (inbox / "a.wav").write_bytes(data)
    (inbox / "b.wav").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    db = tmp_path / "jobs.sqlite3"
    other = Store(db)  # the other process's connection

    class RacingLedger(WatchLedger):
        def ledger_entry(self, content_hash: str) -> Any:
            answer = super().ledger_entry(content_hash)
            if other.ledger.seen_file(inbox / "a.wav") is None:
                st = (inbox / "a.wav").stat()
                other.ledger.admit_file(
                    inbox / "a.wav",
                    size=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                    content_hash=digest,
                    options=JobOptions(),
                    watch_id=str(inbox),
                )
            return answer

    store = Store(db)
    store.ledger = RacingLedger(store._db)
    engine = Engine(Settings(), store=store, requests_per_minute=0)
    watcher = Watcher(WatchConfig(folders=(inbox,)), store, engine.runner, engine.bus)
    watcher._admit(inbox / "b.wav", inbox, (inbox / "b.wav").stat(), digest)
    jobs = store.list_jobs()
    assert [j.source.name for j in jobs] == ["a.wav"]
    assert store.ledger.seen_file(inbox / "b.wav").job_id == jobs[0].id  # type: ignore[union-attr]
    other.close()
    store.close()


async def test_a_job_that_failed_on_a_rename_runs_again_under_the_new_name(
    tmp_path: Path, emu: Emulator
) -> None:
    """The runner reached the job between the rename and the watcher seeing the new name: it
    failed as missing. Seeing the same bytes under the new name brings it back."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    data = wav("moved on")
    (inbox / "take1.wav").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    store = Store(tmp_path / "jobs.sqlite3")
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    engine = Engine(settings, store=store, requests_per_minute=0)
    runner, bus = engine.runner, engine.bus
    watcher = Watcher(WatchConfig(folders=(inbox,)), store, runner, bus)
    st = (inbox / "take1.wav").stat()
    adm = store.ledger.admit_file(
        inbox / "take1.wav",
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        content_hash=digest,
        options=watcher.job_options(inbox),
        watch_id=str(inbox),
    )
    os.rename(inbox / "take1.wav", inbox / "final.wav")
    await runner.drain()
    failed = store.get_job(adm.job.id)
    assert failed is not None and failed.state is JobState.FAILED
    assert failed.error_kind == "bad_input"
    watcher._admit(inbox / "final.wav", inbox, (inbox / "final.wav").stat(), digest)
    await runner.drain()
    done = store.get_job(adm.job.id)
    assert done is not None and done.state is JobState.DONE and done.attempts == 2
    assert done.source == inbox / "final.wav"
    assert (inbox / "final.txt").read_text() == "moved on\n"
    assert sum(1 for r in emu.requests if r.endpoint == "sse" and r.done_sent) == 1
    store.close()


async def test_a_big_folder_is_scanned_without_freezing_the_event_loop(tmp_path: Path) -> None:
    """The workbench shares the loop: a scan of thousands of files must let it breathe."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    n = 1000
    for i in range(n):
        (inbox / f"r{i:04d}.wav").write_bytes(b"RIFF" + i.to_bytes(4, "little"))
    store = Store(tmp_path / "jobs.sqlite3")
    engine = Engine(Settings(), store=store)
    ticks = 0
    ticks_at_detection: list[int] = []

    def on(e: ev.Event) -> None:
        if isinstance(e, ev.FileDetected):
            ticks_at_detection.append(ticks)

    engine.bus.subscribe(on)
    watcher = Watcher(WatchConfig(folders=(inbox,)), store, engine.runner, engine.bus)
    stop = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    task = asyncio.create_task(watcher.run(stop))
    await until(lambda: len(ticks_at_detection) >= n, what="every file detected")
    stop.set()
    await asyncio.gather(task, ticker)
    store.close()
    # Other tasks ran between the first file of the scan and the last.
    assert ticks_at_detection[-1] > ticks_at_detection[0]


async def test_a_file_renamed_just_as_its_job_started_runs_again_under_the_new_name(
    tmp_path: Path,
) -> None:
    """The job was already running when the new name was seen (a copy of a running job); it
    then fails as missing, and runs again from the new name."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    gate = asyncio.Event()
    read: list[str] = []

    async def transcribe(path: Path, **_kw: Any) -> TranscriptionResult:
        await gate.wait()
        data = await asyncio.to_thread(path.read_bytes)  # FileNotFoundError once renamed
        read.append(path.name)
        return TranscriptionResult(file=str(path), text=f"{len(data)} bytes", duration_s=1.0)

    store = Store(tmp_path / "jobs.sqlite3")
    engine = Engine(
        Settings(), store=store, transcriber=fake_transcriber(transcribe), requests_per_minute=0
    )
    runner, bus = engine.runner, engine.bus
    events: list[ev.Event] = []
    bus.subscribe(events.append)
    watcher = Watcher(
        WatchConfig(folders=(inbox,), quiet_period_s=0.3, stat_interval_s=0.1), store, runner, bus
    )
    stop = asyncio.Event()
    tasks = asyncio.gather(runner.run_forever(stop), watcher.run(stop))
    try:
        data = wav("renamed at the start")
        (inbox / "take1.wav").write_bytes(data)
        await until(lambda: bool(runner.running_ids), what="take1 running")
        os.rename(inbox / "take1.wav", inbox / "final.wav")
        await until(
            lambda: any(
                isinstance(e, ev.FileSkipped) and e.path.name == "final.wav" for e in events
            ),
            what="final.wav seen as a copy",
        )
        gate.set()
        await until((inbox / "final.txt").exists, what="final.txt written")
    finally:
        stop.set()
        await tasks
    (job,) = store.list_jobs()
    assert job.state is JobState.DONE and job.source == inbox / "final.wav"
    assert job.attempts == 2 and read == ["final.wav"]
    assert (inbox / "final.txt").read_text() == f"{len(data)} bytes\n"
    store.close()
