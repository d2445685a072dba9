"""The listening half of the review screen: the job's cues, the player, and following.

``ListeningScreen`` shows a finished job's corrected cues (``engine.store.corrections``) and
plays the original recording (``tui.playback``) from the selected cue. A 10 Hz timer, running
only while playing, moves the playing highlight and the ``▶ 00:03.2`` position; the list
follows the cue being heard until the user moves or scrolls away (``f`` follows again). While
paused, a decoder is started ahead from the cue the cursor rests on, so that ``space`` sounds
at once. ``ReviewScreen`` (``tui.app.screens.review_screen``) adds the keys and corrections.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, OptionList, Static

from tui.app.widgets.cue_list import CueList
from tui.app.widgets.player_bar import PlayerBar
from tui.audio.ffmpeg import FFMPEG_HELP, find_ffmpeg
from tui.engine.engine import Engine
from tui.playback.player import Player
from tui.playback.sinks import PlaybackUnavailable, open_sink
from tui.store.records import Job
from tui.transcript.corrected import ReviewCue, cue_at
from tui.transcript.model import TranscriptionResult

SEEK_MS = 5000
SPEED_STEP = 0.25
TICK_S = 0.1
PREPARE_AFTER_S = 0.08


class ListeningScreen(Screen[None]):
    DEFAULT_CSS = """
    ListeningScreen #review-title { height: 1; padding: 0 1; background: $boost; }
    ListeningScreen #review-editor {
        display: none; position: absolute; height: 1; border: none; padding: 0 1;
        background: $accent 40%;
    }
    ListeningScreen #review-editor.-open { display: block; }
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
            if not quiet and not type(self).told_unavailable:
                type(self).told_unavailable = True
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


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
