"""Renaming and merging a job's speakers: what ``Engine.rename_speaker`` and friends do, for
the CLI and the workbench alike.

An edit is stored beside the turns computed on this machine (``tui.store.speaker_edits``: the
model's labels are never rewritten), the job's own transcript files are re-rendered from the
corrected result (``Delivery.rewrite``; nothing is computed again, no audio is sent) and
``SpeakersEdited`` is published. A rename also names that voice in the folder's roster, so a
later job in the same folder recognises it. The edits made in this session can be undone, last
first, roster included.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tui.engine.delivery import Delivery
from tui.engine.events import EventBus, SpeakersEdited
from tui.store.records import Job
from tui.store.speaker_edits import EditRow, SpeakerEditError
from tui.store.store import Store
from tui.transcript.model import SpeakerTurns, TranscriptionResult
from tui.transcript.speaker_summary import SpeakerLine, speaker_lines

UNDO_DEPTH = 50  # per job


class NoSpeakerLabels(SpeakerEditError):
    """The job has a transcript but no speaker labels to edit."""


@dataclass(frozen=True)
class _RosterEntry:
    """A folder roster's entry as it was before an edit (``voice`` None: there was none)."""

    folder: str
    model: str
    name: str
    voice: tuple[float, ...] | None


@dataclass(frozen=True)
class _Undo:
    action: str
    speaker: int
    row: EditRow | None
    roster: tuple[_RosterEntry, ...] = ()


@dataclass(frozen=True)
class SpeakerOverview:
    job: Job
    turns: SpeakerTurns
    lines: list[SpeakerLine]


class SpeakerEditor:
    def __init__(self, store: Store, bus: EventBus, delivery: Delivery) -> None:
        self.store = store
        self.bus = bus
        self.delivery = delivery
        self._undo: dict[int, list[_Undo]] = {}

    # --- reading ------------------------------------------------------------------------------

    def overview(self, job_id: int) -> SpeakerOverview:
        """The job's speakers as they are now (names and merges applied). SpeakerEditError
        (NoSpeakerLabels when the transcript has none) with the sentence to show."""
        job, result = self._load(job_id)
        assert result.speakers is not None
        return SpeakerOverview(job, result.speakers, speaker_lines(result))

    def can_undo(self, job_id: int) -> bool:
        return bool(self._undo.get(job_id))

    # --- edits --------------------------------------------------------------------------------

    def rename(self, job_id: int, speaker: int, name: str) -> list[Path]:
        job, result = self._load(job_id)
        turns = result.speakers
        assert turns is not None
        edits = self.store.speakers
        before = edits.row(job_id, speaker)
        edits.rename(job_id, turns, speaker, name)  # checks the name and the speaker
        clean = " ".join(name.split())
        roster: list[_RosterEntry] = []
        voice = turns.voices.get(speaker)
        if voice and turns.model:
            folder, model = str(job.source.parent), turns.model
            # The name this speaker had from an earlier rename here leaves the roster when it
            # holds this very voice (a typo corrected), so the two names never compete.
            old = before.name if before else None
            if old and old != clean and edits.roster_voice(folder, model, old) == tuple(voice):
                roster.append(_RosterEntry(folder, model, old, tuple(voice)))
                edits.forget(folder, model, old)
            roster.append(
                _RosterEntry(folder, model, clean, edits.roster_voice(folder, model, clean))
            )
            edits.remember(folder, model, clean, voice)
        self._push(job_id, _Undo("rename", speaker, before, tuple(roster)))
        return self._after(job, "rename")

    def merge(self, job_id: int, source: int, target: int) -> list[Path]:
        """Fold speaker ``source`` into ``target`` (its words then carry ``target``'s label)."""
        job, result = self._load(job_id)
        assert result.speakers is not None
        before = self.store.speakers.row(job_id, source)
        self.store.speakers.merge(job_id, result.speakers, source, target)
        self._push(job_id, _Undo("merge", source, before))
        return self._after(job, "merge")

    def separate(self, job_id: int, speaker: int) -> list[Path]:
        """Undo a merge of ``speaker`` (its words carry its own label again)."""
        job, result = self._load(job_id)
        assert result.speakers is not None
        if speaker not in result.speakers.merged:
            raise SpeakerEditError(f"Speaker {speaker} is not merged into another.")
        before = self.store.speakers.row(job_id, speaker)
        self.store.speakers.unmerge(job_id, speaker)
        self._push(job_id, _Undo("separate", speaker, before))
        return self._after(job, "separate")

    def undo(self, job_id: int) -> str | None:
        """Undo this session's last speaker edit of the job; returns what it was (None:
        nothing to undo)."""
        stack = self._undo.get(job_id)
        if not stack:
            return None
        job = self.store.require_job(job_id)
        step = stack.pop()
        edits = self.store.speakers
        edits.restore(job_id, step.speaker, step.row)
        for entry in reversed(step.roster):
            if entry.voice is None:
                edits.forget(entry.folder, entry.model, entry.name)
            else:
                edits.remember(entry.folder, entry.model, entry.name, list(entry.voice))
        self._after(job, f"undo {step.action}")
        return step.action

    # --- inside -------------------------------------------------------------------------------

    def _load(self, job_id: int) -> tuple[Job, TranscriptionResult]:
        job = self.store.get_job(job_id)
        result = self.store.corrections.result(job_id) if job is not None else None
        if job is None or result is None:
            raise SpeakerEditError(f"Job {job_id} has no transcript yet.")
        if result.speakers is None or not result.speakers.turns:
            raise NoSpeakerLabels(
                f"{job.name} has no speaker labels: set speakers (auto or a count) in the "
                "settings or the folder's .stepfun-asr.toml, then run it again."
            )
        return job, result

    def _push(self, job_id: int, step: _Undo) -> None:
        stack = self._undo.setdefault(job_id, [])
        stack.append(step)
        del stack[:-UNDO_DEPTH]

    def _after(self, job: Job, action: str) -> list[Path]:
        result = self.store.corrections.result(job.id)  # corrected, with the speaker edits
        written = self.delivery.rewrite(self.store.require_job(job.id), result) if result else []
        self.bus.publish(SpeakersEdited(job.id, action))
        return written
