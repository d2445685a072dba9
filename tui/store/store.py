"""The job store: one SQLite file (WAL) holding jobs, results and the watch ledger.

It is the single source of truth; the engine, the CLI and the workbench all read it. Methods
are synchronous and short. Records are in ``tui.store.records``; the watch ledger's reads and
writes are ``Store.ledger``. The API key is never written here (nothing passed in carries it).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from tui.names import db_value, utf8_text
from tui.store.connection import JOB_COLUMNS, Connection, job_from_row
from tui.store.ledger import WatchLedger
from tui.store.owners import owner_alive
from tui.store.records import (
    FINISHED,
    Job,
    JobOptions,
    JobState,
    JobStateError,
    Totals,
)
from tui.store.revisions import Revisions
from tui.transcript.model import CrossCheck, TranscriptionResult

_CLAIM = (
    "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?, "
    "finished_at = NULL, error_message = NULL, error_kind = NULL, owner = ? "
    "WHERE id = ? AND state = 'queued'"
)


class Store:
    def __init__(self, path: Path | str | None = None, *, timeout_s: float = 10.0) -> None:
        self._db = Connection(path, timeout_s=timeout_s)
        self.path = self._db.path
        self.ledger = WatchLedger(self._db)
        self.revisions = Revisions(self._db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- jobs ----------------------------------------------------------------------------

    def add_job(
        self,
        source: Path,
        options: JobOptions | None = None,
        origin: str = "manual",
        *,
        watch_id: str | None = None,
        size: int | None = None,
        mtime: float | None = None,
        content_hash: str | None = None,
    ) -> Job:
        with self._db.tx() as conn:
            return self._db.insert_job(
                conn, source, options or JobOptions(), origin, watch_id, size, mtime, content_hash
            )

    def get_job(self, job_id: int) -> Job | None:
        row = self._db.one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return job_from_row(row) if row else None

    def require_job(self, job_id: int) -> Job:
        job = self.get_job(job_id)
        if job is None:
            raise JobStateError(f"There is no job {job_id}.")
        return job

    def list_jobs(
        self,
        state: str | Iterable[str] | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = True,
        watch_id: str | None = None,
    ) -> list[Job]:
        where: list[str] = []
        args: list[Any] = []
        if state is not None:
            states = [state] if isinstance(state, str) else list(state)
            for s in states:
                JobState(s)  # ValueError for a typo, before it silently matches nothing
            where.append(f"state IN ({','.join('?' * len(states))})")
            args += states
        if watch_id is not None:
            where.append("watch_id = ?")
            args.append(db_value(watch_id))
        sql = f"SELECT {JOB_COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id " + ("DESC" if newest_first else "ASC")
        sql += " LIMIT ? OFFSET ?"
        args += [limit if limit is not None else -1, offset]
        return [job_from_row(r) for r in self._db.all(sql, args)]

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in JobState}
        for row in self._db.all("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
            out[row[0]] = row[1]
        return out

    def has_queued(self) -> bool:
        return self._db.one("SELECT 1 FROM jobs WHERE state = 'queued' LIMIT 1") is not None

    def totals(self) -> Totals:
        with self._db.lock:
            row = self._db.conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(duration_s), 0) FROM jobs "
                "WHERE state IN ('done','needs_review')"
            ).fetchone()
            cost = {
                r[0]: r[1]
                for r in self._db.conn.execute(
                    "SELECT cost_currency, SUM(cost_amount) FROM jobs WHERE cost_currency IS NOT NULL "
                    "AND state IN ('done','needs_review') GROUP BY cost_currency"
                )
            }
        return Totals(row[0], float(row[1]), cost)

    def claim_next(self, owner: str) -> Job | None:
        """Oldest queued job → running, owned by ``owner`` (atomic across processes)."""
        with self._db.tx() as conn:
            row = conn.execute(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            conn.execute(_CLAIM, (time.time(), owner, row[0]))
            return self._db.get(conn, row[0])

    def claim_one(self, job_id: int, owner: str) -> Job | None:
        """That job → running if it is still queued (``drain(job_ids=...)``)."""
        with self._db.tx() as conn:
            cur = conn.execute(_CLAIM, (time.time(), owner, job_id))
            return self._db.get(conn, job_id) if cur.rowcount else None

    def _transition(
        self,
        job_id: int,
        allowed: Iterable[JobState],
        action: str,
        sets: str,
        args: tuple[Any, ...],
        *,
        owner: str | None = None,
    ) -> Job:
        allowed = list(allowed)
        with self._db.tx() as conn:
            job = self._db.get(conn, job_id)
            if job.state not in allowed:
                raise JobStateError(
                    f"Job {job_id} is {job.state.value}; only "
                    f"{' or '.join(s.value for s in allowed)} jobs can be {action}."
                )
            if owner is not None and job.owner != owner:
                raise JobStateError(f"Job {job_id} is being run by another process.")
            conn.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*args, job_id))
            return self._db.get(conn, job_id)

    def finish_job(
        self,
        job_id: int,
        result: TranscriptionResult,
        *,
        owner: str | None = None,
    ) -> Job:
        """running → done | needs_review, with the result saved in the same transaction."""
        state = JobState.NEEDS_REVIEW if result.needs_review else JobState.DONE
        cost = result.cost
        with self._db.tx() as conn:
            job = self._db.get(conn, job_id)
            if job.state is not JobState.RUNNING or (owner is not None and job.owner != owner):
                raise JobStateError(
                    f"Job {job_id} is {job.state.value}, not running here; "
                    "its result was not saved."
                )
            _save_result(conn, job_id, result)
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
                    result.model or job.options.model,
                    result.language or job.options.language,
                    job_id,
                ),
            )
            if job.content_hash:
                conn.execute(
                    "UPDATE ledger SET done_at = ? WHERE content_hash = ? AND job_id = ?",
                    (time.time(), job.content_hash, job_id),
                )
            return self._db.get(conn, job_id)

    def save_cross_check(
        self,
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
        with self._db.tx() as conn:
            job = self._db.get(conn, job_id)
            if job.state not in FINISHED or job.finished_at != finished_at:
                raise JobStateError(
                    f"Job {job_id} was run again while it was being cross-checked "
                    f"(it is {job.state.value} now); the cross-check was not saved."
                )
            row = conn.execute(
                "SELECT warnings FROM results WHERE job_id = ?", (job_id,)
            ).fetchone()
            before = (
                {w.get("code") for w in json.loads(row[0]) if w.get("serious")} if row else set()
            )
            fresh = {w.code for w in result.warnings if w.serious} - before
            _save_result(conn, job_id, result)
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
            return self._db.get(conn, job_id)

    def get_result(self, job_id: int) -> TranscriptionResult | None:
        row = self._db.one("SELECT * FROM results WHERE job_id = ?", (job_id,))
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

    def fail_job(self, job_id: int, message: str, kind: str, *, owner: str | None = None) -> Job:
        return self._transition(
            job_id,
            [JobState.RUNNING, JobState.QUEUED],
            "failed",
            "state = 'failed', error_message = ?, error_kind = ?, finished_at = ?, owner = NULL",
            (utf8_text(message), kind, time.time()),
            owner=owner,
        )

    def cancel_job(self, job_id: int) -> Job:
        return self._transition(
            job_id,
            [JobState.QUEUED, JobState.RUNNING],
            "canceled",
            "state = 'canceled', finished_at = ?, owner = NULL",
            (time.time(),),
        )

    def requeue_job(self, job_id: int, *, owner: str | None = None) -> Job:
        """running → queued (shutdown or crash recovery); the attempt count stays."""
        return self._transition(
            job_id,
            [JobState.RUNNING],
            "put back in the queue",
            "state = 'queued', owner = NULL, started_at = NULL",
            (),
            owner=owner,
        )

    def retry_job(self, job_id: int) -> Job:
        return self._transition(
            job_id,
            [JobState.FAILED, JobState.CANCELED],
            "retried",
            "state = 'queued', error_message = NULL, error_kind = NULL, finished_at = NULL",
            (),
        )

    def rerun_job(self, job_id: int) -> Job:
        # The old result stays until the new one replaces it.
        return self._transition(
            job_id,
            [JobState.DONE, JobState.NEEDS_REVIEW],
            "run again",
            "state = 'queued', finished_at = NULL, reviewed = 0",
            (),
        )

    def mark_reviewed(self, job_id: int, reviewed: bool = True) -> Job:
        return self._transition(
            job_id,
            [JobState.DONE, JobState.NEEDS_REVIEW],
            "marked reviewed",
            "reviewed = ?",
            (int(reviewed),),
        )

    def set_outputs(self, job_id: int, paths: Iterable[Path]) -> Job:
        out = [str(p) for p in paths]
        with self._db.tx() as conn:
            job = self._db.get(conn, job_id)
            merged = list(dict.fromkeys([*map(str, job.outputs), *out]))
            conn.execute("UPDATE jobs SET outputs = ? WHERE id = ?", (json.dumps(merged), job_id))
            if job.content_hash:
                conn.execute(
                    "UPDATE ledger SET outputs = ? WHERE content_hash = ? AND job_id = ?",
                    (json.dumps(merged), job.content_hash, job_id),
                )
            return self._db.get(conn, job_id)

    def recover_running(self, owner: str) -> list[Job]:
        """Running jobs whose runner is gone (or is this one, restarting) → queued."""
        with self._db.tx() as conn:
            rows = conn.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'running' ORDER BY id"
            ).fetchall()
            orphans = [
                job_from_row(r) for r in rows if r["owner"] == owner or not owner_alive(r["owner"])
            ]
            for job in orphans:
                conn.execute(
                    "UPDATE jobs SET state = 'queued', owner = NULL, started_at = NULL "
                    "WHERE id = ?",
                    (job.id,),
                )
            return [self._db.get(conn, j.id) for j in orphans]


def _save_result(conn: sqlite3.Connection, job_id: int, result: TranscriptionResult) -> None:
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
            _json(segments),
            _json(warnings),
            _json(cross) if cross else None,
            _json(data),
            time.time(),
        ),
    )


def _json(value: Any) -> str:
    # Readable UTF-8 where possible; a name with undecodable bytes (a lone surrogate) cannot be
    # bound as UTF-8 text, so then everything non-ASCII is \u-escaped (it loads back the same).
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text
