"""Reviewing one finished transcript: listen at a cue, correct it, and teach the glossary.

The cue list is the corrected transcript (``engine.review.cues``); every change goes through
``engine.review`` (stored beside the model's text, the job's files rewritten). Playback
(``tui.playback``) plays the original recording from the selected cue; a 10 Hz timer, running
only while playing, moves the ▶ mark and the position. The list follows the cue being heard
until the user moves or scrolls away (``f`` follows again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static

from tui.app.screens.glossary_screen import GlossaryScreen, LearnScreen
from tui.app.screens.help_screen import HelpScreen, help_rows
from tui.app.widgets.cue_list import CueList
from tui.app.widgets.player_bar import PlayerBar
from tui.audio.ffmpeg import FFMPEG_HELP, find_ffmpeg
from tui.engine.engine import Engine
from tui.playback.player import Player
from tui.playback.sinks import PlaybackUnavailable, open_sink
from tui.store.records import FINISHED, Job, JobState, JobStateError
from tui.transcript.corrected import ReviewCue, cue_at
from tui.transcript.glossary_rules import replaced_phrase
from tui.transcript.model import TranscriptionResult

T = TypeVar("T")

SEEK_MS = 5000
SPEED_STEP = 0.25
TICK_S = 0.1
PREPARE_AFTER_S = 0.08


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


class ReviewScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = REVIEW_BINDINGS
    DEFAULT_CSS = """
    ReviewScreen #review-title { height: 1; padding: 0 1; background: $boost; }
    ReviewScreen #review-editor {
        display: none; position: absolute; height: 1; border: none; padding: 0 1;
        background: $accent 40%;
    }
    ReviewScreen #review-editor.-open { display: block; }
    """
    # Said once per run: without a device everything but sound works.
    told_unavailable: ClassVar[bool] = False

    def __init__(self, engine: Engine, job_id: int) -> None:
        super().__init__()
        self.engine = engine
        self.job_id = job_id
        self.cues: list[ReviewCue] = []
        self.model: TranscriptionResult | None = None
        self.player: Player | None = None
        self.following = True
        self.query_text = ""
        self._mode: str | None = None  # "edit" | "split" | "search" while the field is open
        self._expected: int | None = None
        self._timer: Timer | None = None
        self._notified_error: str | None = None
        self._prepare_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="review-title", markup=False)
        yield CueList(id="review-cues")
        yield Input(id="review-editor")
        yield PlayerBar(id="review-player")
        yield Footer()

    @property
    def cue_list(self) -> CueList:
        return self.query_one(CueList)

    @property
    def editor(self) -> Input:
        return self.query_one("#review-editor", Input)

    @property
    def bar(self) -> PlayerBar:
        return self.query_one(PlayerBar)

    def on_mount(self) -> None:
        self._timer = self.set_interval(TICK_S, self.tick, name="review-tick", pause=True)
        self.load()
        self.cue_list.focus()
        self._ensure_player(quiet=True)
        self._prepare()

    def on_unmount(self) -> None:
        if self.player is not None:
            self.player.close()
            self.player = None

    # --- the job ---------------------------------------------------------------------------------

    @property
    def job(self) -> Job:
        return self.engine.store.require_job(self.job_id)

    @property
    def selected(self) -> int | None:
        return self.cue_list.highlighted

    def load(self) -> None:
        """Read the job's cues again (after any change) and redraw."""
        job = self.job
        got = self.engine.store.corrections.cues(job.id)
        self.model, self.cues = got if got else (None, [])
        self.cue_list.show_cues(self.cues, self.doubtful())
        reviewed = self.engine.store.corrections.reviewed_at(job.id)
        when = f" · reviewed {_clock(reviewed)}" if job.reviewed and reviewed else ""
        warn = (
            f" · {len(self.model.warnings)} warning(s)"
            if self.model and self.model.warnings
            else ""
        )
        title = f"Review {job.name} (job {job.id}, {job.state.value}{when}{warn})"
        self.query_one("#review-title", Static).update(Text(title))
        self.show_bar()

    def doubtful(self) -> set[int]:
        """Cues that need a look: under a warning's span, edited, or matching the search."""
        out = {c.index for c in self.cues if c.edited}
        if self.model is not None:
            for warning in self.model.warnings:
                for start, end in warning.spans:
                    for c in self.cues:
                        if c.end_ms > start * 1000 and c.start_ms < end * 1000:
                            out.add(c.index)
        out |= set(self.matches())
        return out

    def matches(self) -> list[int]:
        q = self.query_text.casefold()
        return [c.index for c in self.cues if q and q in c.text.casefold()] if q else []

    # --- playback --------------------------------------------------------------------------------

    def _ensure_player(self, *, quiet: bool = False) -> Player | None:
        """The player, made on first use; None when there is no way to play (said once,
        unless ``quiet``: opening the screen tries without a word)."""
        if self.player is not None:
            return self.player
        job = self.job
        ffmpeg = find_ffmpeg(self.engine.settings.ffmpeg_path)
        problem = None
        if ffmpeg is None:
            problem = f"Cannot play: {FFMPEG_HELP}"
        elif not job.source.exists():
            problem = f"Cannot play: the recording is no longer at {job.source}."
        else:
            try:
                sink = open_sink(self.engine.settings.audio_device)
            except PlaybackUnavailable as exc:
                problem = f"Cannot play: {exc} Editing works without it."
        if problem is not None or ffmpeg is None:
            if not quiet and not ReviewScreen.told_unavailable:
                ReviewScreen.told_unavailable = True
                self.notify(problem or FFMPEG_HELP, severity="warning", markup=False)
            return None
        self.player = Player(job.source, sink, ffmpeg)
        return self.player

    def _play_from(self, ms: int) -> None:
        player = self._ensure_player()
        if player is None:
            return
        self.following = True
        self._notified_error = None
        player.play(ms)
        if self._timer is not None:
            self._timer.resume()
        self.tick()

    def tick(self) -> None:
        player = self.player
        if player is None:
            return
        position = player.position_ms
        cue = cue_at(self.cues, position)
        self.cue_list.mark_playing(cue if player.playing or position else None)
        if self.following and cue is not None and cue != self.selected and player.playing:
            self._expected = cue
            self.cue_list.highlighted = cue
        if not player.playing:
            if self._timer is not None:
                self._timer.pause()
            if player.error and player.error != self._notified_error:
                self._notified_error = player.error
                self.notify(f"Playback stopped: {player.error}", severity="error", markup=False)
        self.show_bar()

    def show_bar(self, note: str = "") -> None:
        player = self.player
        self.bar.show(
            playing=bool(player and player.playing),
            position_ms=player.position_ms if player else (self._selected_cue_start()),
            speed=player.speed if player else 1.0,
            cue=self.selected,
            cues=len(self.cues),
            edited=sum(1 for c in self.cues if c.edited),
            following=self.following,
            note=note,
        )

    def _selected_cue_start(self) -> int:
        i = self.selected
        return self.cues[i].start_ms if i is not None and i < len(self.cues) else 0

    @on(OptionList.OptionHighlighted, "#review-cues")
    def _highlighted(self, message: OptionList.OptionHighlighted) -> None:
        if message.option_index == self._expected:
            self._expected = None
        elif self.player is not None and self.player.playing:
            self.following = False  # the user moved: stop jumping to the cue being heard
        self.show_bar()
        if self.player is not None and not self.player.playing:
            # Decode ahead from the cue the cursor rests on (not from each one passed).
            if self._prepare_timer is not None:
                self._prepare_timer.stop()
            self._prepare_timer = self.set_timer(PREPARE_AFTER_S, self._prepare)

    def _prepare(self) -> None:
        player, i = self.player, self.selected
        if player is None or player.playing or i is None or i >= len(self.cues):
            return
        at = player.position_ms
        if cue_at(self.cues, at) != i or not at:
            at = self.cues[i].start_ms
        player.prepare(at)

    @on(CueList.ScrolledAway)
    def _scrolled(self) -> None:
        if self.player is not None and self.player.playing:
            self.following = False

    def action_play_pause(self) -> None:
        player = self.player
        if player is not None and player.playing:
            player.pause()
            self.tick()
            return
        i = self.selected
        if i is None:
            return
        # Resume where it stopped when that is still in the selected cue; else the cue's start.
        if player is not None and cue_at(self.cues, player.position_ms) == i and player.position_ms:
            self._play_from(player.position_ms)
        else:
            self._play_from(self.cues[i].start_ms)

    def action_seek(self, direction: int) -> None:
        player = self._ensure_player()
        if player is not None:
            player.seek(direction * SEEK_MS)
            self.following = True
            self.tick()

    def action_step_cue(self, step: int) -> None:
        if not self.cues:
            return
        player = self.player
        here = cue_at(self.cues, player.position_ms) if player and player.playing else self.selected
        target = max(0, min(len(self.cues) - 1, (here or 0) + step))
        self._expected = target
        self.cue_list.highlighted = target
        if player is not None and player.playing:
            self._play_from(self.cues[target].start_ms)

    def action_speed(self, step: int) -> None:
        player = self._ensure_player()
        if player is not None:
            speed = player.set_speed(player.speed + step * SPEED_STEP)
            if player.playing and self._timer is not None:
                self._timer.resume()
            self.show_bar(f"speed {speed:g}×")

    def action_follow(self) -> None:
        self.following = True
        self.tick()

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


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
