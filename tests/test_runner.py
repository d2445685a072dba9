"""The runner with a scripted transcriber (lifecycle, limits, failures) and with the real
pipeline against the loopback emulator."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fake_transcriber, until
from tui.config import Settings
from tui.engine import events as ev
from tui.engine.engine import Engine
from tui.engine.hooks import run_hook
from tui.engine.ratelimit import RateLimiter
from tui.engine.runner import Runner
from tui.errors import AsrError, ErrorKind
from tui.secrets import Secret
from tui.stepfun.events import AttemptRestarted, DeltaReceived, UploadProgressed
from tui.store.records import Job, JobOptions, JobState
from tui.store.store import Store
from tui.transcript.exports import ExportSpec
from tui.transcript.model import Segment, TranscriptionResult


class Fake:
    """A transcriber scripted per file name. ``gate`` holds files until released."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.running = 0
        self.max_running = 0
        self.gates: dict[str, asyncio.Event] = {}
        self.errors: dict[str, BaseException] = {}
        self.started_at: list[float] = []

    async def __call__(
        self, path: Path, *, settings: Settings, on_event: Any, cancel: Any, cross_check: bool
    ) -> TranscriptionResult:
        self.calls.append(path.name)
        self.started_at.append(time.monotonic())
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            on_event(UploadProgressed(10, 10))
            on_event(DeltaReceived("hel", 0, 400))
            on_event(AttemptRestarted(2, 0.0, "server said 503"))
            on_event(DeltaReceived("hello ", 0, 400))
            if gate := self.gates.get(path.name):
                await gate.wait()
            else:
                await asyncio.sleep(0.01)
            if err := self.errors.get(path.name):
                raise err
            on_event(DeltaReceived("world", 400, 900))
            return TranscriptionResult(
                file=str(path),
                text=f"hello world ({path.name}, {settings.model})",
                segments=[Segment(0, 400, "hello "), Segment(400, 900, "world")],
                duration_s=1.0,
            )
        finally:
            self.running -= 1


def db_bytes(folder: Path) -> bytes:
    """The database and its WAL/SHM files, as they are on disk."""
    return b"".join(p.read_bytes() for p in folder.glob("jobs.sqlite3*"))


def make(tmp_path: Path, fake: Fake, **kw: Any) -> tuple[Store, Runner, list[ev.Event]]:
    store = Store(tmp_path / "jobs.sqlite3")
    kw.setdefault("requests_per_minute", 0)
    settings = kw.pop("settings", None) or Settings()
    engine = Engine(settings, store=store, transcriber=fake_transcriber(fake), **kw)
    seen: list[ev.Event] = []
    engine.bus.subscribe(seen.append)
    return store, engine.runner, seen


def files(tmp_path: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        p = tmp_path / f"f{i}.wav"
        p.write_bytes(b"RIFF" + bytes([i]) * 40)
        out.append(p)
    return out


async def test_drain_respects_concurrency_and_reports_progress(tmp_path: Path) -> None:
    fake = Fake()
    store, runner, seen = make(tmp_path, fake, concurrency=2)
    jobs = [runner.enqueue(p) for p in files(tmp_path, 6)]
    await runner.drain()
    assert sorted(fake.calls) == sorted(p.source.name for p in jobs)
    assert fake.max_running == 2
    assert all(store.get_job(j.id).state is JobState.DONE for j in jobs)  # type: ignore[union-attr]
    one = jobs[0].id
    kinds = [
        type(e).__name__
        for e in seen
        if getattr(e, "job_id", None) == one or (isinstance(e, ev.JobQueued) and e.job.id == one)
    ]
    assert kinds[0] == "JobQueued" and kinds[1] == "JobStarted" and kinds[-1] == "JobFinished"
    deltas = [e.text for e in seen if isinstance(e, ev.JobDeltaReceived) and e.job_id == one]
    assert deltas == ["hel", "hello ", "world"]
    assert any(
        isinstance(e, ev.JobRestarted) and e.job_id == one and "503" in e.reason for e in seen
    )
    prog = [e for e in seen if isinstance(e, ev.JobProgressed) and e.job_id == one]
    assert prog and prog[0].stage == "probing"
    assert any(p.bytes_sent == 10 and p.bytes_total == 10 for p in prog)


async def test_one_bad_file_fails_only_its_own_job(tmp_path: Path, fake_key: str) -> None:
    fake = Fake()
    store, runner, seen = make(tmp_path, fake, settings=Settings(api_key=Secret(fake_key)))
    a, b, c, d = files(tmp_path, 4)
    # A per-file refusal (an account refusal pauses the queue instead: test_queue_pause).
    fake.errors[b.name] = AsrError(ErrorKind.MODERATED, "The service blocked this audio (451).")
    fake.errors[c.name] = ValueError(f"boom with {fake_key} inside")
    d.unlink()
    fake.errors[d.name] = FileNotFoundError(2, "No such file or directory")
    ids = [runner.enqueue(p).id for p in (a, b, c, d)]
    await runner.drain()
    jobs = [store.get_job(i) for i in ids]
    assert [j.state for j in jobs] == [
        JobState.DONE,
        JobState.FAILED,
        JobState.FAILED,  # type: ignore[union-attr]
        JobState.FAILED,
    ]
    assert jobs[1].error_message == "The service blocked this audio (451)."  # type: ignore[union-attr]
    assert jobs[1].error_kind == "moderated"  # type: ignore[union-attr]
    assert "boom" in jobs[2].error_message and fake_key not in jobs[2].error_message  # type: ignore[union-attr, operator]
    assert jobs[3].error_kind == "bad_input" and str(d) in jobs[3].error_message  # type: ignore[union-attr, operator]
    failed = [e for e in seen if isinstance(e, ev.JobFailed)]
    assert {e.job_id for e in failed} == set(ids[1:])
    blob = db_bytes(tmp_path)
    assert fake_key.encode() not in blob


async def test_cancel_queued_and_running(tmp_path: Path) -> None:
    fake = Fake()
    store, runner, seen = make(tmp_path, fake, concurrency=1)
    a, b, c = files(tmp_path, 3)
    fake.gates[a.name] = asyncio.Event()
    ja, jb, jc = (runner.enqueue(p) for p in (a, b, c))
    runner.cancel(jb.id)
    task = asyncio.create_task(runner.drain())
    await until(lambda: ja.id in runner.running_ids, what="a running")
    runner.cancel(ja.id)
    await task
    assert store.get_job(ja.id).state is JobState.CANCELED  # type: ignore[union-attr]
    assert store.get_job(jb.id).state is JobState.CANCELED  # type: ignore[union-attr]
    assert store.get_job(jc.id).state is JobState.DONE  # type: ignore[union-attr]
    assert fake.calls == [a.name, c.name]
    assert sum(isinstance(e, ev.JobCanceled) for e in seen) == 2
    # Canceled and failed jobs can be retried; the retried one runs again.
    runner.retry(jb.id)
    await runner.drain()
    assert store.get_job(jb.id).state is JobState.DONE  # type: ignore[union-attr]


async def test_stop_puts_in_flight_jobs_back_and_a_restart_finishes_them(tmp_path: Path) -> None:
    fake = Fake()
    store, runner, seen = make(tmp_path, fake, concurrency=2, grace_s=0.0)
    a, b, c = files(tmp_path, 3)
    for p in (a, b):
        fake.gates[p.name] = asyncio.Event()
    ids = [runner.enqueue(p).id for p in (a, b, c)]
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run_forever(stop))
    await until(lambda: len(runner.running_ids) == 2, what="two running")
    stop.set()
    await task
    assert [store.get_job(i).state for i in ids] == [JobState.QUEUED] * 3  # type: ignore[union-attr]
    assert {e.job_id for e in seen if isinstance(e, ev.JobRequeued)} == set(ids[:2])

    fake2 = Fake()
    store2, runner2, _ = make(tmp_path, fake2)
    await runner2.drain()
    assert [store2.get_job(i).state for i in ids] == [JobState.DONE] * 3  # type: ignore[union-attr]
    assert sorted(fake2.calls) == sorted(p.name for p in (a, b, c))
    assert [store2.get_job(i).attempts for i in ids] == [2, 2, 1]  # type: ignore[union-attr]


@dataclass
class Stopping:
    """A runner told to stop while its one job is held by the fake's gate."""

    store: Store
    runner: Runner
    seen: list[ev.Event]
    job: Job
    task: asyncio.Task[None]


async def stop_with_a_job_in_flight(tmp_path: Path, fake: Fake) -> Stopping:
    store, runner, seen = make(tmp_path, fake, grace_s=30.0)
    (a,) = files(tmp_path, 1)
    fake.gates[a.name] = asyncio.Event()
    job = runner.enqueue(a)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run_forever(stop))
    await until(lambda: job.id in runner.running_ids, what="running")
    stop.set()
    await until(lambda: runner.stopping, what="stopping")
    return Stopping(store, runner, seen, job, task)


async def test_graceful_stop_lets_a_job_finish(tmp_path: Path) -> None:
    fake = Fake()
    st = await stop_with_a_job_in_flight(tmp_path, fake)
    store, job, task, a = st.store, st.job, st.task, st.job.source
    assert not task.done()  # waiting for the in-flight job, not abandoning it
    fake.gates[a.name].set()
    await task
    assert store.get_job(job.id).state is JobState.DONE  # type: ignore[union-attr]


async def test_jobs_left_running_by_a_crash_are_resumed(tmp_path: Path) -> None:
    store = Store(tmp_path / "jobs.sqlite3")
    (a,) = files(tmp_path, 1)
    job = store.add_job(a)
    # Claimed by a process on this host that no longer exists (pids stop well below this).
    store.claim_next(f"{socket.gethostname()}:{2**22 + 7}:1")
    fake = Fake()
    _, runner, seen = make(tmp_path, fake)
    await runner.drain()
    assert store.get_job(job.id).state is JobState.DONE  # type: ignore[union-attr]
    assert any(isinstance(e, ev.JobRequeued) and e.job_id == job.id for e in seen)


async def test_requests_per_minute_spaces_job_starts(tmp_path: Path) -> None:
    fake = Fake()
    _, runner, _ = make(tmp_path, fake, concurrency=4)
    starts: list[float] = []

    def clock() -> float:
        return time.monotonic()

    class Recording(RateLimiter):
        async def acquire(self) -> None:
            await super().acquire()
            starts.append(self._starts[-1])

    runner.limiter = Recording(2, window_s=0.6, clock=clock)
    for p in files(tmp_path, 4):
        runner.enqueue(p)
    await runner.drain()
    assert len(fake.calls) == 4 and len(starts) == 4
    # At most 2 starts in any 0.6 s window: the 3rd waits for the 1st to age out.
    assert starts[2] - starts[0] >= 0.6 and starts[3] - starts[1] >= 0.6


def test_rate_limiter_window_with_a_fake_clock() -> None:
    now = [100.0]
    lim = RateLimiter(3, clock=lambda: now[0])
    for _ in range(3):
        assert lim.wait_time() == 0
        lim.record()
    assert lim.wait_time() == pytest.approx(60.0)
    now[0] += 59.0
    assert lim.wait_time() == pytest.approx(1.0)
    now[0] += 1.0
    assert lim.wait_time() == 0
    assert RateLimiter(0).unlimited and RateLimiter(None).wait_time() == 0


async def test_exports_policies_rerun_and_hooks(tmp_path: Path) -> None:
    fake = Fake()
    store, runner, seen = make(tmp_path, fake)
    a, b, c = files(tmp_path, 3)
    marker = tmp_path / "hook.log"
    script = f"import sys; open({str(marker)!r}, 'a').write(sys.argv[1] + '\\n')"
    hook = f'{sys.executable} -c "{script}"'
    spec = ExportSpec(formats=("txt", "srt"), on_done=hook)
    (tmp_path / "f1.txt").write_text("mine\n")
    ja = runner.enqueue(a, JobOptions(model="m1", export=spec))
    jb = runner.enqueue(b, JobOptions(export=spec))  # policy skip: f1.txt exists
    jc = runner.enqueue(
        c,
        JobOptions(
            export=ExportSpec(formats=("txt",), policy="suffix", on_done="/nonexistent/hook")
        ),
    )
    (tmp_path / "f2.txt").write_text("theirs\n")
    await runner.drain()
    assert (tmp_path / "f0.txt").read_text() == "hello world (f0.wav, m1)\n"
    assert "-->" in (tmp_path / "f0.srt").read_text()
    assert store.get_job(ja.id).outputs == (tmp_path / "f0.txt", tmp_path / "f0.srt")  # type: ignore[union-attr]
    assert (tmp_path / "f1.txt").read_text() == "mine\n"  # skip: left alone
    assert store.get_job(jb.id).outputs == (tmp_path / "f1.srt",)  # type: ignore[union-attr]
    assert (tmp_path / "f2.txt").read_text() == "theirs\n"
    assert (tmp_path / "f2.1.txt").exists()
    await until(lambda: marker.exists() and len(marker.read_text().split()) == 2, what="hooks")
    assert sorted(marker.read_text().split()) == [
        str(tmp_path / "f0.txt"),
        str(tmp_path / "f1.srt"),
    ]
    await until(lambda: any(isinstance(e, ev.HookFailed) for e in seen), what="hook failure")
    failed = [e for e in seen if isinstance(e, ev.HookFailed)]
    assert failed[0].job_id == jc.id and "could not start" in failed[0].message
    assert store.get_job(jc.id).state is JobState.DONE  # type: ignore[union-attr]

    # A rerun rewrites the job's own files (here: the suffixed one), nothing else.
    (tmp_path / "f2.1.txt").write_text("stale\n")
    runner.rerun(jc.id)
    await runner.drain()
    assert (tmp_path / "f2.1.txt").read_text().startswith("hello world")
    assert not (tmp_path / "f2.2.txt").exists()
    assert store.get_job(jc.id).attempts == 2  # type: ignore[union-attr]


async def test_a_broken_subscriber_does_not_break_the_runner(tmp_path: Path) -> None:
    fake = Fake()
    store, runner, _ = make(tmp_path, fake)

    def broken(_e: ev.Event) -> None:
        raise RuntimeError("subscriber bug")

    runner.bus.subscribe(broken)
    received: list[ev.Event] = []

    async def consume() -> None:
        async with runner.bus.stream() as stream:
            async for e in stream:
                received.append(e)
                if isinstance(e, ev.JobFinished):
                    return

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    job = runner.enqueue(files(tmp_path, 1)[0])
    await runner.drain()
    await asyncio.wait_for(consumer, 5)
    assert store.get_job(job.id).state is JobState.DONE  # type: ignore[union-attr]
    assert isinstance(received[0], ev.JobQueued)


async def test_real_pipeline_against_the_emulator(tmp_path: Path, emu: Any) -> None:
    from tui.stepfun.emulator import write_directive_wav

    good = write_directive_wav(tmp_path / "good.wav", 2.0, text="The quick brown fox.")
    bad = write_directive_wav(tmp_path / "bad.wav", 2.0, fault="status", code=451)
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    store = Store(tmp_path / "jobs.sqlite3")
    engine = Engine(settings, store=store, concurrency=2, requests_per_minute=0)
    seen: list[ev.Event] = []
    engine.bus.subscribe(seen.append)
    runner = engine.runner
    jg = runner.enqueue(good, JobOptions(export=ExportSpec(formats=("txt", "json"))))
    jb = runner.enqueue(bad)
    await runner.drain()
    done = store.get_job(jg.id)
    assert done is not None and done.state in (JobState.DONE, JobState.NEEDS_REVIEW)
    assert store.get_result(jg.id).text == "The quick brown fox."  # type: ignore[union-attr]
    assert (tmp_path / "good.txt").read_text() == "The quick brown fox.\n"
    assert done.cost_currency == "CNY" and done.duration_s == pytest.approx(2.0, abs=0.05)
    failed = store.get_job(jb.id)
    assert failed is not None and failed.state is JobState.FAILED and failed.error_message
    deltas = "".join(
        e.text for e in seen if isinstance(e, ev.JobDeltaReceived) and e.job_id == jg.id
    )
    assert deltas.strip() == "The quick brown fox."
    sse = [r for r in emu.requests if r.endpoint == "sse"]
    assert sum(r.done_sent for r in sse) == 1
    blob = db_bytes(tmp_path)
    assert emu.demo_key.encode() not in blob


async def test_two_runners_in_one_process_keep_to_their_own_jobs(tmp_path: Path) -> None:
    """A second runner on the same database (the workbench, a test) must not take a job the
    first one is running for a crashed runner's leftover, and run it again."""
    fake_a, fake_b = Fake(), Fake()
    store, runner_a, _ = make(tmp_path, fake_a, concurrency=1)
    a, b = files(tmp_path, 2)
    fake_a.gates[a.name] = asyncio.Event()
    ja = runner_a.enqueue(a)
    stop = asyncio.Event()
    task = asyncio.create_task(runner_a.run_forever(stop))
    await until(lambda: ja.id in runner_a.running_ids, what="a running")
    store_b, runner_b, _ = make(tmp_path, fake_b)
    jb = runner_b.enqueue(b)
    await runner_b.drain()
    assert fake_b.calls == [b.name]
    assert store_b.get_job(jb.id).state is JobState.DONE  # type: ignore[union-attr]
    assert store_b.get_job(ja.id).state is JobState.RUNNING  # type: ignore[union-attr]
    fake_a.gates[a.name].set()
    await until(
        lambda: store.get_job(ja.id).state is JobState.DONE,  # type: ignore[union-attr]
        what="a done",
    )
    stop.set()
    await task
    assert fake_a.calls == [a.name]
    # Once the first runner has stopped, its leftovers are anyone's to resume.
    store.add_job(a)
    leftover = store.claim_next(runner_a.owner)
    assert leftover is not None
    assert [j.id for j in store_b.recover_running(runner_b.owner)] == [leftover.id]


async def test_a_failure_while_stopping_puts_the_job_back(tmp_path: Path) -> None:
    """Ctrl-C in a terminal also reaches our children (ffmpeg): a job that fails while the
    runner stops is not recorded as failed for good; it runs again on the next start."""
    fake = Fake()
    st = await stop_with_a_job_in_flight(tmp_path, fake)
    store, seen, job, task, a = st.store, st.seen, st.job, st.task, st.job.source
    fake.errors[a.name] = AsrError(ErrorKind.BAD_INPUT, "f0.wav: ffmpeg exited with signal 2.")
    fake.gates[a.name].set()
    await task
    assert store.get_job(job.id).state is JobState.QUEUED  # type: ignore[union-attr]
    assert any(isinstance(e, ev.JobRequeued) and e.job_id == job.id for e in seen)
    assert not any(isinstance(e, ev.JobFailed) for e in seen)


async def test_the_key_stays_out_of_failures_and_the_debug_log(
    tmp_path: Path, fake_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tui.engine")
    fake = Fake()
    store, runner, seen = make(tmp_path, fake, settings=Settings(api_key=Secret(fake_key)))
    a, b = files(tmp_path, 2)
    fake.errors[a.name] = AsrError(ErrorKind.STREAM_ERROR, f"proxy echoed key={fake_key} (502)")
    fake.errors[b.name] = ValueError(f"boom with {fake_key} inside")
    ids = [runner.enqueue(p).id for p in (a, b)]
    await runner.drain()
    jobs = [store.get_job(i) for i in ids]
    assert all(j is not None and j.state is JobState.FAILED for j in jobs)
    messages = [j.error_message or "" for j in jobs if j is not None]
    messages += [e.message for e in seen if isinstance(e, ev.JobFailed)]
    assert len(messages) == 4 and all(fake_key not in m for m in messages)
    assert "boom with" in caplog.text and "Traceback" in caplog.text
    assert fake_key not in caplog.text
    assert fake_key.encode() not in db_bytes(tmp_path)


async def test_a_hook_that_prints_the_key_does_not_get_it_shown(
    tmp_path: Path, fake_key: str
) -> None:
    """Hooks inherit the environment (STEPFUN_API_KEY too); what a failing one prints is shown
    by the daemon and the workbench, so the key is taken out of it."""
    fake = Fake()
    _, runner, seen = make(tmp_path, fake, settings=Settings(api_key=Secret(fake_key)))
    script = f"import sys; print('the service refused key {fake_key}'); sys.exit(3)"
    hook = f'{sys.executable} -c "{script}"'
    runner.enqueue(files(tmp_path, 1)[0], JobOptions(export=ExportSpec(on_done=hook)))
    await runner.drain()
    failed = [e for e in seen if isinstance(e, ev.HookFailed)]
    assert len(failed) == 1 and "exited with 3" in failed[0].message
    assert "the service refused key" in failed[0].message
    assert fake_key not in failed[0].message


async def test_a_second_stop_cuts_a_slow_hook_short(tmp_path: Path) -> None:
    fake = Fake()
    store, runner, _ = make(tmp_path, fake)
    (a,) = files(tmp_path, 1)
    started = tmp_path / "hook-started"
    script = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(120)"
    hook = f'{sys.executable} -c "{script}"'
    job = runner.enqueue(a, JobOptions(export=ExportSpec(on_done=hook, hook_timeout_s=300)))
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run_forever(stop))
    await until(started.exists, what="hook started")
    stop.set()
    await until(lambda: runner.stopping, what="stopping")
    runner.stop_now()  # the second Ctrl-C: do not wait for the hook's own timeout
    await asyncio.wait_for(task, 20)
    assert store.get_job(job.id).state is JobState.DONE  # type: ignore[union-attr]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


async def test_a_hook_that_leaves_a_helper_running_is_not_held_up(tmp_path: Path) -> None:
    pidfile = tmp_path / "helper.pid"
    hook = f"sh -c 'sleep 30 & echo $! > {pidfile}; echo started' sh"
    outcome = await run_hook(hook, tmp_path / "t.txt", timeout_s=5)
    try:
        assert outcome.ok, outcome.message
        assert outcome.output == "started"
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)


async def test_a_hook_that_times_out_is_stopped_with_its_children(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    hook = f"sh -c 'sleep 600 & echo $! > {pidfile}; wait' sh"
    try:
        # The deadline is far above the hook's timeout: it fails only if the child is waited for.
        outcome = await asyncio.wait_for(run_hook(hook, tmp_path / "t.txt", timeout_s=3), 30)
        assert not outcome.ok and "timed out after 3 s" in outcome.message
        child = int(pidfile.read_text())
        await until(lambda: not _alive(child), 10, "the hook's child stopped too")
    finally:
        if pidfile.exists() and _alive(child := int(pidfile.read_text())):
            os.kill(child, signal.SIGKILL)
