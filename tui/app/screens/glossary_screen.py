"""The glossary in the workbench: its rules (global and per folder), add and remove; and the
question asked after an edit that replaced a word: "always write X as Y?"."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

from tui.store.glossary import GlossaryError
from tui.store.store import Store


class LearnScreen(ModalScreen[str | None]):
    """Returns the scope to remember the rule in ("" everywhere, a folder), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "choose('all')", "Everywhere", id="learn-everywhere"),
        Binding("f", "choose('folder')", "This folder", id="learn-folder"),
        Binding("n,escape", "choose('no')", "No", id="learn-no"),
    ]
    DEFAULT_CSS = """
    LearnScreen { align: center middle; }
    LearnScreen > Vertical {
        width: 72; max-width: 95%; height: auto; border: round $primary;
        background: $surface; padding: 1 2;
    }
    LearnScreen Horizontal { height: auto; margin-top: 1; }
    LearnScreen Button { margin-right: 2; }
    """

    def __init__(self, old: str, new: str, folder: Path) -> None:
        super().__init__()
        self.old, self.new, self.folder = old, new, folder

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Teach the glossary"
            yield Static(
                Text(f"Always write “{self.old}” as “{self.new}”?", style="bold"), markup=False
            )
            yield Static(
                Text(
                    "Later jobs send it as a hotword and get it corrected (shown as an edit, "
                    "revertible).",
                    style="dim",
                ),
                markup=False,
            )
            with Horizontal():
                yield Button("y: everywhere", id="learn-all", variant="primary")
                yield Button(f"f: under {self.folder.name or self.folder}/", id="learn-folder")
                yield Button("n: no", id="learn-no")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose((event.button.id or "learn-no").removeprefix("learn-"))

    def action_choose(self, choice: str) -> None:
        if choice == "all":
            self.dismiss("")
        elif choice == "folder":
            self.dismiss(str(self.folder))
        else:
            self.dismiss(None)


class GlossaryScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add", id="glossary-add"),
        Binding("x,delete", "remove", "Remove", id="glossary-remove"),
        Binding("escape", "close", "Close", id="glossary-close"),
    ]
    DEFAULT_CSS = """
    GlossaryScreen { align: center middle; }
    GlossaryScreen > Vertical {
        width: 100; max-width: 95%; height: 80%; border: round $primary;
        background: $surface; padding: 0 1;
    }
    GlossaryScreen DataTable { height: 1fr; }
    GlossaryScreen #glossary-form { height: auto; display: none; }
    GlossaryScreen #glossary-form.-open { display: block; }
    GlossaryScreen #glossary-form Input { width: 1fr; }
    GlossaryScreen #glossary-help { height: auto; color: $text-muted; }
    """

    def __init__(self, store: Store, folder: Path | None = None) -> None:
        super().__init__()
        self.store = store
        self.folder = folder

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Glossary: always write FROM as TO"
            yield DataTable(id="glossary-table", cursor_type="row")
            with Horizontal(id="glossary-form"):
                yield Input(placeholder="FROM (as the model writes it)", id="glossary-from")
                yield Input(placeholder="TO (Enter adds)", id="glossary-to")
            yield Static(
                Text(
                    "a: add (everywhere)   x: remove   Esc: close — rules apply to later jobs: "
                    "hotwords in the request, corrections on the transcript."
                ),
                id="glossary-help",
                markup=False,
            )

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("FROM", "TO", "WHERE")
        self.refresh_rules()
        table.focus()

    def refresh_rules(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for rule in self.store.glossary.rules():
            table.add_row(
                Text(rule.source),
                Text(rule.target),
                Text(rule.scope or "everywhere"),
                key=f"{rule.scope}\0{rule.source}",
            )

    def action_add(self) -> None:
        self.query_one("#glossary-form").add_class("-open")
        self.query_one("#glossary-from", Input).focus()

    @on(Input.Submitted, "#glossary-from")
    def _from_done(self) -> None:
        self.query_one("#glossary-to", Input).focus()

    @on(Input.Submitted, "#glossary-to")
    def _to_done(self) -> None:
        source = self.query_one("#glossary-from", Input).value
        target = self.query_one("#glossary-to", Input).value
        try:
            self.store.glossary.add(source, target)
        except GlossaryError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        for field in ("#glossary-from", "#glossary-to"):
            self.query_one(field, Input).value = ""
        self.query_one("#glossary-form").remove_class("-open")
        self.refresh_rules()
        self.query_one(DataTable).focus()

    def action_remove(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        scope, _, source = key.partition("\0")
        self.store.glossary.remove(source, scope)
        self.refresh_rules()

    def action_close(self) -> None:
        form = self.query_one("#glossary-form")
        if form.has_class("-open"):
            form.remove_class("-open")
            self.query_one(DataTable).focus()
            return
        self.dismiss(None)
