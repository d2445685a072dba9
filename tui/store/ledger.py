"""The watch ledger: which content (sha256) was queued as which job, and which paths hold it.

``ledger`` maps a content hash to the job that transcribes it (written with the job, in the
same transaction, so a restart, a rename or a touch finds it). ``seen_files`` maps each watched
path to its content and job, and remembers whether that path got its transcript.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from tui.names import db_value, path_from_db
from tui.store.connection import Connection
from tui.store.records import Admission, Job, JobOptions, JobState, LedgerEntry, SeenFile


class WatchLedger:
    """The ledger's reads and writes, on the store's connection (``Store.ledger``)."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def seen_file(self, path: Path) -> SeenFile | None:
        row = self._db.one("SELECT * FROM seen_files WHERE path = ?", (db_value(path),))
        return _seen(row) if row else None

    def ledger_entry(self, content_hash: str) -> LedgerEntry | None:
        row = self._db.one("SELECT * FROM ledger WHERE content_hash = ?", (content_hash,))
        if row is None:
            return None
        return LedgerEntry(
            row["content_hash"],
            row["job_id"],
            path_from_db(row["first_path"]),
            tuple(Path(p) for p in json.loads(row["outputs"])),
            row["first_seen_at"],
            row["done_at"],
        )

    def record_seen(
        self,
        path: Path,
        size: int,
        mtime_ns: int,
        content_hash: str,
        job_id: int | None = None,
        *,
        exported: bool = False,
    ) -> None:
        with self._db.tx() as conn:
            _upsert_seen(conn, path, size, mtime_ns, content_hash, job_id, exported)

    def mark_exported(self, path: Path, job_id: int) -> None:
        with self._db.lock:
            self._db.conn.execute(
                "UPDATE seen_files SET exported = 1 WHERE path = ? AND job_id = ?",
                (db_value(path), job_id),
            )

    def paths_with_hash(self, content_hash: str) -> list[Path]:
        rows = self._db.all("SELECT path FROM seen_files WHERE content_hash = ?", (content_hash,))
        return [path_from_db(r[0]) for r in rows]

    def unexported_copies(self, job_id: int) -> list[SeenFile]:
        """Paths sharing ``job_id``'s content (other than its source) still without transcripts."""
        rows = self._db.all(
            "SELECT s.* FROM seen_files s JOIN jobs j ON j.id = s.job_id "
            "WHERE s.job_id = ? AND s.exported = 0 AND s.path != j.source",
            (job_id,),
        )
        return [_seen(r) for r in rows]

    def move_source(self, job_id: int, path: Path) -> Job:
        """The job's file was renamed to ``path`` (seen with the same content): use that."""
        with self._db.tx() as conn:
            old = self._db.get(conn, job_id)
            conn.execute("UPDATE jobs SET source = ? WHERE id = ?", (db_value(path), job_id))
            conn.execute(
                "UPDATE ledger SET first_path = ? WHERE job_id = ? AND first_path = ?",
                (db_value(path), job_id, db_value(old.source)),
            )
            return self._db.get(conn, job_id)

    def admit_file(
        self,
        path: Path,
        *,
        size: int,
        mtime_ns: int,
        content_hash: str,
        options: JobOptions,
        watch_id: str | None,
        skip_duplicate_content: bool = True,
        origin: str = "watch",
    ) -> Admission:
        """Decide, atomically, whether a stable watched file needs a new job (exactly once).

        The whole decision is taken inside one write transaction, so two processes watching
        the same folder (or a copy and its original arriving together) never both queue it.
        """
        key = db_value(path)
        with self._db.tx() as conn:
            row = conn.execute("SELECT * FROM seen_files WHERE path = ?", (key,)).fetchone()
            if row and row["content_hash"] == content_hash and row["job_id"] is not None:
                job = self._db.get(conn, row["job_id"])
                conn.execute(
                    "UPDATE seen_files SET size = ?, mtime_ns = ?, seen_at = ? WHERE path = ?",
                    (size, mtime_ns, time.time(), key),
                )
                return Admission("known", job, bool(row["exported"]))
            led = conn.execute(
                "SELECT * FROM ledger WHERE content_hash = ?", (content_hash,)
            ).fetchone()
            if (
                led
                and led["job_id"] is not None
                and (skip_duplicate_content or led["first_path"] == key)
            ):
                job = self._db.get(conn, led["job_id"])
                _upsert_seen(conn, path, size, mtime_ns, content_hash, job.id, False)
                return Admission("known" if job.source == path else "copy", job, False)
            job = self._retake_queued(
                conn, row, path, size, mtime_ns, content_hash
            ) or self._db.insert_job(
                conn, path, options, origin, watch_id, size, mtime_ns / 1e9, content_hash
            )
            conn.execute(
                "INSERT OR IGNORE INTO ledger (content_hash, job_id, first_path, first_seen_at) "
                "VALUES (?,?,?,?)",
                (content_hash, job.id, key, time.time()),
            )
            _upsert_seen(conn, path, size, mtime_ns, content_hash, job.id, False)
            return Admission("new", job, False)

    def _retake_queued(
        self,
        conn: sqlite3.Connection,
        seen: sqlite3.Row | None,
        path: Path,
        size: int,
        mtime_ns: int,
        content_hash: str,
    ) -> Job | None:
        """The file changed again before its job started: that job takes the new content, so
        one request is sent, not one per version. Not when another path shares the old job."""
        if seen is None or seen["job_id"] is None:
            return None
        job = self._db.get(conn, seen["job_id"])
        if job.state is not JobState.QUEUED or job.source != path:
            return None
        if conn.execute(
            "SELECT 1 FROM seen_files WHERE job_id = ? AND path != ?", (job.id, db_value(path))
        ).fetchone():
            return None
        conn.execute(
            "UPDATE jobs SET size = ?, mtime = ?, content_hash = ? WHERE id = ?",
            (size, mtime_ns / 1e9, content_hash, job.id),
        )
        conn.execute(
            "DELETE FROM ledger WHERE content_hash = ? AND job_id = ?",
            (seen["content_hash"], job.id),
        )
        return self._db.get(conn, job.id)


def _upsert_seen(
    conn: sqlite3.Connection,
    path: Path,
    size: int,
    mtime_ns: int,
    content_hash: str,
    job_id: int | None,
    exported: bool,
) -> None:
    conn.execute(
        "INSERT INTO seen_files (path, size, mtime_ns, content_hash, job_id, exported, seen_at) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT (path) DO UPDATE SET size = excluded.size, "
        "mtime_ns = excluded.mtime_ns, content_hash = excluded.content_hash, "
        "job_id = excluded.job_id, exported = excluded.exported, seen_at = excluded.seen_at",
        (db_value(path), size, mtime_ns, content_hash, job_id, int(exported), time.time()),
    )


def _seen(row: sqlite3.Row) -> SeenFile:
    return SeenFile(
        path_from_db(row["path"]),
        row["size"],
        row["mtime_ns"],
        row["content_hash"],
        row["job_id"],
        bool(row["exported"]),
    )
