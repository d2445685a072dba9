"""Quitting while jobs run: say what would be sent (and paid) again next time, and offer to
finish them first."""

from __future__ import annotations

import enum
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.engine.estimates import SendEstimate


class QuitChoice(enum.StrEnum):
    NOW = "now"
    FINISH = "finish"


class QuitScreen(ModalScreen[QuitChoice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "stay", "Stay", show=False, id="quit-stay"),
    ]
    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    QuitScreen > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $warning; background: $surface; padding: 0 1;
    }
    QuitScreen Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    QuitScreen Button { margin-left: 1; }
    """

    def __init__(self, running: SendEstimate) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        est = self.running
        n = len(est.files)
        text = Text()
        text.append(f"{n} job{'s' if n != 1 else ''} still running: ", style="bold")
        text.append(", ".join(p.name for p in est.files[:4]))
        text.append(" …" if n > 4 else "")
        text.append("\n\nQuit now and they go back to the queue: next time they are sent ")
        text.append(f"again ({est.describe()}).", style="bold")
        with Vertical() as box:
            box.border_title = "Quit while transcribing?"
            yield Static(text, markup=False, id="quit-text")
            with Horizontal():
                yield Button("Stay", id="quit-no")
                yield Button("Finish running jobs, then quit", variant="primary", id="quit-finish")
                yield Button("Quit now", variant="error", id="quit-now")

    def on_mount(self) -> None:
        self.query_one("#quit-no", Button).focus()

    @on(Button.Pressed, "#quit-now")
    def quit_now(self) -> None:
        self.dismiss(QuitChoice.NOW)

    @on(Button.Pressed, "#quit-finish")
    def finish(self) -> None:
        self.dismiss(QuitChoice.FINISH)

    @on(Button.Pressed, "#quit-no")
    def action_stay(self) -> None:
        self.dismiss(None)
