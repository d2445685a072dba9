"""Moving a job between states, atomically across processes: a runner claiming queued jobs,
the checked move from the states that allow it, and jobs whose runner is gone put back."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from tui.store.connection import JOB_COLUMNS, Connection, job_from_row
from tui.store.owners import owner_alive
from tui.store.records import Job, JobState, JobStateError

_CLAIM = (
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?, "
    "finished_at = NULL, error_message = NULL, error_kind = NULL, owner = ? "
    "WHERE id = ? AND state = 'queued'"
)


def claim_next(db: Connection, owner: str) -> Job | None:
    """Oldest queued job → running, owned by ``owner`` (atomic across processes)."""
    with db.tx() as conn:
        row = conn.execute(
            "SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        conn.execute(_CLAIM, (time.time(), owner, row[0]))
        return db.get(conn, row[0])


def claim_one(db: Connection, job_id: int, owner: str) -> Job | None:
    """That job → running if it is still queued (``drain(job_ids=...)``)."""
    with db.tx() as conn:
        cur = conn.execute(_CLAIM, (time.time(), owner, job_id))
        return db.get(conn, job_id) if cur.rowcount else None


def transition(
    db: Connection,
    job_id: int,
    allowed: Iterable[JobState],
    action: str,
    sets: str,
    args: tuple[Any, ...],
    *,
    owner: str | None = None,
) -> Job:
    """``sets`` applied to the job if its state is one of ``allowed`` (and, given ``owner``, it
    runs there); otherwise JobStateError saying what ``action`` needs."""
    allowed = list(allowed)
    with db.tx() as conn:
        job = db.get(conn, job_id)
        if job.state not in allowed:
            raise JobStateError(
                f"Job {job_id} is {job.state.value}; only "
                f"{' or '.join(s.value for s in allowed)} jobs can be {action}."
            )
        if owner is not None and job.owner != owner:
            raise JobStateError(f"Job {job_id} is being run by another process.")
        conn.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*args, job_id))
        return db.get(conn, job_id)


def recover_running(db: Connection, owner: str) -> list[Job]:
    """Running jobs whose runner is gone (or is this one, restarting) → queued."""
    with db.tx() as conn:
        rows = conn.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'running' ORDER BY id"
        ).fetchall()
        orphans = [
            job_from_row(r) for r in rows if r["owner"] == owner or not owner_alive(r["owner"])
        ]
        for job in orphans:
            conn.execute(
                "UPDATE jobs SET state = 'queued', owner = NULL, started_at = NULL WHERE id = ?",
                (job.id,),
            )
        return [db.get(conn, j.id) for j in orphans]
