""" "How many speakers?" — asked when files are queued in a folder that has no answer yet.

Shown before the cost check and before anything is sent. The answer can be remembered for the
folder (its ``.stepfun-asr.toml``) or made the global setting ("don't ask again"); Escape
queues (or watches) nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from tui.folder_settings import FOLDER_FILE

ANSWERS = ("auto", "2", "3", "4", "5", "6", "off")


@dataclass(frozen=True)
class SpeakerCountChoice:
    """``value``: a ``speakers`` setting (auto, a count, off); ``remember``: write it into the
    folder's file; ``everywhere``: make it the global setting and stop asking."""

    value: str
    remember: bool
    everywhere: bool


class SpeakerCountScreen(ModalScreen[SpeakerCountChoice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "answer('auto')", "auto", show=False, id="speaker-count-auto"),
        *(
            Binding(n, f"answer('{n}')", n, show=False, id=f"speaker-count-{n}")
            for n in ANSWERS[1:-1]
        ),
        Binding("o", "answer('off')", "off", show=False, id="speaker-count-off"),
        Binding("escape", "cancel", "Cancel", show=False, id="speaker-count-cancel"),
    ]
    DEFAULT_CSS = """
    SpeakerCountScreen { align: center middle; }
    SpeakerCountScreen > Vertical {
        width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    SpeakerCountScreen #speaker-count-about { color: $text-muted; }
    SpeakerCountScreen #speaker-count-answers { height: auto; margin-top: 1; }
    SpeakerCountScreen #speaker-count-answers Button { min-width: 8; margin-right: 1; }
    SpeakerCountScreen Checkbox { margin-top: 1; }
    """

    def __init__(self, folder: Path, what: str) -> None:
        """``what``: the recordings it is for ("2 files", "new recordings")."""
        super().__init__()
        self.folder = folder
        self.what = what

    def compose(self) -> ComposeResult:
        where = f"{self.what} in {self.folder}"
        with Vertical() as box:
            box.border_title = "How many speakers?"
            yield Static(
                f"Speaker labels for {where}: computed on this machine while the audio "
                "uploads (nothing more is sent or paid). auto guesses the count; giving it "
                "is more accurate. a, 2–6, o pick; Esc cancels.",
                id="speaker-count-about",
                markup=False,
            )
            with Horizontal(id="speaker-count-answers"):
                for answer in ANSWERS:
                    yield Button(answer, id=f"speaker-count-{answer}")
            yield Checkbox(
                Text(
                    f"Remember for this folder ({FOLDER_FILE} in {self.folder.name or self.folder})"
                ),
                True,
                id="speaker-count-remember",
            )
            yield Checkbox(
                Text("Don't ask again: use this answer everywhere (the speakers setting)"),
                False,
                id="speaker-count-everywhere",
            )

    def on_mount(self) -> None:
        self.query_one("#speaker-count-auto", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer((event.button.id or "").removeprefix("speaker-count-"))

    def action_answer(self, value: str) -> None:
        if value not in ANSWERS:
            return
        self.dismiss(
            SpeakerCountChoice(
                value,
                remember=self.query_one("#speaker-count-remember", Checkbox).value,
                everywhere=self.query_one("#speaker-count-everywhere", Checkbox).value,
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
