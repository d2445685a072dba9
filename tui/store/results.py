"""A job's saved result: the ``results`` row written and read back, a running job finished
with its result, and a finished job's result replaced by its cross-checked version."""

from __future__ import annotations

import json
import sqlite3
import time

from tui.names import utf8_text
from tui.store import search as fts
from tui.store.connection import Connection, json_text
from tui.store.records import FINISHED, Job, JobState, JobStateError
from tui.store.speaker_edits import adopt_roster
from tui.transcript.model import CrossCheck, TranscriptionResult


def finish_job(
    db: Connection,
    job_id: int,
    result: TranscriptionResult,
    *,
    owner: str | None = None,
) -> Job:
    """running → done | needs_review, with the result saved in the same transaction."""
    state = JobState.NEEDS_REVIEW if result.needs_review else JobState.DONE
    cost = result.cost
    with db.tx() as conn:
        job = db.get(conn, job_id)
        if job.state is not JobState.RUNNING or (owner is not None and job.owner != owner):
            raise JobStateError(
                f"Job {job_id} is {job.state.value}, not running here; its result was not saved."
            )
        fts.unindex_job(conn, job_id)  # before the text its tokens came from is gone
        save_result(conn, job_id, result)
        if result.speakers is not None and result.speakers.voices:
            adopt_roster(conn, job_id, str(job.source.parent), result.speakers)
        conn.execute(
            "UPDATE jobs SET state = ?, finished_at = ?, usage = ?, duration_s = ?, "
            "cost_amount = ?, cost_currency = ?, reviewed = 0, owner = NULL, model = ?, "
            "language = ? WHERE id = ?",
            (
                state.value,
                time.time(),
                json.dumps(result.usage),
                result.duration_s,
                cost.amount if cost else None,
                cost.currency if cost else None,
                result.model or job.model,
                result.language or job.ran_language or job.options.language or "",
                job_id,
            ),
        )
        if job.content_hash:
            conn.execute(
                "UPDATE ledger SET done_at = ? WHERE content_hash = ? AND job_id = ?",
                (time.time(), job.content_hash, job_id),
            )
        fts.index_job(conn, job_id)
        return db.get(conn, job_id)


def save_cross_check(
    db: Connection,
    job_id: int,
    result: TranscriptionResult,
    *,
    finished_at: float | None,
) -> Job:
    """A finished job's result replaced by its cross-checked version, and its state set
    from the new warnings, in one transaction. ``finished_at``: the job's when the check
    started; if the job has been run again since (or is running), nothing changes and
    JobStateError says so. The review mark is cleared when a new serious warning appeared.
    """
    state = JobState.NEEDS_REVIEW if result.needs_review else JobState.DONE
    cost = result.cost
    with db.tx() as conn:
        job = db.get(conn, job_id)
        if job.state not in FINISHED or job.finished_at != finished_at:
            raise JobStateError(
                f"Job {job_id} was run again while it was being cross-checked "
                f"(it is {job.state.value} now); the cross-check was not saved."
            )
        row = conn.execute("SELECT warnings FROM results WHERE job_id = ?", (job_id,)).fetchone()
        before = {w.get("code") for w in json.loads(row[0]) if w.get("serious")} if row else set()
        fresh = {w.code for w in result.warnings if w.serious} - before
        fts.unindex_job(conn, job_id)  # before the text its tokens came from is gone
        save_result(conn, job_id, result)
        conn.execute(
            "UPDATE jobs SET state = ?, cost_amount = ?, cost_currency = ?, "
            "reviewed = CASE WHEN ? THEN 0 ELSE reviewed END WHERE id = ?",
            (
                state.value,
                cost.amount if cost else None,
                cost.currency if cost else None,
                bool(fresh),
                job_id,
            ),
        )
        fts.index_job(conn, job_id)
        return db.get(conn, job_id)


def read_result(db: Connection, job_id: int) -> TranscriptionResult | None:
    row = db.one("SELECT * FROM results WHERE job_id = ?", (job_id,))
    if row is None:
        return None
    data = json.loads(row["meta"])
    data.update(
        text=row["text"],
        segments=json.loads(row["segments"]),
        warnings=json.loads(row["warnings"]),
        cross_check=json.loads(row["cross_check"]) if row["cross_check"] else None,
    )
    result = TranscriptionResult.from_json(data)
    assert result.cross_check is None or isinstance(result.cross_check, CrossCheck)
    return result


def save_result(conn: sqlite3.Connection, job_id: int, result: TranscriptionResult) -> None:
    data = result.to_json()
    segments = data.pop("segments")
    warnings = data.pop("warnings")
    cross = data.pop("cross_check")
    text = data.pop("text")
    conn.execute(
        "INSERT OR REPLACE INTO results (job_id, text, segments, warnings, cross_check, meta, "
        "saved_at) VALUES (?,?,?,?,?,?,?)",
        (
            job_id,
            utf8_text(text),
            json_text(segments),
            json_text(warnings),
            json_text(cross) if cross else None,
            json_text(data),
            time.time(),
        ),
    )
