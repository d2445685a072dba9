"""The job store: one SQLite file (WAL) holding jobs, results and the watch ledger.

It is the single source of truth; the engine, the CLI and the workbench all read it. Methods
are synchronous and short. Records are in ``tui.store.records``; the watch ledger's reads and
writes are ``Store.ledger``; the SQL of saved results is ``tui.store.results`` and of state
moves ``tui.store.transitions``. The API key is never written here (nothing passed in carries
it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from tui.names import db_value, utf8_text
from tui.store import library, results, transitions
from tui.store import search as fts
from tui.store.connection import JOB_COLUMNS, Connection, job_from_row
from tui.store.corrections import Corrections
from tui.store.glossary import Glossary
from tui.store.ledger import WatchLedger
from tui.store.records import (
    Job,
    JobOptions,
    JobState,
    JobStateError,
    Totals,
)
from tui.store.revisions import Revisions
from tui.store.speaker_edits import SpeakerEdits
from tui.transcript.model import TranscriptionResult


class Store:
    def __init__(self, path: Path | str | None = None, *, timeout_s: float = 10.0) -> None:
        self._db = Connection(path, timeout_s=timeout_s)
        self.path = self._db.path
        self.ledger = WatchLedger(self._db)
        self.corrections = Corrections(self._db, self.get_result)
        self.glossary = Glossary(self._db)
        self.speakers = SpeakerEdits(self._db)
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

    def unreviewed(self) -> int:
        """Jobs that need review and have not been marked reviewed."""
        row = self._db.one(
            "SELECT COUNT(*) FROM jobs WHERE state = 'needs_review' AND reviewed = 0"
        )
        return int(row[0]) if row else 0

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

    def spent_since(self, since: float) -> dict[str, float]:
        """Estimated cost of the jobs finished since ``since`` (Unix time), per currency."""
        rows = self._db.all(
            "SELECT cost_currency, SUM(cost_amount) FROM jobs WHERE cost_currency IS NOT NULL "
            "AND state IN ('done','needs_review') AND finished_at >= ? GROUP BY cost_currency",
            (since,),
        )
        return {r[0]: float(r[1]) for r in rows}

    def claim_next(self, owner: str) -> Job | None:
        """Oldest queued job → running, owned by ``owner`` (atomic across processes)."""
        return transitions.claim_next(self._db, owner)

    def claim_one(self, job_id: int, owner: str) -> Job | None:
        """That job → running if it is still queued (``drain(job_ids=...)``)."""
        return transitions.claim_one(self._db, job_id, owner)

    def record_run_settings(self, job_id: int, model: str, language: str | None) -> None:
        """The model and language a starting job runs with (its option, else the settings'),
        kept in the job's row for `show` and the history; language "" means auto-detect."""
        with self._db.tx() as conn:
            conn.execute(
                "UPDATE jobs SET model = ?, language = ? WHERE id = ?",
                (model, language or "", job_id),
            )

    def finish_job(
        self,
        job_id: int,
        result: TranscriptionResult,
        *,
        owner: str | None = None,
    ) -> Job:
        """running → done | needs_review, with the result saved in the same transaction."""
        return results.finish_job(self._db, job_id, result, owner=owner)

    def save_cross_check(
        self,
        job_id: int,
        result: TranscriptionResult,
        *,
        finished_at: float | None,
    ) -> Job:
        """A finished job's result replaced by its cross-checked version (``results``)."""
        return results.save_cross_check(self._db, job_id, result, finished_at=finished_at)

    def get_result(self, job_id: int) -> TranscriptionResult | None:
        result = results.read_result(self._db, job_id)
        return None if result is None else self.speakers.apply(job_id, result)

    def fail_job(self, job_id: int, message: str, kind: str, *, owner: str | None = None) -> Job:
        return transitions.transition(
            self._db,
            job_id,
            [JobState.RUNNING, JobState.QUEUED],
            "failed",
            "state = 'failed', error_message = ?, error_kind = ?, finished_at = ?, owner = NULL",
            (utf8_text(message), kind, time.time()),
            owner=owner,
        )

    def cancel_job(self, job_id: int) -> Job:
        return transitions.transition(
            self._db,
            job_id,
            [JobState.QUEUED, JobState.RUNNING],
            "canceled",
            "state = 'canceled', finished_at = ?, owner = NULL",
            (time.time(),),
        )

    def requeue_job(self, job_id: int, *, owner: str | None = None) -> Job:
        """running → queued (shutdown or crash recovery); the attempt count stays."""
        return transitions.transition(
            self._db,
            job_id,
            [JobState.RUNNING],
            "put back in the queue",
            "state = 'queued', owner = NULL, started_at = NULL",
            (),
            owner=owner,
        )

    def retry_job(self, job_id: int) -> Job:
        return transitions.transition(
            self._db,
            job_id,
            [JobState.FAILED, JobState.CANCELED],
            "retried",
            "state = 'queued', error_message = NULL, error_kind = NULL, finished_at = NULL",
            (),
        )

    def rerun_job(self, job_id: int) -> Job:
        # The old result stays until the new one replaces it.
        return transitions.transition(
            self._db,
            job_id,
            [JobState.DONE, JobState.NEEDS_REVIEW],
            "run again",
            "state = 'queued', finished_at = NULL, reviewed = 0",
            (),
        )

    def mark_reviewed(self, job_id: int, reviewed: bool = True) -> Job:
        return transitions.transition(
            self._db,
            job_id,
            [JobState.DONE, JobState.NEEDS_REVIEW],
            "marked reviewed",
            "reviewed = ?, reviewed_at = ?",
            (int(reviewed), time.time() if reviewed else None),
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

    def remove_job(self, job_id: int) -> Job:
        """The job, its result and its search rows deleted (files on disk stay). Not while it
        runs. The watch ledger forgets the job, so a watcher seeing the file again queues it."""
        with self._db.tx() as conn:
            job = self._db.get(conn, job_id)
            if job.state is JobState.RUNNING:
                raise JobStateError(f"Job {job_id} is running; cancel it before removing it.")
            fts.unindex_job(conn, job_id)
            conn.execute("DELETE FROM results WHERE job_id = ?", (job_id,))
            conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            return job

    # --- search ----------------------------------------------------------------------------

    def reindex(self, job_id: int) -> int:
        """Index the job's text again after a correction (the corrected words are what a
        search finds); returns its cue count."""
        corrected = self.corrections.result(job_id) if self.corrections.of(job_id) else None
        with self._db.tx() as conn:
            return fts.reindex_job(conn, job_id, corrected)

    def search(
        self,
        text: str,
        *,
        folder: Path | None = None,
        since: float | None = None,
        states: Iterable[str] = (),
        limit: int = 50,
        offset: int = 0,
    ) -> list[fts.SearchHit]:
        """Cues matching ``text``, best first. QuerySyntaxError (one sentence) for a query
        that cannot be understood; ValueError for an unknown state."""
        query = fts.parse_query(text)
        wanted = [JobState(s).value for s in states]
        self.catch_up_index()
        with self._db.lock:
            return fts.search(
                self._db.conn,
                query,
                folder=folder,
                since=since,
                states=wanted,
                limit=limit,
                offset=offset,
            )

    # --- library ---------------------------------------------------------------------------

    def file_marks(self, folder: Path) -> dict[Path, library.FileMark]:
        """What the file browser marks on each recording under ``folder``."""
        with self._db.lock:
            return library.file_marks(self._db.conn, folder)

    def library(
        self,
        flt: library.LibraryFilter | None = None,
        group: library.Grouping = "date",
        *,
        limit: int = 200,
        offset: int = 0,
    ) -> list[Job]:
        with self._db.lock:
            return library.list_library(
                self._db.conn, flt or library.LibraryFilter(), group, limit=limit, offset=offset
            )

    def catch_up_index(self) -> int:
        """Index the results saved before the search index existed (once, after the upgrade;
        slow for a large library); returns how many jobs were indexed."""
        with self._db.lock:
            if not fts.needs_backfill(self._db.conn):
                return 0
        with self._db.tx() as conn:
            return fts.backfill(conn)

    def recover_running(self, owner: str) -> list[Job]:
        """Running jobs whose runner is gone (or is this one, restarting) → queued."""
        return transitions.recover_running(self._db, owner)
