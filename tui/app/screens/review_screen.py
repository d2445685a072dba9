"""Reviewing one finished transcript: listen at a cue, correct it, and teach the glossary.

The listening (cues, player, following) is ``ListeningScreen``; this adds the keys, the
corrections and the finding. Every change goes through ``engine.review`` (stored beside the
model's text, the job's files rewritten). The edit field opens over the cue's own line and owns
the keyboard while open (Enter saves, Escape cancels).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from textual import on
from textual.binding import Binding, BindingType
from textual.widgets import Input

from tui.app.screens.glossary_screen import GlossaryScreen, LearnScreen
from tui.app.screens.help_screen import HelpScreen, help_rows
from tui.app.screens.listening import ListeningScreen
from tui.engine.engine import Engine
from tui.store.records import FINISHED, JobState, JobStateError
from tui.transcript.glossary_rules import replaced_phrase

T = TypeVar("T")


def _b(key: str, action: str, text: str, bid: str, tip: str, show: bool = True) -> Binding:
    return Binding(key, action, text, id=f"review-{bid}", show=show, tooltip=tip)


REVIEW_BINDINGS: list[BindingType] = [
    _b("space", "play_pause", "Play/pause", "play", "Play from the selected cue, or pause"),
    _b("left", "seek(-1)", "Back 5 s", "seek-back", "Seek back 5 seconds", False),
    _b("right", "seek(1)", "On 5 s", "seek-forward", "Seek forward 5 seconds", False),
    _b("p", "step_cue(-1)", "Prev cue", "previous-cue", "Play from the previous cue", False),
    _b("n", "step_cue(1)", "Next cue", "next-cue", "Play from the next cue", False),
    _b("minus", "speed(-1)", "Slower", "slower", "Play slower (down to 0.75×)", False),
    _b("plus,equals_sign", "speed(1)", "Faster", "faster", "Play faster (up to 2×)", False),
    _b("f", "follow", "Follow", "follow", "Follow the cue being heard again", False),
    _b("i", "edit", "Edit", "edit", "Edit the cue (Enter saves, Escape cancels)"),
    _b("s", "split", "Split", "split", "Split the cue: put the cursor, press Enter"),
    _b("J", "merge", "Merge", "merge", "Merge the cue with the next one", False),
    _b("u", "undo", "Undo", "undo", "Undo the last change to this transcript"),
    _b("r", "revert_cue", "Revert", "revert-cue", "Back to the model's text for this cue", False),
    _b(
        "R", "revert_job", "Revert all", "revert-job", "Back to the model's text for the job", False
    ),
    _b("d", "doubt(1)", "Next doubt", "next-doubt", "Next spot to check: warning, edit, match"),
    _b("D", "doubt(-1)", "Prev doubt", "previous-doubt", "Previous spot to check", False),
    _b("slash", "search", "Search", "search", "Find text in the cues", False),
    _b("right_square_bracket", "match(1)", "Next match", "next-match", "Next search match", False),
    _b("left_square_bracket", "match(-1)", "Prev match", "previous-match", "Previous match", False),
    _b("N", "next_job", "Next job", "next-job", "Open the next job that needs review"),
    _b("m", "mark_reviewed", "Reviewed", "mark-reviewed", "Mark reviewed (again: unmark)"),
    _b("g", "glossary", "Glossary", "glossary", "The glossary: always write X as Y"),
    _b("question_mark,f1", "help", "Help", "help", "Show every key of the review", False),
    _b("escape,q", "back", "Back", "back", "Back to the queue (Escape in a field: cancel)"),
]


class ReviewScreen(ListeningScreen):
    BINDINGS: ClassVar[list[BindingType]] = REVIEW_BINDINGS

    def __init__(self, engine: Engine, job_id: int) -> None:
        super().__init__(engine, job_id)
        self._mode: str | None = None  # "edit" | "split" | "search" while the field is open

    # --- correcting ------------------------------------------------------------------------------

    def _open_field(self, mode: str, value: str, placeholder: str) -> None:
        self._mode = mode
        editor = self.editor
        # Over the cue's own line (edit, split); over the player bar for a search.
        cues, i = self.cue_list, self.selected
        area = cues.content_region
        y = self.bar.region.y
        if mode != "search" and i is not None:
            line = cues._index_to_line.get(i, 0) - int(cues.scroll_offset.y)
            if 0 <= line < area.height:
                y = area.y + line
        editor.styles.offset = (area.x, y)
        editor.styles.width = area.width
        editor.placeholder = placeholder
        editor.value = value
        editor.add_class("-open")
        editor.focus()
        # After the value has settled (setting it moves the cursor to the end).
        at = len(value) // 2 if mode == "split" else len(value)
        self.call_after_refresh(setattr, editor, "cursor_position", at)

    def _close_field(self) -> None:
        self._mode = None
        self.editor.remove_class("-open")
        self.cue_list.focus()

    def action_edit(self) -> None:
        if (i := self._editable()) is not None:
            self._open_field("edit", self.cues[i].text, "Enter saves, Escape cancels")

    def action_split(self) -> None:
        if (i := self._editable()) is not None:
            self._open_field("split", self.cues[i].text, "Move the cursor; Enter splits there")

    def action_search(self) -> None:
        self._open_field("search", self.query_text, "Find in the cues (Enter: find)")

    def _editable(self) -> int | None:
        i = self.selected
        if i is None or not self.cues:
            self.notify("There is no cue to change.", severity="warning", markup=False)
            return None
        return i

    @on(Input.Submitted, "#review-editor")
    def _submitted(self, message: Input.Submitted) -> None:
        mode, i = self._mode, self.selected
        value, at = message.value, self.editor.cursor_position
        self._close_field()
        if mode == "search":
            self.query_text = value.strip()
            self.load()
            found = self.matches()
            self.notify(f"{len(found)} cue(s) match.", markup=False)
            if found:
                self.action_match(1)
            return
        if i is None:
            return
        if mode == "edit":
            _, before = self._guard(lambda: self.engine.review.edit(self.job_id, i, value))
            if before is not None:
                self.load()
                self._offer_rule(before.text, " ".join(value.split()))
        elif (
            mode == "split" and self._guard(lambda: self.engine.review.split(self.job_id, i, at))[0]
        ):
            self.load()

    def action_back(self) -> None:
        if self._mode is not None:
            self._close_field()  # Escape in the field cancels it
            return
        self.dismiss(None)

    def action_merge(self) -> None:
        if (i := self._editable()) is not None and self._guard(
            lambda: self.engine.review.merge(self.job_id, i)
        )[0]:
            self.load()

    def action_undo(self) -> None:
        ok, action = self._guard(lambda: self.engine.review.undo(self.job_id))
        if not ok:
            return
        self.notify(f"Undid: {action}." if action else "Nothing to undo.", markup=False)
        self.load()

    def action_revert_cue(self) -> None:
        if (i := self._editable()) is None:
            return
        _, done = self._guard(lambda: self.engine.review.revert_cue(self.job_id, i))
        if done:
            self.notify("The cue is the model's text again (u undoes).", markup=False)
            self.load()

    def action_revert_job(self) -> None:
        ok, count = self._guard(lambda: self.engine.review.revert_job(self.job_id))
        if ok:
            self.notify(
                f"Back to the model's text: {count} correction(s) removed (u undoes).",
                markup=False,
            )
            self.load()

    def _offer_rule(self, before: str, after: str) -> None:
        change = replaced_phrase(before, after)
        if change is None:
            return
        old, new = change
        known = {r.source: r.target for r in self.engine.review.rules_for(self.job.source)}
        if known.get(old) == new:
            return
        folder = self.job.source.parent

        def chosen(scope: str | None) -> None:
            if scope is None:
                return
            self._guard(lambda: self.engine.review.learn(old, new, scope))
            where = "in this folder" if scope else "everywhere"
            self.notify(f"Learnt {where}: always write {old!r} as {new!r}.", markup=False)

        self.app.push_screen(LearnScreen(old, new, folder), chosen)

    def _guard(self, verb: Callable[[], T]) -> tuple[bool, T | None]:
        """(True, what the verb returned), or (False, None) after showing why it failed."""
        try:
            return True, verb()
        except (JobStateError, ValueError) as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return False, None

    # --- finding ---------------------------------------------------------------------------------

    def _jump(self, candidates: list[int], step: int, none: str) -> None:
        if not candidates:
            self.notify(none, markup=False)
            return
        here = self.selected if self.selected is not None else -1
        after = [c for c in candidates if (c > here if step > 0 else c < here)]
        target = (
            (after[0] if step > 0 else after[-1]) if after else candidates[0 if step > 0 else -1]
        )
        self._expected = target
        self.cue_list.highlighted = target
        self.following = False

    def action_doubt(self, step: int) -> None:
        self._jump(sorted(self.doubtful()), step, "Nothing flagged: no warnings, edits or matches.")

    def action_match(self, step: int) -> None:
        self._jump(self.matches(), step, "No search matches (/ to search).")

    def action_next_job(self) -> None:
        store = self.engine.store
        waiting = [
            j
            for j in store.list_jobs([JobState.NEEDS_REVIEW.value], newest_first=False)
            if not j.reviewed and j.id != self.job_id
        ]
        if not waiting:
            self.notify("No other job needs review.", markup=False)
            return
        later = [j for j in waiting if j.id > self.job_id]
        self.open_job((later or waiting)[0].id)

    def open_job(self, job_id: int) -> None:
        if self.player is not None:
            self.player.close()
            self.player = None
        self.job_id = job_id
        self.query_text = ""
        self.following = True
        self.load()
        if self.cues:
            self.cue_list.highlighted = 0

    def action_mark_reviewed(self) -> None:
        job = self.job
        if job.state not in FINISHED:
            return
        self._guard(lambda: self.engine.mark_reviewed(job.id, not job.reviewed))
        self.load()
        self.notify(
            "Marked reviewed." if not job.reviewed else "Review mark removed.", markup=False
        )

    def action_help(self) -> None:
        bindings = [b for b in REVIEW_BINDINGS if isinstance(b, Binding)]
        rows = help_rows(self.app, bindings, self.engine.settings.keymap)
        self.app.push_screen(HelpScreen(rows))

    def action_glossary(self) -> None:
        self.app.push_screen(GlossaryScreen(self.engine.store, self.job.source.parent))
