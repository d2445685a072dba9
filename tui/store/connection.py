"""The SQLite plumbing under the store: one connection (WAL), transactions, job rows.

One connection guarded by a lock serves every thread of the process; other processes share the
file through WAL + ``busy_timeout``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Self

from tui import locations
from tui.names import db_value, path_from_db
from tui.store.errors import (
    StoreCorrupt,
    StoreError,
    corrupt_sentence,
    is_corruption,
    store_error_sentence,
)
from tui.store.records import Job, JobOptions, JobState
from tui.store.schema import migrate

QUICK_CHECK_MAX_BYTES = 64 << 20

JOB_COLUMNS = (
    "id, source, size, mtime, content_hash, state, attempts, error_message, error_kind, "
    "options, created_at, started_at, finished_at, usage, duration_s, cost_amount, "
    "cost_currency, reviewed, outputs, watch_id, origin, owner, model, language"
)


def job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        source=path_from_db(row["source"]),
        state=JobState(row["state"]),
        options=JobOptions.from_json(json.loads(row["options"] or "{}")),
        origin=row["origin"],
        watch_id=_text(row["watch_id"]),
        size=row["size"],
        mtime=row["mtime"],
        content_hash=row["content_hash"],
        attempts=row["attempts"],
        error_message=row["error_message"],
        error_kind=row["error_kind"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        usage=json.loads(row["usage"] or "{}"),
        duration_s=row["duration_s"],
        cost_amount=row["cost_amount"],
        cost_currency=row["cost_currency"],
        reviewed=bool(row["reviewed"]),
        outputs=tuple(Path(p) for p in json.loads(row["outputs"] or "[]")),
        owner=row["owner"],
        ran_model=row["model"],
        ran_language=row["language"],
    )


def _text(value: str | bytes | None) -> str | None:
    return os.fsdecode(value) if isinstance(value, bytes) else value


class Connection:
    """One SQLite connection (WAL) shared by the store and its ledger, behind one lock."""

    def __init__(self, path: Path | str | None = None, *, timeout_s: float = 10.0) -> None:
        self.path = Path(path) if path is not None else locations.default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.lock = threading.RLock()
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves for multi-step writes.
            self.conn = sqlite3.connect(
                self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
            self.conn.row_factory = sqlite3.Row
            self.conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            with self.lock:
                migrate(self.conn)
            self._check_pages()
        except sqlite3.Error as exc:
            with contextlib.suppress(Exception):
                self.conn.close()
            if is_corruption(exc):
                raise StoreCorrupt(corrupt_sentence(self.path, str(exc))) from None
            raise StoreError(store_error_sentence(exc, self.path)) from None

    def _check_pages(self) -> None:
        """Damage is found at open, not halfway through a daemon's week: a quick check of
        every page while the file is small enough for that to take well under a second."""
        with contextlib.suppress(OSError):
            if self.path.stat().st_size > QUICK_CHECK_MAX_BYTES:
                return
        rows = self.conn.execute("PRAGMA quick_check(3)").fetchall()
        problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
        if problems:
            raise StoreCorrupt(corrupt_sentence(self.path, "; ".join(problems)))

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def one(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Row | None:
        with self.lock:
            row: sqlite3.Row | None = self.conn.execute(sql, tuple(args)).fetchone()
            return row

    def all(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return list(self.conn.execute(sql, tuple(args)).fetchall())

    def get(self, conn: sqlite3.Connection, job_id: int) -> Job:
        row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(f"No job {job_id} in {self.path}.")
        return job_from_row(row)

    def insert_job(
        self,
        conn: sqlite3.Connection,
        source: Path,
        options: JobOptions,
        origin: str,
        watch_id: str | None,
        size: int | None,
        mtime: float | None,
        content_hash: str | None,
    ) -> Job:
        cur = conn.execute(
            "INSERT INTO jobs (source, size, mtime, content_hash, state, model, language, "
            "options, created_at, watch_id, origin) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                db_value(source),
                size,
                mtime,
                content_hash,
                JobState.QUEUED.value,
                options.model,
                options.language,
                json.dumps(options.to_json()),
                time.time(),
                db_value(watch_id) if watch_id is not None else None,
                origin,
            ),
        )
        return self.get(conn, int(cur.lastrowid or 0))


def json_text(value: Any) -> str:
    # Readable UTF-8 where possible; a name with undecodable bytes (a lone surrogate) cannot be
    # bound as UTF-8 text, so then everything non-ASCII is \u-escaped (it loads back the same).
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text
