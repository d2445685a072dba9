"""The review screen's transcript: one line per cue, with its time; edited cues marked (✎, or
⚙ for a glossary correction), the cue being heard marked ▶. The cursor is the selected cue."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import OptionList

from tui.playback.player import format_position
from tui.transcript.corrected import ReviewCue


def cue_prompt(cue: ReviewCue, *, playing: bool = False, doubtful: bool = False) -> Text:
    line = Text(no_wrap=False)
    line.append("▶ " if playing else "  ", style="bold green" if playing else "")
    line.append(format_position(cue.start_ms), style="dim")
    mark = " "
    if cue.correction is not None:
        mark = "⚙" if cue.correction.origin == "glossary" else "✎"
    line.append(f" {mark}{'!' if doubtful else ' '} ", style="bold yellow")
    line.append(cue.text, style="bold" if playing else ("italic" if cue.edited else ""))
    return line


class CueList(OptionList):
    DEFAULT_CSS = """
    CueList { height: 1fr; border: none; }
    """

    class ScrolledAway(Message):
        """The user scrolled the list with the mouse: stop following the playback."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.cues: list[ReviewCue] = []
        self.doubtful: set[int] = set()
        self.playing: int | None = None

    def show_cues(self, cues: Sequence[ReviewCue], doubtful: set[int]) -> None:
        keep = self.highlighted
        self.cues = list(cues)
        self.doubtful = doubtful
        if self.playing is not None and self.playing >= len(self.cues):
            self.playing = None
        self.set_options(
            [
                cue_prompt(c, playing=c.index == self.playing, doubtful=c.index in doubtful)
                for c in cues
            ]
        )
        if self.cues:
            self.highlighted = min(keep or 0, len(self.cues) - 1)

    def mark_playing(self, index: int | None) -> None:
        """Move the ▶ mark (two lines redrawn, not the list)."""
        if index == self.playing:
            return
        old, self.playing = self.playing, index
        for i in (old, index):
            if i is not None and i < len(self.cues):
                cue = self.cues[i]
                self.replace_option_prompt_at_index(
                    i, cue_prompt(cue, playing=i == index, doubtful=i in self.doubtful)
                )

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.post_message(self.ScrolledAway())

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.post_message(self.ScrolledAway())
