"""Full-text search over every stored transcript, one row per cue (SQLite FTS5, no server).

The index is a contentless FTS5 table (``unicode61``) over a *token form* of each cue's text in
which every CJK character stands alone (``会议室`` → ``会 议 室``): one- and two-character
Chinese queries then match (a query of several CJK characters is a phrase of them), while
Latin text keeps its whole words, so ``budget`` and ``budg*`` work as usual. The cue's own
text, times and job are in ``search_cues``; a cue's id is ``job_id << 20 | n`` so one job's
rows are one id range (no extra index). ``search_jobs`` remembers which saved result each job
was indexed from: ``catch_up`` indexes whatever changed behind the store's back (an older
database, another writer), and search calls it first.

The token form must stay deterministic: deleting from a contentless table needs the exact
tokens that were inserted, which ``unindex_job`` rebuilds from the stored cue text. A change
to ``token_form`` needs a migration that rebuilds the index.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.transcript.cues import build_cues, has_timestamps, line_chars_for, split_sentences, wrap
from tui.transcript.model import Segment
from tui.transcript.text import CJK_RANGES, join_texts

__all__ = [
    "CUE_BITS",
    "Query",
    "QuerySyntaxError",
    "SearchHit",
    "catch_up",
    "index_job",
    "parse_query",
    "search",
    "token_form",
    "unindex_job",
]

CUE_BITS = 20  # cue ids: job_id << CUE_BITS | cue number
_MAX_CUES = (1 << CUE_BITS) - 1
# Every Han ideograph block (extension B and later too), kana and Hangul: one token each.
_IDEOGRAPH = CJK_RANGES + r"\u3005\u3007\U00020000-\U0003134f"
_CJK_CHAR = re.compile(f"[{_IDEOGRAPH}]")
# What unicode61 keeps as a token: letters, digits, private use; the rest separates.
_TOKEN = re.compile(r"[^\W_]+")
_MARK_OPEN, _MARK_CLOSE = "«", "»"
SNIPPET_CHARS = 160  # a cue fits; longer text (no timestamps) is cut around the match


class QuerySyntaxError(ValueError):
    """The search text cannot be understood; the message says why in one sentence."""


@dataclass(frozen=True)
class SearchHit:
    job_id: int
    file: str
    start_ms: int
    end_ms: int
    snippet: str  # the cue's text with each match between « and »
    state: str
    score: float  # bm25: lower is a better match

    def to_json(self) -> dict[str, object]:
        return {
            "job_id": self.job_id,
            "file": self.file,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "snippet": self.snippet,
            "state": self.state,
        }


# --- token form ---------------------------------------------------------------------------


def token_form(text: str) -> str:
    """The text as the index sees it: each CJK character a word of its own."""
    return _CJK_CHAR.sub(r" \g<0> ", text)


def tokens(text: str) -> list[str]:
    """The tokens unicode61 makes of ``token_form(text)`` (case folded as it does)."""
    return [t.lower() for t in _TOKEN.findall(token_form(text))]


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One thing to look for: a word, a prefix (``budg*``) or a phrase of tokens."""

    tokens: tuple[str, ...]
    prefix: bool = False

    def fts(self) -> str:
        # Tokens are letters and digits only, so quoting them is always safe.
        return '"' + " ".join(self.tokens) + '"' + (" *" if self.prefix else "")

    def pattern(self) -> str:
        parts = []
        for i, tok in enumerate(self.tokens):
            piece = re.escape(tok)
            if _CJK_CHAR.fullmatch(tok) is None:
                # A Latin word: whole, unless it is the prefix; CJK neighbours are boundaries.
                tail = r"[^\W_]*" if self.prefix and i == len(self.tokens) - 1 else ""
                piece = rf"(?<![^\W_{_IDEOGRAPH}]){piece}{tail}(?![^\W_{_IDEOGRAPH}])"
            parts.append(piece)
        return r"[\W_]*".join(parts)


@dataclass(frozen=True)
class Query:
    """Groups are ANDed; the terms in a group are ORed; excluded terms must not occur."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()

    def fts(self) -> str:
        expr = " AND ".join(
            "(" + " OR ".join(t.fts() for t in group) + ")" if len(group) > 1 else group[0].fts()
            for group in self.groups
        )
        for term in self.excluded:
            expr = f"({expr}) NOT {term.fts()}"
        return expr

    def marker(self) -> re.Pattern[str]:
        terms = [t for group in self.groups for t in group]
        # Longest first, so a phrase wins over a word inside it.
        patterns = sorted((t.pattern() for t in terms), key=len, reverse=True)
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


_ITEM = re.compile(r'\s*(?:(-?)"([^"]*)"(\*?)|(\S+))')


def parse_query(text: str) -> Query:
    """Words (all must occur), ``"quoted phrases"``, ``prefix*``, ``a OR b``, ``-excluded``.

    Raises QuerySyntaxError for a quote left open, a dangling OR, or nothing to look for.
    """
    if text.count('"') % 2:
        raise QuerySyntaxError('The search has an opening quote (") with no closing quote.')
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    for m in _ITEM.finditer(text):
        if m.group(4) is not None:
            word = m.group(4)
            if word == "OR":
                if not groups or pending_or:
                    raise QuerySyntaxError("OR needs something to search for on each side.")
                pending_or = True
                continue
            if word == "AND":
                continue
            negate = word.startswith("-") and len(word) > 1
            body = word[1:] if negate else word
            prefix = body.endswith("*")
            toks = tokens(body.rstrip("*"))
        else:
            negate, body, prefix = bool(m.group(1)), m.group(2), bool(m.group(3))
            toks = tokens(body)
        if not toks:
            if pending_or:
                raise QuerySyntaxError("OR needs something to search for on each side.")
            continue  # punctuation alone: nothing the index could hold
        # A prefix ending on a CJK character is just that character.
        term = Term(tuple(toks), prefix and _CJK_CHAR.fullmatch(toks[-1]) is None)
        if negate:
            if pending_or:
                raise QuerySyntaxError("An excluded word (-word) cannot be part of an OR.")
            excluded.append(term)
        elif pending_or:
            groups[-1].append(term)
            pending_or = False
        else:
            groups.append([term])
    if pending_or:
        raise QuerySyntaxError("OR needs something to search for on each side.")
    if not groups:
        raise QuerySyntaxError(
            "The search has no words to look for (only punctuation or excluded words)."
        )
    return Query(tuple(tuple(g) for g in groups), tuple(excluded))


# --- cues of a stored result ----------------------------------------------------------------


def _cue_texts(
    segments: Sequence[Segment], text: str, duration_ms: int
) -> list[tuple[int, int, str]]:
    """(start_ms, end_ms, text) of each cue, as the subtitle exports cut them. Without
    timestamps: sentences wrapped to cue size, all spanning the whole recording."""
    if has_timestamps(segments):
        return [(c.start_ms, c.end_ms, join_texts(list(c.lines))) for c in build_cues(segments)]
    limit = line_chars_for(text) * 2
    end = max(duration_ms, max((s.end_ms for s in segments), default=0))
    return [(0, end, piece) for s in split_sentences(text) for piece in wrap(s, limit)]


def _cap(cues: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """At most _MAX_CUES cues (neighbours merged), so ids stay inside the job's range."""
    if len(cues) <= _MAX_CUES:
        return cues
    size = -(-len(cues) // _MAX_CUES)
    out = []
    for i in range(0, len(cues), size):
        chunk = cues[i : i + size]
        out.append((chunk[0][0], chunk[-1][1], join_texts([c[2] for c in chunk])))
    return out


# --- writing the index ----------------------------------------------------------------------


def unindex_job(conn: sqlite3.Connection, job_id: int) -> None:
    lo, hi = job_id << CUE_BITS, ((job_id + 1) << CUE_BITS) - 1
    rows = conn.execute(
        "SELECT id, text FROM search_cues WHERE id BETWEEN ? AND ?", (lo, hi)
    ).fetchall()
    conn.executemany(
        "INSERT INTO search_fts (search_fts, rowid, body) VALUES ('delete', ?, ?)",
        [(r[0], token_form(r[1])) for r in rows],
    )
    conn.execute("DELETE FROM search_cues WHERE id BETWEEN ? AND ?", (lo, hi))
    conn.execute("DELETE FROM search_jobs WHERE job_id = ?", (job_id,))


def index_job(conn: sqlite3.Connection, job_id: int) -> int:
    """(Re)index one job from its stored result (none: just removed); returns the cue count.
    Call inside the transaction that saved the result."""
    unindex_job(conn, job_id)
    row = conn.execute(
        "SELECT r.text, r.segments, r.saved_at, j.duration_s FROM results r "
        "JOIN jobs j ON j.id = r.job_id WHERE r.job_id = ?",
        (job_id,),
    ).fetchone()
    if row is None:
        return 0
    segments = [Segment(s["start_ms"], s["end_ms"], s["text"]) for s in json.loads(row[1])]
    cues = _cap(_cue_texts(segments, row[0], int((row[3] or 0) * 1000)))
    base = job_id << CUE_BITS
    rows = [(base + n, start, end, text) for n, (start, end, text) in enumerate(cues) if text]
    conn.executemany("INSERT INTO search_cues (id, start_ms, end_ms, text) VALUES (?,?,?,?)", rows)
    conn.executemany(
        "INSERT INTO search_fts (rowid, body) VALUES (?, ?)",
        [(r[0], token_form(r[3])) for r in rows],
    )
    conn.execute("INSERT INTO search_jobs (job_id, saved_at) VALUES (?, ?)", (job_id, row[2]))
    return len(rows)


def stale_jobs(conn: sqlite3.Connection) -> list[int]:
    """Jobs whose index is missing, out of date, or left over from a removed result."""
    rows = conn.execute(
        "SELECT r.job_id FROM results r LEFT JOIN search_jobs s ON s.job_id = r.job_id "
        "WHERE s.saved_at IS NOT r.saved_at "
        "UNION SELECT s.job_id FROM search_jobs s LEFT JOIN results r ON r.job_id = s.job_id "
        "WHERE r.job_id IS NULL"
    ).fetchall()
    return [r[0] for r in rows]


def catch_up(conn: sqlite3.Connection, job_ids: Iterable[int]) -> int:
    n = 0
    for job_id in job_ids:
        index_job(conn, job_id)
        n += 1
    return n


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
    """Best matches first (bm25), one per cue, with the job filters applied before ranking."""
    where: list[str] = []
    args: list[object] = []
    if states:
        where.append(f"state IN ({','.join('?' * len(states))})")
        args += list(states)
    if folder is not None:
        prefix = str(folder).rstrip("/") + "/"
        # A range on the text, not LIKE: folder names may hold % or _.
        where.append("source >= ? AND source < ?")
        args += [prefix, prefix[:-1] + "0"]  # '0' sorts right after '/'
    if since is not None:
        where.append("COALESCE(finished_at, created_at) >= ?")
        args.append(since)
    job_filter = ""
    if where:
        job_filter = (
            f" AND (rowid >> {CUE_BITS}) IN (SELECT id FROM jobs WHERE {' AND '.join(where)})"
        )
    sql = (
        "WITH hits AS (SELECT rowid AS id, rank FROM search_fts WHERE search_fts MATCH ?"
        f"{job_filter} ORDER BY rank LIMIT ? OFFSET ?) "
        "SELECT hits.id, hits.rank, c.start_ms, c.end_ms, c.text, j.id, j.source, j.state "
        f"FROM hits JOIN search_cues c ON c.id = hits.id JOIN jobs j ON j.id = hits.id >> {CUE_BITS} "
        "ORDER BY hits.rank"
    )
    rows = conn.execute(sql, [query.fts(), *args, limit, offset]).fetchall()
    marker = query.marker()
    return [
        SearchHit(
            job_id=r[5],
            file=r[6],
            start_ms=r[2],
            end_ms=r[3],
            snippet=snippet(r[4], marker),
            state=r[7],
            score=r[1],
        )
        for r in rows
    ]


def snippet(text: str, marker: re.Pattern[str], width: int = SNIPPET_CHARS) -> str:
    """The text with each match between « and », cut to about ``width`` around the first."""
    matches = list(marker.finditer(text))
    lo, hi = 0, len(text)
    if len(text) > width:
        first = matches[0].start() if matches else 0
        lo = max(0, min(first - width // 3, len(text) - width))
        hi = lo + width
    out = []
    pos = lo
    for m in matches:
        if m.start() < pos or m.end() > hi:
            continue
        out += [text[pos : m.start()], _MARK_OPEN, m.group(0), _MARK_CLOSE]
        pos = m.end()
    out.append(text[pos:hi])
    return ("…" if lo else "") + "".join(out) + ("…" if hi < len(text) else "")
