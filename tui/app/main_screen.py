"""The one screen: files and errors on the left, the queue and the transcript on the right.

It renders what the app's engine reports (messages from ``tui.app.messages``) and turns keys
into engine calls. Job state is always re-read from the store; nothing here decides it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input

from tui.app.bindings import MAIN_BINDINGS
from tui.app.messages import JobChanged, ProgressUpdated, WatchUpdated
from tui.app.widgets.errors_panel import ErrorsPanel
from tui.app.widgets.file_browser import AudioTree
from tui.app.widgets.queue_table import QueueTable
from tui.app.widgets.status_bar import StatusBar, shown_path
from tui.app.widgets.transcript_pane import TranscriptPane
from tui.engine.events import (
    CrossCheckFailed,
    ExportFailed,
    ExportWritten,
    FileDetected,
    FileSkipped,
    FolderMissing,
    FolderRestored,
    HookFailed,
    JobCanceled,
    JobFailed,
    JobFinished,
    JobQueued,
    JobRequeued,
    JobRestarted,
    JobStarted,
    WatchStarted,
    WatchStopped,
)
from tui.store.records import FINISHED, Job, JobState

if TYPE_CHECKING:
    from tui.app.app import WorkbenchApp

TREE_RELOAD_DELAY_S = 0.3


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = list(MAIN_BINDINGS)
    BINDING_GROUP_TITLE = "Workbench"

    def __init__(self, root: Path, *, root_label: str, show_elapsed: bool = True) -> None:
        super().__init__(id="main-screen")
        self.root = root
        self.root_label = root_label
        self.show_elapsed = show_elapsed
        self.selected_job: int | None = None
        # Show each job as it starts, until the user picks one themselves (f turns it back on).
        self.follow_running = True
        self._expected_highlight: int | None = None
        self._pending_reloads: set[Path] = set()
        self._pane: TranscriptPane | None = None

    @property
    def workbench(self) -> WorkbenchApp:
        return cast("WorkbenchApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield AudioTree(self.root, root_label=self.root_label, id="files")
                yield ErrorsPanel(show_elapsed=self.show_elapsed, id="errors")
            with Vertical(id="right"):
                yield QueueTable(show_elapsed=self.show_elapsed, id="queue")
                yield TranscriptPane(show_elapsed=self.show_elapsed, id="transcript")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#files").border_title = "Files"
        self.query_one("#errors").border_title = "Errors & usage"
        self.query_one("#queue").border_title = "Queue"
        self.query_one("#transcript").border_title = "Transcript"
        self.query_one(AudioTree).focus()
        await self.workbench.start_engine()

    # --- parts ---------------------------------------------------------------------------------

    @property
    def files(self) -> AudioTree:
        return self.query_one(AudioTree)

    @property
    def table(self) -> QueueTable:
        return self.query_one(QueueTable)

    @property
    def pane(self) -> TranscriptPane:
        # Looked up once: the bus hands every delta to the pane through here.
        if self._pane is None:
            self._pane = self.query_one(TranscriptPane)
        return self._pane

    @property
    def errors(self) -> ErrorsPanel:
        return self.query_one(ErrorsPanel)

    def load_jobs(self, jobs: list[Job]) -> None:
        for job in jobs:
            self.table.upsert(job)
        self.refresh_status()

    def refresh_status(self) -> None:
        app = self.workbench
        counts = app.store.counts()
        self.query_one(StatusBar).show(
            service=app.service_label(),
            model=app.settings.model,
            watching=app.watching(),
            counts=counts,
            demo=app.demo,
            display_root=self.root,
        )
        self.errors.show_totals(app.session_totals(), counts)

    def selected(self) -> Job | None:
        if self.selected_job is None:
            return None
        return self.workbench.store.get_job(self.selected_job)

    def show_selected(self, job: Job | None = None) -> None:
        job = job or self.selected()
        if job is None:
            self.pane.clear()
            self.errors.show_job(None, None)
            return
        if job.state not in FINISHED:
            self.pane.show_job(job, None)
            self.errors.show_job(job, None)
            return
        rendered = self.workbench.rendered(job)
        if rendered is None:  # a long transcript: being laid out off the event loop
            self.pane.show_pending(job)
            self.errors.show_job(job, None)
            return
        result, text = rendered
        self.pane.show_job(job, result, text=text)
        self.errors.show_job(job, result)

    # --- engine messages ---------------------------------------------------------------------

    @on(JobChanged)
    def job_changed(self, message: JobChanged) -> None:
        event = message.event
        job = self.workbench.store.get_job(message.job_id)
        if job is None:
            return
        self.table.upsert(job)
        self.workbench.forget_rendered(job.id)
        where = f"job {job.id} {job.name}"
        if isinstance(event, JobRestarted):
            self.pane.restart(job.id)
            self.errors.add("info", where, f"starting again: {event.reason}")
        elif isinstance(event, JobFailed | JobCanceled | JobRequeued | JobFinished):
            self.pane.forget(job.id)
        if isinstance(event, JobFailed):
            self.errors.add("error", where, event.message)
        elif isinstance(event, CrossCheckFailed):
            severity = "warning" if event.kind == "canceled" else "error"
            self.errors.add(severity, where, f"cross-check not done: {event.message}")
        elif isinstance(event, JobStarted) and event.cross_check_only:
            self.errors.add("info", where, "cross-checking with step-asr-1.1")
        elif isinstance(event, JobFinished):
            for warning in event.result.warnings:
                self.errors.add("warning", where, warning.message)
            cc = event.result.cross_check
            if cc is not None:
                self.errors.add(
                    "info", where, f"cross-check with {cc.model}: {cc.similarity:.0%} similar"
                )
            self.workbench.count_finished(event)
        if self._should_follow(event, job):
            self._select(job)
        elif job.id == self.selected_job:
            self.show_selected(job)
        self.refresh_status()

    @on(ProgressUpdated)
    def progress_updated(self, message: ProgressUpdated) -> None:
        self.table.set_progress(message.event)
        self.pane.set_progress(message.event)

    @on(WatchUpdated)
    def watch_updated(self, message: WatchUpdated) -> None:
        event = message.event
        if isinstance(event, WatchStarted):
            names = ", ".join(shown_path(f, self.root) for f in event.folders)
            self.errors.add(
                "info", "watch", f"watching {names}" + (" (polling)" if event.polling else "")
            )
        elif isinstance(event, WatchStopped):
            pass
        elif isinstance(event, FolderMissing):
            self.errors.add("warning", "watch", event.message or f"{event.folder} is missing")
        elif isinstance(event, FolderRestored):
            self.errors.add("info", "watch", f"{event.folder} is back")
        elif isinstance(event, FileDetected):
            self._reload_folder_later(event.path.parent)
        elif isinstance(event, FileSkipped):
            self.errors.add(
                "warning" if event.job_id is None else "info", event.path.name, event.reason
            )
        elif isinstance(event, ExportWritten):
            names = ", ".join(p.name for p in event.paths)
            self.errors.add("info", f"job {event.job_id}", f"wrote {names}")
            job = self.workbench.store.get_job(event.job_id)
            if job is not None:
                self.table.upsert(job)
        elif isinstance(event, ExportFailed | HookFailed):
            self.errors.add("error", f"job {event.job_id}", event.message)
        self.refresh_status()

    def _reload_folder_later(self, folder: Path) -> None:
        # Files often arrive in bursts: one reload per folder per burst.
        if folder not in self._pending_reloads:
            self._pending_reloads.add(folder)
            self.set_timer(TREE_RELOAD_DELAY_S, lambda: self._reload_folder(folder))

    def _reload_folder(self, folder: Path) -> None:
        self._pending_reloads.discard(folder)
        self.files.reload_folder(folder)

    def _should_follow(self, event: object, job: Job) -> bool:
        if job.id == self.selected_job:
            return False
        if self.selected_job is None:
            return isinstance(event, JobQueued | JobStarted)
        if not (self.follow_running and isinstance(event, JobStarted)):
            return False
        current = self.selected()
        return current is None or current.state is not JobState.RUNNING

    def _select(self, job: Job) -> None:
        self.selected_job = job.id
        self._expected_highlight = job.id
        self.table.select_job(job.id)
        self.show_selected(job)

    @on(QueueTable.JobHighlighted)
    def job_highlighted(self, message: QueueTable.JobHighlighted) -> None:
        if message.job_id == self._expected_highlight:
            self._expected_highlight = None
        else:
            self.follow_running = False  # the user moved: stop jumping to new jobs
        if message.job_id != self.selected_job:
            self.selected_job = message.job_id
            self.show_selected()

    @on(Input.Submitted, "#search-input")
    def search_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        found = self.pane.search(message.value)
        # Back to the text, so ] and [ step through the matches (the input would type them).
        self.pane.text_area.focus()
        if not found:
            self.notify(f"No match for {message.value!r}.", severity="warning", markup=False)

    def key_escape(self) -> None:
        if self.pane.search_open:
            self.pane.close_search()

    # --- actions -------------------------------------------------------------------------------

    def action_transcribe(self) -> None:
        path = self.files.highlighted_path() or self.root
        self.workbench.transcribe_path(path)

    async def action_toggle_watch(self) -> None:
        path = self.files.highlighted_path() or self.root
        folder = path if path.is_dir() else path.parent
        await self.workbench.toggle_watch(folder)
        self.refresh_status()

    def action_next_job(self) -> None:
        self._move_job(1)

    def action_previous_job(self) -> None:
        self._move_job(-1)

    def _move_job(self, step: int) -> None:
        ids = self.table.job_ids
        if not ids:
            return
        current = self.table.highlighted_job()
        index = ids.index(current) + step if current in ids else 0
        self.table.select_job(ids[max(0, min(len(ids) - 1, index))])

    def action_follow(self) -> None:
        self.follow_running = True
        running = self.workbench.store.list_jobs("running", newest_first=False)
        if running:
            self._select(running[0])
        self.notify("Following: each job is shown as it starts (j/k stops).", markup=False)

    def action_retry(self) -> None:
        if (job := self._need_job()) is not None:
            self.workbench.retry(job)

    def action_cancel_job(self) -> None:
        if (job := self._need_job()) is not None:
            self.workbench.cancel(job)

    def action_cross_check(self) -> None:
        if (job := self._need_job()) is not None:
            self.workbench.cross_check(job)

    def action_export(self) -> None:
        if (job := self._need_job()) is not None:
            self.workbench.export(job)

    def action_mark_reviewed(self) -> None:
        if (job := self._need_job()) is not None:
            self.workbench.mark_reviewed(job)

    def action_copy_transcript(self) -> None:
        text = self.pane.text
        if not text:
            self.notify(
                "Nothing to copy: the selected job has no transcript yet.",
                severity="warning",
                markup=False,
            )
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {len(text):,} characters.", markup=False)

    def action_search(self) -> None:
        self.pane.open_search()

    def action_next_match(self) -> None:
        self.pane.next_match(1)

    def action_previous_match(self) -> None:
        self.pane.next_match(-1)

    def action_settings(self) -> None:
        self.workbench.open_settings()

    def action_help(self) -> None:
        self.workbench.open_help()

    async def action_quit(self) -> None:
        await self.workbench.action_quit()

    def _need_job(self) -> Job | None:
        job = self.selected()
        if job is None:
            self.notify(
                "Select a job in the queue first (j/k or the arrow keys).",
                severity="warning",
                markup=False,
            )
        return job

    def problem(self, severity: str, where: str, message: str) -> None:
        self.errors.add(severity, where, message)
