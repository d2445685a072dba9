"""A finished job's transcript beside its cross-check (step-asr-1.1), differences marked."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.app.text_diff import side_by_side


class CompareScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,d", "close", "Close", id="compare-close"),
    ]
    DEFAULT_CSS = """
    CompareScreen { align: center middle; }
    CompareScreen > Vertical {
        width: 100%; height: 100%; border: round $primary; background: $surface;
    }
    CompareScreen #compare-head { height: auto; padding: 0 1; }
    CompareScreen Horizontal { height: 1fr; }
    CompareScreen VerticalScroll { width: 1fr; border: round $panel-lighten-2; padding: 0 1; }
    """

    def __init__(
        self, name: str, main_model: str, main: str, check_model: str, check: str, similarity: float
    ) -> None:
        super().__init__()
        self.job_name = name
        self.models = (main_model, check_model)
        self.texts = (main, check)
        self.similarity = similarity

    def compose(self) -> ComposeResult:
        head = Text(f"{self.job_name}: ", style="bold")
        head.append(f"{self.similarity:.0%} similar", style="bold")
        head.append("   only on the left ", style="dim")
        head.append("like this", style="bold black on red")
        head.append("   only on the right ", style="dim")
        head.append("like this", style="bold black on green")
        head.append("   (Esc closes)", style="dim")
        with Vertical() as box:
            box.border_title = "Cross-check, side by side"
            yield Static(head, id="compare-head", markup=False)
            with Horizontal():
                with VerticalScroll(id="compare-left") as left:
                    left.border_title = self.models[0]
                    yield Static(Text(self.texts[0]), id="compare-main", markup=False)
                with VerticalScroll(id="compare-right") as right:
                    right.border_title = self.models[1]
                    yield Static(Text(self.texts[1]), id="compare-check", markup=False)

    async def on_mount(self) -> None:
        # difflib on long transcripts takes a moment: off the event loop.
        left, right = await asyncio.to_thread(side_by_side, *self.texts)
        self.query_one("#compare-main", Static).update(left)
        self.query_one("#compare-check", Static).update(right)

    def action_close(self) -> None:
        self.dismiss(None)
