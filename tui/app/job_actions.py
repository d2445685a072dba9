"""The main screen's parts, its selected job, and its keys turned into engine verbs.

``MainScreen`` (``tui.app.main_screen``) builds on this with the layout and the engine's
events. Every verb goes to the engine; a verb the job's state does not allow shows the
engine's sentence as a notice instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.reactive import reactive
from textual.screen import Screen

from tui.app.session import audio_files
from tui.app.transcript_cache import TranscriptCache, layout_transcript
from tui.app.widgets.errors_panel import ErrorsPanel
from tui.app.widgets.file_browser import AudioTree
from tui.app.widgets.queue_table import QueueFilter, QueueTable
from tui.app.widgets.transcript_pane import TranscriptPane
from tui.engine.engine import Engine
from tui.store.records import FINISHED, Job, JobOptions, JobState, JobStateError
from tui.transcript.exports import ExportSpec

# The screens over this one, and the cost estimates, are imported when first opened: the
# first screen appears sooner (tests/test_import_contracts.py keeps them out of it).
if TYPE_CHECKING:
    from tui.app.screens.confirm_send_screen import SendChoice, SendRequest
    from tui.app.screens.export_screen import ExportChoice


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
        # A re-run that is queued, canceled or failed still has its earlier transcript (a
        # stored duration says a result was saved): it is shown, never an empty pane.
        earlier = job.state is not JobState.RUNNING and job.duration_s is not None
        if job.state not in FINISHED and not earlier:
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
        result, lines = layout
        self.pane.show_job(job, result, lines=lines)
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
        """Queue the highlighted file or the folder's audio files. New files go straight to
        the queue; files already transcribed, or a batch over the threshold, are shown first
        (files, minutes, cost) and already-transcribed ones are left out unless asked for."""
        path = self.files.highlighted_path() or self.root
        files = audio_files(path) if path.is_dir() else [path]
        if not files:
            self.notify(f"No audio or video files in {path}.", severity="warning", markup=False)
            return
        active = {j.source for j in self.engine.store.list_jobs(["queued", "running"])}
        wanted = [f for f in files if f not in active]
        if skipped := len(files) - len(wanted):
            self.notify(f"{skipped} file(s) already in the queue.", markup=False)
        if wanted:
            # How many speakers is asked first (when it is to be asked), before the cost.
            self.ask_speakers(
                wanted,
                lambda speakers: self._paid(
                    self._transcribe(wanted, speakers), "Estimating what it would cost"
                ),
            )

    def ask_speakers(
        self,
        files: list[Path],
        then: Callable[[str | None], None],
        *,
        what: str = "",
        canceled: str = "",
    ) -> None:
        """Call ``then`` with the jobs' ``speakers`` option (None: the settings decide); the
        speaker actions (``tui.app.speaker_actions``) may ask the user first."""
        then(None)

    async def _transcribe(self, files: list[Path], speakers: str | None = None) -> None:
        from tui.app.screens.confirm_send_screen import SendRequest
        from tui.engine.estimates import estimate_files

        settings = self.engine.settings
        est = await estimate_files(files, settings, store=self.engine.store)
        fresh = est.without(est.transcribed)
        if not est.transcribed and fresh.amount <= self.confirm_threshold(est.currency):
            self._submit(est.files, speakers)
            return
        n = len(est.files)
        request = SendRequest(
            f"Transcribe {n} file{'s' if n != 1 else ''}",
            est,
            verb="Transcribe",
            note=self._outputs_note(),
            model=settings.model,
        )
        self._confirm(request, lambda choice: self._submit(choice.paths, speakers))

    def confirm_threshold(self, currency: str) -> float:
        settings = self.engine.settings
        return settings.confirm_above_usd if currency == "USD" else settings.confirm_above_cny

    def _export_spec(self) -> ExportSpec:
        """What ``t`` writes: the configured formats, like a watched folder."""
        s = self.engine.settings
        return ExportSpec(formats=tuple(s.formats), out_dir=s.out_dir, policy=s.existing_policy)

    def _outputs_note(self) -> str:
        spec = self._export_spec()
        where = spec.out_dir or "next to each recording"
        return f"Writes {', '.join(spec.formats)} {'to ' + where if spec.out_dir else where}."

    def _submit(self, paths: tuple[Path, ...], speakers: str | None = None) -> None:
        options = JobOptions(export=self._export_spec(), speakers=speakers)
        for path in paths:
            self.engine.submit(path, options, origin="tui")
        if paths and not self.engine.settings.api_key and not self.engine.serving:
            self.notify("Queued; they start once an API key is set (s).", markup=False)

    def _confirm(self, request: SendRequest, then: Callable[[SendChoice], object]) -> None:
        from tui.app.screens.confirm_send_screen import ConfirmSendScreen

        def chosen(choice: SendChoice | None) -> None:
            if choice is not None and choice.paths:
                then(choice)

        self.app.push_screen(ConfirmSendScreen(request), chosen)

    def _paid(self, work: Awaitable[None], description: str) -> None:
        # On the app, so that its one worker-failure handler reports a failure.
        self.app.run_worker(work, group="estimate", exit_on_error=False, description=description)

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

    def action_queue_filter(self) -> None:
        """Cycle the queue through all jobs, what needs attention (to review / failed), what
        is running or queued, and what is done; on a small screen the first two are one key
        away."""
        table = self.table
        table.set_filter(table.filter.next())
        title = "Queue" if table.filter is QueueFilter.ALL else f"Queue · {table.filter.value}"
        table.border_title = title
        if self.selected_job in table.job_ids:
            table.select_job(self.selected_job)
        elif table.job_ids:
            table.select_job(table.job_ids[0])

    def action_follow(self) -> None:
        self.follow_running = True
        running = self.engine.store.list_jobs("running", newest_first=False)
        if running:
            self._select(running[0])
        self.notify("Following: each job is shown as it starts (j/k stops).", markup=False)

    def action_retry(self) -> None:
        """Retry a failed or canceled job; a finished one is paid again, so it is shown
        first (minutes, cost) and runs only when confirmed."""
        if (job := self._need_job()) is None:
            return
        # A failed or canceled re-run still has its earlier transcript: sending it again is
        # paid again just the same, so it is shown first too.
        if job.state not in FINISHED and job.duration_s is None:
            self._guard(lambda: self.engine.retry(job.id))
            return
        self._paid(self._rerun(job), "Estimating the re-run")

    async def _rerun(self, job: Job) -> None:
        from tui.app.screens.confirm_send_screen import SendRequest
        from tui.engine.estimates import estimate_jobs

        est = await estimate_jobs(self.engine.store, [job.id], self.engine.settings)
        request = SendRequest(
            f"Transcribe {job.name} again",
            est,
            verb="Run again",
            optional=False,
            note="The current transcript stays until the new one replaces it (also if the "
            "re-run is canceled or fails).",
            model=job.options.model or self.engine.settings.model,
        )
        verb = self.engine.rerun if job.state in FINISHED else self.engine.retry
        self._confirm(request, lambda _c: self._guard(lambda: verb(job.id)))

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
        from tui.app.screens.review_screen import ReviewScreen

        self.app.push_screen(ReviewScreen(self.engine, job.id))

    def action_cross_check(self) -> None:
        """Compare the job's stored transcript with step-asr-1.1 (the main model is not run
        again), after showing what it costs; a job that is not finished gets a notice
        saying why it cannot be."""
        if (job := self._need_job()) is None:
            return
        if job.state not in FINISHED:
            # Not finished: the engine refuses it and its sentence says why (nothing sent).
            self._guard(lambda: self.engine.cross_check(job.id))
            return
        self._paid(self._cross_check(job), "Estimating the cross-check")

    async def _cross_check(self, job: Job) -> None:
        from tui.app.screens.confirm_send_screen import SendRequest
        from tui.engine.estimates import estimate_jobs

        est = await estimate_jobs(
            self.engine.store, [job.id], self.engine.settings, cross_check=True
        )
        request = SendRequest(
            f"Cross-check {job.name}",
            est,
            verb="Cross-check",
            optional=False,
            note="Sends the audio to step-asr-1.1 and compares the two texts; the main model "
            "does not run again and the transcript is kept whatever the outcome.",
            model="step-asr-1.1",
        )

        def go(_choice: SendChoice) -> None:
            if self._guard(lambda: self.engine.cross_check(job.id)):
                self.notify(f"Cross-checking {job.name} with step-asr-1.1.", markup=False)

        self._confirm(request, go)

    def action_compare(self) -> None:
        """The selected job's transcript beside its cross-check, differences marked."""
        if (job := self._need_job()) is None:
            return
        result = self.engine.store.get_result(job.id)
        if result is None or result.cross_check is None:
            self.notify(
                f"{job.name} has no cross-check yet (v runs one).", severity="warning", markup=False
            )
            return
        from tui.app.screens.compare_screen import CompareScreen

        cc = result.cross_check
        model = result.model or job.options.model or self.engine.settings.model
        self.app.push_screen(
            CompareScreen(job.name, model, result.text, cc.model, cc.text, cc.similarity)
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

        from tui.app.screens.export_screen import ExportScreen

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
