"""Checking and repairing a damaged job database (``stepfun-asr db check|repair``).

Repair never works on the only copy: the damaged file (with its WAL) is copied aside first.
Then every row that can still be read is copied into a fresh database with the current schema,
table by table; where a whole-table read fails, rows are read one rowid at a time (bounded), so
one bad page costs only the rows on it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from tui.store.connection import Connection

TABLES = ("jobs", "results", "ledger", "seen_files")
MAX_ROWID_PROBES = 2_000_000  # a row-by-row read gives up past this many rowids
SIDE_FILES = ("-wal", "-shm")


@dataclass
class RepairReport:
    backup: Path
    copied: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)  # rows seen but unreadable (lower bound)
    unreadable_tables: list[str] = field(default_factory=list)


def check(path: Path) -> list[str]:
    """SQLite's integrity check; [] when the file is sound. Raises sqlite3.Error when it cannot
    be opened at all (then the first message is the reason)."""
    if not path.exists():
        raise FileNotFoundError(f"There is no job database at {path}.")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        rows = conn.execute("PRAGMA integrity_check(20)").fetchall()
    except sqlite3.DatabaseError as exc:
        # Some damage stops the check itself ("malformed"): that is damage found, which a
        # repair can still recover around; only an unopenable file is raised.
        if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_CORRUPT:
            raise
        return [f"the integrity check stopped: {exc}"]
    finally:
        conn.close()
    return [str(r[0]) for r in rows if str(r[0]) != "ok"]


def back_up(path: Path) -> Path:
    """Copy the database and its WAL/SHM aside, as they are; returns the copy's path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while backup.exists():
        n += 1
        backup = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    shutil.copy2(path, backup)
    for side in SIDE_FILES:
        src = Path(f"{path}{side}")
        if src.exists():
            shutil.copy2(src, Path(f"{backup}{side}"))
    return backup


def repair(path: Path) -> RepairReport:
    """Back ``path`` up, then replace it with a fresh database holding every readable row."""
    report = RepairReport(back_up(path))
    fresh = path.with_name(f"{path.name}.recovering")
    for leftover in (fresh, *(Path(f"{fresh}{s}") for s in SIDE_FILES)):
        leftover.unlink(missing_ok=True)
    Connection(fresh).close()  # the current schema, empty
    dst = sqlite3.connect(fresh, isolation_level=None)
    try:
        dst.execute("PRAGMA foreign_keys = OFF")  # rows arrive table by table
        try:
            src = sqlite3.connect(f"file:{report.backup}?mode=ro", uri=True, isolation_level=None)
        except sqlite3.Error:
            src = None
        if src is not None:
            try:
                for table in TABLES:
                    _copy_table(src, dst, table, report)
            finally:
                src.close()
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        dst.close()
    for side in SIDE_FILES:
        Path(f"{path}{side}").unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{fresh}{side}", f"{path}{side}")
    os.replace(fresh, path)
    return report


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")]


def _copy_table(
    src: sqlite3.Connection, dst: sqlite3.Connection, table: str, report: RepairReport
) -> None:
    try:
        have = _columns(src, table)
    except sqlite3.Error:
        report.unreadable_tables.append(table)
        return
    cols = [c for c in _columns(dst, table) if c in have]
    if not cols:
        report.unreadable_tables.append(table)
        return
    names = ", ".join(cols)
    insert = f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({', '.join('?' * len(cols))})"
    copied = lost = 0
    dst.execute("BEGIN")
    try:
        try:
            rows = src.execute(f"SELECT {names} FROM {table}").fetchall()
            for row in rows:
                dst.execute(insert, row)
            copied = len(rows)
        except sqlite3.DatabaseError:
            copied, lost = _copy_by_rowid(src, dst, table, names, insert)
        dst.execute("COMMIT")
    except BaseException:
        dst.execute("ROLLBACK")
        raise
    report.copied[table] = copied
    if lost:
        report.lost[table] = lost


def _copy_by_rowid(
    src: sqlite3.Connection, dst: sqlite3.Connection, table: str, names: str, insert: str
) -> tuple[int, int]:
    try:
        top = int(src.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0)
    except sqlite3.DatabaseError:
        top = MAX_ROWID_PROBES
    copied = lost = misses = 0
    for rowid in range(1, min(top, MAX_ROWID_PROBES) + 1):
        try:
            row = src.execute(f"SELECT {names} FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            lost += 1
            continue
        if row is None:
            misses += 1
            if top == MAX_ROWID_PROBES and misses > 10_000:
                break  # no max known: a long run of nothing is the end
            continue
        misses = 0
        dst.execute(insert, row)
        copied += 1
    return copied, lost
