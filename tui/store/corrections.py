"""Corrections stored beside a job's result, with an undo stack; the corrected result.

The model's result in ``results`` is never changed here: corrections are rows of their own
(``tui.transcript.corrected`` lays them over the result). Every change first pushes the job's
corrections as they were onto the undo stack, in the same transaction, so ``undo`` restores
exactly what was there — a revert of the whole job included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tui.store.connection import Connection
from tui.transcript.corrected import (
    Correction,
    ReviewCue,
    corrected_json,
    corrected_result,
    review_cues,
)
from tui.transcript.model import TranscriptionResult

_COLUMNS = "id, seg_from, seg_to, start_ms, end_ms, text, model_text, origin, rule, created_at"
# Undo steps kept per job; older ones are dropped (the corrections themselves stay).
UNDO_DEPTH = 200


class Corrections:
    def __init__(
        self, db: Connection, get_result: Callable[[int], TranscriptionResult | None]
    ) -> None:
        self._db = db
        self._get_result = get_result

    # --- reading ------------------------------------------------------------------------------

    def of(self, job_id: int) -> list[Correction]:
        rows = self._db.all(
            f"SELECT {_COLUMNS} FROM corrections WHERE job_id = ? ORDER BY seg_from, id",
            (job_id,),
        )
        return [_from_row(r) for r in rows]

    def result(self, job_id: int) -> TranscriptionResult | None:
        """The job's result as everything downstream uses it: the model's, corrected (None
        when the job has no result)."""
        model = self._get_result(job_id)
        if model is None:
            return None
        return corrected_result(model, self.of(job_id))

    def result_json(self, job_id: int) -> dict[str, Any] | None:
        """The corrected result as JSON with the model's text beside it (``show --json``)."""
        model = self._get_result(job_id)
        return corrected_json(model, self.of(job_id)) if model is not None else None

    def cues(self, job_id: int) -> tuple[TranscriptionResult, list[ReviewCue]] | None:
        """The model's result and the cues the review screen shows (None: no result)."""
        model = self._get_result(job_id)
        if model is None:
            return None
        return model, review_cues(model, self.of(job_id))

    def can_undo(self, job_id: int) -> bool:
        row = self._db.one("SELECT 1 FROM correction_undo WHERE job_id = ? LIMIT 1", (job_id,))
        return row is not None

    def reviewed_at(self, job_id: int) -> float | None:
        row = self._db.one("SELECT reviewed_at FROM jobs WHERE id = ?", (job_id,))
        return float(row[0]) if row is not None and row[0] is not None else None

    # --- changing -----------------------------------------------------------------------------

    def change(
        self,
        job_id: int,
        action: str,
        *,
        remove: Iterable[int] = (),
        add: Sequence[Correction] = (),
        remove_all: bool = False,
    ) -> None:
        """One undoable step: drop corrections (by id, or all), then add new ones."""
        remove = list(remove)
        with self._db.tx() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM corrections WHERE job_id = ?", (job_id,)
            ).fetchall()
            before = [_to_json(_from_row(r)) for r in rows]
            conn.execute(
                "INSERT INTO correction_undo (job_id, action, before, done_at) VALUES (?,?,?,?)",
                (job_id, action, json.dumps(before, ensure_ascii=False), time.time()),
            )
            conn.execute(
                "DELETE FROM correction_undo WHERE job_id = ? AND id NOT IN (SELECT id FROM "
                "correction_undo WHERE job_id = ? ORDER BY id DESC LIMIT ?)",
                (job_id, job_id, UNDO_DEPTH),
            )
            if remove_all:
                conn.execute("DELETE FROM corrections WHERE job_id = ?", (job_id,))
            for cid in remove:
                conn.execute("DELETE FROM corrections WHERE job_id = ? AND id = ?", (job_id, cid))
            for c in add:
                _insert(conn, job_id, c, keep_id=False)

    def undo(self, job_id: int) -> str | None:
        """Put back the job's corrections as they were before its last change; returns what
        that change was (None: nothing to undo)."""
        with self._db.tx() as conn:
            row = conn.execute(
                "SELECT id, action, before FROM correction_undo WHERE job_id = ? "
                "ORDER BY id DESC LIMIT 1",
                (job_id,),
            ).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM correction_undo WHERE id = ?", (row["id"],))
            conn.execute("DELETE FROM corrections WHERE job_id = ?", (job_id,))
            for data in json.loads(row["before"]):
                _insert(conn, job_id, _from_json(data), keep_id=True)
            return str(row["action"])


def _insert(conn: Any, job_id: int, c: Correction, *, keep_id: bool) -> None:
    conn.execute(
        "INSERT INTO corrections (id, job_id, seg_from, seg_to, start_ms, end_ms, text, "
        "model_text, origin, rule, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            c.id if keep_id and c.id else None,
            job_id,
            c.seg_from,
            c.seg_to,
            c.start_ms,
            c.end_ms,
            c.text,
            c.model_text,
            c.origin,
            c.rule,
            c.created_at or time.time(),
        ),
    )


def _from_row(r: Any) -> Correction:
    return Correction(
        seg_from=r["seg_from"],
        seg_to=r["seg_to"],
        start_ms=r["start_ms"],
        end_ms=r["end_ms"],
        text=r["text"],
        model_text=r["model_text"],
        origin="glossary" if r["origin"] == "glossary" else "user",
        rule=r["rule"],
        id=r["id"],
        created_at=r["created_at"],
    )


def _to_json(c: Correction) -> dict[str, Any]:
    return {
        "id": c.id,
        "seg_from": c.seg_from,
        "seg_to": c.seg_to,
        "start_ms": c.start_ms,
        "end_ms": c.end_ms,
        "text": c.text,
        "model_text": c.model_text,
        "origin": c.origin,
        "rule": c.rule,
        "created_at": c.created_at,
    }


def _from_json(d: dict[str, Any]) -> Correction:
    return Correction(
        seg_from=int(d["seg_from"]),
        seg_to=int(d["seg_to"]),
        start_ms=int(d["start_ms"]),
        end_ms=int(d["end_ms"]),
        text=str(d["text"]),
        model_text=str(d["model_text"]),
        origin="glossary" if d.get("origin") == "glossary" else "user",
        rule=d.get("rule"),
        id=int(d.get("id") or 0),
        created_at=float(d.get("created_at") or 0.0),
    )
