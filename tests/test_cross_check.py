"""Cross-checking a finished transcript without paying for the main model again: the pipeline
(`cross_check_file`), the runner (`Runner.cross_check`), the CLI (`stepfun-asr cross-check`) and
a process killed mid-check, all against the loopback emulator with generated audio."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fake_transcriber, until
from tui.config import Settings
from tui.engine import events as ev
from tui.engine.engine import Engine
from tui.engine.runner import Runner
from tui.errors import AsrError, ErrorKind
from tui.pipeline.transcription import Preparing, cross_check_file, transcribe_file
from tui.secrets import Secret
from tui.stepfun.client import AsrClient
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import JobOptions, JobState, JobStateError
from tui.store.store import Store
from tui.transcript.exports import ExportSpec
from tui.transcript.model import Segment, TranscriptionResult

TEXT = (
    "Good morning everyone. Today we review the audio pipeline, the subtitles and the "
    "cost report. Questions come at the end."
)
# Repetitive in the audio itself (a chorus): both engines return it.
CHORUS = " ".join(["We will rock you, we will rock you."] * 8)
MAIN, CHECK = 0.15, 2.2  # list prices per audio hour (CNY): stepaudio-2.5-asr, step-asr-1.1


def looped_wav(path: Path, seconds: float = 30.0) -> Path:
    """The emulator streams this text ~3.5 times over (a hallucination) on the SSE endpoint and
    once, correctly, on the legacy one."""
    return write_directive_wav(path, seconds, text=TEXT, fault="repeat", factor=3.5)


def endpoints(emu: Emulator) -> list[str]:
    return [r.endpoint for r in emu.requests]


def codes(result: TranscriptionResult) -> dict[str, bool]:
    return {w.code: w.serious for w in result.warnings}


# ------------------------------------------------------------------------------ pipeline


async def test_cross_check_file_catches_a_hallucination_with_one_legacy_request(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    wav = looped_wav(tmp_path / "loop.wav")
    first = await transcribe_file(wav, Settings(), client)
    assert codes(first) == {"repetition": True} and first.cross_check is None
    assert len(first.text) > 3 * len(TEXT)
    before = first.to_json()
    emu.clear_requests()

    events: list[Any] = []
    checked = await cross_check_file(wav, Settings(), client, first, on_event=events.append)
    assert endpoints(emu) == ["legacy"]  # the main model was not asked again
    assert checked.text == first.text and checked.segments == first.segments
    cc = checked.cross_check
    assert cc is not None and cc.model == "step-asr-1.1" and cc.text == TEXT
    assert cc.similarity < 0.5
    assert codes(checked) == {"repetition": True, "cross_check_differs": True}
    assert checked.needs_review
    assert checked.cost is not None
    assert checked.cost.amount == pytest.approx((MAIN + CHECK) * 30 / 3600, rel=1e-3)
    assert "includes cross-check" in checked.cost.basis
    assert any(isinstance(e, Preparing) and e.what.startswith("cross-checking") for e in events)
    assert first.to_json() == before  # the given result is left as it was


async def test_agreeing_check_clears_a_chorus_for_review(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    wav = write_directive_wav(tmp_path / "chorus.wav", 30.0, text=CHORUS)
    first = await transcribe_file(wav, Settings(), client)
    assert codes(first) == {"repetition": True}
    checked = await cross_check_file(wav, Settings(), client, first)
    assert checked.cross_check is not None and checked.cross_check.similarity == 1.0
    assert codes(checked) == {"repetition": False}  # the audio repeats itself
    assert "agrees" in checked.warnings[0].message and not checked.needs_review


async def test_same_outcome_as_transcribing_with_the_check_for_a_long_file(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    """Six parts with a loop in part 1: the part-level checks are redone from the stored
    segments, exactly as ``transcribe_file(cross_check=True)`` does them."""
    gaps = tuple((t + 9.0, t + 10.0) for t in range(0, 165, 10))
    wav = write_directive_wav(tmp_path / "long.wav", 165.0, silence_gaps=gaps)
    # Part 1 gets the injected fault. WAV parts: the emulator's words are seeded by the bytes,
    # and an Ogg stream's serial number differs from one encode to the next.
    s = Settings(chunk_minutes=0.5, chunk_parallelism=1, compress=False)
    emu.inject("repeat", count=1, factor=3.5)
    first = await transcribe_file(wav, s, client)
    assert [(w.code, w.serious) for w in first.warnings] == [("repetition", True)]
    emu.clear_requests()
    checked = await cross_check_file(wav, s, client, first)
    assert endpoints(emu) == ["legacy"] * 6
    emu.inject("repeat", count=1, factor=3.5)
    both = await transcribe_file(wav, s, client, cross_check=True)
    assert both.text == checked.text
    assert checked.cross_check == both.cross_check
    assert checked.warnings == both.warnings
    assert checked.warnings[-1].message.startswith("Part 1 of 6")
    assert checked.cost == both.cost


async def test_without_timestamps_part_warnings_are_kept(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    gaps = tuple((t + 9.0, t + 10.0) for t in range(0, 165, 10))
    wav = write_directive_wav(tmp_path / "long.wav", 165.0, silence_gaps=gaps)
    s = Settings(chunk_minutes=0.5, chunk_parallelism=1, timestamps=False, compress=False)
    emu.inject("repeat", count=1, factor=3.5)
    first = await transcribe_file(wav, s, client)
    (loop,) = first.warnings
    assert loop.serious and loop.message.startswith("Part 1 of 6")
    checked = await cross_check_file(wav, s, client, first)
    assert checked.cross_check is not None
    assert loop in checked.warnings  # a part's own text is unknown: never dropped unchecked
    assert checked.needs_review


async def test_a_changed_file_is_not_cross_checked(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    wav = write_directive_wav(tmp_path / "m.wav", 5.0, text=TEXT)
    first = await transcribe_file(wav, Settings(), client)
    write_directive_wav(wav, 9.0, text="Something else entirely.")
    emu.clear_requests()
    with pytest.raises(AsrError) as info:
        await cross_check_file(wav, Settings(), client, first)
    assert info.value.kind is ErrorKind.BAD_INPUT and "changed" in info.value.message
    assert emu.requests == []


def test_texts_by_time_rebuilds_each_part() -> None:
    from tui.audio.split import PartPlan
    from tui.pipeline.parts import texts_by_time

    plans = [PartPlan(1, 3, 0.0, 10.0), PartPlan(2, 3, 10.0, 10.0), PartPlan(3, 3, 20.0, 5.0)]
    segs = [
        Segment(0, 400, "Hello"),
        Segment(500, 900, " there."),
        Segment(10_000, 10_300, "Second"),
        Segment(24_000, 24_500, "Third."),
    ]
    assert texts_by_time(segs, plans) == ["Hello there.", "Second", "Third."]
    assert texts_by_time([Segment(0, 0, "a"), Segment(0, 0, "b")], plans) is None


# ------------------------------------------------------------------------------ runner


def make_runner(tmp_path: Path, emu: Emulator, **kw: Any) -> tuple[Store, Runner, list[ev.Event]]:
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    store = Store(tmp_path / "jobs.sqlite3")
    engine = Engine(settings, store=store, requests_per_minute=0, **kw)
    seen: list[ev.Event] = []
    engine.bus.subscribe(seen.append)
    return store, engine.runner, seen


async def test_runner_cross_checks_a_finished_job_and_rewrites_its_files(
    tmp_path: Path, emu: Emulator
) -> None:
    wav = looped_wav(tmp_path / "loop.wav")
    store, runner, seen = make_runner(tmp_path, emu)
    job = runner.enqueue(wav, JobOptions(export=ExportSpec(formats=("txt", "json"))))
    await runner.drain()
    first = store.require_job(job.id)
    assert first.state is JobState.NEEDS_REVIEW
    assert codes(store.get_result(job.id)) == {"repetition": True}  # type: ignore[arg-type]
    store.mark_reviewed(job.id)
    json_file = tmp_path / "loop.json"
    assert json.loads(json_file.read_text())["cross_check"] is None
    emu.clear_requests()
    seen.clear()

    runner.cross_check(job.id)
    await runner.drain()
    assert endpoints(emu) == ["legacy"]
    after = store.require_job(job.id)
    assert after.state is JobState.NEEDS_REVIEW and after.attempts == first.attempts
    assert not after.reviewed  # a new serious warning: to be looked at again
    assert after.finished_at == first.finished_at
    assert after.cost_amount == pytest.approx((MAIN + CHECK) * 30 / 3600, rel=1e-3)
    result = store.get_result(job.id)
    assert result is not None and result.cross_check is not None
    assert result.cross_check.text == TEXT and result.cross_check.similarity < 0.5
    assert codes(result) == {"repetition": True, "cross_check_differs": True}
    assert len(result.text) > 3 * len(TEXT)  # the main transcript is kept as it was
    written = json.loads(json_file.read_text())
    assert written["cross_check"]["text"] == TEXT
    assert (tmp_path / "loop.txt").read_text() == result.text + "\n"

    kinds = [type(e).__name__ for e in seen if getattr(e, "job_id", None) == job.id]
    assert kinds[0] == "JobStarted" and "JobFinished" in kinds and "JobFailed" not in kinds
    started = next(e for e in seen if isinstance(e, ev.JobStarted))
    assert started.cross_check_only
    assert any(isinstance(e, ev.JobProgressed) and e.stage == "cross-checking" for e in seen)
    finished = next(e for e in seen if isinstance(e, ev.JobFinished))
    assert finished.cross_check_only and finished.state == "needs_review"
    assert finished.added_cost is not None
    assert finished.added_cost.amount == pytest.approx(CHECK * 30 / 3600, rel=1e-3)
    assert any(isinstance(e, ev.ExportWritten) and e.job_id == job.id for e in seen)


async def test_runner_check_that_agrees_moves_the_job_to_done(
    tmp_path: Path, emu: Emulator
) -> None:
    clean = write_directive_wav(tmp_path / "clean.wav", 5.0, text=TEXT)
    chorus = write_directive_wav(tmp_path / "chorus.wav", 30.0, text=CHORUS)
    store, runner, _ = make_runner(tmp_path, emu, concurrency=2)
    jc, jr = runner.enqueue(clean), runner.enqueue(chorus)
    await runner.drain()
    assert store.require_job(jc.id).state is JobState.DONE
    assert store.require_job(jr.id).state is JobState.NEEDS_REVIEW
    runner.cross_check(jc.id)
    runner.cross_check(jr.id)
    with pytest.raises(JobStateError, match="already being cross-checked"):
        runner.cross_check(jr.id)
    await runner.drain()
    for job_id in (jc.id, jr.id):
        assert store.require_job(job_id).state is JobState.DONE
        result = store.get_result(job_id)
        assert result is not None and result.cross_check is not None
        assert result.cross_check.similarity == 1.0
    assert sum(r.endpoint == "sse" for r in emu.requests) == 2
    assert sum(r.endpoint == "legacy" for r in emu.requests) == 2


async def test_a_failed_check_keeps_the_previous_result(tmp_path: Path, emu: Emulator) -> None:
    wav = looped_wav(tmp_path / "loop.wav")
    store, runner, seen = make_runner(tmp_path, emu)
    job = runner.enqueue(wav)
    await runner.drain()
    before_job = store.require_job(job.id)
    before = store.get_result(job.id)
    assert before is not None
    emu.clear_requests()
    emu.inject("status", code=500, count=10, retry_after=0)  # no wait between the retries
    runner.cross_check(job.id)
    await runner.drain()
    assert set(endpoints(emu)) == {"legacy"}
    assert store.require_job(job.id) == before_job
    after = store.get_result(job.id)
    assert after is not None and after.to_json() == before.to_json()
    (failed,) = [e for e in seen if isinstance(e, ev.CrossCheckFailed)]
    assert failed.job_id == job.id and failed.kind == "server_error" and failed.message
    assert not any(isinstance(e, ev.JobFailed) for e in seen)
    emu.clear_faults()
    runner.cross_check(job.id)  # it can be asked for again
    await runner.drain()
    assert store.get_result(job.id).cross_check is not None  # type: ignore[union-attr]


async def test_jobs_that_cannot_be_cross_checked_say_why(tmp_path: Path, emu: Emulator) -> None:
    bad = write_directive_wav(tmp_path / "bad.wav", 2.0, fault="status", code=451)
    store, runner, _ = make_runner(tmp_path, emu)
    failed = runner.enqueue(bad)
    await runner.drain()
    queued = runner.enqueue(write_directive_wav(tmp_path / "q.wav", 2.0, text="Later."))
    with pytest.raises(JobStateError, match=r"is failed: there is no transcript"):
        runner.cross_check(failed.id)
    with pytest.raises(JobStateError, match=r"is queued; it can be cross-checked once"):
        runner.cross_check(queued.id)
    with pytest.raises(JobStateError, match="There is no job 999"):
        runner.cross_check(999)
    assert store.require_job(queued.id).state is JobState.QUEUED


async def test_a_check_shares_the_slots_and_can_be_canceled(tmp_path: Path) -> None:
    """With one slot, a queued job waits for a running check; canceling the check keeps the
    job as it was; a job run again meanwhile keeps its new result."""
    gate = asyncio.Event()
    calls: list[str] = []

    async def transcribe(path: Path, **_: Any) -> TranscriptionResult:
        calls.append(f"transcribe {path.name}")
        return TranscriptionResult(file=str(path), text="hello", duration_s=1.0)

    async def check(path: Path, *, result: TranscriptionResult, **_: Any) -> TranscriptionResult:
        calls.append(f"check {path.name}")
        await gate.wait()
        return result

    store = Store(tmp_path / "jobs.sqlite3")
    engine = Engine(
        Settings(),
        store=store,
        transcriber=fake_transcriber(transcribe, check),
        concurrency=1,
        requests_per_minute=0,
    )
    seen: list[ev.Event] = []
    engine.bus.subscribe(seen.append)
    runner = engine.runner
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    ja = runner.enqueue(a)
    await runner.drain()
    stop = asyncio.Event()
    serving = asyncio.create_task(runner.run_forever(stop))
    try:
        runner.cross_check(ja.id)
        await until(lambda: calls[-1:] == ["check a.wav"], what="check running")
        jb = runner.enqueue(b)
        for _ in range(50):  # let the runner's loop take its turns (no timing involved)
            await asyncio.sleep(0)
        assert store.require_job(jb.id).state is JobState.QUEUED  # the one slot is taken
        runner.cancel(ja.id)
        await until(lambda: store.require_job(jb.id).state is JobState.DONE, what="b done")
        (failed,) = [e for e in seen if isinstance(e, ev.CrossCheckFailed)]
        assert failed.kind == "canceled" and "unchanged" in failed.message
        assert store.require_job(ja.id).state is JobState.DONE

        runner.cross_check(ja.id)
        await until(lambda: calls.count("check a.wav") == 2, what="second check running")
        runner.rerun(ja.id)  # one slot: the rerun waits for the check
        gate.set()
        await until(
            lambda: (
                len([e for e in seen if isinstance(e, ev.CrossCheckFailed)]) == 2
                and store.require_job(ja.id).state is JobState.DONE
            ),
            what="settled",
        )
        last = [e for e in seen if isinstance(e, ev.CrossCheckFailed)][-1]
        assert last.kind == "changed" and "run again" in last.message
    finally:
        stop.set()
        await serving


async def test_a_check_that_crashes_does_not_show_the_key(tmp_path: Path, fake_key: str) -> None:
    """An unexpected exception quoting the key fails the check; its message is shown (daemon
    lines, the errors panel), so the key is taken out of it, as for a failed job."""

    async def transcribe(path: Path, **_: Any) -> TranscriptionResult:
        return TranscriptionResult(file=str(path), text="hello", duration_s=1.0)

    async def check(path: Path, **_: Any) -> TranscriptionResult:
        raise ValueError(f"boom with {fake_key} inside")

    store = Store(tmp_path / "jobs.sqlite3")
    engine = Engine(
        Settings(api_key=Secret(fake_key)),
        store=store,
        transcriber=fake_transcriber(transcribe, check),
        requests_per_minute=0,
    )
    seen: list[ev.Event] = []
    engine.bus.subscribe(seen.append)
    runner = engine.runner
    job = runner.enqueue(tmp_path / "a.wav")
    await runner.drain()
    runner.cross_check(job.id)
    await runner.drain()
    (failed,) = [e for e in seen if isinstance(e, ev.CrossCheckFailed)]
    assert "boom with" in failed.message and fake_key not in failed.message
    assert store.require_job(job.id).state is JobState.DONE


# ------------------------------------------------------------------------------ CLI


def cli(
    emu: Emulator, db: Path, *args: str, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        STEPFUN_BASE_URL=emu.base_url,
        STEPFUN_API_KEY=emu.demo_key if key is None else key,
    )
    return subprocess.run(
        [sys.executable, "-m", "tui", *args, "--db", str(db)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def finished_job(tmp_path: Path, emu: Emulator, wav: Path) -> int:
    store, runner, _ = make_runner(tmp_path, emu)
    job = runner.enqueue(wav)
    await runner.drain()
    store.close()
    return job.id


async def test_cross_check_command(tmp_path: Path, emu: Emulator) -> None:
    db = tmp_path / "jobs.sqlite3"
    job_id = await finished_job(tmp_path, emu, looped_wav(tmp_path / "loop.wav"))
    emu.clear_requests()
    res = await asyncio.to_thread(cli, emu, db, "cross-check", str(job_id))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "cross-checked with step-asr-1.1" in res.stdout and "REVIEW" in res.stdout
    assert endpoints(emu) == ["legacy"]
    shown = await asyncio.to_thread(cli, emu, db, "show", str(job_id))
    assert "check:     step-asr-1.1 similarity 0." in shown.stdout
    for out in (res, shown):
        assert emu.demo_key not in out.stdout + out.stderr

    emu.inject("status", code=500, count=10, retry_after=0)
    res = await asyncio.to_thread(cli, emu, db, "cross-check", str(job_id))
    assert res.returncode == 1 and "CHECK FAILED" in res.stdout
    emu.clear_faults()
    assert (await asyncio.to_thread(cli, emu, db, "cross-check", "999")).returncode == 1
    no_key = await asyncio.to_thread(cli, emu, db, "cross-check", str(job_id), key="")
    assert no_key.returncode == 2


async def test_a_process_killed_mid_check_loses_nothing(tmp_path: Path, emu: Emulator) -> None:
    db = tmp_path / "jobs.sqlite3"
    job_id = await finished_job(tmp_path, emu, looped_wav(tmp_path / "loop.wav"))
    with Store(db) as store:
        before_job, before = store.require_job(job_id), store.get_result(job_id)
    assert before is not None
    emu.clear_requests()
    # The legacy endpoint keeps answering 503 with a long Retry-After: the check hangs there.
    emu.inject("status", code=503, count=100, retry_after=60)
    env = dict(os.environ, STEPFUN_BASE_URL=emu.base_url, STEPFUN_API_KEY=emu.demo_key)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui",
        "cross-check",
        str(job_id),
        "--db",
        str(db),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await until(
            lambda: (
                any(r.endpoint == "legacy" and r.finished for r in emu.requests)
                or proc.returncode is not None
            ),
            what="the check's first legacy request",
        )
        assert proc.returncode is None
    finally:
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 30)
    emu.clear_faults()
    with Store(db) as store:
        assert store.require_job(job_id) == before_job
        assert store.get_result(job_id).to_json() == before.to_json()  # type: ignore[union-attr]
    # A new runner finds nothing to resume or redo.
    emu.clear_requests()
    store, runner, seen = make_runner(tmp_path, emu)
    await runner.drain()
    assert emu.requests == [] and store.require_job(job_id) == before_job
    assert not any(isinstance(e, ev.JobRequeued) for e in seen)
