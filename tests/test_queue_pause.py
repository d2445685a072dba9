"""The queue as a whole: account refusals, outages and budget caps pause it; nothing more is
sent until the cause is gone. Real pipeline against the loopback emulator where the service's
answer matters; a scripted transcriber where the timing of an outage does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import until, write_tone_wav
from tui import config
from tui.config import Settings
from tui.engine import events as ev
from tui.engine.engine import Engine
from tui.engine.estimates import estimate_files, spend
from tui.engine.pause import OUTAGE_STRIKES
from tui.engine.transcriber import Transcriber, probe_service
from tui.errors import AsrError, ErrorKind
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import JobState
from tui.transcript.model import TranscriptionResult


def asr_requests(emu: Emulator) -> list[Any]:
    """Requests that carried audio (probes and other paths excluded)."""
    return [r for r in emu.requests if r.endpoint in ("sse", "legacy")]


def tones(folder: Path, n: int, seconds: float = 2.0) -> list[Path]:
    return [write_tone_wav(folder / f"talk{i}.wav", seconds, freq=200 + 40 * i) for i in range(n)]


def engine_for(tmp_path: Path, settings: Settings, **kw: Any) -> tuple[Engine, list[ev.Event]]:
    engine = Engine(settings, db_path=tmp_path / "jobs.sqlite3", requests_per_minute=0, **kw)
    seen: list[ev.Event] = []
    engine.bus.subscribe(seen.append)
    return engine, seen


async def test_rejected_key_pauses_after_the_first_file_and_resumes_with_a_new_key(
    tmp_path: Path, emu: Emulator
) -> None:
    settings = Settings(base_url=emu.base_url, api_key=Secret("wrong-" + "k" * 20))
    engine, seen = engine_for(tmp_path, settings, concurrency=1)
    with engine:
        jobs = [engine.submit(p) for p in tones(tmp_path, 3)]
        await engine.drain([j.id for j in jobs])
        # One upload met the 401; the other two files were never sent.
        assert len(asr_requests(emu)) == 1
        states = [engine.store.require_job(j.id).state for j in jobs]
        assert states == [JobState.QUEUED] * 3  # not failed: it was not the files' fault
        paused = [e for e in seen if isinstance(e, ev.QueuePaused)]
        assert len(paused) == 1 and paused[0].reason is ev.PauseReason.ACCOUNT
        assert paused[0].kind == ErrorKind.INVALID_KEY.value
        assert engine.pause is not None
        assert not any(isinstance(e, ev.JobFailed) for e in seen)

        settings.api_key = Secret(emu.demo_key)
        engine.apply_settings({"api_key"})
        assert engine.pause is None
        assert any(isinstance(e, ev.QueueResumed) for e in seen)
        await engine.drain([j.id for j in jobs])
        states = [engine.store.require_job(j.id).state for j in jobs]
        assert all(s in (JobState.DONE, JobState.NEEDS_REVIEW) for s in states)
        assert len(asr_requests(emu)) == 4


async def test_a_bad_file_fails_alone_and_does_not_pause(tmp_path: Path, emu: Emulator) -> None:
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    engine, seen = engine_for(tmp_path, settings, concurrency=1)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with engine:
        jobs = [engine.submit(broken), *(engine.submit(p) for p in tones(tmp_path, 2))]
        await engine.drain([j.id for j in jobs])
        states = [engine.store.require_job(j.id).state for j in jobs]
    assert states[0] is JobState.FAILED
    assert all(s in (JobState.DONE, JobState.NEEDS_REVIEW) for s in states[1:])
    assert not any(isinstance(e, ev.QueuePaused) for e in seen)


async def test_the_pause_message_never_holds_the_key(tmp_path: Path, fake_key: str) -> None:
    async def transcribe(path: Path, **_kw: Any) -> TranscriptionResult:
        raise AsrError(ErrorKind.INVALID_KEY, f"key {fake_key} was refused (401)")

    settings = Settings(api_key=Secret(fake_key))
    engine, seen = engine_for(tmp_path, settings, transcriber=scripted(transcribe))
    (f,) = tones(tmp_path, 1)
    with engine:
        job = engine.submit(f)
        await engine.drain([job.id])
        assert engine.store.require_job(job.id).state is JobState.QUEUED
    texts = [e.message for e in seen if isinstance(e, ev.QueuePaused)]
    texts += [e.reason for e in seen if isinstance(e, ev.JobRequeued)]
    assert len(texts) == 2 and all(fake_key not in t and "refused" in t for t in texts)


def scripted(
    transcribe: Any, probe: Any = None
) -> Any:  # a TranscriberFactory with a probe of the test's own
    @contextlib.asynccontextmanager
    async def factory(settings: Any, limiter: Any) -> AsyncIterator[Transcriber]:
        async def check(path: Path, **kw: Any) -> Any:
            raise AssertionError("no cross-check here")

        async def fn(path: Path, **kw: Any) -> Any:
            kw.pop("format_override", None)
            return await transcribe(path, **kw)

        yield Transcriber(fn, check, probe)

    return factory


def result_for(path: Path) -> TranscriptionResult:
    return TranscriptionResult(file=str(path), text=f"text of {path.name}", duration_s=1.0)


async def test_an_outage_waits_probes_and_resumes_by_itself(tmp_path: Path) -> None:
    service_up = asyncio.Event()
    calls: list[str] = []
    probes: list[bool] = []

    async def transcribe(path: Path, **_kw: Any) -> TranscriptionResult:
        calls.append(path.name)
        if not service_up.is_set():
            raise AsrError(ErrorKind.CONNECTION, "Cannot connect to the service.")
        return result_for(path)

    async def probe() -> None:
        probes.append(service_up.is_set())
        if not service_up.is_set():
            raise AsrError(ErrorKind.CONNECTION, "still down")

    engine, seen = engine_for(
        tmp_path, Settings(), concurrency=1, transcriber=scripted(transcribe, probe)
    )
    engine.runner.gate.probe_first_s = 0.05
    engine.runner.gate.probe_max_s = 0.1
    files = [tmp_path / f"f{i}.wav" for i in range(3)]
    for f in files:
        f.write_bytes(b"RIFF")
    stop = asyncio.Event()
    with engine:
        jobs = [engine.submit(f) for f in files]
        serving = asyncio.create_task(engine.serve(stop))
        await until(lambda: sum(isinstance(e, ev.ServiceProbed) for e in seen) >= 2, 10)
        # Paused: only the first file was tried, everything is still queued.
        assert calls == ["f0.wav"]
        assert all(engine.store.require_job(j.id).state is JobState.QUEUED for j in jobs)
        paused = [e for e in seen if isinstance(e, ev.QueuePaused)]
        assert paused[0].reason is ev.PauseReason.OUTAGE
        assert paused[0].message.startswith("Service unreachable since ")
        service_up.set()
        await until(
            lambda: all(engine.store.require_job(j.id).state is JobState.DONE for j in jobs), 10
        )
        stop.set()
        assert await serving == []
    assert probes[-1] is True and probes.count(True) == 1
    assert any(isinstance(e, ev.QueueResumed) for e in seen)
    assert not any(isinstance(e, ev.JobFailed) for e in seen)


async def test_a_file_that_always_meets_server_errors_fails_on_its_own(tmp_path: Path) -> None:
    async def transcribe(path: Path, **_kw: Any) -> TranscriptionResult:
        if path.name == "bad.wav":
            raise AsrError(ErrorKind.SERVER_ERROR, "The service answered 500.")
        return result_for(path)

    async def probe() -> None:  # the service is up for everyone else
        return None

    engine, seen = engine_for(
        tmp_path, Settings(), concurrency=1, transcriber=scripted(transcribe, probe)
    )
    engine.runner.gate.probe_first_s = 0.01
    bad, good = tmp_path / "bad.wav", tmp_path / "good.wav"
    for f in (bad, good):
        f.write_bytes(b"RIFF")
    stop = asyncio.Event()
    with engine:
        b, g = engine.submit(bad), engine.submit(good)
        serving = asyncio.create_task(engine.serve(stop))
        await until(lambda: engine.store.require_job(b.id).state is JobState.FAILED, 10)
        await until(lambda: engine.store.require_job(g.id).state is JobState.DONE, 10)
        stop.set()
        await serving
    starts = [e for e in seen if isinstance(e, ev.JobStarted) and e.job_id == b.id]
    assert len(starts) == OUTAGE_STRIKES


async def test_probe_service_against_the_emulator(emu: Emulator) -> None:
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    await probe_service(emu.base_url, settings)  # up: any answer below 500
    assert not asr_requests(emu)
    emu.stop()
    with pytest.raises(AsrError) as caught:
        await probe_service(emu.base_url, settings)
    assert caught.value.kind is ErrorKind.CONNECTION
    assert emu.demo_key not in caught.value.message


async def test_budget_cap_holds_the_file_unsent_until_raised(tmp_path: Path, emu: Emulator) -> None:
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    config.apply(settings, "budget_daily", 0.0001)  # a 5 s file costs ~0.0002 CNY
    engine, seen = engine_for(tmp_path, settings, concurrency=1)
    (audio,) = tones(tmp_path, 1, seconds=5.0)
    with engine:
        job = engine.submit(audio)
        await engine.drain([job.id])
        assert asr_requests(emu) == []
        assert engine.store.require_job(job.id).state is JobState.QUEUED
        paused = [e for e in seen if isinstance(e, ev.QueuePaused)]
        assert paused and paused[0].reason is ev.PauseReason.BUDGET
        assert "budget_daily" in paused[0].message and "talk0.wav" in paused[0].message

        config.apply(settings, "budget_daily", 1.0)
        engine.apply_settings({"budget_daily"})
        await engine.drain([job.id])
        assert engine.store.require_job(job.id).state in (JobState.DONE, JobState.NEEDS_REVIEW)
        today = spend(engine.store, settings)
        assert today.currency == "CNY" and 0 < today.today == today.month < 0.001


async def test_estimate_counts_minutes_cost_and_transcribed_files(
    tmp_path: Path, emu: Emulator
) -> None:
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    a, b = tones(tmp_path, 2, seconds=6.0)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"not audio at all")
    engine, _ = engine_for(tmp_path, settings)
    with engine:
        job = engine.submit(a)
        await engine.drain([job.id])
        est = await estimate_files([a, b, junk], settings, store=engine.store)
    assert est.files == (a, b, junk)
    assert est.seconds == pytest.approx(12.0, abs=0.01)
    assert est.amount == pytest.approx(0.15 * 12 / 3600, rel=1e-3)
    assert est.unknown == (junk,) and est.transcribed == (a,)
    fresh = est.without(est.transcribed)
    assert fresh.files == (b, junk) and fresh.seconds == pytest.approx(6.0, abs=0.01)
    assert "3 files · 0.2 min of audio · about ¥0.0005" in est.describe()


@pytest.mark.parametrize("name", ["budget_daily", "budget_monthly", "confirm_above_cny"])
def test_money_settings_refuse_negative_values(name: str) -> None:
    with pytest.raises(config.ConfigError, match="0 or more"):
        config.apply(Settings(), name, -1)
    with pytest.raises(config.ConfigError):
        config.apply(Settings(), name, "nan")


async def test_a_real_outage_waits_and_the_job_resumes_by_itself(tmp_path: Path) -> None:
    """The service is down when the file arrives: after the client's retries the queue pauses
    (the job stays queued), probes find the service back, and the job runs once, to the end."""
    emu = Emulator().start()
    emu.stop()  # down, on a port we know
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    engine, seen = engine_for(tmp_path, settings, concurrency=1)
    engine.runner.gate.probe_first_s = 0.2
    engine.runner.gate.probe_max_s = 0.4
    audio = write_directive_wav(tmp_path / "memo.wav", 2.0, text="Back online.")
    stop = asyncio.Event()
    try:
        with engine:
            job = engine.submit(audio)
            serving = asyncio.create_task(engine.serve(stop))
            await until(lambda: engine.pause is not None, 60, "the outage pause")
            assert engine.pause is not None and engine.pause.reason is ev.PauseReason.OUTAGE
            assert engine.store.require_job(job.id).state is JobState.QUEUED
            await until(lambda: any(isinstance(e, ev.ServiceProbed) for e in seen), 10, "a probe")
            emu.start()
            await until(
                lambda: (
                    engine.store.require_job(job.id).state in (JobState.DONE, JobState.NEEDS_REVIEW)
                ),
                60,
                "the job done after the outage",
            )
            stop.set()
            assert await serving == []
            result = engine.store.get_result(job.id)
        assert result is not None and result.text == "Back online."
        assert len(asr_requests(emu)) == 1  # sent once the service was back, not before
        assert not any(isinstance(e, ev.JobFailed) for e in seen)
    finally:
        emu.stop()


def test_the_daemon_prints_pauses_probes_and_resumes(tmp_path: Path) -> None:
    import io

    from tui.commands.watch_cmd import EventPrinter
    from tui.store.store import Store

    out = io.StringIO()
    with Store(tmp_path / "jobs.sqlite3") as store:
        printer = EventPrinter(store, out)
        since = 1_700_000_000.0
        printer(ev.QueuePaused(ev.PauseReason.OUTAGE, "Service unreachable since 14:02", since))
        printer(ev.ServiceProbed("cannot reach the host", since, 120.0))
        printer(ev.QueuePaused(ev.PauseReason.ACCOUNT, "The key was refused (401).", since))
        printer(ev.QueueResumed(ev.PauseReason.OUTAGE, "the service answers again"))
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert "Service unreachable since" in lines[1] and "next try in 120 s" in lines[1]
    assert "restart the daemon" in lines[2] and "unsent" in lines[2]
    assert "resumed" in lines[3]


async def test_resuming_a_budget_pause_by_hand_lets_one_file_through(
    tmp_path: Path, emu: Emulator
) -> None:
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    config.apply(settings, "budget_monthly", 0.0001)
    engine, seen = engine_for(tmp_path, settings, concurrency=1)
    with engine:
        jobs = [engine.submit(p) for p in tones(tmp_path, 2, seconds=5.0)]
        ids = [j.id for j in jobs]
        await engine.drain(ids)
        assert asr_requests(emu) == [] and engine.pause is not None
        assert "budget_monthly" in engine.pause.message
        assert engine.resume()  # "send one more"
        await engine.drain(ids)
        states = [engine.store.require_job(i).state for i in ids]
        assert states[0] in (JobState.DONE, JobState.NEEDS_REVIEW)
        assert states[1] is JobState.QUEUED  # the next one waits again
        assert len(asr_requests(emu)) == 1
    assert sum(isinstance(e, ev.QueuePaused) for e in seen) == 2
