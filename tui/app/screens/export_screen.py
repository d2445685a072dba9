"""Export the selected transcript: pick formats, a folder and what to do with existing files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, SelectionList, Static

from tui.transcript.formats import FORMATS

POLICIES = [
    ("replace existing files", "overwrite"),
    ("add a number (talk.1.txt)", "suffix"),
    ("skip existing files", "skip"),
]


@dataclass(frozen=True)
class ExportChoice:
    formats: tuple[str, ...]
    out_dir: Path | None
    policy: str


class ExportScreen(ModalScreen[ExportChoice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Cancel", show=False),
        Binding("ctrl+s", "export", "Export", show=False),
    ]
    DEFAULT_CSS = """
    ExportScreen { align: center middle; }
    ExportScreen > VerticalScroll {
        width: 72; max-width: 95%; height: auto; border: round $primary;
        background: $surface; padding: 0 2;
    }
    ExportScreen Label { margin-top: 1; text-style: bold; }
    ExportScreen SelectionList { height: auto; }
    ExportScreen #export-error { color: $error; height: auto; }
    /* Docked: on a short terminal the form scrolls and the buttons stay in view. */
    ExportScreen Horizontal {
        dock: bottom; height: auto; align-horizontal: right; background: $surface;
    }
    ExportScreen Button { margin-left: 2; }
    """

    def __init__(self, name: str, formats: list[str], source_dir: Path) -> None:
        super().__init__()
        self.job_name = name
        self.formats = formats
        self.source_dir = source_dir

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Export transcript"
            yield Static(
                Text(f"Write the transcript of {self.job_name}", style="bold"), markup=False
            )
            yield Label("Formats")
            yield SelectionList[str](
                *[(f, f, f in self.formats) for f in FORMATS], id="export-formats"
            )
            yield Label("Folder (empty: next to the audio file)")
            yield Input(placeholder="e.g. ~/transcripts", id="export-dir")
            yield Label("If a transcript file already exists")
            yield Select(POLICIES, value="overwrite", allow_blank=False, id="export-policy")
            yield Static("", id="export-error", markup=False)
            with Horizontal():
                yield Button("Cancel", id="export-cancel")
                yield Button("Export", variant="primary", id="export-ok")

    def on_mount(self) -> None:
        self.query_one("#export-formats", SelectionList).focus()

    @on(Button.Pressed, "#export-ok")
    def action_export(self) -> None:
        formats = tuple(str(f) for f in self.query_one("#export-formats", SelectionList).selected)
        if not formats:
            self.query_one("#export-error", Static).update("Choose at least one format.")
            return
        raw = self.query_one("#export-dir", Input).value.strip()
        out_dir = Path(raw).expanduser() if raw else None
        if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
            self.query_one("#export-error", Static).update(Text(f"{out_dir} is not a folder."))
            return
        policy = str(self.query_one("#export-policy", Select).value)
        self.dismiss(ExportChoice(formats, out_dir, policy))

    @on(Button.Pressed, "#export-cancel")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)
