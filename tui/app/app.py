"""The workbench app: serves the engine in a worker and owns the screens over the main one.

The UI holds no job logic and no wiring: it is given an ``Engine`` (``make_app`` builds it the
one way every front end does), hands it to the main screen, which renders its events and calls
its verbs, and runs ``engine.serve`` as an async worker. Quitting stops serving at once: a job
in flight goes back to the queue for next time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from tui import config
from tui.app import heap
from tui.app import messages as msg
from tui.app.bindings import MAIN_BINDINGS
from tui.app.main_screen import MainScreen
from tui.config import Settings
from tui.engine.engine import Engine
from tui.engine.transcriber import TranscriberFactory, pipeline_transcriber
from tui.secrets import Secret
from tui.store.store import Store

# The screens over the main one are imported when first opened: the first screen appears
# sooner (tests/test_import_contracts.py keeps them out of it).
if TYPE_CHECKING:
    from tui.app.screens.key_screen import KeyEntered
    from tui.app.screens.library_screen import LibraryJobChosen
    from tui.app.screens.quit_screen import QuitChoice
    from tui.app.screens.settings_screen import SettingsSaved

STOP_TIMEOUT_S = 10.0
FINISH_GRACE_S = 24 * 3600.0  # "finish running jobs, then quit": as long as they take


class WorkbenchApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "stepfun-asr"

    def __init__(
        self,
        engine: Engine,
        root: Path,
        *,
        watch: bool = False,
        config_path: Path | None = None,
        demo: bool = False,
        show_elapsed: bool = True,
        root_label: str | None = None,
        needs_key: bool = True,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.root = root.resolve()
        self.config_path = config_path
        self.demo = demo
        self.watch_on_start = watch
        self._needs_key = needs_key
        self._root_label = root_label or self.root.name or str(root)
        self._show_elapsed = show_elapsed
        self._main: MainScreen | None = None
        self._stop_serving: asyncio.Event | None = None
        self._serving: Worker[list[BaseException]] | None = None
        self._finishing = False
        self._unmounted = False  # a quit came before the first frame's follow-up ran

    @property
    def settings(self) -> Settings:
        return self.engine.settings

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
            self.engine,
            self.root,
            root_label=self._root_label,
            show_elapsed=self._show_elapsed,
            demo=self.demo,
            config_path=self.config_path,
        )
        await self.push_screen(self._main)
        if not self.settings.api_key and self._needs_key:
            from tui.app.screens.key_screen import KeyScreen

            self.push_screen(KeyScreen(self.settings.region), self._key_entered)

    def on_ready(self) -> None:
        # Ready comes with the first layout, one refresh before the first frame is written.
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        """What the first screen can do without: the job list (~0.25 ms a row), then, once
        that is shown, the watcher and serving (the HTTP client and the pipeline load, ~0.1 s)."""
        if not self._unmounted:
            self.main.load_recent_jobs()
            self.call_after_refresh(self._start_engine)

    def _start_engine(self) -> None:
        if self._unmounted:
            return
        if self.watch_on_start:
            self.engine.watch_folder(self.root)
        if self.settings.api_key or not self._needs_key:
            self.start_serving()
        # Start-up's objects are all in: one collection, then they are never scanned again.
        # Not while the key dialog is up: it would be frozen, and kept after it closes.
        if self.screen is self.main:
            self.call_after_refresh(heap.settle)

    # --- serving the engine ------------------------------------------------------------------

    def start_serving(self) -> None:
        if self._serving is not None and self._serving.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        ):
            return
        self._stop_serving = asyncio.Event()
        self._serving = self._serve(self._stop_serving)

    @work(exit_on_error=False, group="asr", name="engine", description="Transcribing jobs")
    async def _serve(self, stop: asyncio.Event) -> list[BaseException]:
        errors = await self.engine.serve(stop)
        if errors:
            raise errors[0]  # reported by the one worker-failure handler below
        return errors

    async def stop_serving(self) -> None:
        """Stop the engine (jobs in flight go back to the queue). Idempotent."""
        worker, self._serving = self._serving, None
        if worker is None:
            return
        self.engine.stop_now()
        if self._stop_serving is not None:
            self._stop_serving.set()
        with contextlib.suppress(WorkerCancelled, WorkerFailed, TimeoutError):
            await asyncio.wait_for(worker.wait(), STOP_TIMEOUT_S)

    async def action_quit(self) -> None:
        """Quit; while jobs run, ask first (what would be sent again, and what it costs)."""
        running = sorted(self.engine.running_ids)
        if not running or self._finishing:
            await self.stop_serving()
            self.exit()
            return
        from tui.app.screens.quit_screen import QuitScreen
        from tui.engine.estimates import estimate_jobs

        if isinstance(self.screen, QuitScreen):
            return
        est = await estimate_jobs(self.engine.store, running, self.settings)
        self.push_screen(QuitScreen(est), self._quit_chosen)

    async def _quit_chosen(self, choice: QuitChoice | None) -> None:
        from tui.app.screens.quit_screen import QuitChoice

        if choice is QuitChoice.NOW:
            await self.stop_serving()
            self.exit()
        elif choice is QuitChoice.FINISH:
            self._finish_then_quit()

    def _finish_then_quit(self) -> None:
        """Nothing new starts; the running jobs finish; then the app quits (q: quit now)."""
        self._finishing = True
        self.engine.runner.grace_s = FINISH_GRACE_S
        if self._stop_serving is not None:
            self._stop_serving.set()
        self.notify(
            "Finishing the running jobs, then quitting (q quits now).", markup=False, timeout=10
        )
        self.run_worker(self._exit_when_served(), group="quit", exit_on_error=False)

    async def _exit_when_served(self) -> None:
        worker = self._serving
        if worker is not None:
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await worker.wait()
        self.exit()

    async def on_unmount(self) -> None:
        self._unmounted = True
        await self.stop_serving()
        self.engine.close()

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
        if self._main is not None:
            self._main.post_message(msg.ProblemReported("error", where, message))
        self.notify(message, title=f"{where} failed", severity="error", markup=False)

    # --- what the main screen asks for -------------------------------------------------------

    async def on_quit_requested(self, _message: msg.QuitRequested) -> None:
        await self.action_quit()

    def on_library_job_chosen(self, message: LibraryJobChosen) -> None:
        # The library posts to the app; the main screen shows the job.
        from tui.app.screens.library_screen import LibraryJobChosen

        if self._main is not None:
            self._main.post_message(LibraryJobChosen(message.job_id, message.start_ms))

    def on_help_requested(self, _message: msg.HelpRequested) -> None:
        from tui.app.screens.help_screen import HelpScreen, help_rows

        self.push_screen(HelpScreen(help_rows(self, MAIN_BINDINGS, self.settings.keymap)))

    def on_settings_requested(self, _message: msg.SettingsRequested) -> None:
        from tui.app.screens.settings_screen import SettingsScreen

        self.push_screen(SettingsScreen(self.settings, self.config_path), self._settings_saved)

    async def _settings_saved(self, saved: SettingsSaved | None) -> None:
        if saved is None:
            return
        for name, value in saved.values.items():
            config.apply(self.settings, name, value)
        if saved.key:
            self.settings.api_key = Secret(saved.key)
        self.notify(f"Settings saved to {saved.path}.", markup=False)
        # A new key or service restarts the engine's HTTP session (a job in flight runs again).
        self.engine.apply_settings(saved.changed)
        if self.settings.api_key:
            self.start_serving()
        self.main.post_message(msg.SettingsApplied())
        self.call_after_refresh(heap.settle)  # start-up, held while the key dialog was up

    async def _key_entered(self, entered: KeyEntered | None) -> None:
        if entered is None:
            await self.action_quit()
            return
        try:
            config.save_values({"region": entered.region}, self.config_path)
            path = config.save_key(entered.key, self.config_path)
        except (config.ConfigError, OSError) as exc:
            from tui.app.screens.key_screen import KeyScreen

            self.notify(str(exc), severity="error", markup=False)
            self.push_screen(KeyScreen(self.settings.region), self._key_entered)
            return
        self.settings.region = entered.region
        self.settings.api_key = Secret(entered.key)
        self.engine.apply_settings({"region", "api_key"})
        self.notify(f"Key saved to {path} (mode 0600).", markup=False)
        self.start_serving()
        self.main.post_message(msg.SettingsApplied())
        self.call_after_refresh(heap.settle)  # start-up, held while the key dialog was up

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):
            return
        for binding in MAIN_BINDINGS:
            action = getattr(screen, f"action_{binding.action}")
            yield SystemCommand(binding.description, binding.tooltip or binding.description, action)


def make_app(
    settings: Settings | None = None,
    root: Path | None = None,
    *,
    db_path: Path | None = None,
    store: Store | None = None,
    watch: bool = False,
    config_path: Path | None = None,
    transcriber: TranscriberFactory | None = None,
    demo: bool = False,
    show_elapsed: bool = True,
    root_label: str | None = None,
) -> WorkbenchApp:
    """The one way to build the workbench (CLI, demo, tests, benchmark).

    ``settings`` default to the config file + environment (``config.load``); ``db_path`` to
    the user's job database. ``transcriber`` replaces the real pipeline (benchmarks).
    """
    settings = settings if settings is not None else config.load(config_path)
    # grace_s=0: on quit a job in flight is put back in the queue at once.
    engine = Engine(
        settings,
        store=store,
        db_path=db_path,
        transcriber=transcriber or pipeline_transcriber,
        grace_s=0.0,
    )
    return WorkbenchApp(
        engine,
        root or Path.cwd(),
        watch=watch,
        config_path=config_path,
        demo=demo,
        show_elapsed=show_elapsed,
        root_label=root_label,
        needs_key=transcriber is None,
    )
