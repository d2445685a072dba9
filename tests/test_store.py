"""The job store: a real SQLite file, real threads and a second connection as another process."""

from __future__ import annotations

import dataclasses
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui import locations
from tui.store.owners import _start_ticks, process_owner
from tui.store.records import JobOptions, JobState, JobStateError
from tui.store.schema import SCHEMA_VERSION, SchemaError
from tui.store.store import Store
from tui.transcript.exports import ExportSpec
from tui.transcript.model import (
    CostEstimate,
    CrossCheck,
    Segment,
    TranscriptionResult,
    TrustWarning,
)


def _result(path: Path, text: str = "hello world", *, serious: bool = False) -> TranscriptionResult:
    return TranscriptionResult(
        file=str(path),
        text=text,
        segments=[Segment(0, 500, "hello "), Segment(500, 900, "world")],
        usage={"input_tokens": 12},
        model="stepaudio-2.5-asr",
        language="en",
        elapsed_s=0.4,
        duration_s=3.2,
        warnings=[TrustWarning("short_audio", "short", serious=serious)],
        cost=CostEstimate(0.000133, "CNY"),
        cross_check=CrossCheck("step-asr-1.1", "hello", 0.8),
        attempts=2,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "jobs.sqlite3") as s:
        yield s


def test_default_path_honours_xdg_and_schema_is_versioned(isolated_user_dirs: Path) -> None:
    with Store() as s:
        assert s.path == locations.default_db_path()
        assert str(s.path).startswith(str(isolated_user_dirs))
    conn = sqlite3.connect(s.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    # Opening again applies nothing twice.
    with Store(s.path) as again:
        assert again.list_jobs() == []


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaError, match="newer"):
        Store(db)


def test_job_round_trip_and_lifecycle(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "talk.wav"
    spec = ExportSpec(
        formats=("txt", "srt"), out_dir=str(tmp_path / "out"), policy="suffix", on_done="echo hi"
    )
    opts = JobOptions(
        model="stepaudio-3-asr-max",
        language="zh",
        hotwords=("术语",),
        cross_check=True,
        export=spec,
    )
    job = store.add_job(
        src, opts, "watch", watch_id="w1", size=10, mtime=1.5, content_hash="ab" * 32
    )
    assert job.state is JobState.QUEUED and job.options == opts and job.origin == "watch"
    assert store.get_job(job.id) == job

    claimed = store.claim_next("me")
    assert claimed is not None and claimed.id == job.id
    assert claimed.state is JobState.RUNNING and claimed.attempts == 1 and claimed.owner == "me"
    assert store.claim_next("me") is None

    done = store.finish_job(job.id, _result(src), owner="me")
    assert done.state is JobState.DONE
    assert done.duration_s == 3.2 and done.cost_amount == pytest.approx(0.000133)
    assert done.cost_currency == "CNY" and done.usage == {"input_tokens": 12}
    assert store.get_result(job.id) == _result(src)

    with pytest.raises(JobStateError, match="done"):
        store.retry_job(job.id)
    assert store.mark_reviewed(job.id).reviewed
    again = store.rerun_job(job.id)
    assert again.state is JobState.QUEUED and not again.reviewed
    assert store.get_result(job.id) is not None  # kept until replaced

    store.claim_next("me")
    review = store.finish_job(job.id, _result(src, "x", serious=True), owner="me")
    assert review.state is JobState.NEEDS_REVIEW and review.attempts == 2
    assert store.get_result(job.id).text == "x"  # type: ignore[union-attr]


def test_fail_retry_cancel(store: Store, tmp_path: Path) -> None:
    a = store.add_job(tmp_path / "a.wav")
    b = store.add_job(tmp_path / "b.wav")
    store.claim_next("me")
    failed = store.fail_job(a.id, "The key was rejected (401).", "invalid_key", owner="me")
    assert failed.state is JobState.FAILED and failed.error_kind == "invalid_key"
    assert failed.error_message == "The key was rejected (401)."
    assert store.cancel_job(b.id).state is JobState.CANCELED
    assert store.retry_job(b.id).state is JobState.QUEUED
    retried = store.retry_job(a.id)
    assert retried.state is JobState.QUEUED and retried.error_message is None
    assert store.counts()["queued"] == 2
    with pytest.raises(JobStateError, match="no job"):
        store.require_job(999)
    with pytest.raises(ValueError):
        store.list_jobs("finished")  # a typo is an error, not an empty list


def test_finish_refuses_a_job_that_is_not_running_here(store: Store, tmp_path: Path) -> None:
    job = store.add_job(tmp_path / "a.wav")
    store.claim_next("other")
    with pytest.raises(JobStateError):
        store.finish_job(job.id, _result(tmp_path / "a.wav"), owner="me")
    assert store.get_result(job.id) is None


def test_list_filters_and_order(store: Store, tmp_path: Path) -> None:
    ids = [store.add_job(tmp_path / f"{i}.wav").id for i in range(5)]
    store.cancel_job(ids[1])
    assert [j.id for j in store.list_jobs()] == ids[::-1]
    assert [j.id for j in store.list_jobs(limit=2, newest_first=False)] == ids[:2]
    assert [j.id for j in store.list_jobs("canceled")] == [ids[1]]
    assert len(store.list_jobs(["queued", "canceled"])) == 5


def test_recover_running_takes_only_dead_owners(store: Store, tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_owner = f"{os.uname().nodename}:{int(dead.stdout)}:12345"
    live = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        live_owner = f"{process_owner().rsplit(':', 2)[0]}:{live.pid}:{_start_ticks(live.pid)}"
        a = store.add_job(tmp_path / "a.wav")
        b = store.add_job(tmp_path / "b.wav")
        c = store.add_job(tmp_path / "c.wav")
        store.claim_next(dead_owner)
        store.claim_next(live_owner)
        store.claim_next(process_owner())
        recovered = store.recover_running(process_owner())
        assert sorted(j.id for j in recovered) == [a.id, c.id]
        assert store.get_job(b.id).state is JobState.RUNNING  # type: ignore[union-attr]
        assert all(j.state is JobState.QUEUED and j.attempts == 1 for j in recovered)
    finally:
        live.communicate(b"")


def test_threads_and_a_second_connection_never_claim_twice(tmp_path: Path) -> None:
    db = tmp_path / "jobs.sqlite3"
    with Store(db) as one, Store(db) as two:

        def add(n: int) -> None:
            for i in range(25):
                one.add_job(tmp_path / f"{n}-{i}.wav")

        threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert one.counts()["queued"] == 100

        claimed: list[int] = []
        lock = threading.Lock()

        def claim(s: Store, owner: str) -> None:
            for _ in range(200):
                job = s.claim_next(owner)
                if job is None:
                    return
                with lock:
                    claimed.append(job.id)

        workers = [
            threading.Thread(target=claim, args=(s, f"w{i}"))
            for i, s in enumerate([one, two, one, two])
        ]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 100


def test_admit_file_is_exactly_once(store: Store, tmp_path: Path) -> None:
    opts = JobOptions(export=ExportSpec())
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    first = store.ledger.admit_file(
        a, size=5, mtime_ns=1, content_hash="h1", options=opts, watch_id="w"
    )
    assert first.kind == "new"
    # Restart or touch: same path, same bytes.
    again = store.ledger.admit_file(
        a, size=5, mtime_ns=2, content_hash="h1", options=opts, watch_id="w"
    )
    assert again.kind == "known" and again.job.id == first.job.id
    # The same bytes under another name: a copy, not a new job.
    copy = store.ledger.admit_file(
        b, size=5, mtime_ns=3, content_hash="h1", options=opts, watch_id="w"
    )
    assert copy.kind == "copy" and copy.job.id == first.job.id
    assert [s.path for s in store.ledger.unexported_copies(first.job.id)] == [b]
    store.ledger.mark_exported(b, first.job.id)
    assert store.ledger.unexported_copies(first.job.id) == []
    # Unless duplicates are to be sent again.
    c = tmp_path / "c.wav"
    resent = store.ledger.admit_file(
        c,
        size=5,
        mtime_ns=3,
        content_hash="h1",
        options=opts,
        watch_id="w",
        skip_duplicate_content=False,
    )
    assert resent.kind == "new" and resent.job.id != first.job.id
    # New content at a known path is a new job.
    changed = store.ledger.admit_file(
        a, size=6, mtime_ns=9, content_hash="h2", options=opts, watch_id="w"
    )
    assert changed.kind == "new"
    assert store.ledger.ledger_entry("h1").first_path == a  # type: ignore[union-attr]
    assert len(store.list_jobs()) == 3


def test_the_key_never_reaches_the_database(tmp_path: Path, fake_key: str) -> None:
    """Everything a job carries (settings-derived options, errors, results) is key-free."""
    from tui.config import Settings
    from tui.secrets import Secret

    settings = Settings(api_key=Secret(fake_key), base_url="http://127.0.0.1:9/v1")
    db = tmp_path / "jobs.sqlite3"
    with Store(db) as s:
        opts = JobOptions(
            model=settings.model,
            language=settings.language,
            hotwords=tuple(settings.hotwords),
            export=ExportSpec(),
        )
        job = s.add_job(tmp_path / "a.wav", opts)
        s.claim_next("me")
        s.finish_job(job.id, _result(tmp_path / "a.wav"), owner="me")
        assert s.get_job(job.id) is not None
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("jobs.sqlite3*"))
    assert len(blob) > 0
    assert fake_key.encode() not in blob


def test_a_file_changed_before_its_job_started_is_sent_once(store: Store, tmp_path: Path) -> None:
    """A producer that pauses longer than the quiet period makes the watcher see two versions:
    while the first one's job is still queued, that job takes the new content (one request)."""
    opts = JobOptions(export=ExportSpec())
    a = tmp_path / "a.wav"
    first = store.ledger.admit_file(
        a, size=5, mtime_ns=1, content_hash="partial", options=opts, watch_id="w"
    )
    grown = store.ledger.admit_file(
        a, size=9, mtime_ns=2, content_hash="whole", options=opts, watch_id="w"
    )
    assert grown.kind == "new" and grown.job.id == first.job.id
    assert grown.job.content_hash == "whole" and grown.job.size == 9
    assert store.ledger.ledger_entry("partial") is None
    assert store.ledger.ledger_entry("whole").job_id == first.job.id  # type: ignore[union-attr]
    assert len(store.list_jobs()) == 1
    # Once it has started, the next version is a job of its own.
    store.claim_next("me")
    again = store.ledger.admit_file(
        a, size=12, mtime_ns=3, content_hash="longer", options=opts, watch_id="w"
    )
    assert again.kind == "new" and again.job.id != first.job.id
    # A queued job that another path shares (a copy) keeps its content for that copy.
    b, c = tmp_path / "b.wav", tmp_path / "c.wav"
    jb = store.ledger.admit_file(
        b, size=5, mtime_ns=1, content_hash="hb", options=opts, watch_id="w"
    )
    store.ledger.admit_file(c, size=5, mtime_ns=1, content_hash="hb", options=opts, watch_id="w")
    changed = store.ledger.admit_file(
        b, size=7, mtime_ns=4, content_hash="hb2", options=opts, watch_id="w"
    )
    assert changed.job.id != jb.job.id
    assert store.get_job(jb.job.id).content_hash == "hb"  # type: ignore[union-attr]


def _show(db: Path, job_id: int, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """`stepfun-asr show ID` through the real entry point, as {field: value}."""
    from tui.cli import main

    capsys.readouterr()
    assert main(["show", str(job_id), "--db", str(db)]) == 0
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.strip() in ("model", "language", "state"):
            rows[key.strip()] = value.strip()
    return rows


async def test_show_prints_the_model_and_language_a_job_ran_with(
    tmp_path: Path, emu: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """Workbench jobs carry no model/language of their own: `show` prints the settings they
    actually ran with (what the service was sent), not "(default)"; a failed job too."""
    from tui.config import Settings
    from tui.engine.engine import Engine
    from tui.secrets import Secret
    from tui.stepfun.emulator import Emulator, write_directive_wav

    assert isinstance(emu, Emulator)
    good = write_directive_wav(tmp_path / "good.wav", 1.5, text="Hello there.")
    # 451 fails the file alone (402, an account-level refusal, would pause the queue).
    bad = write_directive_wav(tmp_path / "bad.wav", 1.5, fault="status", code=451)
    own = write_directive_wav(tmp_path / "own.wav", 1.5, text="你好。")
    settings = Settings(
        base_url=emu.base_url,
        api_key=Secret(emu.demo_key),
        language="en",
        model="stepaudio-2.5-asr",
    )
    db = tmp_path / "jobs.sqlite3"
    with Store(db) as store:
        runner = Engine(settings, store=store, requests_per_minute=0).runner
        jobs = [
            store.add_job(good, JobOptions(), "tui"),
            store.add_job(bad, JobOptions(), "tui"),
            store.add_job(own, JobOptions(language="zh"), "cli"),
        ]
        waiting = store.add_job(tmp_path / "later.wav", JobOptions(), "tui")
        await runner.drain([j.id for j in jobs])
        states = [store.require_job(j.id).state for j in jobs]
    assert states[0] in (JobState.DONE, JobState.NEEDS_REVIEW) and states[1] is JobState.FAILED
    sent = [r.language for r in emu.requests if r.endpoint == "sse"]
    assert sorted(sent, key=str) == ["en", "en", "zh"]  # what `show` must match
    for job, language in zip(jobs, ("en", "en", "zh"), strict=True):
        shown = _show(db, job.id, capsys)
        assert (shown["model"], shown["language"]) == ("stepaudio-2.5-asr", language), shown
    later = _show(db, waiting.id, capsys)
    assert "when it starts" in later["model"] and "when it starts" in later["language"]


def test_a_finished_job_records_auto_detect_and_old_rows_read_as_such(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "a.wav"
    job = store.add_job(src, JobOptions(), "tui")
    store.claim_next("me")
    store.record_run_settings(job.id, "stepaudio-2.5-asr", None)
    auto = dataclasses.replace(_result(src), language=None)
    done = store.finish_job(job.id, auto, owner="me")
    assert (done.model, done.language) == ("stepaudio-2.5-asr", "")
    assert _show(store.path, job.id, capsys)["language"] == "auto-detect"
    # A row finished before the language was recorded (NULL) was auto-detected too.
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE jobs SET language = NULL WHERE id = ?", (job.id,))
    assert store.require_job(job.id).language == ""


# --- names that are not UTF-8, superseded answers, our own files, damage ----------------------


def test_a_name_that_is_not_utf8_is_stored_as_its_exact_bytes(store: Store, tmp_path: Path) -> None:
    from tui.names import shown

    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9\n.wav"))
    readable = tmp_path / "café.wav"
    adm = store.ledger.admit_file(
        odd, size=1, mtime_ns=1, content_hash="h1", options=JobOptions(), watch_id=str(tmp_path)
    )
    store.ledger.admit_file(
        readable, size=1, mtime_ns=1, content_hash="h2", options=JobOptions(), watch_id=None
    )
    assert store.require_job(adm.job.id).source == odd  # the same bytes come back
    assert store.ledger.seen_file(odd) is not None and store.ledger.seen_file(readable) is not None
    failed = store.fail_job(adm.job.id, f"Cannot read {odd}", "bad_input")
    assert failed.error_message is not None and "caf\\xe9" in failed.error_message
    assert shown(odd).endswith("caf\\xe9\\n.wav")
    raw = sqlite3.connect(store.path).execute("SELECT typeof(source) FROM jobs ORDER BY id")
    assert [r[0] for r in raw] == ["blob", "text"]  # ordinary names stay readable text


def test_a_superseded_answer_is_kept_aside_and_the_job_takes_the_new_content(
    store: Store, tmp_path: Path
) -> None:
    from tui.store.revisions import ContentSignature

    src = tmp_path / "a.wav"
    adm = store.ledger.admit_file(
        src, size=1, mtime_ns=1, content_hash="old", options=JobOptions(), watch_id=None
    )
    store.claim_next("me")
    now = ContentSignature(2, 2, "new")
    kept = store.revisions.supersede(
        adm.job.id, _result(src, "old words"), now, sent_hash="old", reason="changed", owner="me"
    )
    assert kept.replaced_by is None and kept.job.state is JobState.QUEUED
    assert kept.job.content_hash == "new" and store.get_result(adm.job.id) is None
    assert [r.text for _why, r in store.revisions.superseded_results(adm.job.id)] == ["old words"]
    # The watcher then sees the new content: it is this job's already, not a second one.
    again = store.ledger.admit_file(
        src, size=2, mtime_ns=2, content_hash="new", options=JobOptions(), watch_id=None
    )
    assert again.kind == "known" and again.job.id == adm.job.id
    assert store.ledger.ledger_entry("old") is None


def test_a_superseded_answer_defers_to_a_job_that_has_the_new_content(
    store: Store, tmp_path: Path
) -> None:
    from tui.store.revisions import ContentSignature

    src = tmp_path / "a.wav"
    first = store.add_job(src, content_hash="old")
    store.claim_next("me")
    second = store.add_job(src, content_hash="new")
    kept = store.revisions.supersede(
        first.id,
        _result(src),
        ContentSignature(2, 2, "new"),
        sent_hash="old",
        reason="x",
        owner="me",
    )
    assert kept.replaced_by == second.id and kept.job.state is JobState.CANCELED
    assert "superseded by job" in (kept.job.error_message or "")


def test_written_outputs_remember_what_we_wrote(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "a.txt"
    job = store.add_job(tmp_path / "a.wav")
    store.revisions.record_written(job.id, tmp_path / "a.wav", [(out, "abc")])
    assert store.revisions.written_by_us(out) == (tmp_path / "a.wav", "abc")
    assert store.revisions.written_by_us(tmp_path / "b.txt") is None


def test_a_damaged_file_is_refused_at_open_with_a_sentence(tmp_path: Path) -> None:
    from tui.store.errors import StoreCorrupt

    db = tmp_path / "jobs.sqlite3"
    db.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(StoreCorrupt, match="db repair"):
        Store(db)


def _jobs_with_a_garbled_page(tmp_path: Path) -> tuple[Path, bytes, int]:
    """A database of 300 jobs, its bytes, and the offset of a leaf page of the jobs table (type
    0x0D, not the index on the same paths) that holds job 150's row."""
    db = tmp_path / "jobs.sqlite3"
    with Store(db) as s:
        for i in range(300):
            s.add_job(tmp_path / f"{i:04d}-{'y' * 300}.wav")
        s._db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = db.read_bytes()
    rows = re.finditer(re.escape(f"0150-{'y' * 300}".encode()), data)
    page = next(p for m in rows if data[(p := m.start() // 4096 * 4096)] == 0x0D)
    return db, data, page


def _garbled(data: bytes, page: int, seed: int) -> bytes:
    damaged = bytearray(data)  # the page's cells, not its header
    damaged[page + 100 : page + 4000] = random.Random(seed).randbytes(3900)
    return bytes(damaged)


def _check_stops(path: Path) -> bool:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA integrity_check(20)").fetchall()
    except sqlite3.DatabaseError:
        return True
    finally:
        conn.close()
    return False


@pytest.mark.parametrize("check_stops", [False, True], ids=["damage-listed", "check-stops"])
def test_repair_recovers_the_readable_rows_one_by_one(tmp_path: Path, check_stops: bool) -> None:
    """Depending on the garbage, SQLite's integrity check lists the damage or itself stops
    ("malformed"); both are damage found, and the repair recovers the readable rows."""
    from tui.store import repair

    db, clean, page = _jobs_with_a_garbled_page(tmp_path)
    for seed in range(300):  # about one garbling in ten stops the check
        data = _garbled(clean, page, seed)
        db.write_bytes(data)
        if _check_stops(db) == check_stops:
            break
    else:
        pytest.fail("no garbling of the page gave the case under test")
    assert repair.check(db)  # damage found
    report = repair.repair(db)
    assert report.backup.exists() and report.backup.read_bytes() == data
    assert 250 < report.copied["jobs"] < 300
    assert repair.check(db) == []
    with Store(db) as s:
        assert len(s.list_jobs()) == report.copied["jobs"]
