"""The selected job's transcript: streamed live while the job runs, cue by cue once done.

Deltas go into :class:`~tui.app.live_text.LiveText` buffers (no widget work per delta); a
20 Hz timer appends what arrived to a read-only ``TextArea`` in one edit. Each line ends at a
sentence, so edits stay cheap however long the transcript gets. The view is anchored to the end
while streaming and lets go as soon as the user scrolls or searches.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input, Static, TextArea
from textual.widgets.text_area import Document, Selection

from tui.app.live_text import LiveText, find_all, format_result, stamp
from tui.app.widgets.queue_table import outputs_note, progress_text
from tui.engine.events import JobProgressed
from tui.store.records import Job, JobState
from tui.transcript.model import TranscriptionResult

FLUSH_HZ = 20


class _StreamingArea(TextArea):
    """A TextArea whose growing text does not re-lay-out the screen.

    Textual declares ``virtual_size`` with ``layout=True``, so every flush that adds a line laid
    out the whole screen again (~19 ms, a third of a core at 20 Hz). The area's own size never
    depends on its text (``height: 1fr``), so here a new virtual size only updates the
    scrollbars and repaints the area; a scrollbar appearing or going still lays out (that is
    ``show_vertical_scrollbar``'s own reactive).
    """

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)
        self.refresh()


class TranscriptPane(Vertical):
    DEFAULT_CSS = """
    TranscriptPane { height: 1fr; }
    TranscriptPane #transcript-title { height: 1; padding: 0 1; background: $boost; }
    TranscriptPane #transcript-text { height: 1fr; border: none; padding: 0 1; }
    TranscriptPane #search-bar { height: auto; display: none; }
    TranscriptPane #search-bar.-open { display: block; }
    TranscriptPane #search-input { width: 1fr; }
    TranscriptPane #search-status { width: auto; min-width: 12; padding: 1 1 0 1; }
    """

    def __init__(self, *, show_elapsed: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_elapsed = show_elapsed
        self.live: dict[int, LiveText] = {}
        self.shown_job: int | None = None
        self._shown_state: JobState | None = None
        self._title_name = ""
        self.matches: list[int] = []
        self.match_index = -1
        self._query = ""
        self.flushes = 0  # edits made to the text area by the timer (the benchmark reads it)

    def compose(self) -> ComposeResult:
        yield Static(
            Text("No job selected — pick a file and press t to transcribe it.", style="dim"),
            id="transcript-title",
            markup=False,
        )
        yield _StreamingArea(
            id="transcript-text",
            read_only=True,
            soft_wrap=True,
            show_cursor=False,
            show_line_numbers=False,
        )
        with Horizontal(id="search-bar"):
            yield Input(
                placeholder="Search the transcript (Enter: find, Esc: close)", id="search-input"
            )
            yield Static("", id="search-status", markup=False)

    def on_mount(self) -> None:
        self.set_interval(1 / FLUSH_HZ, self.flush, name="transcript-flush")

    @property
    def text_area(self) -> TextArea:
        return self.query_one("#transcript-text", TextArea)

    @property
    def text(self) -> str:
        return self.text_area.text

    # --- live text (called for each bus event: no widget work here) ------------------------

    def add_delta(self, job_id: int, text: str, start_ms: int, end_ms: int) -> None:
        live = self.live.get(job_id)
        if live is None:
            live = self.live[job_id] = LiveText()
        live.add(text, start_ms, end_ms)

    def restart(self, job_id: int) -> None:
        self.live[job_id] = LiveText()
        if job_id == self.shown_job:
            self._load("", follow=True)

    def forget(self, job_id: int) -> None:
        self.live.pop(job_id, None)

    def flush(self) -> None:
        """Append what arrived since the last flush for the shown job (one edit)."""
        for job_id, live in self.live.items():
            chunk = live.take_pending()
            if chunk and job_id == self.shown_job:
                area = self.text_area
                area.insert(chunk, area.document.end)
                self.flushes += 1

    # --- what is shown -----------------------------------------------------------------------

    def show_pending(self, job: Job) -> None:
        """A finished transcript is being laid out off the event loop (a very long one)."""
        self.shown_job = job.id
        self._title_name = job.name
        self._shown_state = job.state
        self._set_title(Text("loading the transcript…", style="dim"))

    def show_job(
        self, job: Job, result: TranscriptionResult | None, *, text: str | None = None
    ) -> None:
        """Show ``job``: its live text while it runs, else its result (``text``: already
        laid out with ``format_result``)."""
        same = job.id == self.shown_job
        self.shown_job = job.id
        self._title_name = job.name
        previous_state, self._shown_state = self._shown_state, job.state
        self._set_title(self._status(job, result))
        if job.state is JobState.RUNNING:
            if same and previous_state is JobState.RUNNING:
                return  # already streaming into the view
            live = self.live.get(job.id)
            text = live.text if live else ""
            if live:
                live.pending.clear()
            self._load(text, follow=True)
        elif result is not None:
            area = self.text_area
            at_end = area.scroll_y >= area.max_scroll_y - 1
            keep = same and not at_end
            shown = text if text is not None else format_result(result)
            self._load(shown, follow=same and not keep, keep_y=area.scroll_y if keep else None)
        else:
            self._load("", follow=False)

    def clear(self) -> None:
        self.shown_job = None
        self._shown_state = None
        self._load("", follow=False)
        self._set_title(Text("No job selected.", style="dim"))

    def set_progress(self, p: JobProgressed) -> None:
        if p.job_id == self.shown_job and self._shown_state is JobState.RUNNING:
            self._set_title(Text(f"running · {progress_text(p, show_elapsed=self.show_elapsed)}"))

    def _status(self, job: Job, result: TranscriptionResult | None) -> Text:
        if job.state is JobState.RUNNING:
            return Text("running · waiting for the first words…")
        earlier = " · showing the earlier transcript" if result is not None else ""
        if job.state is JobState.QUEUED:
            return Text("queued · waiting for a free slot" + earlier, style="dim")
        if job.state is JobState.FAILED:
            return Text(
                "failed · the reason is in Errors & usage (r retries)" + earlier, style="red"
            )
        if job.state is JobState.CANCELED:
            return Text("canceled (r queues it again)" + earlier, style="dim")
        chars = len(result.text) if result else 0
        label = "needs review" if job.state is JobState.NEEDS_REVIEW else "done"
        text = Text(f"{label} · {chars:,} characters")
        if job.reviewed:
            text.append(" · reviewed ✓", style="green")
        text.append(f" · {outputs_note(job)}", style="dim")
        return text

    def _set_title(self, status: Text) -> None:
        title = Text(self._title_name or "", style="bold")
        if self._title_name:
            title.append(" — ")
        title.append_text(status)
        title.no_wrap = True
        title.overflow = "ellipsis"
        self.query_one("#transcript-title", Static).update(title)

    def _load(self, text: str, *, follow: bool, keep_y: float | None = None) -> None:
        area = self.text_area
        area.load_text(text)
        # load_text repaints only when the line count changes (Textual 8.2.8): "" → one line
        # of text would stay blank on screen.
        area.refresh()
        self._reset_search()
        # load_text scrolls to the cursor after the next refresh; act after that.
        if follow:
            self.call_after_refresh(area.anchor)
        else:
            area.anchor(False)
            if keep_y is not None:
                self.call_after_refresh(area.scroll_to, y=keep_y, animate=False)

    # --- search ------------------------------------------------------------------------------

    @property
    def search_open(self) -> bool:
        return self.query_one("#search-bar").has_class("-open")

    def open_search(self) -> None:
        self.query_one("#search-bar").add_class("-open")
        self.query_one("#search-input", Input).focus()

    def close_search(self) -> None:
        self.query_one("#search-bar").remove_class("-open")
        self.text_area.focus()

    def search(self, query: str) -> int:
        """Find every match; select the first. Returns the number of matches."""
        self._query = query
        self.matches = find_all(self.text, query)
        self.match_index = -1
        if self.matches:
            self.next_match()
        else:
            self._search_status()
        return len(self.matches)

    def next_match(self, step: int = 1) -> None:
        if self._query and self.text and not self.matches:
            self.matches = find_all(self.text, self._query)
        if not self.matches:
            self._search_status()
            return
        self.match_index = (self.match_index + step) % len(self.matches)
        start = self.matches[self.match_index]
        doc = self.text_area.document
        assert isinstance(doc, Document)
        self.text_area.selection = Selection(
            doc.get_location_from_index(start),
            doc.get_location_from_index(start + len(self._query)),
        )
        self._search_status()

    def _reset_search(self) -> None:
        self.matches = []
        self.match_index = -1
        if self._query:
            self._search_status()

    def _search_status(self) -> None:
        status = self.query_one("#search-status", Static)
        if not self._query:
            status.update("")
        elif not self.matches:
            status.update(Text("no match", style="red"))
        else:
            status.update(f"{self.match_index + 1}/{len(self.matches)}")

    def scroll_to_time(self, ms: int) -> None:
        """Put the cue that is playing at ``ms`` (the last line stamped at or before it) at the
        top of the view, with the cursor on it."""
        want = stamp(ms)[: len("[00:00:00]")]
        lines = self.text_area.text.split("\n")
        row = 0
        for index, line in enumerate(lines):
            if line.startswith("[") and line[:10] <= want:
                row = index
            elif line.startswith("[") and line[:10] > want:
                break
        area = self.text_area
        area.anchor(False)
        area.move_cursor((row, 0))
        area.scroll_to(y=row, animate=False)
