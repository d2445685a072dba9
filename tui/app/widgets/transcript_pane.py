"""The selected job's transcript: streamed live while the job runs, cue by cue once done.

Deltas go into :class:`~tui.app.live_text.LiveText` buffers (no widget work per delta); a
5 Hz timer hands what changed (the growing last line, and new ones) to the
:class:`~tui.app.widgets.transcript_view.TranscriptView`, which re-wraps and repaints only those
rows. The view is anchored to the end while streaming, lets go as soon as the user scrolls or
searches, and takes hold again when they scroll back to the end.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from tui.app.live_text import LiveText, PaneLine, result_lines
from tui.app.widgets.queue_table import outputs_note, progress_text
from tui.app.widgets.transcript_view import TranscriptView
from tui.engine.events import JobProgressed
from tui.store.records import Job, JobState
from tui.transcript.model import TranscriptionResult

# Each flush that changed something is a frame (Textual: ~2-3 ms for the changed rows, more
# when the view moves): 5 a second keeps a fast stream (250 deltas/s, far faster than anyone
# reads) near 5 % of a core; a live-paced stream changes less often than that anyway.
FLUSH_HZ = 5


class TranscriptPane(Vertical):
    DEFAULT_CSS = """
    TranscriptPane { height: 1fr; }
    TranscriptPane #transcript-title { width: 1fr; height: 1; padding: 0 1; background: $boost; }
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
        self._query = ""
        self.flushes = 0  # updates the timer made to the view (the benchmark reads it)
        self.flush_timer: Timer | None = None
        self._flushing = False

    def compose(self) -> ComposeResult:
        yield Static(
            Text("No job selected — pick a file and press t to transcribe it.", style="dim"),
            id="transcript-title",
            markup=False,
        )
        yield TranscriptView(id="transcript-text")
        with Horizontal(id="search-bar"):
            yield Input(
                placeholder="Search the transcript (Enter: find, Esc: close)", id="search-input"
            )
            yield Static("", id="search-status", markup=False)

    def on_mount(self) -> None:
        # Paused while nothing streams (a timer tick costs the event loop a wake-up); the
        # first delta starts it again.
        self.flush_timer = self.set_interval(
            1 / FLUSH_HZ, self.flush, name="transcript-flush", pause=True
        )

    @property
    def view(self) -> TranscriptView:
        return self.query_one(TranscriptView)

    @property
    def text(self) -> str:
        """The shown transcript as plain text, one line per cue (what copying takes)."""
        return self.view.text

    @property
    def matches(self) -> list[tuple[int, int, int]]:
        return self.view.matches

    @property
    def match_index(self) -> int:
        return self.view.match_index

    @property
    def current_match(self) -> str:
        """The text of the current search match ("" when there is none)."""
        view = self.view
        if view.match_index < 0:
            return ""
        line, start, end = view.matches[view.match_index]
        return view.lines[line].plain[start:end]

    # --- live text (called for each bus event: no widget work here) ------------------------

    def add_delta(self, job_id: int, text: str, start_ms: int, end_ms: int) -> None:
        live = self.live.get(job_id)
        if live is None:
            live = self.live[job_id] = LiveText()
        live.add(text, start_ms, end_ms)
        if not self._flushing and self.flush_timer is not None:
            self._flushing = True
            self.flush_timer.resume()

    def restart(self, job_id: int) -> None:
        self.live[job_id] = LiveText()
        if job_id == self.shown_job:
            self._load([], follow=True)

    def forget(self, job_id: int) -> None:
        self.live.pop(job_id, None)

    def flush(self) -> None:
        """Hand the view what changed since the last flush for the shown job (one update)."""
        changed = False
        for job_id, live in self.live.items():
            change = live.take_changes()
            changed = changed or change is not None
            if change is not None and job_id == self.shown_job:
                self.view.replace_tail(*change)
                self.flushes += 1
        if not changed and self.flush_timer is not None:
            self._flushing = False
            self.flush_timer.pause()

    # --- what is shown -----------------------------------------------------------------------

    def show_pending(self, job: Job) -> None:
        """A finished transcript is being laid out off the event loop (a very long one)."""
        self.shown_job = job.id
        self._title_name = job.name
        self._shown_state = job.state
        self._set_title(Text("loading the transcript…", style="dim"))

    def show_job(
        self,
        job: Job,
        result: TranscriptionResult | None,
        *,
        text: str | None = None,
        lines: Sequence[PaneLine] | None = None,
    ) -> None:
        """Show ``job``: its live text while it runs, else its result (``lines``: already laid
        out with ``result_lines``; ``text``: plain text to show instead, one line per line)."""
        same = job.id == self.shown_job
        self.shown_job = job.id
        self._title_name = job.name
        previous_state, self._shown_state = self._shown_state, job.state
        self._set_title(self._status(job, result))
        if job.state is JobState.RUNNING:
            if same and previous_state is JobState.RUNNING:
                return  # already streaming into the view
            live = self.live.get(job.id)
            self._load(live.snapshot() if live else [], follow=True)
        elif result is not None:
            view = self.view
            at_end = view.scroll_y >= view.max_scroll_y - 1
            keep = same and not at_end
            if lines is None:
                lines = (
                    [PaneLine(line) for line in text.split("\n")]
                    if text is not None
                    else result_lines(result)
                )
            self._load(lines, follow=same and not keep, keep_y=view.scroll_y if keep else None)
        else:
            self._load([], follow=False)

    def clear(self) -> None:
        self.shown_job = None
        self._shown_state = None
        self._load([], follow=False)
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
        # Its size is fixed (one row, the pane's width): a new title needs no layout (progress
        # retitles it several times a second while a job streams).
        self.query_one("#transcript-title", Static).update(title, layout=False)

    def _load(
        self, lines: Sequence[PaneLine], *, follow: bool, keep_y: float | None = None
    ) -> None:
        view = self.view
        view.set_lines(lines)
        self._reset_search()
        if follow:
            view.anchor()
        else:
            view.anchor(False)
            view.scroll_to(y=keep_y or 0, animate=False)

    # --- search ------------------------------------------------------------------------------

    @property
    def search_open(self) -> bool:
        return self.query_one("#search-bar").has_class("-open")

    def open_search(self) -> None:
        self.query_one("#search-bar").add_class("-open")
        self.query_one("#search-input", Input).focus()

    def close_search(self) -> None:
        self.query_one("#search-bar").remove_class("-open")
        self.view.focus()

    def search(self, query: str) -> int:
        """Find every match; make the first current. Returns the number of matches."""
        self._query = query
        found = self.view.find(query)
        if found:
            self.next_match()
        else:
            self._search_status()
        return found

    def next_match(self, step: int = 1) -> None:
        view = self.view
        if self._query and view.lines and not view.matches:
            view.find(self._query)  # the text changed since the search
        view.step_match(step)
        self._search_status()

    def _reset_search(self) -> None:
        if self._query:
            self._search_status()

    def _search_status(self) -> None:
        status = self.query_one("#search-status", Static)
        view = self.view
        if not self._query:
            status.update("")
        elif not view.matches:
            status.update(Text("no match", style="red"))
        else:
            status.update(f"{view.match_index + 1}/{len(view.matches)}")

    def scroll_to_time(self, ms: int) -> None:
        """Put the cue that is playing at ``ms`` (the last line stamped at or before it) at the
        top of the view, marked as the cursor line."""
        view = self.view
        view.show_line(view.line_at_time(ms))
