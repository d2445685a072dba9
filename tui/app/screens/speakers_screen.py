"""A job's speakers: who talks how long, their first words, and renaming, merging and undo.

Every change goes to the engine's verbs (``Engine.rename_speaker`` …), which store it beside
the computed labels, rewrite the job's transcript files and publish ``SpeakersEdited`` (the
main screen then shows the transcript again). While the name box is open it owns the keyboard:
Enter saves, Escape cancels. User text is never read as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.engine.engine import Engine
from tui.engine.speaker_editor import SpeakerOverview
from tui.store.speaker_edits import MAX_NAME, SpeakerEditError
from tui.transcript.speaker_summary import SpeakerLine

HELP = "Enter/r: rename   m: merge into another   u: undo the last edit   Esc: close"
SEPARATE = "separate"  # the merge picker's option that takes a merge apart


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class SpeakersScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "rename", "Rename", id="speakers-rename"),
        Binding("m", "merge", "Merge", id="speakers-merge"),
        Binding("u", "undo", "Undo", id="speakers-undo"),
        Binding("escape", "close", "Close", id="speakers-close"),
    ]
    DEFAULT_CSS = """
    SpeakersScreen { align: center middle; }
    SpeakersScreen > Vertical {
        width: 110; max-width: 95%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    SpeakersScreen #speakers-job { text-style: bold; }
    SpeakersScreen #speakers-note { color: $warning; height: auto; }
    SpeakersScreen DataTable { height: auto; max-height: 16; margin-top: 1; }
    SpeakersScreen #speakers-name, SpeakersScreen #speakers-pick,
    SpeakersScreen #speakers-pick-title { display: none; }
    SpeakersScreen #speakers-name.-open, SpeakersScreen #speakers-pick.-open,
    SpeakersScreen #speakers-pick-title.-open { display: block; }
    SpeakersScreen #speakers-pick { height: auto; max-height: 10; }
    SpeakersScreen #speakers-help { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, engine: Engine, job_id: int, overview: SpeakerOverview) -> None:
        super().__init__()
        self.engine = engine
        self.job_id = job_id
        self.overview = overview
        self._merging: int | None = None  # the speaker being merged while the picker is open
        self._renaming: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Speakers"
            yield Static(self.overview.job.name, id="speakers-job", markup=False)
            yield Static("", id="speakers-note", markup=False)
            yield DataTable(id="speakers-table", cursor_type="row", zebra_stripes=True)
            yield Input(max_length=MAX_NAME, id="speakers-name")
            yield Static("", id="speakers-pick-title", markup=False)
            yield OptionList(id="speakers-pick")
            yield Static(HELP, id="speakers-help", markup=False)

    def on_mount(self) -> None:
        table = self.table
        table.add_columns("#", "Speaker", "Talks", "Words", "First words")
        self._fill()
        table.focus()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#speakers-table", DataTable)

    @property
    def lines(self) -> list[SpeakerLine]:
        return self.overview.lines

    def _fill(self) -> None:
        table = self.table
        row = table.cursor_row
        table.clear()
        for line in self.lines:
            label = Text(line.label)
            if line.merged_into:
                label.append(f" → {line.merged_into}", style="dim")
            table.add_row(
                Text(str(line.speaker)),
                label,
                Text(_clock(line.talk_s), justify="right"),
                Text(str(line.words), justify="right"),
                Text(line.first_words, style="italic"),
                key=str(line.speaker),
            )
        if self.lines:
            table.move_cursor(row=max(0, min(row, len(self.lines) - 1)))
        turns = self.overview.turns
        note = f"{turns.count} speaker{'s' if turns.count != 1 else ''} found ({turns.requested})"
        note += " on this machine; labels are estimates."
        if turns.unsure:
            suggested = f" (perhaps {turns.suggested})" if turns.suggested else ""
            note += (
                f" The count is uncertain{suggested}: merge speakers here, or give the "
                "count and run the job again (paid again)."
            )
        self.query_one("#speakers-note", Static).update(note)

    def _current(self) -> SpeakerLine | None:
        if not self.lines:
            return None
        return self.lines[max(0, min(self.table.cursor_row, len(self.lines) - 1))]

    def _reload(self) -> None:
        self.overview = self.engine.speakers(self.job_id)
        self._fill()

    def _apply(self, verb: str, edit: Callable[[], object]) -> bool:
        """Run an engine verb; a refusal is shown and nothing else changes."""
        try:
            edit()
        except SpeakerEditError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return False
        self._reload()
        self.notify(verb, markup=False)
        return True

    # --- rename --------------------------------------------------------------------------------

    def action_rename(self) -> None:
        line = self._current()
        if line is None:
            return
        self._close_picker()
        self._renaming = line.speaker
        name = self.query_one("#speakers-name", Input)
        name.placeholder = f"Name for speaker {line.speaker} (Enter saves, Esc cancels)"
        name.value = line.label if line.label != f"Speaker {line.speaker}" else ""
        name.add_class("-open")
        name.focus()

    @on(DataTable.RowSelected, "#speakers-table")
    def _row_chosen(self) -> None:
        self.action_rename()

    @on(Input.Submitted, "#speakers-name")
    def _name_entered(self, event: Input.Submitted) -> None:
        event.stop()
        speaker = self._renaming
        if speaker is None:
            return
        value = event.value
        if self._apply(
            f"Speaker {speaker} is now {' '.join(value.split())}.",
            lambda: self.engine.rename_speaker(self.job_id, speaker, value),
        ):
            self._close_name()

    def _close_name(self) -> None:
        self._renaming = None
        name = self.query_one("#speakers-name", Input)
        name.remove_class("-open")
        name.value = ""
        self.table.focus()

    # --- merge ---------------------------------------------------------------------------------

    def action_merge(self) -> None:
        line = self._current()
        if line is None:
            return
        others = [o for o in self.lines if o.speaker != line.speaker and not o.merged_into]
        if not others and not line.merged_into:
            self.notify("There is no other speaker to merge into.", markup=False)
            return
        self._close_name()
        self._merging = line.speaker
        title = self.query_one("#speakers-pick-title", Static)
        title.update(f"Merge {line.label} into … (Enter picks, Esc cancels)")
        picker = self.query_one("#speakers-pick", OptionList)
        picker.clear_options()
        if line.merged_into:
            picker.add_option(Option(Text(f"Keep {line.label} apart again"), id=SEPARATE))
        for other in others:
            picker.add_option(
                Option(Text(f"{other.speaker}  {other.label}"), id=str(other.speaker))
            )
        picker.highlighted = 0
        title.add_class("-open")
        picker.add_class("-open")
        picker.focus()

    @on(OptionList.OptionSelected, "#speakers-pick")
    def _target_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        source, target = self._merging, event.option.id
        if source is None or target is None:
            return
        self._close_picker()
        if target == SEPARATE:
            self._apply(
                f"Speaker {source} is apart again.",
                lambda: self.engine.separate_speaker(self.job_id, source),
            )
            return
        into = int(target)
        self._apply(
            f"Speaker {source} merged into speaker {into}.",
            lambda: self.engine.merge_speakers(self.job_id, source, into),
        )

    def _close_picker(self) -> None:
        self._merging = None
        for part in ("#speakers-pick-title", "#speakers-pick"):
            self.query_one(part).remove_class("-open")
        self.table.focus()

    # --- undo and close ------------------------------------------------------------------------

    def action_undo(self) -> None:
        undone = self.engine.undo_speaker_edit(self.job_id)
        if undone is None:
            self.notify("Nothing to undo (edits of this session only).", markup=False)
            return
        self._reload()
        self.notify(f"Undone: {undone}.", markup=False)

    def action_close(self) -> None:
        # Escape closes the name box or the picker first; the screen only when neither is open.
        if self._renaming is not None:
            self._close_name()
        elif self._merging is not None:
            self._close_picker()
        else:
            self.dismiss(None)
