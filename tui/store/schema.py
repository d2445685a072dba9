"""The job database schema, as an append-only list of migrations (``PRAGMA user_version``).

Never edit a shipped migration: add a new one. ``user_version`` is the number applied.
"""

from __future__ import annotations

import sqlite3

JOB_STATES = ("queued", "running", "done", "needs_review", "failed", "canceled")

MIGRATIONS: tuple[str, ...] = (
    # 1: jobs, results, the watch ledger (content hash → job) and the per-path index.
    """
    CREATE TABLE jobs (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        source        TEXT NOT NULL,
        size          INTEGER,
        mtime         REAL,
        content_hash  TEXT,
        state         TEXT NOT NULL CHECK (state IN
                        ('queued','running','done','needs_review','failed','canceled')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        error_message TEXT,
        error_kind    TEXT,
        model         TEXT,
        language      TEXT,
        options       TEXT NOT NULL DEFAULT '{}',
        created_at    REAL NOT NULL,
        started_at    REAL,
        finished_at   REAL,
        usage         TEXT,
        duration_s    REAL,
        cost_amount   REAL,
        cost_currency TEXT,
        reviewed      INTEGER NOT NULL DEFAULT 0,
        outputs       TEXT NOT NULL DEFAULT '[]',
        watch_id      TEXT,
        origin        TEXT NOT NULL DEFAULT 'manual',
        owner         TEXT
    );
    CREATE INDEX jobs_by_state ON jobs (state, id);
    CREATE INDEX jobs_by_hash ON jobs (content_hash);

    CREATE TABLE results (
        job_id      INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
        text        TEXT NOT NULL,
        segments    TEXT NOT NULL DEFAULT '[]',
        warnings    TEXT NOT NULL DEFAULT '[]',
        cross_check TEXT,
        meta        TEXT NOT NULL DEFAULT '{}',
        saved_at    REAL NOT NULL
    );

    CREATE TABLE ledger (
        content_hash  TEXT PRIMARY KEY,
        job_id        INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
        first_path    TEXT NOT NULL,
        outputs       TEXT NOT NULL DEFAULT '[]',
        first_seen_at REAL NOT NULL,
        done_at       REAL
    );

    CREATE TABLE seen_files (
        path         TEXT PRIMARY KEY,
        size         INTEGER NOT NULL,
        mtime_ns     INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        job_id       INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
        exported     INTEGER NOT NULL DEFAULT 0,
        seen_at      REAL NOT NULL
    );
    CREATE INDEX seen_by_job ON seen_files (job_id);
    """,
    # 2: full-text search, one row per cue (tui.store.search). The results already saved are
    # listed for indexing on the first search (cues are cut in Python, not in SQL). Jobs by
    # source path, for the library and the file browser's marks.
    """
    CREATE INDEX jobs_by_source ON jobs (source, id);
    CREATE TABLE search_cues (
        id       INTEGER PRIMARY KEY,
        job_id   INTEGER NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms   INTEGER NOT NULL,
        pos      INTEGER,
        len      INTEGER,
        text     TEXT
    );
    CREATE TABLE search_jobs (
        job_id   INTEGER PRIMARY KEY,
        digest   TEXT NOT NULL,
        first_id INTEGER NOT NULL,
        last_id  INTEGER NOT NULL
    );
    CREATE TABLE search_backfill (job_id INTEGER PRIMARY KEY);
    INSERT INTO search_backfill (job_id) SELECT job_id FROM results;
    CREATE VIRTUAL TABLE search_fts USING fts5 (
        body, content = '', tokenize = 'unicode61 remove_diacritics 2'
    );
    """,
    # 3: review — corrections laid over a job's result (the model's text stays in results),
    # their undo stack (the job's corrections before each change), the glossary (scope '' is
    # global, else a folder), and when a job was marked reviewed.
    """
    CREATE TABLE corrections (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id     INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seg_from   INTEGER NOT NULL,
        seg_to     INTEGER NOT NULL,
        start_ms   INTEGER NOT NULL,
        end_ms     INTEGER NOT NULL,
        text       TEXT NOT NULL,
        model_text TEXT NOT NULL,
        origin     TEXT NOT NULL CHECK (origin IN ('user','glossary')),
        rule       TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX corrections_by_job ON corrections (job_id, seg_from);

    CREATE TABLE correction_undo (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id  INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        action  TEXT NOT NULL,
        before  TEXT NOT NULL,
        done_at REAL NOT NULL
    );
    CREATE INDEX correction_undo_by_job ON correction_undo (job_id, id);

    CREATE TABLE glossary (
        scope      TEXT NOT NULL DEFAULT '',
        source     TEXT NOT NULL,
        target     TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (scope, source)
    );

    ALTER TABLE jobs ADD COLUMN reviewed_at REAL
    """,
    # 4: speaker labels — the user's renames and merges per job (the computed turns stay in the
    # result), and a folder's roster of named voices for reuse across its jobs.
    """
    CREATE TABLE speaker_edits (
        job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        speaker     INTEGER NOT NULL,
        name        TEXT,
        merged_into INTEGER,
        updated_at  REAL NOT NULL,
        PRIMARY KEY (job_id, speaker)
    );

    CREATE TABLE speaker_roster (
        folder     TEXT NOT NULL,
        model      TEXT NOT NULL,
        name       TEXT NOT NULL,
        voice      TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (folder, model, name)
    );
    """,
    # 5: the daemon — results for bytes that were no longer the file's when they came back (kept,
    # never current), and the transcript files this tool wrote (path, sha256 of what it wrote),
    # so `skip` protects only files the user made.
    """
    CREATE TABLE superseded_results (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id       INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        content_hash TEXT,
        result       TEXT NOT NULL,
        reason       TEXT NOT NULL,
        saved_at     REAL NOT NULL
    );
    CREATE INDEX superseded_by_job ON superseded_results (job_id);

    CREATE TABLE written_outputs (
        path         TEXT PRIMARY KEY,
        content_hash TEXT NOT NULL,
        source       TEXT NOT NULL,
        job_id       INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
        written_at   REAL NOT NULL
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(Exception):
    pass


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version it started at."""
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > SCHEMA_VERSION:
        raise SchemaError(
            f"The job database is from a newer stepfun-asr (schema {current}, this version "
            f"knows {SCHEMA_VERSION}). Upgrade stepfun-asr or use another --db."
        )
    for version in range(current, SCHEMA_VERSION):
        # One transaction per step: a crash leaves the database at a whole version.
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return current


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT on its own; split instead (no ';' inside our literals).
    return [s.strip() for s in script.split(";") if s.strip()]
