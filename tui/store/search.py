"""Full-text search over every stored transcript, one row per cue (SQLite FTS5, no server).

The index is a contentless FTS5 table (``unicode61``) over a *token form* of each cue's text in
which every CJK character stands alone (``会议室`` → ``会 议 室``): one- and two-character
Chinese queries then match (a query of several CJK characters is a phrase of them), while
Latin text keeps its whole words, so ``budget`` and ``budg*`` work as usual.

``search_cues`` holds each cue's job and times, and where its text is in the result's text
(``pos``, ``len``): the text is not stored twice; only a cue not found there keeps its own
``text``. ``search_jobs`` holds each indexed job's cue-id range and a digest of the text it was
indexed from. Deleting from a contentless table needs the very tokens that were inserted, so a
job is unindexed *before* its result is replaced or deleted; if its text changed behind the
index's back (the digest differs), the index is rebuilt from the cue rows instead. Results
saved before the index existed are listed by the migration in ``search_backfill`` and indexed
on the first search. A change to ``token_form`` needs a migration that rebuilds the index.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.store.search_query import (
    Query,
    QuerySyntaxError,
    parse_query,
    token_form,
)
from tui.transcript.align import align
from tui.transcript.cues import build_cues, has_timestamps, line_chars_for, split_sentences, wrap
from tui.transcript.model import Segment, TranscriptionResult
from tui.transcript.text import join_texts

__all__ = [
    "Query",
    "QuerySyntaxError",
    "SearchHit",
    "backfill",
    "index_job",
    "needs_backfill",
    "parse_query",
    "reindex_job",
    "search",
    "token_form",
    "unindex_job",
]

_MARK_OPEN, _MARK_CLOSE = "«", "»"
# A query matching more cues than this lists the newest first; see ``search``.
BROAD_MATCHES = 2_000
# A filtered broad query seeks job by job when the filter leaves at most this many jobs.
SPAN_QUERIES = 500
SNIPPET_CHARS = 160  # a cue fits; longer text (no timestamps) is cut around the match


@dataclass(frozen=True)
class SearchHit:
    job_id: int
    file: str
    start_ms: int
    end_ms: int
    snippet: str  # the cue's text with each match between « and »
    state: str
    score: float  # bm25: lower is a better match (0 when not ranked)
    ranked: bool = True  # False: one of the newest matches of a query matching many cues

    def to_json(self) -> dict[str, object]:
        return {
            "job_id": self.job_id,
            "file": self.file,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "snippet": self.snippet,
            "state": self.state,
            "ranked": self.ranked,
        }


# --- cues of a stored result ----------------------------------------------------------------


Cue = tuple[int, int, str]  # start_ms, end_ms, text


def result_cues(segments: Sequence[Segment], text: str, duration_ms: int) -> list[Cue]:
    """The cues of a result as the subtitle exports cut them. Without timestamps: sentences
    wrapped to cue size, each spanning the whole recording."""
    if has_timestamps(segments):
        # The final text aligned onto the deltas' times, as the exports cut it (deltas drift).
        cues = build_cues(align(list(segments), text))
        return [(c.start_ms, c.end_ms, join_texts(list(c.lines))) for c in cues]
    limit = line_chars_for(text) * 2
    end = max(duration_ms, max((s.end_ms for s in segments), default=0))
    return [(0, end, piece) for s in split_sentences(text) for piece in wrap(s, limit)]


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _slices(text: str, cues: Sequence[Cue]) -> list[tuple[int | None, str | None]]:
    """Each cue as (position, None) when its text is found, in order, in the result's text
    (stored once already), else (None, its own text)."""
    out: list[tuple[int | None, str | None]] = []
    cursor = 0
    for _, _, cue in cues:
        at = text.find(cue, cursor)
        if at < 0:
            out.append((None, cue))
        else:
            out.append((at, None))
            cursor = at + len(cue)
    return out


# --- writing the index ----------------------------------------------------------------------

_CUE_TEXT = "COALESCE(c.text, substr(r.text, c.pos + 1, c.len))"


def _indexed_texts(
    conn: sqlite3.Connection, where: str, args: Sequence[object]
) -> list[tuple[int, str]]:
    return [
        (r[0], r[1])
        for r in conn.execute(
            f"SELECT c.id, {_CUE_TEXT} FROM search_cues c "
            f"LEFT JOIN results r ON r.job_id = c.job_id WHERE {where} ORDER BY c.id",
            tuple(args),
        )
    ]


def unindex_job(conn: sqlite3.Connection, job_id: int) -> None:
    """The job's rows out of the index. Call before its result is replaced or deleted: the
    contentless index needs the very tokens it was given, rebuilt here from that text."""
    row = conn.execute(
        "SELECT s.digest, r.text, s.first_id, s.last_id FROM search_jobs s "
        "LEFT JOIN results r ON r.job_id = s.job_id WHERE s.job_id = ?",
        (job_id,),
    ).fetchone()
    if row is None:
        return
    span = (row[2], row[3])
    stale = row[1] is None or _digest(row[1]) != row[0]
    if not stale:
        rows = _indexed_texts(conn, "c.id BETWEEN ? AND ?", span)
        conn.executemany(
            "INSERT INTO search_fts (search_fts, rowid, body) VALUES ('delete', ?, ?)",
            [(cue_id, token_form(text)) for cue_id, text in rows],
        )
    conn.execute("DELETE FROM search_cues WHERE id BETWEEN ? AND ?", span)
    conn.execute("DELETE FROM search_jobs WHERE job_id = ?", (job_id,))
    if stale:
        # The text changed behind the index's back: the old tokens are lost; start afresh.
        rebuild(conn)


def rebuild(conn: sqlite3.Connection) -> None:
    """The full-text index made again from the cue rows (slow: every stored cue is read)."""
    conn.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
    conn.executemany(
        "INSERT INTO search_fts (rowid, body) VALUES (?, ?)",
        ((cue_id, token_form(text)) for cue_id, text in _indexed_texts(conn, "1", ())),
    )


def index_job(
    conn: sqlite3.Connection, job_id: int, corrected: TranscriptionResult | None = None
) -> int:
    """Index one job from its stored result (after ``unindex_job``, once the result is saved);
    returns the number of cues. Call inside the transaction that saved the result.
    ``corrected``: the result with the user's corrections, indexed instead of the model's
    words (its cues keep their own text: the stored text is the model's)."""
    row = conn.execute(
        "SELECT r.text, r.segments, j.duration_s FROM results r "
        "JOIN jobs j ON j.id = r.job_id WHERE r.job_id = ?",
        (job_id,),
    ).fetchone()
    if row is None:
        return 0
    text: str = row[0]
    segments = [Segment(s["start_ms"], s["end_ms"], s["text"]) for s in json.loads(row[1])]
    duration_ms = int((row[2] or 0) * 1000)
    if corrected is not None:
        cues = [c for c in result_cues(corrected.segments, corrected.text, duration_ms) if c[2]]
        slices: list[tuple[int | None, str | None]] = [(None, cue) for _, _, cue in cues]
    else:
        cues = [c for c in result_cues(segments, text, duration_ms) if c[2]]
        slices = _slices(text, cues)
    if not cues:
        return 0
    first = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM search_cues").fetchone()[0])
    conn.executemany(
        "INSERT INTO search_cues (id, job_id, start_ms, end_ms, pos, len, text) "
        "VALUES (?,?,?,?,?,?,?)",
        [
            (first + n, job_id, start, end, pos, len(cue) if pos is not None else None, own)
            for n, ((start, end, cue), (pos, own)) in enumerate(zip(cues, slices, strict=True))
        ],
    )
    conn.executemany(
        "INSERT INTO search_fts (rowid, body) VALUES (?, ?)",
        [(first + n, token_form(cue)) for n, (_, _, cue) in enumerate(cues)],
    )
    conn.execute(
        "INSERT INTO search_jobs (job_id, digest, first_id, last_id) VALUES (?,?,?,?)",
        (job_id, _digest(text), first, first + len(cues) - 1),
    )
    return len(cues)


def reindex_job(
    conn: sqlite3.Connection, job_id: int, corrected: TranscriptionResult | None = None
) -> int:
    unindex_job(conn, job_id)
    return index_job(conn, job_id, corrected)


def backfill(conn: sqlite3.Connection) -> int:
    """Index the results saved before the index existed (listed by the migration)."""
    jobs = [r[0] for r in conn.execute("SELECT job_id FROM search_backfill")]
    for job_id in jobs:
        reindex_job(conn, job_id)
    conn.execute("DELETE FROM search_backfill")
    return len(jobs)


def needs_backfill(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM search_backfill LIMIT 1").fetchone() is not None


# --- reading it -----------------------------------------------------------------------------


def search(
    conn: sqlite3.Connection,
    query: Query,
    *,
    folder: Path | None = None,
    since: float | None = None,
    states: Sequence[str] = (),
    limit: int = 50,
    offset: int = 0,
) -> list[SearchHit]:
    """Best matches first (bm25), one per cue, with the job filters applied before ranking.

    bm25 scores every match, whatever the LIMIT (and reads each word's every occurrence for
    its weight): ~150 ms for a character in most cues of a 100 M-character library. So a
    query matching more than BROAD_MATCHES cues (``SearchHit.ranked`` False) lists its newest
    matches first instead: a seek, not a pass over every match.
    """
    match = query.fts()
    broad = (
        conn.execute(
            "SELECT 1 FROM search_fts WHERE search_fts MATCH ? ORDER BY rowid DESC "
            "LIMIT 1 OFFSET ?",
            (match, BROAD_MATCHES),
        ).fetchone()
        is not None
    )
    where, args = _job_filter(folder, since, states)
    order = "rowid DESC" if broad else "rank"
    if not where:
        ids = conn.execute(
            f"SELECT rowid, {'0.0' if broad else 'rank'} FROM search_fts "
            f"WHERE search_fts MATCH ? ORDER BY {order} LIMIT ? OFFSET ?",
            (match, limit, offset),
        ).fetchall()
    else:
        spans = conn.execute(
            "SELECT s.first_id, s.last_id FROM search_jobs s JOIN jobs j ON j.id = s.job_id "
            f"WHERE {' AND '.join(where)} ORDER BY s.first_id DESC",
            args,
        ).fetchall()
        if not spans:
            return []
        if broad and len(spans) <= SPAN_QUERIES:
            # The newest matches of each job in turn (a seek per job), until enough.
            ids = []
            for lo, hi in spans:
                ids += conn.execute(
                    "SELECT rowid, 0.0 FROM search_fts WHERE search_fts MATCH ? "
                    "AND rowid BETWEEN ? AND ? ORDER BY rowid DESC LIMIT ?",
                    (match, lo, hi, offset + limit - len(ids)),
                ).fetchall()
                if len(ids) >= offset + limit:
                    break
            ids = ids[offset:]
        else:
            ids = conn.execute(
                f"SELECT f.rowid, {'0.0' if broad else 'f.rank'} FROM search_fts f "
                "CROSS JOIN search_cues c ON c.id = f.rowid CROSS JOIN jobs j ON j.id = c.job_id "
                f"WHERE search_fts MATCH ? AND {' AND '.join(where)} "
                f"ORDER BY {'f.rowid DESC' if broad else 'f.rank'} LIMIT ? OFFSET ?",
                (match, *args, limit, offset),
            ).fetchall()
    return _hits(conn, query, ids, ranked=not broad)


def _job_filter(
    folder: Path | None, since: float | None, states: Sequence[str]
) -> tuple[list[str], list[object]]:
    where: list[str] = []
    args: list[object] = []
    if states:
        where.append(f"j.state IN ({','.join('?' * len(states))})")
        args += list(states)
    if folder is not None:
        prefix = str(folder).rstrip("/") + "/"
        # A range on the text, not LIKE: folder names may hold % or _.
        where.append("j.source >= ? AND j.source < ?")
        args += [prefix, prefix[:-1] + "0"]  # '0' sorts right after '/'
    if since is not None:
        where.append("COALESCE(j.finished_at, j.created_at) >= ?")
        args.append(since)
    return where, args


def _hits(
    conn: sqlite3.Connection, query: Query, ids: list[tuple[int, float]], *, ranked: bool
) -> list[SearchHit]:
    if not ids:
        return []
    order = {cue_id: n for n, (cue_id, _) in enumerate(ids)}
    score = dict(ids)
    rows = conn.execute(
        f"SELECT c.id, c.start_ms, c.end_ms, {_CUE_TEXT}, j.id, j.source, j.state "
        "FROM search_cues c JOIN jobs j ON j.id = c.job_id "
        "LEFT JOIN results r ON r.job_id = c.job_id "
        f"WHERE c.id IN ({','.join('?' * len(order))})",
        list(order),
    ).fetchall()
    rows.sort(key=lambda r: order[r[0]])
    return [
        SearchHit(
            job_id=r[4],
            file=r[5],
            start_ms=r[1],
            end_ms=r[2],
            snippet=snippet(r[3] or "", query.spans(r[3] or "")),
            state=r[6],
            score=score[r[0]],
            ranked=ranked,
        )
        for r in rows
    ]


def snippet(text: str, spans: list[tuple[int, int]], width: int = SNIPPET_CHARS) -> str:
    """The text with each match between « and », cut to about ``width`` around the first."""
    lo, hi = 0, len(text)
    if len(text) > width:
        first = spans[0][0] if spans else 0
        lo = max(0, min(first - width // 3, len(text) - width))
        hi = lo + width
    out = []
    pos = lo
    for start, end in spans:
        if start < pos or end > hi:
            continue
        out += [text[pos:start], _MARK_OPEN, text[start:end], _MARK_CLOSE]
        pos = end
    out.append(text[pos:hi])
    return ("…" if lo else "") + "".join(out) + ("…" if hi < len(text) else "")
