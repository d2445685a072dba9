"""The user's speaker edits (renames, merges) per job, and each folder's roster of named voices.

Edits never touch the computed turns: they are applied to a result when it is read, so outputs
can be re-rendered at any time and an edit undone by editing again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, replace

from tui.store.connection import Connection
from tui.transcript.model import SpeakerTurns, TranscriptionResult

MAX_NAME = 80


class SpeakerEditError(ValueError):
    """An edit that cannot apply; the message says why in one sentence."""


@dataclass(frozen=True)
class RosterVoice:
    name: str
    voice: tuple[float, ...]


@dataclass(frozen=True)
class EditRow:
    """One speaker's stored edit in one job (what an undo puts back)."""

    name: str | None
    merged_into: int | None


class SpeakerEdits:
    def __init__(self, db: Connection) -> None:
        self._db = db

    def apply(self, job_id: int, result: TranscriptionResult) -> TranscriptionResult:
        """``result`` with this job's names and merges on its speaker turns."""
        if result.speakers is None:
            return result
        rows = self._db.all(
            "SELECT speaker, name, merged_into FROM speaker_edits WHERE job_id = ?", (job_id,)
        )
        if not rows:
            return result
        names = dict(result.speakers.names)
        merged = dict(result.speakers.merged)
        for row in rows:
            if row["name"]:
                names[int(row["speaker"])] = str(row["name"])
            if row["merged_into"] is not None:
                merged[int(row["speaker"])] = int(row["merged_into"])
        result.speakers = replace(result.speakers, names=names, merged=merged)
        return result

    def rename(self, job_id: int, turns: SpeakerTurns, speaker: int, name: str) -> None:
        name = " ".join(name.split())
        if not name:
            raise SpeakerEditError("A speaker's name cannot be empty.")
        if len(name) > MAX_NAME:
            raise SpeakerEditError(f"A speaker's name can be at most {MAX_NAME} characters.")
        _check_speaker(turns, speaker)
        self._upsert(job_id, speaker, "name", name)

    def merge(self, job_id: int, turns: SpeakerTurns, speaker: int, into: int) -> None:
        """Fold ``speaker`` into ``into`` (its words then carry ``into``'s label)."""
        _check_speaker(turns, speaker)
        _check_speaker(turns, into)
        if speaker == into:
            raise SpeakerEditError("A speaker cannot be merged into itself.")
        # Follow existing merges so no cycle can form.
        merged = dict(turns.merged)
        for row in self._db.all(
            "SELECT speaker, merged_into FROM speaker_edits WHERE job_id = ? "
            "AND merged_into IS NOT NULL",
            (job_id,),
        ):
            merged[int(row["speaker"])] = int(row["merged_into"])
        target, seen = into, {into}
        while target in merged:
            target = merged[target]
            if target in seen:
                break
            seen.add(target)
        if target == speaker:
            raise SpeakerEditError(
                f"Speaker {into} is already merged into speaker {speaker}; merge the other way."
            )
        self._upsert(job_id, speaker, "merged_into", target)

    def unmerge(self, job_id: int, speaker: int) -> None:
        with self._db.tx() as conn:
            conn.execute(
                "UPDATE speaker_edits SET merged_into = NULL, updated_at = ? "
                "WHERE job_id = ? AND speaker = ?",
                (time.time(), job_id, speaker),
            )

    def row(self, job_id: int, speaker: int) -> EditRow | None:
        found = self._db.one(
            "SELECT name, merged_into FROM speaker_edits WHERE job_id = ? AND speaker = ?",
            (job_id, speaker),
        )
        if found is None:
            return None
        merged = found["merged_into"]
        return EditRow(found["name"], int(merged) if merged is not None else None)

    def restore(self, job_id: int, speaker: int, row: EditRow | None) -> None:
        """Put one speaker's edit back as it was (None: no edit at all)."""
        with self._db.tx() as conn:
            if row is None or (row.name is None and row.merged_into is None):
                conn.execute(
                    "DELETE FROM speaker_edits WHERE job_id = ? AND speaker = ?", (job_id, speaker)
                )
                return
            conn.execute(
                "INSERT INTO speaker_edits (job_id, speaker, name, merged_into, updated_at) "
                "VALUES (?,?,?,?,?) ON CONFLICT (job_id, speaker) DO UPDATE SET "
                "name = excluded.name, merged_into = excluded.merged_into, "
                "updated_at = excluded.updated_at",
                (job_id, speaker, row.name, row.merged_into, time.time()),
            )

    def _upsert(self, job_id: int, speaker: int, column: str, value: object) -> None:
        assert column in ("name", "merged_into")
        with self._db.tx() as conn:
            conn.execute(
                f"INSERT INTO speaker_edits (job_id, speaker, {column}, updated_at) "
                f"VALUES (?,?,?,?) ON CONFLICT (job_id, speaker) DO UPDATE SET "
                f"{column} = excluded.{column}, updated_at = excluded.updated_at",
                (job_id, speaker, value, time.time()),
            )

    # --- folder roster ------------------------------------------------------------------

    def remember(self, folder: str, model: str, name: str, voice: list[float]) -> None:
        with self._db.tx() as conn:
            conn.execute(
                "INSERT INTO speaker_roster (folder, model, name, voice, updated_at) "
                "VALUES (?,?,?,?,?) ON CONFLICT (folder, model, name) DO UPDATE SET "
                "voice = excluded.voice, updated_at = excluded.updated_at",
                (folder, model, name, json.dumps(voice), time.time()),
            )

    def roster_voice(self, folder: str, model: str, name: str) -> tuple[float, ...] | None:
        row = self._db.one(
            "SELECT voice FROM speaker_roster WHERE folder = ? AND model = ? AND name = ?",
            (folder, model, name),
        )
        return tuple(json.loads(row["voice"])) if row is not None else None

    def forget(self, folder: str, model: str, name: str) -> None:
        with self._db.tx() as conn:
            conn.execute(
                "DELETE FROM speaker_roster WHERE folder = ? AND model = ? AND name = ?",
                (folder, model, name),
            )

    def roster(self, folder: str, model: str) -> list[RosterVoice]:
        rows = self._db.all(
            "SELECT name, voice FROM speaker_roster WHERE folder = ? AND model = ? "
            "ORDER BY updated_at DESC",
            (folder, model),
        )
        return [RosterVoice(str(r["name"]), tuple(json.loads(r["voice"]))) for r in rows]


def _check_speaker(turns: SpeakerTurns, speaker: int) -> None:
    if not 1 <= speaker <= turns.count:
        raise SpeakerEditError(
            f"There is no speaker {speaker} in this job (it has {turns.count}: 1–{turns.count})."
            if turns.count
            else "This job has no speaker labels."
        )


# A voice matches a roster name at this cosine similarity or more. Measured with the GE2E
# model on LibriSpeech (two 2.5 s halves of one reader's clip against each other and against
# eight other readers): different readers 0.38–0.71, the same reader 0.69–0.88 (mean 0.79).
# Above every different-reader pair: a missed match costs a rename, a wrong one misleads.
ROSTER_MATCH = 0.75


def match_roster(turns: SpeakerTurns, roster: list[RosterVoice]) -> dict[int, str]:
    """Names for this job's speakers from the folder's roster: each speaker to the most similar
    voice at ROSTER_MATCH or more, best pairs first, one name per speaker and per voice."""
    pairs: list[tuple[float, int, str]] = []
    for speaker, voice in turns.voices.items():
        for entry in roster:
            if len(entry.voice) == len(voice):
                sim = sum(a * b for a, b in zip(voice, entry.voice, strict=True))
                if sim >= ROSTER_MATCH:
                    pairs.append((sim, speaker, entry.name))
    names: dict[int, str] = {}
    for _, speaker, name in sorted(pairs, reverse=True):
        if speaker not in names and name not in names.values():
            names[speaker] = name
    return names


def adopt_roster(conn: sqlite3.Connection, job_id: int, folder: str, turns: SpeakerTurns) -> None:
    """Inside the transaction that saves a result: name its speakers whose voice matches the
    folder's roster (only speakers the user has not named in this job)."""
    rows = conn.execute(
        "SELECT name, voice FROM speaker_roster WHERE folder = ? AND model = ?",
        (folder, turns.model),
    ).fetchall()
    roster = [RosterVoice(str(r[0]), tuple(json.loads(r[1]))) for r in rows]
    for speaker, name in match_roster(turns, roster).items():
        conn.execute(
            "INSERT INTO speaker_edits (job_id, speaker, name, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT (job_id, speaker) DO UPDATE SET name = COALESCE(name, excluded.name)",
            (job_id, speaker, name, time.time()),
        )
