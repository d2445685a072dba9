"""Correcting a finished transcript: edit, split, merge, undo, revert, and the glossary.

Every change is stored as corrections beside the model's result (``tui.store.corrections``);
then the job's own transcript files are rewritten (atomically, by ``Delivery.rewrite``) from
the corrected result, and ``TranscriptCorrected`` is published. Cues are addressed by their
index in ``cues(job_id)``, which the review screen shows. A verb that cannot apply raises
``ReviewError`` with a sentence to show.
"""

from __future__ import annotations

from pathlib import Path

from tui.engine.delivery import Delivery
from tui.engine.events import EventBus, TranscriptCorrected
from tui.store.records import FINISHED, Job, JobStateError
from tui.store.store import Store
from tui.transcript.corrected import (
    Correction,
    ReviewCue,
    join_units,
    split_point,
    units,
)
from tui.transcript.glossary_rules import Rule, apply_rules
from tui.transcript.model import TranscriptionResult
from tui.transcript.text import is_cjk_text


class ReviewError(JobStateError):
    """A correction that cannot be made; the message says why."""


class Review:
    def __init__(self, store: Store, bus: EventBus, delivery: Delivery) -> None:
        self.store = store
        self.bus = bus
        self.delivery = delivery

    # --- reading ------------------------------------------------------------------------------

    def result(self, job_id: int) -> TranscriptionResult | None:
        """The corrected result (what show, copy, search and exports use)."""
        return self.store.corrections.result(job_id)

    def cues(self, job_id: int) -> list[ReviewCue]:
        got = self.store.corrections.cues(job_id)
        return got[1] if got else []

    # --- changes --------------------------------------------------------------------------------

    def edit(self, job_id: int, index: int, text: str) -> ReviewCue | None:
        """Set cue ``index``'s text (whitespace runs become one space). Returns the cue as it
        was, or None when nothing changed."""
        job, _, cues = self._load(job_id)
        cue = self._cue(cues, index)
        text = " ".join(text.split())
        if text == cue.text:
            return None
        fix = Correction(
            cue.seg_from, cue.seg_to, cue.start_ms, cue.end_ms, text, cue.model_text, "user"
        )
        self._change(job, "edit", cue.correction, [fix])
        return cue

    def split(self, job_id: int, index: int, at: int) -> None:
        """Split cue ``index`` at character ``at`` of its text into two cues."""
        job, model, cues = self._load(job_id)
        cue = self._cue(cues, index)
        left, right = cue.text[:at].strip(), cue.text[at:].strip()
        if not left or not right:
            raise ReviewError("Put the cursor inside the text to split the cue there.")
        parts = units(model)
        cjk = is_cjk_text(model.text)
        # The cursor in the model's text: the same share of it as of the shown text.
        at_model = round(at * len(cue.model_text) / max(1, len(cue.text)))
        k = split_point(parts, cue, at_model, cjk)
        if cue.seg_from < k < cue.seg_to:
            middle_end = max(s.end_ms for s in parts[cue.seg_from : k])
            middle_start = parts[k].start_ms
            first = (cue.seg_from, k, join_units(parts[cue.seg_from : k], cjk))
            second = (k, cue.seg_to, join_units(parts[k : cue.seg_to], cjk))
        else:
            # Inside one timed word: the time is shared out by characters; the second cue
            # covers none of the model's units (its text is new).
            share = at / max(1, len(cue.text))
            middle_end = middle_start = cue.start_ms + round((cue.end_ms - cue.start_ms) * share)
            first = (cue.seg_from, cue.seg_to, cue.model_text)
            second = (cue.seg_to, cue.seg_to, "")
        fixes = [
            Correction(first[0], first[1], cue.start_ms, middle_end, left, first[2]),
            Correction(second[0], second[1], middle_start, cue.end_ms, right, second[2]),
        ]
        self._change(job, "split", cue.correction, fixes)

    def merge(self, job_id: int, index: int) -> None:
        """Join cue ``index`` with the next one."""
        job, model, cues = self._load(job_id)
        cue = self._cue(cues, index)
        if index + 1 >= len(cues):
            raise ReviewError("This is the last cue: there is no next one to merge with.")
        nxt = cues[index + 1]
        parts = units(model)
        cjk = is_cjk_text(model.text)
        text = (cue.text + nxt.text) if cjk else f"{cue.text} {nxt.text}"
        # Units between the two (blank ones) join too, so the range stays contiguous.
        lo, hi = cue.seg_from, max(nxt.seg_to, cue.seg_to)
        fix = Correction(
            lo,
            hi,
            min(cue.start_ms, nxt.start_ms),
            max(cue.end_ms, nxt.end_ms),
            text,
            join_units(parts[lo:hi], cjk),
        )
        old = [c.correction for c in (cue, nxt) if c.correction is not None]
        self._change(job, "merge", None, [fix], remove=[c.id for c in old])

    def revert_cue(self, job_id: int, index: int) -> bool:
        """Back to the model's text for that cue (False: it was not corrected)."""
        job, _, cues = self._load(job_id)
        cue = self._cue(cues, index)
        if cue.correction is None:
            return False
        self._change(job, "revert cue", cue.correction, [])
        return True

    def revert_job(self, job_id: int) -> int:
        """Back to the model's text for the whole job; returns how many corrections went."""
        job, _, _ = self._load(job_id)
        count = len(self.store.corrections.of(job_id))
        if count:
            self.store.corrections.change(job_id, "revert job", remove_all=True)
            self._after(job, "revert job")
        return count

    def undo(self, job_id: int) -> str | None:
        """Undo the job's last change; returns what was undone (None: nothing to undo)."""
        job, _, _ = self._load(job_id)
        action = self.store.corrections.undo(job_id)
        if action is not None:
            self._after(job, f"undo {action}")
        return action

    # --- the glossary ---------------------------------------------------------------------------

    def learn(self, source: str, target: str, scope: str = "") -> Rule:
        """Remember "always write ``source`` as ``target``" (for later jobs)."""
        return self.store.glossary.add(source, target, scope)

    def rules_for(self, source: Path) -> list[Rule]:
        return self.store.glossary.rules_for(source)

    def apply_glossary(self, job_id: int, *, rewrite: bool = True) -> int:
        """Apply the glossary to a finished job's cues that nobody corrected: each change is a
        correction of origin ``glossary`` naming its rule (visible and revertible). Returns
        how many cues changed."""
        job, _, cues = self._load(job_id)
        rules = self.store.glossary.rules_for(job.source)
        if not rules:
            return 0
        fixes: list[Correction] = []
        for cue in cues:
            if cue.correction is not None:
                continue
            text, used = apply_rules(cue.text, rules)
            if used:
                fixes.append(
                    Correction(
                        cue.seg_from,
                        cue.seg_to,
                        cue.start_ms,
                        cue.end_ms,
                        text,
                        cue.model_text,
                        "glossary",
                        "; ".join(r.label for r in used),
                    )
                )
        if fixes:
            self.store.corrections.change(job_id, "glossary", add=fixes)
            if rewrite:
                self._after(job, "glossary")
            else:
                self.store.reindex(job.id)
                self.bus.publish(TranscriptCorrected(job.id, "glossary"))
        return len(fixes)

    # --- inside ---------------------------------------------------------------------------------

    def _load(self, job_id: int) -> tuple[Job, TranscriptionResult, list[ReviewCue]]:
        job = self.store.require_job(job_id)
        got = self.store.corrections.cues(job_id) if job.state in FINISHED else None
        if got is None:
            raise ReviewError(
                f"Job {job_id} is {job.state.value}; only finished transcripts can be corrected."
            )
        return job, got[0], got[1]

    @staticmethod
    def _cue(cues: list[ReviewCue], index: int) -> ReviewCue:
        if not 0 <= index < len(cues):
            raise ReviewError(f"There is no cue {index + 1} (the transcript has {len(cues)}).")
        return cues[index]

    def _change(
        self,
        job: Job,
        action: str,
        replaced: Correction | None,
        add: list[Correction],
        *,
        remove: list[int] | None = None,
    ) -> None:
        ids = list(remove or [])
        if replaced is not None:
            ids.append(replaced.id)
        self.store.corrections.change(job.id, action, remove=ids, add=add)
        self._after(job, action)

    def _after(self, job: Job, action: str) -> None:
        result = self.store.corrections.result(job.id)
        if result is not None:
            self.delivery.rewrite(self.store.require_job(job.id), result)
        self.store.reindex(job.id)  # a search finds the corrected words, not the old ones
        self.bus.publish(TranscriptCorrected(job.id, action))
