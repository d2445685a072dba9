"""One line under the review transcript: playing or paused, the position, the speed, the cue."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.playback.player import format_position


class PlayerBar(Static):
    DEFAULT_CSS = """
    PlayerBar { width: 1fr; height: 1; padding: 0 1; background: $boost; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.line = ""

    def show(
        self,
        *,
        playing: bool,
        position_ms: int,
        speed: float,
        cue: int | None,
        cues: int,
        edited: int,
        following: bool,
        note: str = "",
    ) -> None:
        state = "▶ " if playing else "‖ "
        parts = [state + format_position(position_ms), f"{speed:g}×"]
        if cues:
            parts.append(f"cue {cue + 1 if cue is not None else '-'}/{cues}")
        if edited:
            parts.append(f"{edited} edited")
        if playing and not following:
            parts.append("not following (f)")
        if note:
            parts.append(note)
        line = "   ".join(parts)
        if line != self.line:  # a redraw only when the text changed
            self.line = line
            # One row, the screen's width: a new text needs no layout (this runs at 10 Hz
            # while playing; a layout of the review screen costs ~5 ms).
            self.update(Text(line), layout=False)
