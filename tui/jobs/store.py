"""The job store: one SQLite file (WAL) holding jobs, results and the watch ledger.

It is the single source of truth; the runner, the watcher, the CLI and the TUI all read it.
Methods are synchronous and short. One connection guarded by a lock serves every thread of the
process; other processes share the file through WAL + ``busy_timeout``. The API key is never
written here (nothing passed in carries it).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from tui import locations
from tui.jobs.exports import ExportSpec
from tui.jobs.schema import migrate
from tui.transcript.model import CrossCheck, TranscriptionResult


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"
    CANCELED = "canceled"


FINISHED = frozenset({JobState.DONE, JobState.NEEDS_REVIEW})
ENDED = FINISHED | {JobState.FAILED, JobState.CANCELED}


class JobStateError(ValueError):
    """The job is not in a state that allows the action; the message says which it is in."""


@dataclass(frozen=True)
class JobOptions:
    """Per-job request settings (None: the settings' value) and what to export when done."""

    model: str | None = None
    language: str | None = None
    hotwords: tuple[str, ...] | None = None
    cross_check: bool = False
    export: ExportSpec | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "language": self.language,
            "hotwords": list(self.hotwords) if self.hotwords is not None else None,
            "cross_check": self.cross_check,
            "export": self.export.to_json() if self.export else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobOptions:
        hot = data.get("hotwords")
        exp = data.get("export")
        return cls(
            model=data.get("model"), language=data.get("language"),
            hotwords=tuple(hot) if hot is not None else None,
            cross_check=bool(data.get("cross_check")),
            export=ExportSpec.from_json(exp) if exp else None,
        )


@dataclass(frozen=True)
class Job:
    id: int
    source: Path
    state: JobState
    options: JobOptions = field(default_factory=JobOptions)
    origin: str = "manual"  # "manual" | "cli" | "watch" | "tui"
    watch_id: str | None = None
    size: int | None = None
    mtime: float | None = None
    content_hash: str | None = None
    attempts: int = 0
    error_message: str | None = None
    error_kind: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None
    cost_amount: float | None = None
    cost_currency: str | None = None
    reviewed: bool = False
    outputs: tuple[Path, ...] = ()
    owner: str | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def model(self) -> str | None:
        return self.options.model

    @property
    def language(self) -> str | None:
        return self.options.language


@dataclass(frozen=True)
class SeenFile:
    path: Path
    size: int
    mtime_ns: int
    content_hash: str
    job_id: int | None
    exported: bool


@dataclass(frozen=True)
class LedgerEntry:
    content_hash: str
    job_id: int | None
    first_path: Path
    outputs: tuple[Path, ...]
    first_seen_at: float
    done_at: float | None


@dataclass(frozen=True)
class Admission:
    """The watcher's answer for one stable file. ``new``: a job was queued. ``known``: this path
    with this content already has a job. ``copy``: the same bytes were seen under another name."""

    kind: Literal["new", "known", "copy"]
    job: Job
    exported: bool = False


@dataclass(frozen=True)
class Totals:
    jobs: int
    audio_s: float
    cost: dict[str, float]  # currency → amount


def process_owner() -> str:
    """host:pid:start — the start time tells a live pid from a reused one (Linux)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def _start_ticks(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"
    # Field 22 counts from after the ")" closing the command name (which may hold spaces).
    return stat.rsplit(")", 1)[1].split()[19]


def owner_alive(owner: str | None) -> bool:
    if not owner:
        return False
    try:
        host, pid_s, start = owner.rsplit(":", 2)
        pid = int(pid_s)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True  # cannot tell; another machine's job is not ours to take
    if owner == process_owner():
        return False  # our own leftover: this runner is starting over
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return start == "?" or _start_ticks(pid) == start


_JOB_COLUMNS = (
    "id, source, size, mtime, content_hash, state, attempts, error_message, error_kind, "
    "options, created_at, started_at, finished_at, usage, duration_s, cost_amount, "
    "cost_currency, reviewed, outputs, watch_id, origin, owner"
)


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"], source=Path(row["source"]), state=JobState(row["state"]),
        options=JobOptions.from_json(json.loads(row["options"] or "{}")),
        origin=row["origin"], watch_id=row["watch_id"], size=row["size"], mtime=row["mtime"],
        content_hash=row["content_hash"], attempts=row["attempts"],
        error_message=row["error_message"], error_kind=row["error_kind"],
        created_at=row["created_at"], started_at=row["started_at"],
        finished_at=row["finished_at"], usage=json.loads(row["usage"] or "{}"),
        duration_s=row["duration_s"], cost_amount=row["cost_amount"],
        cost_currency=row["cost_currency"], reviewed=bool(row["reviewed"]),
        outputs=tuple(Path(p) for p in json.loads(row["outputs"] or "[]")), owner=row["owner"],
    )


class Store:
    def __init__(self, path: Path | str | None = None, *, timeout_s: float = 10.0) -> None:
        self.path = Path(path) if path is not None else locations.default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.RLock()
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves for multi-step writes.
        self._conn = sqlite3.connect(
            self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        with self._lock:
            migrate(self._conn)

    # --- plumbing ------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _one(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, tuple(args)).fetchone()
            return row

    def _get(self, conn: sqlite3.Connection, job_id: int) -> Job:
        row = conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(f"No job {job_id} in {self.path}.")
        return _job(row)

    # --- jobs ----------------------------------------------------------------------------

    def add_job(
        self, source: Path, options: JobOptions | None = None, origin: str = "manual", *,
        watch_id: str | None = None, size: int | None = None, mtime: float | None = None,
        content_hash: str | None = None,
    ) -> Job:
        with self._tx() as conn:
            return self._insert_job(conn, source, options or JobOptions(), origin, watch_id,
                                    size, mtime, content_hash)

    def _insert_job(
        self, conn: sqlite3.Connection, source: Path, options: JobOptions, origin: str,
        watch_id: str | None, size: int | None, mtime: float | None, content_hash: str | None,
    ) -> Job:
        cur = conn.execute(
            "INSERT INTO jobs (source, size, mtime, content_hash, state, model, language, "
            "options, created_at, watch_id, origin) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (str(source), size, mtime, content_hash, JobState.QUEUED.value, options.model,
             options.language, json.dumps(options.to_json()), time.time(), watch_id, origin),
        )
        return self._get(conn, int(cur.lastrowid or 0))

    def get_job(self, job_id: int) -> Job | None:
        row = self._one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return _job(row) if row else None

    def require_job(self, job_id: int) -> Job:
        job = self.get_job(job_id)
        if job is None:
            raise JobStateError(f"There is no job {job_id}.")
        return job

    def list_jobs(
        self, state: str | Iterable[str] | None = None, *, limit: int | None = None,
        offset: int = 0, newest_first: bool = True, watch_id: str | None = None,
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
            args.append(watch_id)
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id " + ("DESC" if newest_first else "ASC")
        sql += " LIMIT ? OFFSET ?"
        args += [limit if limit is not None else -1, offset]
        with self._lock:
            return [_job(r) for r in self._conn.execute(sql, args).fetchall()]

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in JobState}
        with self._lock:
            for row in self._conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
                out[row[0]] = row[1]
        return out

    def has_queued(self) -> bool:
        return self._one("SELECT 1 FROM jobs WHERE state = 'queued' LIMIT 1") is not None

    def totals(self) -> Totals:
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(duration_s), 0) FROM jobs "
                "WHERE state IN ('done','needs_review')").fetchone()
            cost = {r[0]: r[1] for r in self._conn.execute(
                "SELECT cost_currency, SUM(cost_amount) FROM jobs WHERE cost_currency IS NOT NULL "
                "AND state IN ('done','needs_review') GROUP BY cost_currency")}
        return Totals(row[0], float(row[1]), cost)

    def claim_next(self, owner: str) -> Job | None:
        """Oldest queued job → running, owned by ``owner`` (atomic across processes)."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?, "
                "finished_at = NULL, error_message = NULL, error_kind = NULL, owner = ? "
                "WHERE id = ?", (time.time(), owner, row[0]))
            return self._get(conn, row[0])

    def claim_one(self, job_id: int, owner: str) -> Job | None:
        """That job → running if it is still queued (``drain(job_ids=...)``)."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ?, "
                "finished_at = NULL, error_message = NULL, error_kind = NULL, owner = ? "
                "WHERE id = ? AND state = 'queued'", (time.time(), owner, job_id))
            return self._get(conn, job_id) if cur.rowcount else None

    def _transition(
        self, job_id: int, allowed: Iterable[JobState], action: str, sets: str,
        args: tuple[Any, ...], *, owner: str | None = None,
    ) -> Job:
        allowed = list(allowed)
        with self._tx() as conn:
            job = self._get(conn, job_id)
            if job.state not in allowed:
                raise JobStateError(
                    f"Job {job_id} is {job.state.value}; only "
                    f"{' or '.join(s.value for s in allowed)} jobs can be {action}.")
            if owner is not None and job.owner != owner:
                raise JobStateError(f"Job {job_id} is being run by another process.")
            conn.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*args, job_id))
            return self._get(conn, job_id)

    def finish_job(
        self, job_id: int, result: TranscriptionResult, *, owner: str | None = None,
    ) -> Job:
        """running → done | needs_review, with the result saved in the same transaction."""
        state = JobState.NEEDS_REVIEW if result.needs_review else JobState.DONE
        cost = result.cost
        with self._tx() as conn:
            job = self._get(conn, job_id)
            if job.state is not JobState.RUNNING or (owner is not None and job.owner != owner):
                raise JobStateError(f"Job {job_id} is {job.state.value}, not running here; "
                                    "its result was not saved.")
            self._save_result(conn, job_id, result)
            conn.execute(
                "UPDATE jobs SET state = ?, finished_at = ?, usage = ?, duration_s = ?, "
                "cost_amount = ?, cost_currency = ?, reviewed = 0, owner = NULL, model = ?, "
                "language = ? WHERE id = ?",
                (state.value, time.time(), json.dumps(result.usage), result.duration_s,
                 cost.amount if cost else None, cost.currency if cost else None,
                 result.model or job.options.model, result.language or job.options.language,
                 job_id))
            if job.content_hash:
                conn.execute("UPDATE ledger SET done_at = ? WHERE content_hash = ? AND job_id = ?",
                             (time.time(), job.content_hash, job_id))
            return self._get(conn, job_id)

    def _save_result(
        self, conn: sqlite3.Connection, job_id: int, result: TranscriptionResult,
    ) -> None:
        data = result.to_json()
        segments = data.pop("segments")
        warnings = data.pop("warnings")
        cross = data.pop("cross_check")
        text = data.pop("text")
        conn.execute(
            "INSERT OR REPLACE INTO results (job_id, text, segments, warnings, cross_check, meta, "
            "saved_at) VALUES (?,?,?,?,?,?,?)",
            (job_id, text, json.dumps(segments, ensure_ascii=False),
             json.dumps(warnings, ensure_ascii=False),
             json.dumps(cross, ensure_ascii=False) if cross else None,
             json.dumps(data, ensure_ascii=False), time.time()))

    def get_result(self, job_id: int) -> TranscriptionResult | None:
        row = self._one("SELECT * FROM results WHERE job_id = ?", (job_id,))
        if row is None:
            return None
        data = json.loads(row["meta"])
        data.update(text=row["text"], segments=json.loads(row["segments"]),
                    warnings=json.loads(row["warnings"]),
                    cross_check=json.loads(row["cross_check"]) if row["cross_check"] else None)
        result = TranscriptionResult.from_json(data)
        assert result.cross_check is None or isinstance(result.cross_check, CrossCheck)
        return result

    def fail_job(self, job_id: int, message: str, kind: str, *, owner: str | None = None) -> Job:
        return self._transition(
            job_id, [JobState.RUNNING, JobState.QUEUED], "failed",
            "state = 'failed', error_message = ?, error_kind = ?, finished_at = ?, owner = NULL",
            (message, kind, time.time()), owner=owner)

    def cancel_job(self, job_id: int) -> Job:
        return self._transition(
            job_id, [JobState.QUEUED, JobState.RUNNING], "canceled",
            "state = 'canceled', finished_at = ?, owner = NULL", (time.time(),))

    def requeue_job(self, job_id: int, *, owner: str | None = None) -> Job:
        """running → queued (shutdown or crash recovery); the attempt count stays."""
        return self._transition(
            job_id, [JobState.RUNNING], "put back in the queue",
            "state = 'queued', owner = NULL, started_at = NULL", (), owner=owner)

    def retry_job(self, job_id: int) -> Job:
        return self._transition(
            job_id, [JobState.FAILED, JobState.CANCELED], "retried",
            "state = 'queued', error_message = NULL, error_kind = NULL, finished_at = NULL", ())

    def rerun_job(self, job_id: int) -> Job:
        # The old result stays until the new one replaces it.
        return self._transition(
            job_id, [JobState.DONE, JobState.NEEDS_REVIEW], "run again",
            "state = 'queued', finished_at = NULL, reviewed = 0", ())

    def mark_reviewed(self, job_id: int, reviewed: bool = True) -> Job:
        return self._transition(
            job_id, [JobState.DONE, JobState.NEEDS_REVIEW], "marked reviewed",
            "reviewed = ?", (int(reviewed),))

    def set_outputs(self, job_id: int, paths: Iterable[Path]) -> Job:
        out = [str(p) for p in paths]
        with self._tx() as conn:
            job = self._get(conn, job_id)
            merged = list(dict.fromkeys([*map(str, job.outputs), *out]))
            conn.execute("UPDATE jobs SET outputs = ? WHERE id = ?", (json.dumps(merged), job_id))
            if job.content_hash:
                conn.execute("UPDATE ledger SET outputs = ? WHERE content_hash = ? AND job_id = ?",
                             (json.dumps(merged), job.content_hash, job_id))
            return self._get(conn, job_id)

    def recover_running(self, owner: str) -> list[Job]:
        """Running jobs whose process is gone (or is this one, restarting) → queued."""
        with self._tx() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE state = 'running' ORDER BY id").fetchall()
            orphans = [_job(r) for r in rows if r["owner"] == owner or not owner_alive(r["owner"])]
            for job in orphans:
                conn.execute("UPDATE jobs SET state = 'queued', owner = NULL, started_at = NULL "
                             "WHERE id = ?", (job.id,))
            return [self._get(conn, j.id) for j in orphans]

    # --- watch ledger --------------------------------------------------------------------

    def seen_file(self, path: Path) -> SeenFile | None:
        row = self._one("SELECT * FROM seen_files WHERE path = ?", (str(path),))
        return _seen(row) if row else None

    def ledger_entry(self, content_hash: str) -> LedgerEntry | None:
        row = self._one("SELECT * FROM ledger WHERE content_hash = ?", (content_hash,))
        if row is None:
            return None
        return LedgerEntry(row["content_hash"], row["job_id"], Path(row["first_path"]),
                           tuple(Path(p) for p in json.loads(row["outputs"])),
                           row["first_seen_at"], row["done_at"])

    def record_seen(self, path: Path, size: int, mtime_ns: int, content_hash: str,
                    job_id: int | None = None, *, exported: bool = False) -> None:
        with self._tx() as conn:
            _upsert_seen(conn, path, size, mtime_ns, content_hash, job_id, exported)

    def mark_exported(self, path: Path, job_id: int) -> None:
        with self._lock:
            self._conn.execute("UPDATE seen_files SET exported = 1 WHERE path = ? AND job_id = ?",
                               (str(path), job_id))

    def paths_with_hash(self, content_hash: str) -> list[Path]:
        with self._lock:
            rows = self._conn.execute("SELECT path FROM seen_files WHERE content_hash = ?",
                                      (content_hash,)).fetchall()
        return [Path(r[0]) for r in rows]

    def unexported_copies(self, job_id: int) -> list[SeenFile]:
        """Paths sharing ``job_id``'s content (other than its source) still without transcripts."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT s.* FROM seen_files s JOIN jobs j ON j.id = s.job_id "
                "WHERE s.job_id = ? AND s.exported = 0 AND s.path != j.source",
                (job_id,)).fetchall()
        return [_seen(r) for r in rows]

    def admit_file(
        self, path: Path, *, size: int, mtime_ns: int, content_hash: str,
        options: JobOptions, watch_id: str | None, skip_duplicate_content: bool = True,
        origin: str = "watch",
    ) -> Admission:
        """Decide, atomically, whether a stable watched file needs a new job (exactly once)."""
        key = str(path)
        with self._tx() as conn:
            row = conn.execute("SELECT * FROM seen_files WHERE path = ?", (key,)).fetchone()
            if row and row["content_hash"] == content_hash and row["job_id"] is not None:
                job = self._get(conn, row["job_id"])
                conn.execute("UPDATE seen_files SET size = ?, mtime_ns = ?, seen_at = ? "
                             "WHERE path = ?", (size, mtime_ns, time.time(), key))
                return Admission("known", job, bool(row["exported"]))
            led = conn.execute("SELECT * FROM ledger WHERE content_hash = ?",
                               (content_hash,)).fetchone()
            if led and led["job_id"] is not None and (
                    skip_duplicate_content or led["first_path"] == key):
                job = self._get(conn, led["job_id"])
                _upsert_seen(conn, path, size, mtime_ns, content_hash, job.id, False)
                return Admission("known" if job.source == path else "copy", job, False)
            job = self._insert_job(conn, path, options, origin, watch_id, size,
                                   mtime_ns / 1e9, content_hash)
            conn.execute(
                "INSERT OR IGNORE INTO ledger (content_hash, job_id, first_path, first_seen_at) "
                "VALUES (?,?,?,?)", (content_hash, job.id, key, time.time()))
            _upsert_seen(conn, path, size, mtime_ns, content_hash, job.id, False)
            return Admission("new", job, False)


def _upsert_seen(conn: sqlite3.Connection, path: Path, size: int, mtime_ns: int,
                 content_hash: str, job_id: int | None, exported: bool) -> None:
    conn.execute(
        "INSERT INTO seen_files (path, size, mtime_ns, content_hash, job_id, exported, seen_at) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT (path) DO UPDATE SET size = excluded.size, "
        "mtime_ns = excluded.mtime_ns, content_hash = excluded.content_hash, "
        "job_id = excluded.job_id, exported = excluded.exported, seen_at = excluded.seen_at",
        (str(path), size, mtime_ns, content_hash, job_id, int(exported), time.time()))


def _seen(row: sqlite3.Row) -> SeenFile:
    return SeenFile(Path(row["path"]), row["size"], row["mtime_ns"], row["content_hash"],
                    row["job_id"], bool(row["exported"]))
