"""The library: every job ever run, grouped by day or by folder, filtered by state, review and
date, with one search box across every transcript. Choosing a job or a search hit posts
``LibraryJobChosen`` to the app, which opens that job (at that cue, for a hit).

Jobs are read a page at a time (a screenful first, then ``PAGE`` rows when the cursor nears
the end), so the view opens at once whatever the size of the history. Filters are keys on the
list (s, r, d, g cycle state, review, date and grouping; one line shows them): a row of select
boxes doubled the time to open. Searches run in a thread worker.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from tui.store.library import FileMark, Grouping, LibraryFilter, mark_for
from tui.store.records import Job, JobState
from tui.store.search import QuerySyntaxError, SearchHit
from tui.store.store import Store

FIRST_PAGE = 60  # a screenful and some: the view shows at once
PAGE = 200
SEARCH_DELAY_S = 0.25  # typing pauses this long before a search runs
HITS = 100
DAY_S = 86_400.0

# Each filter's choices in the order its key cycles through them: (label, value).
STATES: list[tuple[str, JobState | None]] = [
    ("any", None),
    *((s.value.replace("_", " "), s) for s in JobState),
]
REVIEWED: list[tuple[str, bool | None]] = [("any", None), ("yes", True), ("no", False)]
DATES: list[tuple[str, int | None]] = [("any", None), ("today", 1), ("7 days", 7), ("30 days", 30)]
GROUPS: list[tuple[str, Grouping]] = [("by day", "date"), ("by folder", "folder")]
MARK_TEXT = {
    FileMark.TRANSCRIBED: ("✓ done", "green"),
    FileMark.NEEDS_REVIEW: ("! review", "yellow"),
    FileMark.FAILED: ("✗ failed", "red"),
    FileMark.RUNNING: ("▶ running", "cyan"),
    FileMark.QUEUED: ("… queued", "dim"),
}


class LibraryJobChosen(Message):
    """Open this job; with ``start_ms``, at the cue that starts there (a search hit)."""

    def __init__(self, job_id: int, start_ms: int | None = None) -> None:
        super().__init__()
        self.job_id = job_id
        self.start_ms = start_ms


class LibraryScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="library.close"),
        Binding("ctrl+f,slash", "focus_search", "Search", id="library.search"),
        Binding("s", "cycle('state')", "State", id="library.state"),
        Binding("r", "cycle('reviewed')", "Reviewed", id="library.reviewed"),
        Binding("d", "cycle('date')", "Date", id="library.date"),
        Binding("g", "cycle('group')", "Group", id="library.group"),
    ]
    DEFAULT_CSS = """
    LibraryScreen #library-filters { height: 1; padding: 0 1; }
    LibraryScreen #library-jobs, LibraryScreen #library-hits { height: 1fr; }
    LibraryScreen #library-status { height: 1; color: $text-muted; padding: 0 1; }
    """

    def __init__(self, store: Store) -> None:
        super().__init__(id="library-screen")
        self.store = store
        self.filter = LibraryFilter()
        self.grouping: Grouping = "date"
        self.choice = {"state": 0, "reviewed": 0, "date": 0, "group": 0}
        self.loaded = 0
        self.exhausted = False
        self.hits: list[SearchHit] = []
        self._last_group: str | None = None
        self._search_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._filter_line(), id="library-filters", markup=False)
        yield Input(
            placeholder='Search every transcript: words, "a phrase", budg*, 预算',
            id="library-search",
        )
        yield DataTable(cursor_type="row", id="library-jobs")
        yield DataTable(cursor_type="row", id="library-hits")
        yield Static("", id="library-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        jobs = self.query_one("#library-jobs", DataTable)
        jobs.add_columns("job", "file", "state", "when", "folder")
        hits = self.query_one("#library-hits", DataTable)
        hits.add_columns("at", "file", "match")
        hits.display = False
        self.reload()
        # Typing first searches (the filter keys are letters: they act on the lists only).
        self.query_one("#library-search", Input).focus()

    # --- the job list, a page at a time ------------------------------------------------------

    def reload(self) -> None:
        table = self.query_one("#library-jobs", DataTable)
        table.clear()
        self.loaded, self.exhausted, self._last_group = 0, False, None
        self.load_more()

    def load_more(self) -> None:
        if self.exhausted:
            return
        size = PAGE if self.loaded else FIRST_PAGE
        page = self.store.library(self.filter, self.grouping, limit=size, offset=self.loaded)
        self.loaded += len(page)
        self.exhausted = len(page) < size
        table = self.query_one("#library-jobs", DataTable)
        for job in page:
            group = self._group_of(job)
            if group != self._last_group:
                table.add_row(
                    Text(""), Text(group, style="bold"), key=f"group:{self.loaded}:{group}"
                )
                self._last_group = group
            table.add_row(*self._cells(job), key=f"job:{job.id}")
        self._status(
            f"{self.loaded} job{'s' if self.loaded != 1 else ''}" + ("" if self.exhausted else "+")
        )

    def _group_of(self, job: Job) -> str:
        if self.grouping == "folder":
            return str(job.source.parent)
        return time.strftime("%Y-%m-%d %A", time.localtime(job.created_at))

    def _cells(self, job: Job) -> tuple[Text, ...]:
        mark = mark_for(job.state, job.reviewed)
        label, colour = MARK_TEXT[mark] if mark else (job.state.value, "dim")
        when = time.strftime(
            "%H:%M" if self.grouping == "date" else "%Y-%m-%d", time.localtime(job.created_at)
        )
        return (
            Text(f"#{job.id}"),
            Text(job.source.name),
            Text(label, style=colour),
            Text(when),
            Text(str(job.source.parent), style="dim"),
        )

    @on(DataTable.RowHighlighted, "#library-jobs")
    def _near_the_end(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= event.data_table.row_count - 20:
            self.load_more()

    @on(DataTable.RowSelected, "#library-jobs")
    def _job_chosen(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        if key.startswith("job:"):
            self._choose(int(key[4:]), None)

    @on(DataTable.RowSelected, "#library-hits")
    def _hit_chosen(self, event: DataTable.RowSelected) -> None:
        hit = self.hits[int(str(event.row_key.value)[4:])]
        self._choose(hit.job_id, hit.start_ms)

    def _choose(self, job_id: int, start_ms: int | None) -> None:
        self.app.post_message(LibraryJobChosen(job_id, start_ms))
        self.dismiss()

    # --- filters -------------------------------------------------------------------------

    def action_cycle(self, which: str) -> None:
        sizes = {"state": len(STATES), "reviewed": len(REVIEWED), "date": len(DATES), "group": 2}
        self.choice[which] = (self.choice[which] + 1) % sizes[which]
        state = STATES[self.choice["state"]][1]
        days = DATES[self.choice["date"]][1]
        since = None
        if days is not None:
            midnight = time.mktime((*time.localtime()[:3], 0, 0, 0, 0, 0, -1))
            since = midnight - (days - 1) * DAY_S
        self.filter = LibraryFilter(
            states=(state,) if state is not None else (),
            reviewed=REVIEWED[self.choice["reviewed"]][1],
            since=since,
        )
        self.grouping = GROUPS[self.choice["group"]][1]
        self.query_one("#library-filters", Static).update(self._filter_line())
        self.reload()
        if self.query_one("#library-search", Input).value.strip():
            self._run_search()

    def _filter_line(self) -> Text:
        parts = [
            ("s", "state", STATES[self.choice["state"]][0]),
            ("r", "reviewed", REVIEWED[self.choice["reviewed"]][0]),
            ("d", "date", DATES[self.choice["date"]][0]),
            ("g", "", GROUPS[self.choice["group"]][0]),
        ]
        line = Text()
        for key, name, value in parts:
            line.append(f" {key} ", style="reverse")
            line.append(f" {name + ': ' if name else ''}{value}   ")
        return line

    def action_focus_search(self) -> None:
        self.query_one("#library-search", Input).focus()

    def action_close(self) -> None:
        self.dismiss()

    # --- search --------------------------------------------------------------------------

    @on(Input.Changed, "#library-search")
    def _typed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY_S, self._run_search)

    @on(Input.Submitted, "#library-search")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._run_search()
        if self.hits:
            self.query_one("#library-hits", DataTable).focus()

    def _run_search(self) -> None:
        text = self.query_one("#library-search", Input).value.strip()
        hits = self.query_one("#library-hits", DataTable)
        if not text:
            self.hits = []
            hits.clear()
            hits.display = False
            self.query_one("#library-jobs", DataTable).display = True
            return
        self._search(text, self.filter)

    @work(thread=True, exclusive=True, group="library-search", exit_on_error=False)
    def _search(self, text: str, flt: LibraryFilter) -> None:
        try:
            found = self.store.search(
                text, states=[s.value for s in flt.states], since=flt.since, limit=HITS
            )
        except QuerySyntaxError as exc:
            self.app.call_from_thread(self._status, str(exc))
            return
        if flt.reviewed is not None:
            jobs = {h.job_id: self.store.get_job(h.job_id) for h in found}
            found = [h for h in found if (j := jobs[h.job_id]) and j.reviewed == flt.reviewed]
        self.app.call_from_thread(self._show_hits, text, found)

    def _show_hits(self, text: str, found: list[SearchHit]) -> None:
        if self.query_one("#library-search", Input).value.strip() != text:
            return  # typed on since: a newer search is coming
        self.hits = found
        table = self.query_one("#library-hits", DataTable)
        table.clear()
        for n, hit in enumerate(found):
            table.add_row(
                Text(_clock(hit.start_ms)),
                Text(hit.file.rsplit("/", 1)[-1]),
                _marked(hit.snippet),
                key=f"hit:{n}",
            )
        table.display = True
        self.query_one("#library-jobs", DataTable).display = False
        self._status(f"{len(found)} match{'es' if len(found) != 1 else ''} for {text}")

    def _status(self, message: str) -> None:
        self.query_one("#library-status", Static).update(Text(message))


def _clock(ms: int) -> str:
    s = max(0, ms) // 1000
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _marked(snippet: str) -> Text:
    """The snippet with « » turned into highlighting (user text: never markup)."""
    out = Text()
    for n, part in enumerate(" ".join(snippet.split()).replace("»", "«").split("«")):
        out.append(part, style="reverse" if n % 2 else "")
    return out
