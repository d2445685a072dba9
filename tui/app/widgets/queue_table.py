"""The job queue: one row per job (oldest first) with state, audio length, progress and cost.

The job model lives in the store; this table only shows it. Every cell is a Rich ``Text`` so a
file name is never parsed as markup.
"""

from __future__ import annotations

import contextlib
import enum
from pathlib import Path

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist, RowKey

from tui.engine.events import JobProgressed
from tui.store.records import Job, JobState
from tui.transcript.cost import format_amount
from tui.transcript.exports import planned_paths

STATE_STYLE = {
    JobState.QUEUED: "dim",
    JobState.RUNNING: "bold cyan",
    JobState.DONE: "green",
    JobState.NEEDS_REVIEW: "bold yellow",
    JobState.FAILED: "bold red",
    JobState.CANCELED: "dim italic",
}
STATE_LABEL = {JobState.NEEDS_REVIEW: "review"}


def money(amount: float | None, currency: str | None) -> str:
    return format_amount(amount, currency)


def clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def size_text(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1000:
        return f"{n / 1000:.0f} kB"
    return f"{n} B"


def progress_text(p: JobProgressed, *, show_elapsed: bool = True, compact: bool = False) -> str:
    """Honest counters only: bytes sent, audio seconds covered, characters, elapsed."""
    parts: list[str] = []
    if p.parts > 1:
        parts.append(f"part {p.part}/{p.parts}")
    if p.stage in ("probing", "preparing", "cross-checking"):
        parts.append(p.stage)
    elif p.stage == "uploading" or (p.bytes_total and p.bytes_sent < p.bytes_total):
        parts.append(f"sent {size_text(p.bytes_sent)}/{size_text(p.bytes_total)}")
    else:
        covered = f"{p.audio_s_covered:.0f}"
        of = f"/{p.duration_s:.0f}" if p.duration_s else ""
        parts.append(f"{covered}{of} s" if compact else f"{covered}{of} s of audio heard")
        parts.append(f"{p.chars_received} ch" if compact else f"{p.chars_received} characters")
    if show_elapsed:
        parts.append(f"{p.elapsed_s:.0f} s" if compact else f"{p.elapsed_s:.0f} s elapsed")
    return " · ".join(parts)


def outputs_note(job: Job) -> str:
    """Where a finished job's files are, or why there are none: a job never just says done."""
    if job.outputs:
        return "wrote " + ", ".join(p.name for p in job.outputs)
    spec = job.options.export
    if spec is None:
        return "no file (e exports)"
    out_dir = Path(spec.out_dir) if spec.out_dir else None
    root = Path(spec.root) if spec.root else None
    taken = [p for p in planned_paths(job.source, spec.formats, out_dir, root) if p.exists()]
    if taken and spec.policy == "skip":
        return f"no file: {taken[0].name} exists (policy skip; e: export)"
    return "no file written (see Errors & usage)"


COLUMNS = (
    ("#", "id", 3),
    ("File", "file", 24),
    ("State", "state", 8),
    ("Audio", "audio", 6),
    ("Progress", "progress", 24),
    ("Cost", "cost", 8),
)
MIN_FILE_WIDTH = 12


class QueueFilter(enum.StrEnum):
    """Which jobs the queue shows (the ``F`` key cycles through them)."""

    ALL = "all"
    ATTENTION = "to review / failed"
    ACTIVE = "running / queued"
    FINISHED = "done"

    def shows(self, job: Job) -> bool:
        if self is QueueFilter.ATTENTION:
            return job.state is JobState.FAILED or (
                job.state is JobState.NEEDS_REVIEW and not job.reviewed
            )
        if self is QueueFilter.ACTIVE:
            return job.state in (JobState.RUNNING, JobState.QUEUED)
        if self is QueueFilter.FINISHED:
            return job.state in (JobState.DONE, JobState.NEEDS_REVIEW)
        return True

    def next(self) -> QueueFilter:
        members = list(QueueFilter)
        return members[(members.index(self) + 1) % len(members)]


class QueueTable(DataTable[Text]):
    """Jobs, oldest first. Posts :class:`QueueTable.JobHighlighted` as the cursor moves."""

    DEFAULT_CSS = """
    QueueTable { height: 1fr; }
    """

    class JobHighlighted(Message):
        def __init__(self, table: QueueTable, job_id: int) -> None:
            super().__init__()
            self.table = table
            self.job_id = job_id

        @property
        def control(self) -> QueueTable:
            return self.table

    def __init__(self, *, show_elapsed: bool = True, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self.show_elapsed = show_elapsed
        self._order: list[int] = []
        self._jobs: dict[int, Job] = {}  # every job known, shown or filtered out
        self.filter = QueueFilter.ALL

    def on_mount(self) -> None:
        for label, key, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def on_resize(self) -> None:
        self.fit_file_column()

    def fit_file_column(self) -> None:
        """Give the File column whatever width the other columns leave (no sideways scroll)."""
        fixed = sum(w for _l, k, w in COLUMNS if k != "file")
        padding = 2 * self.cell_padding * len(COLUMNS)
        width = max(MIN_FILE_WIDTH, self.scrollable_content_region.width - fixed - padding - 1)
        column = self.columns.get(ColumnKey("file"))
        if column is not None and column.width != width:
            column.width = width
            # DataTable has no public call to resize a column; these two make it re-measure.
            self._clear_caches()
            self._require_update_dimensions = True
            self.refresh()

    @property
    def job_ids(self) -> list[int]:
        return list(self._order)

    def set_filter(self, which: QueueFilter) -> None:
        """Show only the jobs ``which`` selects (rows keep their oldest-first order)."""
        self.filter = which
        self.clear()
        self._order = []
        for job_id in sorted(self._jobs):
            if which.shows(self._jobs[job_id]):
                self.add_row(*self._cells(self._jobs[job_id]), key=str(job_id))
                self._order.append(job_id)

    def upsert(self, job: Job) -> None:
        self._jobs[job.id] = job
        key = str(job.id)
        if not self.filter.shows(job):
            if job.id in self._order:
                self._order.remove(job.id)
                with contextlib.suppress(RowDoesNotExist):
                    self.remove_row(key)
            return
        if job.id not in self._order and self._order and job.id < self._order[-1]:
            self.set_filter(self.filter)  # an older job comes into view: keep the order
            return
        cells = self._cells(job)
        if job.id in self._order:
            for column, value in zip(
                ("id", "file", "state", "audio", "progress", "cost"), cells, strict=True
            ):
                if column == "progress" and job.state is JobState.RUNNING:
                    continue  # progress messages own this cell while the job runs
                try:
                    self.update_cell(key, column, value)
                except (CellDoesNotExist, RowDoesNotExist):
                    return
            return
        self.add_row(*cells, key=key)
        self._order.append(job.id)

    def set_progress(self, p: JobProgressed) -> None:
        if p.job_id not in self._order:
            return
        text = Text(progress_text(p, show_elapsed=self.show_elapsed, compact=True))
        key = str(p.job_id)
        try:
            row = self.get_row_index(key)
            self._set_quietly(key, "progress", text)
            if p.duration_s:
                self._set_quietly(key, "audio", Text(clock(p.duration_s)))
        except (CellDoesNotExist, RowDoesNotExist):
            return
        self.refresh_row(row)

    def _set_quietly(self, row: str, column: str, value: Text) -> None:
        """``update_cell`` without its repaint of the whole table: progress arrives several
        times a second while a job streams, and only its row changes (the caller repaints it).
        Textual 8.2's ``update_cell`` minus ``refresh()``; widths never change here."""
        self.get_cell(row, column)  # raises when the cell does not exist
        self._data[RowKey(row)][ColumnKey(column)] = value
        self._update_count += 1

    def _cells(self, job: Job) -> tuple[Text, ...]:
        label = STATE_LABEL.get(job.state, job.state.value)
        state = Text(label, style=STATE_STYLE[job.state])
        if job.reviewed:
            state.append(" ✓", style="green")
        return (
            Text(str(job.id), style="dim"),
            Text(job.name, no_wrap=True, overflow="ellipsis"),
            state,
            Text(clock(job.duration_s)),
            Text(self._summary(job), no_wrap=True, overflow="ellipsis"),
            Text(money(job.cost_amount, job.cost_currency)),
        )

    @staticmethod
    def _summary(job: Job) -> str:
        if job.state is JobState.FAILED:
            return job.error_message or "failed"
        if job.state is JobState.QUEUED:
            spec = job.options.export
            writes = f" → {','.join(spec.formats)}" if spec is not None else ""
            return (f"attempt {job.attempts + 1}" if job.attempts else "waiting") + writes
        if job.state is JobState.RUNNING:
            return "starting"
        if job.state is JobState.CANCELED:
            return "canceled"
        return outputs_note(job)

    def select_job(self, job_id: int) -> None:
        if job_id in self._order:
            self.move_cursor(row=self._order.index(job_id))

    def highlighted_job(self) -> int | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.JobHighlighted(self, int(event.row_key.value)))
