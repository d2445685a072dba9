"""Versions of a file's content and of our own transcript files.

A result that comes back for bytes that are no longer the file's (it was rewritten or replaced
while it was being sent) is kept in ``superseded_results`` and never becomes the job's current
transcript; the job goes back to the queue for the new content (or, when another job already
has that content, ends as canceled, pointing at it). ``written_outputs`` remembers each
transcript file this tool wrote and the sha256 of what it wrote: such a file, unchanged since,
may be replaced by a newer transcript of the same source whatever the ``skip`` policy, which
protects only files a person made or edited.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tui.names import db_value, path_from_db, utf8_text
from tui.store.connection import Connection, json_text
from tui.store.records import Job, JobState, JobStateError
from tui.transcript.model import TranscriptionResult


@dataclass(frozen=True)
class ContentSignature:
    size: int
    mtime_ns: int
    content_hash: str


@dataclass(frozen=True)
class Superseded:
    job: Job  # queued again for the new content, or canceled when ``replaced_by`` has it
    replaced_by: int | None


class Revisions:
    """Superseded results and our own transcript files (``Store.revisions``)."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def supersede(
        self,
        job_id: int,
        result: TranscriptionResult,
        now: ContentSignature,
        *,
        sent_hash: str | None,
        reason: str,
        owner: str | None = None,
    ) -> Superseded:
        """``result`` was for bytes the file no longer holds (``now`` is what it holds): keep
        it aside and make sure the new content gets transcribed, exactly once."""
        with self._db.tx() as conn:
            job = self._db.get(conn, job_id)
            if job.state is not JobState.RUNNING or (owner is not None and job.owner != owner):
                raise JobStateError(f"Job {job_id} is {job.state.value}, not running here.")
            conn.execute(
                "INSERT INTO superseded_results (job_id, content_hash, result, reason, saved_at) "
                "VALUES (?,?,?,?,?)",
                (
                    job_id,
                    sent_hash,
                    json_text(result.to_json()),
                    utf8_text(reason),
                    time.time(),
                ),
            )
            if sent_hash:  # the old bytes were not transcribed as the file's
                conn.execute(
                    "DELETE FROM ledger WHERE content_hash = ? AND job_id = ?", (sent_hash, job_id)
                )
            other = conn.execute(
                "SELECT id FROM jobs WHERE source = ? AND content_hash = ? AND id != ? "
                "AND state != 'canceled' ORDER BY id DESC LIMIT 1",
                (db_value(job.source), now.content_hash, job_id),
            ).fetchone()
            if other is not None:
                conn.execute(
                    "UPDATE jobs SET state = 'canceled', owner = NULL, finished_at = ?, "
                    "error_message = ? WHERE id = ?",
                    (time.time(), f"superseded by job {other[0]}: {reason}", job_id),
                )
                return Superseded(self._db.get(conn, job_id), int(other[0]))
            conn.execute(
                "UPDATE jobs SET state = 'queued', owner = NULL, started_at = NULL, size = ?, "
                "mtime = ?, content_hash = ? WHERE id = ?",
                (now.size, now.mtime_ns / 1e9, now.content_hash, job_id),
            )
            conn.execute(
                "INSERT OR IGNORE INTO ledger (content_hash, job_id, first_path, first_seen_at) "
                "VALUES (?,?,?,?)",
                (now.content_hash, job_id, db_value(job.source), time.time()),
            )
            # The watcher seeing the new content finds it is this job's already (no second job).
            conn.execute(
                "UPDATE seen_files SET size = ?, mtime_ns = ?, content_hash = ?, job_id = ?, "
                "exported = 0 WHERE path = ?",
                (now.size, now.mtime_ns, now.content_hash, job_id, db_value(job.source)),
            )
            return Superseded(self._db.get(conn, job_id), None)

    def superseded_results(self, job_id: int) -> list[tuple[str, TranscriptionResult]]:
        """(reason, result) kept aside for ``job_id``, oldest first."""
        rows = self._db.all(
            "SELECT reason, result FROM superseded_results WHERE job_id = ? ORDER BY id",
            (job_id,),
        )
        return [(r[0], TranscriptionResult.from_json(json.loads(r[1]))) for r in rows]

    def record_written(self, job_id: int, source: Path, files: Iterable[tuple[Path, str]]) -> None:
        """Transcript files we just wrote for ``source``: (path, sha256 of the bytes)."""
        with self._db.tx() as conn:
            for path, digest in files:
                conn.execute(
                    "INSERT OR REPLACE INTO written_outputs (path, content_hash, source, job_id, "
                    "written_at) VALUES (?,?,?,?,?)",
                    (db_value(path), digest, db_value(source), job_id, time.time()),
                )

    def written_by_us(self, path: Path) -> tuple[Path, str] | None:
        """(source, sha256) of the transcript we wrote at ``path``, if we did."""
        row = self._db.one(
            "SELECT source, content_hash FROM written_outputs WHERE path = ?", (db_value(path),)
        )
        return (path_from_db(row[0]), str(row[1])) if row else None
