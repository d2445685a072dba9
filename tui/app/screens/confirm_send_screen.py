"""Before paid audio goes out again: what would be sent (files, minutes, estimated cost).

Shown for a re-run of a finished job, a cross-check, ``t`` on files that already have a
transcript, and any batch over the confirmation threshold. Files already transcribed are left
out unless the user ticks the box that includes them; Escape or Cancel sends nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Static

from tui.engine.estimates import SendEstimate
from tui.transcript.cost import format_amount

LISTED = 8  # files listed by name; the rest are counted


@dataclass(frozen=True)
class SendRequest:
    """``title``: what the action is ("Transcribe 4 files"); ``estimate``: every file it
    covers; ``optional``: already-transcribed files may be left out (``t``), rather than
    being the point of the action (a re-run, a cross-check); ``note``: one more sentence."""

    title: str
    estimate: SendEstimate
    verb: str = "Send"
    optional: bool = True
    note: str = ""
    model: str = ""


@dataclass(frozen=True)
class SendChoice:
    paths: tuple[Path, ...]


class ConfirmSendScreen(ModalScreen[SendChoice | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False, id="confirm-cancel"),
    ]
    DEFAULT_CSS = """
    ConfirmSendScreen { align: center middle; }
    ConfirmSendScreen > Vertical {
        width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $warning; background: $surface; padding: 0 1;
    }
    ConfirmSendScreen #confirm-files { height: auto; max-height: 10; }
    ConfirmSendScreen #confirm-summary { margin-top: 1; text-style: bold; }
    ConfirmSendScreen #confirm-note { color: $text-muted; }
    ConfirmSendScreen Checkbox { margin-top: 1; }
    ConfirmSendScreen Horizontal { height: auto; align-horizontal: right; margin-top: 1; }
    ConfirmSendScreen Button { margin-left: 2; }
    """

    def __init__(self, request: SendRequest) -> None:
        super().__init__()
        self.request = request
        self.include_transcribed = not request.optional

    @property
    def chosen(self) -> SendEstimate:
        est = self.request.estimate
        return est if self.include_transcribed else est.without(est.transcribed)

    def compose(self) -> ComposeResult:
        req, est = self.request, self.request.estimate
        with Vertical() as box:
            box.border_title = req.title
            with VerticalScroll(id="confirm-files"):
                yield Static(self._file_lines(), markup=False, id="confirm-list")
            yield Static("", id="confirm-summary", markup=False)
            if req.note:
                yield Static(req.note, id="confirm-note", markup=False)
            if req.optional and est.transcribed:
                again = est.without(p for p in est.files if p not in est.transcribed)
                label = (
                    f"Also send the {len(est.transcribed)} already transcribed again "
                    f"({again.minutes:.1f} min, about {format_amount(again.amount, again.currency)})"
                )
                yield Checkbox(label, False, id="confirm-include")
            with Horizontal():
                yield Button("Cancel", id="confirm-no")
                yield Button(req.verb, variant="warning", id="confirm-yes")

    def on_mount(self) -> None:
        self._refresh_summary()
        self.query_one("#confirm-no", Button).focus()  # a stray Enter sends nothing

    def _file_lines(self) -> Text:
        est = self.request.estimate
        text = Text()
        for path in est.files[:LISTED]:
            seconds = est.durations.get(path)
            length = f"{seconds / 60:5.1f} min" if seconds is not None else "  length ?"
            text.append(f"{length}  ", style="dim")
            text.append(path.name)
            if path in est.transcribed:
                text.append("  already transcribed", style="yellow")
            text.append("\n")
        if len(est.files) > LISTED:
            text.append(f"… and {len(est.files) - LISTED} more\n", style="dim")
        text.rstrip()
        return text

    def _refresh_summary(self) -> None:
        chosen = self.chosen
        summary = Text()
        if chosen.files:
            summary.append(chosen.describe())
            if self.request.model:
                summary.append(f" ({self.request.model}, list price)", style="dim")
        else:
            summary.append("Nothing new to send: every file is already transcribed.")
        self.query_one("#confirm-summary", Static).update(summary)
        self.query_one("#confirm-yes", Button).disabled = not chosen.files

    @on(Checkbox.Changed, "#confirm-include")
    def include_changed(self, event: Checkbox.Changed) -> None:
        self.include_transcribed = event.value
        self._refresh_summary()

    @on(Button.Pressed, "#confirm-yes")
    def send(self) -> None:
        self.dismiss(SendChoice(self.chosen.files))

    @on(Button.Pressed, "#confirm-no")
    def action_cancel(self) -> None:
        self.dismiss(None)
