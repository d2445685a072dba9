"""The workbench app: owns the engine (store, bus, runner, watchers) and the screens.

The UI holds no job logic. It runs the runner as an async worker in its own loop, subscribes
to the bus and turns each event into a message for the main screen (transcript text goes
straight into the pane's buffer instead, flushed ~20 times a second). Quitting stops the runner
at once: a job in flight goes back to the queue for next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from tui import config
from tui.app.bindings import MAIN_BINDINGS
from tui.app.main_screen import MainScreen
from tui.app.messages import JobChanged, ProgressUpdated, WatchUpdated
from tui.app.screens.export_screen import ExportChoice, ExportScreen
from tui.app.screens.help_screen import HelpScreen, help_rows
from tui.app.screens.key_screen import KeyEntered, KeyScreen
from tui.app.screens.settings_screen import SettingsSaved, SettingsScreen
from tui.app.session import (
    add_cost,
    add_to_totals,
    audio_files,
    layout_transcript,
    service_label,
)
from tui.config import Settings
from tui.engine.events import (
    Event,
    EventBus,
    JobDeltaReceived,
    JobEvent,
    JobFinished,
    JobProgressed,
    JobQueued,
)
from tui.engine.runner import Runner, TranscribeFn
from tui.engine.watcher import WatchConfig, Watcher
from tui.secrets import Secret
from tui.store.records import FINISHED, Job, JobOptions, JobStateError, Totals
from tui.store.store import Store
from tui.transcript.exports import write_exports
from tui.transcript.model import TranscriptionResult

STOP_TIMEOUT_S = 10.0
# Up to this much audio a finished transcript is laid out at once (~30 ms); longer ones in a
# thread, so selecting a 100k-character transcript never freezes the keyboard.
INLINE_RENDER_MAX_S = 1800.0
RENDER_CACHE_SIZE = 8


class WorkbenchApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "stepfun-asr"

    def __init__(
        self,
        settings: Settings,
        root: Path,
        store: Store,
        *,
        watch: bool = False,
        config_path: Path | None = None,
        transcribe: TranscribeFn | None = None,
        demo: bool = False,
        show_elapsed: bool = True,
        root_label: str | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.root = root.resolve()
        self.store = store
        self.bus = EventBus()
        self.config_path = config_path
        self.demo = demo
        self.watch_on_start = watch
        self._transcribe = transcribe
        # grace_s=0: on quit a job in flight is put back in the queue at once.
        self.runner = Runner(
            store,
            self.bus,
            transcribe,
            concurrency=max(1, settings.concurrency),
            requests_per_minute=settings.requests_per_minute or None,
            settings=settings,
            grace_s=0.0,
        )
        self._root_label = root_label or self.root.name or str(root)
        self._show_elapsed = show_elapsed
        self._main: MainScreen | None = None
        self._runner_stop: asyncio.Event | None = None
        self._runner_worker: Worker[None] | None = None
        self._watchers: dict[Path, tuple[asyncio.Event, Worker[None], WatchConfig]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ui_thread = 0
        self._session = Totals(0, 0.0, {})
        self._rendered: dict[int, tuple[TranscriptionResult | None, str]] = {}
        self._rendering: int | None = None
        self._stopped = False
        self._owns_store = False

    @property
    def main(self) -> MainScreen:
        if self._main is None:
            raise RuntimeError("the workbench is not running")
        return self._main

    async def on_mount(self) -> None:
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        # Pushed rather than returned by get_default_screen: a default screen's on_mount can
        # run before its nested children are mounted (Textual 8.2.8, headless run).
        self._main = MainScreen(
            self.root, root_label=self._root_label, show_elapsed=self._show_elapsed
        )
        await self.push_screen(self._main)

    async def start_engine(self) -> None:
        """Called once the main screen is mounted: show the store, start runner (and watch)."""
        self._loop = asyncio.get_running_loop()
        self._ui_thread = threading.get_ident()
        self._unsubscribe = self.bus.subscribe(self._on_bus)
        recent = self.store.list_jobs(limit=1000, newest_first=True)
        self.main.load_jobs(list(reversed(recent)))
        if self._transcribe is not None or self.settings.api_key:
            self.start_runner()
        else:
            self.push_screen(KeyScreen(self.settings.region), self._key_entered)
        if self.watch_on_start:
            await self.toggle_watch(self.root)

    # --- engine ------------------------------------------------------------------------------

    def start_runner(self) -> None:
        if self._runner_worker is not None and self._runner_worker.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        ):
            return
        self._runner_stop = asyncio.Event()
        self.runner.concurrency = max(1, self.settings.concurrency)
        self._runner_worker = self._run_jobs(self._runner_stop)

    @work(exit_on_error=False, group="asr", name="runner", description="Transcribing jobs")
    async def _run_jobs(self, stop: asyncio.Event) -> None:
        await self.runner.run_forever(stop)

    async def stop_runner(self) -> None:
        worker, self._runner_worker = self._runner_worker, None
        if worker is None:
            return
        self.runner.stop_now()
        if self._runner_stop is not None:
            self._runner_stop.set()
        with contextlib.suppress(WorkerCancelled, WorkerFailed, TimeoutError):
            await asyncio.wait_for(worker.wait(), STOP_TIMEOUT_S)

    def watching(self) -> list[tuple[Path, str]]:
        return [
            (folder, ",".join(cfg.export.formats))
            for folder, (_stop, _worker, cfg) in self._watchers.items()
        ]

    async def toggle_watch(self, folder: Path) -> None:
        """Start or stop watching ``folder`` (an absolute path)."""
        if folder in self._watchers:
            stop, worker, _cfg = self._watchers.pop(folder)
            stop.set()
            with contextlib.suppress(WorkerCancelled, WorkerFailed, TimeoutError):
                await asyncio.wait_for(worker.wait(), STOP_TIMEOUT_S)
            self.notify(f"Stopped watching {folder}.", markup=False)
            return
        cfg = WatchConfig.from_settings(self.settings, [folder])
        stop = asyncio.Event()
        watcher = Watcher(cfg, self.store, self.runner, self.bus)
        self._watchers[folder] = (stop, self._watch_folder(watcher, stop), cfg)

    @work(exit_on_error=False, group="watch", description="Watching a folder")
    async def _watch_folder(self, watcher: Watcher, stop: asyncio.Event) -> None:
        await watcher.run(stop)

    async def stop_engine(self) -> None:
        """Stop watchers and the runner (jobs in flight go back to the queue). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for folder in list(self._watchers):
            stop, worker, _cfg = self._watchers.pop(folder)
            stop.set()
            with contextlib.suppress(WorkerCancelled, WorkerFailed, TimeoutError):
                await asyncio.wait_for(worker.wait(), STOP_TIMEOUT_S)
        await self.stop_runner()
        if self._unsubscribe is not None:
            self._unsubscribe()

    async def action_quit(self) -> None:
        await self.stop_engine()
        self.exit()

    async def on_unmount(self) -> None:
        await self.stop_engine()
        if self._owns_store:
            self.store.close()

    # --- bus → messages ----------------------------------------------------------------------

    def _on_bus(self, event: Event) -> None:
        if threading.get_ident() != self._ui_thread and self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_bus, event)
            return
        if isinstance(event, JobDeltaReceived):
            # Text never travels as a message: the pane buffers it and flushes at 20 Hz.
            self.main.pane.add_delta(event.job_id, event.text, event.start_ms, event.end_ms)
        elif isinstance(event, JobProgressed):
            self.main.post_message(ProgressUpdated(event))
        elif isinstance(event, JobQueued):
            self.main.post_message(JobChanged(event, event.job.id))
        elif isinstance(event, JobEvent):
            self.main.post_message(JobChanged(event, event.job_id))
        else:
            self.main.post_message(WatchUpdated(event))

    @on(Worker.StateChanged)
    def worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures land: the errors panel (and a toast)."""
        worker = event.worker
        if event.state is not WorkerState.ERROR:
            return
        error = worker.error
        message = f"{type(error).__name__}: {error}" if error else "stopped unexpectedly"
        where = {"asr": "transcription engine", "watch": "watch", "export": "export"}.get(
            worker.group, worker.group
        )
        if worker.group == "asr":
            message += " — change the settings (s) to start it again"
        self.main.problem("error", where, message)
        self.notify(message, title=f"{where} failed", severity="error", markup=False)

    # --- finished transcripts, laid out for the pane --------------------------------------

    def rendered(self, job: Job) -> tuple[TranscriptionResult | None, str] | None:
        """(result, text as shown) for a finished job; None while a long one is laid out."""
        if job.id in self._rendered:
            return self._rendered[job.id]
        if job.duration_s is None or job.duration_s > INLINE_RENDER_MAX_S:
            if self._rendering != job.id:
                self._rendering = job.id
                self._render_transcript(job)
            return None
        return self._remember(job.id, *layout_transcript(self.store, job.id))

    def forget_rendered(self, job_id: int) -> None:
        self._rendered.pop(job_id, None)
        if self._rendering == job_id:
            self._rendering = None  # the next request lays it out again (it changed)

    def _remember(
        self, job_id: int, result: TranscriptionResult | None, text: str
    ) -> tuple[TranscriptionResult | None, str]:
        while len(self._rendered) >= RENDER_CACHE_SIZE:
            self._rendered.pop(next(iter(self._rendered)))
        self._rendered[job_id] = (result, text)
        return result, text

    @work(
        exclusive=True,
        group="transcript",
        exit_on_error=False,
        description="Laying out a long transcript",
    )
    async def _render_transcript(self, job: Job) -> None:
        result, text = await asyncio.to_thread(layout_transcript, self.store, job.id)
        if self._rendering != job.id:
            return  # the job changed meanwhile; a newer layout was asked for
        self._rendering = None
        self._remember(job.id, result, text)
        if self.main.selected_job == job.id:
            self.main.show_selected()

    # --- what the screen asks for ------------------------------------------------------------

    def service_label(self) -> str:
        return service_label(self.settings)

    def session_totals(self) -> Totals:
        return self._session

    def count_finished(self, event: JobFinished) -> None:
        if event.cross_check_only:  # the same job and audio, checked: only the extra cost
            self._session = add_cost(self._session, event.added_cost)
        else:
            self._session = add_to_totals(self._session, event.result)

    def transcribe_path(self, path: Path) -> list[Job]:
        files = audio_files(path) if path.is_dir() else [path]
        if not files:
            self.notify(f"No audio or video files in {path}.", severity="warning", markup=False)
            return []
        active = {j.source for j in self.store.list_jobs(["queued", "running"])}
        queued = [
            self.runner.enqueue(f, JobOptions(), origin="tui") for f in files if f not in active
        ]
        skipped = len(files) - len(queued)
        if skipped:
            self.notify(f"{skipped} file(s) already in the queue.", markup=False)
        if queued and not self.settings.api_key and self._transcribe is None:
            self.notify("Queued; they start once an API key is set (s).", markup=False)
        return queued

    def retry(self, job: Job) -> None:
        self._guard(
            lambda: (
                self.runner.rerun(job.id) if job.state in FINISHED else self.runner.retry(job.id)
            )
        )

    def cancel(self, job: Job) -> None:
        self._guard(lambda: self.runner.cancel(job.id))

    def mark_reviewed(self, job: Job) -> None:
        self._guard(lambda: self.runner.mark_reviewed(job.id, not job.reviewed))

    def cross_check(self, job: Job) -> None:
        """Compare the job's stored transcript with step-asr-1.1 (the main model is not run
        again); a job that is not finished gets a notice saying why it cannot be."""
        try:
            self.runner.cross_check(job.id)
        except JobStateError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        self.notify(
            f"Cross-checking {job.name} with step-asr-1.1 (costs extra; the "
            "transcript is kept whatever the outcome).",
            markup=False,
        )

    def _guard(self, action: Callable[[], object]) -> None:
        try:
            action()
        except JobStateError as exc:
            self.notify(str(exc), severity="warning", markup=False)

    def export(self, job: Job) -> None:
        if job.state not in FINISHED:
            self.notify(
                f"Job {job.id} is {job.state.value}; only finished transcripts can be exported.",
                severity="warning",
                markup=False,
            )
            return

        def chosen(choice: ExportChoice | None) -> None:
            if choice is not None:
                self._export(job, choice)

        self.push_screen(
            ExportScreen(job.name, list(self.settings.formats), job.source.parent), chosen
        )

    @work(exit_on_error=False, group="export", description="Writing transcript files")
    async def _export(self, job: Job, choice: ExportChoice) -> list[Path]:
        result = self.store.get_result(job.id)
        if result is None:
            raise LookupError(f"job {job.id} has no stored result")
        paths = await asyncio.to_thread(
            write_exports, result, job.source, choice.formats, choice.out_dir, choice.policy
        )
        if paths:
            self.store.set_outputs(job.id, paths)
            self.main.problem("info", f"job {job.id}", "wrote " + ", ".join(map(str, paths)))
            self.notify(f"Wrote {len(paths)} file(s) for {job.name}.", markup=False)
            self.main.table.upsert(self.store.require_job(job.id))
        else:
            self.notify(
                "Nothing written: every file already exists (policy: skip).",
                severity="warning",
                markup=False,
            )
        return paths

    def open_help(self) -> None:
        self.push_screen(HelpScreen(help_rows(self, MAIN_BINDINGS, self.settings.keymap)))

    def open_settings(self) -> None:
        self.push_screen(SettingsScreen(self.settings, self.config_path), self._settings_saved)

    async def _settings_saved(self, saved: SettingsSaved | None) -> None:
        if saved is None:
            return
        for name, value in saved.values.items():
            config.apply(self.settings, name, value)
        if saved.key:
            self.settings.api_key = Secret(saved.key)
        self.notify(f"Settings saved to {saved.path}.", markup=False)
        # The runner reads its concurrency before each start: no restart needed for that.
        self.runner.concurrency = max(1, self.settings.concurrency)
        if saved.changed & {"api_key", "region"}:
            if "region" in saved.changed:
                self.settings.base_url = None  # an explicit region beats an old base URL
            # The client is built when the runner starts: restart it (a job in flight is
            # requeued and runs again with the new settings).
            await self.stop_runner()
            self.start_runner()
        self.main.refresh_status()

    async def _key_entered(self, entered: KeyEntered | None) -> None:
        if entered is None:
            await self.action_quit()
            return
        try:
            config.save_values({"region": entered.region}, self.config_path)
            path = config.save_key(entered.key, self.config_path)
        except (config.ConfigError, OSError) as exc:
            self.notify(str(exc), severity="error", markup=False)
            self.push_screen(KeyScreen(self.settings.region), self._key_entered)
            return
        self.settings.region = entered.region
        self.settings.api_key = Secret(entered.key)
        self.notify(f"Key saved to {path} (mode 0600).", markup=False)
        self.start_runner()
        self.main.refresh_status()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is not self.main:
            return
        for binding in MAIN_BINDINGS:
            action = getattr(self.main, f"action_{binding.action}")
            yield SystemCommand(binding.description, binding.tooltip or binding.description, action)


def make_app(
    settings: Settings | None = None,
    root: Path | None = None,
    *,
    db_path: Path | None = None,
    store: Store | None = None,
    watch: bool = False,
    config_path: Path | None = None,
    transcribe: TranscribeFn | None = None,
    demo: bool = False,
    show_elapsed: bool = True,
    root_label: str | None = None,
) -> WorkbenchApp:
    """The one way to build the workbench (CLI, demo, tests, benchmark).

    ``settings`` default to the config file + environment (``config.load``); ``db_path`` to
    the user's job database. ``transcribe`` replaces the real pipeline (benchmarks).
    """
    settings = settings if settings is not None else config.load(config_path)
    owns_store = store is None
    store = store if store is not None else Store(db_path)
    app = WorkbenchApp(
        settings,
        (root or Path.cwd()),
        store,
        watch=watch,
        config_path=config_path,
        transcribe=transcribe,
        demo=demo,
        show_elapsed=show_elapsed,
        root_label=root_label,
    )
    app._owns_store = owns_store
    return app
