"""First run without a key: say where to get one, and let the user paste it or quit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tui.config import REGIONS

EXPLANATION = (
    "stepfun-asr needs a StepFun API key to transcribe.\n\n"
    "• A pay-as-you-go key: create one at platform.stepfun.com (region cn) or "
    "platform.stepfun.ai (region intl).\n"
    "• A Step Plan subscription key: choose region cn-plan or intl-plan. A Step Plan key on a "
    "normal region (or the other way round) is refused by the service.\n\n"
    "The key is saved to your config file with mode 0600 and never shown again. "
    "No key? Run `stepfun-asr demo` to try everything against the built-in emulator."
)


@dataclass(frozen=True)
class KeyEntered:
    key: str
    region: str


class KeyScreen(ModalScreen[KeyEntered | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "quit_app", "Quit", show=False)]
    DEFAULT_CSS = """
    KeyScreen { align: center middle; }
    KeyScreen > Vertical {
        width: 80; max-width: 95%; height: auto; border: round $warning;
        background: $surface; padding: 1 2;
    }
    KeyScreen Input, KeyScreen Select { margin-bottom: 1; }
    KeyScreen #key-error { color: $error; height: auto; }
    KeyScreen Horizontal { height: auto; align-horizontal: right; }
    KeyScreen Button { margin-left: 2; }
    """

    def __init__(self, region: str = "cn") -> None:
        super().__init__()
        self.initial_region = region if region in REGIONS else "cn"

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "API key needed"
            yield Static(Text(EXPLANATION), markup=False)
            yield Label("Region")
            yield Select(
                [(r, r) for r in REGIONS],
                value=self.initial_region,
                allow_blank=False,
                id="key-region",
            )
            yield Label("API key")
            yield Input(password=True, placeholder="paste your key here", id="key-input")
            yield Static("", id="key-error", markup=False)
            with Horizontal():
                yield Button("Quit", id="key-quit")
                yield Button("Save key", variant="primary", id="key-save")

    def on_mount(self) -> None:
        self.query_one("#key-input", Input).focus()

    @on(Input.Submitted, "#key-input")
    @on(Button.Pressed, "#key-save")
    def save(self) -> None:
        key = self.query_one("#key-input", Input).value.strip()
        if not key or any(c.isspace() for c in key):
            self.query_one("#key-error", Static).update(
                "That does not look like an API key (empty or contains spaces)."
            )
            return
        region = str(self.query_one("#key-region", Select).value)
        self.dismiss(KeyEntered(key, region))

    @on(Button.Pressed, "#key-quit")
    def action_quit_app(self) -> None:
        self.dismiss(None)
