"""The one screen: files and errors on the left, the queue and the transcript on the right.

It is given the engine: it renders the engine's events (one message class per event kind,
``tui.app.messages``, each with its handler here) and turns keys into engine verbs. Job state
is always re-read from the store; nothing here decides it. Screens above this one (settings,
help) belong to the app: this screen asks for them with a message.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input

from tui.app import messages as msg
from tui.app.bindings import MAIN_BINDINGS
from tui.app.session import add_cost, add_to_totals, service_label
from tui.app.speaker_actions import SpeakerActionsScreen
from tui.app.widgets.errors_panel import ErrorsPanel
from tui.app.widgets.file_browser import AudioTree
from tui.app.widgets.footer import KeyFooter
from tui.app.widgets.queue_table import QueueTable
from tui.app.widgets.status_bar import StatusBar, pause_hint, shown_path
from tui.app.widgets.transcript_pane import TranscriptPane
from tui.engine.engine import Engine
from tui.engine.events import Event, JobDeltaReceived, JobProgressed
from tui.store.records import Job, JobState, Totals

if TYPE_CHECKING:  # the library is imported when opened (not on the first screen)
    from tui.app.screens.library_screen import LibraryJobChosen

TREE_RELOAD_DELAY_S = 0.3
MARKS_DELAY_S = 0.5
# Progress arrives ~5 times a second per running job; drawing it (a table row and the pane's
# title, ~3-5 ms a frame) is coalesced to this pace, the latest figures drawn.
PROGRESS_DRAW_S = 1.0
IDLE_S = 20.0  # no key for this long: a finished watch job is announced (toast and bell)
RECENT_JOBS = 1000  # loaded into the queue at start


class MainScreen(SpeakerActionsScreen):
    BINDINGS: ClassVar[list[BindingType]] = list(MAIN_BINDINGS)
    BINDING_GROUP_TITLE = "Workbench"

    def __init__(
        self,
        engine: Engine,
        root: Path,
        *,
        root_label: str,
        show_elapsed: bool = True,
        demo: bool = False,
        config_path: Path | None = None,
    ) -> None:
        super().__init__(engine, root, id="main-screen", config_path=config_path)
        self.root_label = root_label
        self.show_elapsed = show_elapsed
        self.demo = demo
        self.session = Totals(0, 0.0, {})
        self._pending_reloads: set[Path] = set()
        self._marks_timer: Timer | None = None
        self._progress: dict[int, JobProgressed] = {}
        self._progress_timer: Timer | None = None
        self._unsubscribe: object = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ui_thread = 0
        self._last_key = -IDLE_S  # idle until the first key

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield AudioTree(self.root, root_label=self.root_label, id="files")
                yield ErrorsPanel(show_elapsed=self.show_elapsed, id="errors")
            with Vertical(id="right"):
                yield QueueTable(show_elapsed=self.show_elapsed, id="queue")
                yield TranscriptPane(show_elapsed=self.show_elapsed, id="transcript")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#files").border_title = "Files"
        self.query_one("#errors").border_title = "Errors & usage"
        self.query_one("#queue").border_title = "Queue"
        self.query_one("#transcript").border_title = "Transcript"
        self.query_one(AudioTree).focus()
        self._loop = asyncio.get_running_loop()
        self._ui_thread = threading.get_ident()
        self._unsubscribe = self.engine.bus.subscribe(self._on_engine_event)
        self.refresh_status()
        if self.demo:
            self.errors.add(
                "info",
                "demo",
                f"Drop audio files into {self.root}: the folder is watched, so they are "
                "transcribed as they arrive (by the built-in emulator, free).",
            )

    def load_recent_jobs(self) -> None:
        """The queue's rows (the app calls it once the first frame is shown)."""
        recent = self.engine.store.list_jobs(limit=RECENT_JOBS, newest_first=True)
        for job in reversed(recent):
            self.table.upsert(job)

    def on_unmount(self) -> None:
        if callable(self._unsubscribe):
            self._unsubscribe()

    def refresh_status(self) -> None:
        engine = self.engine
        counts = engine.store.counts()
        watching = [(c.folders[0], ",".join(c.export.formats)) for c in engine.watched()]
        settings = engine.settings
        budget = settings.budget_daily > 0 or settings.budget_monthly > 0
        self.query_one(StatusBar).show(
            service=service_label(settings),
            model=settings.model,
            watching=watching,
            counts=counts,
            demo=self.demo,
            # The demo's folder lives somewhere temporary: show where to drop files in full.
            display_root=None if self.demo else self.root,
            pause=engine.pause,
            spend=engine.spend() if budget else None,
        )
        # "N to review" counts what is still to do: a job marked reviewed drops out.
        self.errors.show_totals(self.session, {**counts, "to_review": engine.store.unreviewed()})

    # --- engine events -------------------------------------------------------------------------

    def _on_engine_event(self, event: Event) -> None:
        if threading.get_ident() != self._ui_thread and self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_engine_event, event)
            return
        if isinstance(event, JobDeltaReceived):
            # Text never travels as a message: the pane buffers it and flushes at 5 Hz.
            self.pane.add_delta(event.job_id, event.text, event.start_ms, event.end_ms)
        elif (message := msg.message_for(event)) is not None:
            self.post_message(message)

    def _job_moved(self, job_id: int, *, started: bool = False, queued: bool = False) -> None:
        """A job's lifecycle moved: re-read it, update its row and the views that show it."""
        job = self.engine.store.get_job(job_id)
        if job is None:
            return
        self._progress.pop(job_id, None)  # drawn late, it would cover the job's new state
        self.table.upsert(job)
        self.transcripts.forget(job.id)
        self._marks_later()
        if self._should_follow(job, started=started, queued=queued):
            self._select(job)
        elif job.id == self.selected_job:
            self.show_selected(job)
        self.refresh_status()

    def _should_follow(self, job: Job, *, started: bool, queued: bool) -> bool:
        if job.id == self.selected_job:
            return False
        if self.selected_job is None:
            return started or queued
        if not (self.follow_running and started):
            return False
        current = self.selected()
        return current is None or current.state is not JobState.RUNNING

    def _where(self, job_id: int) -> str:
        job = self.engine.store.get_job(job_id)
        return f"job {job_id} {job.name}" if job else f"job {job_id}"

    def on_job_queued(self, message: msg.JobQueued) -> None:
        self._job_moved(message.event.job.id, queued=True)

    def on_job_started(self, message: msg.JobStarted) -> None:
        event = message.event
        if event.cross_check_only:
            self.errors.add("info", self._where(event.job_id), "cross-checking with step-asr-1.1")
        self._job_moved(event.job_id, started=True)

    def on_job_progressed(self, message: msg.JobProgressed) -> None:
        self._progress[message.event.job_id] = message.event
        if self._progress_timer is None:
            self._progress_timer = self.set_timer(PROGRESS_DRAW_S, self._draw_progress)

    def _draw_progress(self) -> None:
        self._progress_timer = None
        progress, self._progress = self._progress, {}
        for event in progress.values():
            self.table.set_progress(event)
            self.pane.set_progress(event)

    def on_job_restarted(self, message: msg.JobRestarted) -> None:
        event = message.event
        self.pane.restart(event.job_id)
        self.errors.add("info", self._where(event.job_id), f"starting again: {event.reason}")
        self._job_moved(event.job_id)

    def on_job_finished(self, message: msg.JobFinished) -> None:
        event = message.event
        where = self._where(event.job_id)
        self.pane.forget(event.job_id)
        for warning in event.result.warnings:
            self.errors.add("warning", where, warning.message)
        if (cc := event.result.cross_check) is not None:
            self.errors.add(
                "info", where, f"cross-check with {cc.model}: {cc.similarity:.0%} similar"
            )
        if event.cross_check_only:  # the same job and audio, checked: only the extra cost
            self.session = add_cost(self.session, event.added_cost)
        else:
            self.session = add_to_totals(self.session, event.result)
            self._notify_done(event.job_id, event.state)
        self._job_moved(event.job_id)

    def _notify_done(self, job_id: int, state: str) -> None:
        """A watched folder's job finished or needs review while the user is away: a toast,
        and the terminal bell (setting ``notifications``)."""
        job = self.engine.store.get_job(job_id)
        if job is None or job.origin != "watch" or not self.engine.settings.notifications:
            return
        if time.monotonic() - self._last_key < IDLE_S:
            return
        review = state == "needs_review"
        self.notify(
            f"{job.name}: {'needs review' if review else 'transcribed'}",
            title="stepfun-asr",
            severity="warning" if review else "information",
            markup=False,
        )
        self.app.bell()

    def on_key(self, _event: events.Key) -> None:
        self._last_key = time.monotonic()

    def on_job_failed(self, message: msg.JobFailed) -> None:
        self.pane.forget(message.event.job_id)
        self.errors.add("error", self._where(message.event.job_id), message.event.message)
        self._job_moved(message.event.job_id)

    def on_cross_check_failed(self, message: msg.CrossCheckFailed) -> None:
        event = message.event
        severity = "warning" if event.kind == "canceled" else "error"
        where = self._where(event.job_id)
        self.errors.add(severity, where, f"cross-check not done: {event.message}")
        self._job_moved(event.job_id)

    def on_job_canceled(self, message: msg.JobCanceled) -> None:
        self.pane.forget(message.event.job_id)
        self._job_moved(message.event.job_id)

    def on_job_requeued(self, message: msg.JobRequeued) -> None:
        self.pane.forget(message.event.job_id)
        self._job_moved(message.event.job_id)

    def on_job_reviewed(self, message: msg.JobReviewed) -> None:
        self._job_moved(message.event.job_id)

    def on_transcript_corrected(self, message: msg.TranscriptCorrected) -> None:
        self._job_moved(message.event.job_id)

    def on_speakers_edited(self, message: msg.SpeakersEdited) -> None:
        self._job_moved(message.event.job_id)  # the pane shows the new names

    def on_watch_started(self, message: msg.WatchStarted) -> None:
        event = message.event
        names = ", ".join(shown_path(f, self.root) for f in event.folders)
        polling = " (polling)" if event.polling else ""
        self.errors.add("info", "watch", f"watching {names}{polling}")
        self.refresh_status()

    def on_watch_stopped(self, _message: msg.WatchStopped) -> None:
        self.refresh_status()

    def on_watch_failed(self, message: msg.WatchFailed) -> None:
        names = ", ".join(shown_path(f, self.root) for f in message.event.folders)
        self.errors.add("error", "watch", f"stopped watching {names}: {message.event.message}")
        self.refresh_status()

    def on_watch_degraded(self, message: msg.WatchDegraded) -> None:
        self.errors.add("warning", "watch", message.event.message)

    def on_folder_missing(self, message: msg.FolderMissing) -> None:
        event = message.event
        self.errors.add("warning", "watch", event.message or f"{event.folder} is missing")

    def on_folder_restored(self, message: msg.FolderRestored) -> None:
        self.errors.add("info", "watch", f"{message.event.folder} is back")

    def on_file_detected(self, message: msg.FileDetected) -> None:
        # Files often arrive in bursts: one reload per folder per burst.
        folder = message.event.path.parent
        if folder not in self._pending_reloads:
            self._pending_reloads.add(folder)
            self.set_timer(TREE_RELOAD_DELAY_S, lambda: self._reload_folder(folder))

    def _reload_folder(self, folder: Path) -> None:
        self._pending_reloads.discard(folder)
        self.files.reload_folder(folder)

    def on_file_skipped(self, message: msg.FileSkipped) -> None:
        event = message.event
        severity = "warning" if event.job_id is None else "info"
        self.errors.add(severity, event.path.name, event.reason)

    def on_export_written(self, message: msg.ExportWritten) -> None:
        event = message.event
        self.errors.add(
            "info", f"job {event.job_id}", f"wrote {', '.join(p.name for p in event.paths)}"
        )
        if (job := self.engine.store.get_job(event.job_id)) is not None:
            self.table.upsert(job)

    def on_export_failed(self, message: msg.ExportFailed) -> None:
        self.errors.add("error", f"job {message.event.job_id}", message.event.message)

    def on_hook_failed(self, message: msg.HookFailed) -> None:
        self.errors.add("error", f"job {message.event.job_id}", message.event.message)

    def on_problem_reported(self, message: msg.ProblemReported) -> None:
        self.errors.add(message.severity, message.where, message.message)

    def on_settings_applied(self, _message: msg.SettingsApplied) -> None:
        self.refresh_status()

    def on_queue_paused(self, message: msg.QueuePaused) -> None:
        event = message.event
        self.errors.add("error", "queue paused", f"{event.message} {pause_hint(event.reason)}")
        self.refresh_status()

    def on_queue_resumed(self, message: msg.QueueResumed) -> None:
        self.errors.add("info", "queue", f"resumed: {message.event.how}")
        self.refresh_status()

    def on_service_probed(self, message: msg.ServiceProbed) -> None:
        self.refresh_status()  # the header says when the next try is

    def action_resume(self) -> None:
        if not self.engine.resume():
            self.notify("The queue is running (nothing is paused).", markup=False)

    # --- search in the transcript --------------------------------------------------------------

    @on(Input.Submitted, "#search-input")
    def search_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        found = self.pane.search(message.value)
        # The box closes and the text has the focus: ] and [ step through the matches, and
        # nothing typed next can land in a binding while the box still looks open.
        self.pane.close_search()
        if not found:
            self.notify(f"No match for {message.value!r}.", severity="warning", markup=False)
        else:
            self.notify(
                f"{found} match{'es' if found != 1 else ''} for {message.value!r} "
                "(] next, [ previous).",
                markup=False,
            )

    def key_escape(self) -> None:
        if self.pane.search_open:
            self.pane.close_search()

    # --- the library ---------------------------------------------------------------------------

    def action_library(self) -> None:
        from tui.app.screens.library_screen import LibraryScreen

        self.app.push_screen(LibraryScreen(self.engine.store))

    def on_library_job_chosen(self, message: LibraryJobChosen) -> None:
        """A job chosen in the library (the app hands it here): show it, at the hit's cue."""
        message.stop()
        job = self.engine.store.get_job(message.job_id)
        if job is None:
            self.notify(f"Job {message.job_id} is no longer in the history.", markup=False)
            return
        self.follow_running = False
        self._select(job)
        if message.start_ms is not None:
            self.call_after_refresh(self.pane.scroll_to_time, message.start_ms)

    def _marks_later(self) -> None:
        # Jobs move in bursts: one look at the store per burst, off the event loop.
        if self._marks_timer is None:
            self._marks_timer = self.set_timer(MARKS_DELAY_S, self._refresh_marks)

    def _refresh_marks(self) -> None:
        self._marks_timer = None
        self.app.run_worker(
            self._load_marks(),
            group="marks",
            exclusive=True,
            exit_on_error=False,
            description="Marking transcribed files",
        )

    async def _load_marks(self) -> None:
        marks = await asyncio.to_thread(self.engine.store.file_marks, self.root)
        self.files.update_marks(marks)

    # --- screens the app owns ------------------------------------------------------------------

    def action_settings(self) -> None:
        self.post_message(msg.SettingsRequested())

    def action_help(self) -> None:
        self.post_message(msg.HelpRequested())

    def action_quit(self) -> None:
        self.post_message(msg.QuitRequested())
