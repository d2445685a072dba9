"""Database errors as sentences a person can act on (never a traceback)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StoreError(Exception):
    """The job database cannot be used; ``str()`` is the sentence to show."""


class StoreCorrupt(StoreError):
    """The job database file is damaged: ``stepfun-asr db repair`` recovers what it can."""


def store_error_sentence(exc: BaseException, path: Path | None = None) -> str:
    """One sentence for a database error; ``path`` names the file when known."""
    if isinstance(exc, StoreError):
        return str(exc)
    text = str(exc)
    low = text.lower()
    where = f"the job database {path}" if path is not None else "the job database"
    if "locked" in low or "busy" in low:
        return (
            f"{where} is locked by another program (another stepfun-asr writing, a backup or "
            f"a database browser); try again when it is done ({text})"
        )
    if "full" in low:
        return f"the disk holding {where} is full; free some space and try again ({text})"
    if "readonly" in low or "read-only" in low:
        return f"{where} cannot be written (read-only); check its permissions ({text})"
    if "unable to open" in low:
        return f"{where} cannot be opened; check that its folder exists and is writable ({text})"
    if "i/o error" in low:
        return f"reading or writing {where} failed (disk I/O error); check the disk ({text})"
    if is_corruption(exc):
        return corrupt_sentence(path, text)
    return f"{where} failed: {text}"


def is_store_error(exc: BaseException) -> bool:
    """A database error (which every command turns into a sentence)."""
    return isinstance(exc, StoreError | sqlite3.Error)


def is_corruption(exc: BaseException) -> bool:
    low = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and (
        "malformed" in low or "not a database" in low or "corrupt" in low
    )


def corrupt_sentence(path: Path | None, detail: str) -> str:
    db = f" --db {path}" if path is not None else ""
    name = f"the job database {path}" if path is not None else "the job database"
    return (
        f"{name} is damaged ({detail}); run `stepfun-asr db check{db}` to see what is wrong "
        f"and `stepfun-asr db repair{db}` to back it up and recover what can be read"
    )
