"""The main screen's parts, its selected job, and its keys turned into engine verbs.

``MainScreen`` (``tui.app.main_screen``) builds on this with the layout and the engine's
events. Every verb goes to the engine; a verb the job's state does not allow shows the
engine's sentence as a notice instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.reactive import reactive
from textual.screen import Screen

from tui.app.screens.export_screen import ExportChoice, ExportScreen
from tui.app.screens.review_screen import ReviewScreen
from tui.app.session import audio_files
from tui.app.transcript_cache import TranscriptCache, layout_transcript
from tui.app.widgets.errors_panel import ErrorsPanel
from tui.app.widgets.file_browser import AudioTree
from tui.app.widgets.queue_table import QueueTable
from tui.app.widgets.transcript_pane import TranscriptPane
from tui.engine.engine import Engine
from tui.store.records import FINISHED, Job, JobOptions, JobStateError


class JobActionsScreen(Screen[None]):
    # The job shown in the transcript pane and the errors panel.
    selected_job: reactive[int | None] = reactive(None, init=False)

    def __init__(self, engine: Engine, root: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.root = root
        # Show each job as it starts, until the user picks one themselves (f turns it back on).
        self.follow_running = True
        self.transcripts = TranscriptCache(engine.store)
        self._expected_highlight: int | None = None
        self._pane: TranscriptPane | None = None

    # --- parts ---------------------------------------------------------------------------------

    @property
    def files(self) -> AudioTree:
        return self.query_one(AudioTree)

    @property
    def table(self) -> QueueTable:
        return self.query_one(QueueTable)

    @property
    def pane(self) -> TranscriptPane:
        # Looked up once: every delta reaches the pane through here.
        if self._pane is None:
            self._pane = self.query_one(TranscriptPane)
        return self._pane

    @property
    def errors(self) -> ErrorsPanel:
        return self.query_one(ErrorsPanel)

    # --- the selected job ----------------------------------------------------------------------

    def selected(self) -> Job | None:
        if self.selected_job is None:
            return None
        return self.engine.store.get_job(self.selected_job)

    def watch_selected_job(self) -> None:
        self.show_selected()

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
        layout = self.transcripts.get(job.id, job.duration_s)
        if layout is None:  # a long transcript: laid out off the event loop
            if self.transcripts.laying_out != job.id:
                self.transcripts.laying_out = job.id
                self._lay_out(job)
            self.pane.show_pending(job)
            self.errors.show_job(job, None)
            return
        result, text = layout
        self.pane.show_job(job, result, text=text)
        self.errors.show_job(job, result)

    def _lay_out(self, job: Job) -> None:
        # On the app, so that its one worker-failure handler reports a failure.
        self.app.run_worker(
            self._laid_out(job),
            group="transcript",
            exclusive=True,
            exit_on_error=False,
            description="Laying out a long transcript",
        )

    async def _laid_out(self, job: Job) -> None:
        layout = await asyncio.to_thread(layout_transcript, self.engine.store, job.id)
        if self.transcripts.laying_out != job.id:
            return  # the job changed meanwhile; a newer layout was asked for
        self.transcripts.laying_out = None
        self.transcripts.put(job.id, layout)
        if self.selected_job == job.id:
            self.show_selected()

    def _select(self, job: Job) -> None:
        self._expected_highlight = job.id
        self.table.select_job(job.id)
        if self.selected_job == job.id:
            self.show_selected(job)
        self.selected_job = job.id

    @on(QueueTable.JobHighlighted)
    def job_highlighted(self, message: QueueTable.JobHighlighted) -> None:
        if message.job_id == self._expected_highlight:
            self._expected_highlight = None
        else:
            self.follow_running = False  # the user moved: stop jumping to new jobs
        self.selected_job = message.job_id

    # --- keys ----------------------------------------------------------------------------------

    def action_transcribe(self) -> None:
        path = self.files.highlighted_path() or self.root
        files = audio_files(path) if path.is_dir() else [path]
        if not files:
            self.notify(f"No audio or video files in {path}.", severity="warning", markup=False)
            return
        active = {j.source for j in self.engine.store.list_jobs(["queued", "running"])}
        queued = [
            self.engine.submit(f, JobOptions(), origin="tui") for f in files if f not in active
        ]
        if skipped := len(files) - len(queued):
            self.notify(f"{skipped} file(s) already in the queue.", markup=False)
        if queued and not self.engine.settings.api_key and not self.engine.serving:
            self.notify("Queued; they start once an API key is set (s).", markup=False)

    async def action_toggle_watch(self) -> None:
        path = self.files.highlighted_path() or self.root
        folder = path if path.is_dir() else path.parent
        if await self.engine.unwatch(folder):
            self.notify(f"Stopped watching {folder}.", markup=False)
        else:
            self.engine.watch_folder(folder)
        self.refresh_status()

    def refresh_status(self) -> None:
        """Redraw the header and totals (the main screen knows how)."""

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
        running = self.engine.store.list_jobs("running", newest_first=False)
        if running:
            self._select(running[0])
        self.notify("Following: each job is shown as it starts (j/k stops).", markup=False)

    def action_retry(self) -> None:
        if (job := self._need_job()) is not None:
            verb = self.engine.rerun if job.state in FINISHED else self.engine.retry
            self._guard(lambda: verb(job.id))

    def action_cancel_job(self) -> None:
        if (job := self._need_job()) is not None:
            self._guard(lambda: self.engine.cancel(job.id))

    def action_mark_reviewed(self) -> None:
        if (job := self._need_job()) is not None:
            self._guard(lambda: self.engine.mark_reviewed(job.id, not job.reviewed))

    def action_review(self) -> None:
        if (job := self._need_job()) is None:
            return
        if job.state not in FINISHED:
            self.notify(
                f"Job {job.id} is {job.state.value}; only finished transcripts can be reviewed.",
                severity="warning",
                markup=False,
            )
            return
        self.app.push_screen(ReviewScreen(self.engine, job.id))

    def action_cross_check(self) -> None:
        """Compare the job's stored transcript with step-asr-1.1 (the main model is not run
        again); a job that is not finished gets a notice saying why it cannot be."""
        if (job := self._need_job()) is None or not self._guard(
            lambda: self.engine.cross_check(job.id)
        ):
            return
        self.notify(
            f"Cross-checking {job.name} with step-asr-1.1 (costs extra; the transcript is kept "
            "whatever the outcome).",
            markup=False,
        )

    def action_export(self) -> None:
        if (job := self._need_job()) is None:
            return
        if job.state not in FINISHED:
            self.notify(
                f"Job {job.id} is {job.state.value}; only finished transcripts can be exported.",
                severity="warning",
                markup=False,
            )
            return

        def chosen(choice: ExportChoice | None) -> None:
            if choice is not None:
                self.app.run_worker(
                    self._export(job, choice),
                    group="export",
                    exit_on_error=False,
                    description="Writing transcript files",
                )

        formats = list(self.engine.settings.formats)
        self.app.push_screen(ExportScreen(job.name, formats, job.source.parent), chosen)

    async def _export(self, job: Job, choice: ExportChoice) -> list[Path]:
        paths = await asyncio.to_thread(
            self.engine.export, job.id, choice.formats, choice.out_dir, choice.policy
        )
        if paths:
            self.notify(f"Wrote {len(paths)} file(s) for {job.name}.", markup=False)
        else:
            self.notify(
                "Nothing written: every file already exists (policy: skip).",
                severity="warning",
                markup=False,
            )
        return paths

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

    def _need_job(self) -> Job | None:
        job = self.selected()
        if job is None:
            self.notify(
                "Select a job in the queue first (j/k or the arrow keys).",
                severity="warning",
                markup=False,
            )
        return job

    def _guard(self, verb: Callable[[], object]) -> bool:
        try:
            verb()
        except (JobStateError, KeyError) as exc:
            text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            self.notify(text, severity="warning", markup=False)
            return False
        return True
