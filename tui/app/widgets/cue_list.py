"""The review screen's transcript: one line per cue, with its time; edited cues marked (✎, or
⚙ for a glossary correction), cues to check marked !, the cue being heard highlighted. The
cursor is the selected cue.

The cue being heard is drawn with its own style at render time, not by changing its prompt:
changing a prompt makes the option list forget every line's layout (1200 cues re-measured
each time the playback moves on a cue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widgets import OptionList

from tui.playback.player import format_position
from tui.transcript.corrected import ReviewCue


def cue_prompt(cue: ReviewCue, *, doubtful: bool = False) -> Text:
    line = Text(no_wrap=False)
    line.append(format_position(cue.start_ms), style="dim")
    mark = " "
    if cue.correction is not None:
        mark = "⚙" if cue.correction.origin == "glossary" else "✎"
    line.append(f" {mark}{'!' if doubtful else ' '} ", style="bold yellow")
    line.append(cue.text, style="italic" if cue.edited else "")
    return line


class CueList(OptionList):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"cue-list--playing"}
    DEFAULT_CSS = """
    /* No focus border: the rows stay put when the editor opens over one of them. */
    CueList, CueList:focus { height: 1fr; border: none; }
    CueList > .cue-list--playing { background: $success 35%; text-style: bold; }
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
        self.set_options([cue_prompt(c, doubtful=c.index in doubtful) for c in cues])
        if self.cues:
            self.highlighted = min(keep or 0, len(self.cues) - 1)

    def mark_playing(self, index: int | None) -> None:
        """Move the playing highlight (a redraw; the layout is kept)."""
        if index != self.playing:
            self.playing = index
            self.refresh()

    def render_line(self, y: int) -> Strip:
        playing = self.playing
        if playing is None:
            return super().render_line(y)
        try:
            index, offset = self._lines[self.scroll_offset.y + y]
        except IndexError:
            return super().render_line(y)
        if index != playing:
            return super().render_line(y)
        classes = ["cue-list--playing"]
        if self.highlighted == index:
            classes.insert(0, "option-list--option-highlighted")
        style = self.get_visual_style("option-list--option", *classes)
        strips = self._get_option_render(self.options[index], style)
        return strips[offset] if offset < len(strips) else super().render_line(y)

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.post_message(self.ScrolledAway())

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.post_message(self.ScrolledAway())
