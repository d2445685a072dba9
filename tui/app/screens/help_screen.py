"""Every key the workbench answers to (after the user's keymap), in one modal."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "Browse on the left, queue files with t, and read the transcript as it streams in. "
    "Everything is also in the command palette (ctrl+p). Keys can be remapped in the config "
    "file's [keymap] table, by binding id (shown on the right)."
)


def help_rows(
    app: App[Any], bindings: list[Binding], keymap: dict[str, str]
) -> list[tuple[str, str, str]]:
    """(keys as displayed after the keymap, what it does, binding id) for each binding."""
    rows: list[tuple[str, str, str]] = []
    for binding in bindings:
        keys = keymap.get(binding.id or "", binding.key)
        shown = ", ".join(
            app.get_key_display(dataclasses.replace(binding, key=k.strip()))
            for k in keys.split(",")
        )
        rows.append((shown, binding.tooltip or binding.description, binding.id or ""))
    rows.append(("ctrl+p", "Command palette: every action by name", ""))
    rows.append(("Esc", "Close the search bar or a dialog", ""))
    return rows


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close", show=False),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 84; max-width: 95%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        """``rows``: (keys as displayed, description, binding id)."""
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("Key", no_wrap=True)
        table.add_column("Does")
        table.add_column("Binding id", style="dim", no_wrap=True)
        for keys, description, binding_id in self.rows:
            table.add_row(Text(keys, style="bold"), Text(description), Text(binding_id))
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            yield Static(Text(INTRO), markup=False)
            yield Static(table)
            yield Static(Text("Esc closes this screen.", style="dim"), markup=False)
