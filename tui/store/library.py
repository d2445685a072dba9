"""The library: every job, filtered and ordered for browsing by folder or by date, and what
the file browser marks on each recording. Reads only; pages through ``limit``/``offset`` so a
view never loads the whole history at once."""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tui.store.connection import JOB_COLUMNS, job_from_row
from tui.store.records import Job, JobState


class FileMark(enum.StrEnum):
    """What the file browser shows beside a recording, from its newest job."""

    TRANSCRIBED = "transcribed"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"
    QUEUED = "queued"
    RUNNING = "running"


def mark_for(state: JobState, reviewed: bool) -> FileMark | None:
    """A canceled job marks nothing: the recording is as if never sent."""
    if state is JobState.NEEDS_REVIEW:
        return FileMark.TRANSCRIBED if reviewed else FileMark.NEEDS_REVIEW
    return {
        JobState.DONE: FileMark.TRANSCRIBED,
        JobState.FAILED: FileMark.FAILED,
        JobState.QUEUED: FileMark.QUEUED,
        JobState.RUNNING: FileMark.RUNNING,
    }.get(state)


def _under(column: str, folder: Path) -> tuple[str, list[Any]]:
    # A range on the text, not LIKE: folder names may hold % or _ ('0' sorts after '/').
    prefix = str(folder).rstrip("/") + "/"
    return f"{column} >= ? AND {column} < ?", [prefix, prefix[:-1] + "0"]


def file_marks(conn: sqlite3.Connection, folder: Path) -> dict[Path, FileMark]:
    """Each recording under ``folder`` (any depth) with a job: by its path, and for copies
    the watcher recognised by content hash, by the job of the file they copy."""
    where, args = _under("source", folder)
    latest: dict[str, tuple[JobState, bool]] = {}
    for source, state, reviewed in conn.execute(
        f"SELECT source, state, reviewed FROM jobs WHERE {where} ORDER BY id", args
    ):
        latest[source] = (JobState(state), bool(reviewed))
    where, args = _under("s.path", folder)
    for path, state, reviewed in conn.execute(
        "SELECT s.path, j.state, j.reviewed FROM seen_files s JOIN jobs j ON j.id = s.job_id "
        f"WHERE {where}",
        args,
    ):
        latest.setdefault(path, (JobState(state), bool(reviewed)))
    out: dict[Path, FileMark] = {}
    for source, (state, reviewed) in latest.items():
        mark = mark_for(state, reviewed)
        if mark is not None:
            out[Path(source)] = mark
    return out


@dataclass(frozen=True)
class LibraryFilter:
    states: tuple[JobState, ...] = ()
    reviewed: bool | None = None
    since: float | None = None  # when the job was created (a timestamp)
    until: float | None = None
    folder: Path | None = None


Grouping = Literal["folder", "date"]


def list_library(
    conn: sqlite3.Connection,
    flt: LibraryFilter,
    group: Grouping = "date",
    *,
    limit: int = 200,
    offset: int = 0,
) -> list[Job]:
    """One page of jobs: by folder then name, or newest first (grouped by day by the view)."""
    where: list[str] = []
    args: list[Any] = []
    if flt.states:
        where.append(f"state IN ({','.join('?' * len(flt.states))})")
        args += [s.value for s in flt.states]
    if flt.reviewed is not None:
        where.append("reviewed = ?")
        args.append(int(flt.reviewed))
    if flt.since is not None:
        where.append("created_at >= ?")
        args.append(flt.since)
    if flt.until is not None:
        where.append("created_at < ?")
        args.append(flt.until)
    if flt.folder is not None:
        clause, more = _under("source", flt.folder)
        where.append(clause)
        args += more
    sql = f"SELECT {JOB_COLUMNS} FROM jobs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY source, id" if group == "folder" else " ORDER BY created_at DESC, id DESC"
    sql += " LIMIT ? OFFSET ?"
    return [job_from_row(r) for r in conn.execute(sql, [*args, limit, offset])]


def counts_by_mark(marks: Iterable[FileMark]) -> dict[FileMark, int]:
    out = dict.fromkeys(FileMark, 0)
    for mark in marks:
        out[mark] += 1
    return out
