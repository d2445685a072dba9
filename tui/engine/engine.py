"""The Engine: the one object every front end builds to transcribe, watch and deliver.

It opens the store, owns the event bus, the runner (jobs and cross-checks), the watchers and
the exports, and applies settings. The workbench, the ``watch`` daemon, ``transcribe``, the
``jobs`` commands, the demo, the tests and the benchmarks all construct it the same way, call
its verbs and render the events on ``engine.bus``; none of them wires the parts by hand.

Verbs are synchronous (they change the store and wake the runner) except the ones that wait:
``serve`` (run until stopped), ``drain`` (run until the given jobs end), ``unwatch`` and
``close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from tui.childenv import remember_secret
from tui.config import Settings
from tui.engine.events import EventBus, ExportWritten, PauseReason, WatchFailed
from tui.engine.pause import Pause
from tui.engine.transcriber import TranscriberFactory, pipeline_transcriber
from tui.store.records import FINISHED, Job, JobOptions, JobStateError
from tui.store.store import Store

# Loaded when first used, not with the engine: estimates (audio probing, prices) when asked
# for; the runner (delivery, exports, hooks, cross-checks), the watcher and the speaker editor
# when the first job, watch or edit needs them. The workbench draws its first frame without
# them (tests/test_import_contracts.py).
if TYPE_CHECKING:
    from tui.engine.estimates import Spend
    from tui.engine.review import Review
    from tui.engine.runner import Runner
    from tui.engine.speaker_editor import SpeakerEditor, SpeakerOverview
    from tui.engine.watch_files import WatchConfig
    from tui.engine.watcher import Watcher

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0
# Settings the HTTP client is built from: changing one restarts the runner's session (a job in
# flight goes back to the queue and runs again with the new settings).
CLIENT_SETTINGS = frozenset({"api_key", "region", "base_url"})
BUDGET_SETTINGS = frozenset({"budget_daily", "budget_monthly"})


@dataclass
class _Watch:
    config: WatchConfig
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    watcher: Watcher | None = None


class Engine:
    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        db_path: Path | None = None,
        transcriber: TranscriberFactory = pipeline_transcriber,
        concurrency: int | None = None,
        requests_per_minute: int | None = None,
        grace_s: float = 30.0,
    ) -> None:
        """``store`` is used as given (and left open by ``close``); otherwise the database at
        ``db_path`` (default: the user's) is opened. ``concurrency`` and
        ``requests_per_minute`` override the settings (command-line flags)."""
        self.settings = settings
        self._remember_key()
        self._owns_store = store is None
        self.store = store if store is not None else Store(db_path)
        self.bus = EventBus()
        rpm = settings.requests_per_minute if requests_per_minute is None else requests_per_minute
        self._concurrency_override = concurrency
        self._runner_args: dict[str, Any] = {
            "transcriber": transcriber,
            "requests_per_minute": rpm or None,
            "grace_s": grace_s,
        }
        self._runner: Runner | None = None
        self._speaker_editor: SpeakerEditor | None = None
        self._watches: dict[tuple[Path, ...], _Watch] = {}
        self._serving = False
        self._session_stop: asyncio.Event | None = None
        self._restart = False

    @property
    def runner(self) -> Runner:
        """Jobs and cross-checks: built on first use (nothing runs before it exists)."""
        if self._runner is None:
            from tui.engine.runner import Runner

            self._runner = Runner(
                self.store,
                self.bus,
                concurrency=max(1, self._concurrency_override or self.settings.concurrency),
                settings=self.settings,
                **self._runner_args,
            )
        return self._runner

    @property
    def review(self) -> Review:
        """Corrections, undo, revert and the glossary (the review screen's verbs)."""
        return self.runner.review

    @property
    def _speakers(self) -> SpeakerEditor:
        if self._speaker_editor is None:
            from tui.engine.speaker_editor import SpeakerEditor

            self._speaker_editor = SpeakerEditor(self.store, self.bus, self.runner.delivery)
        return self._speaker_editor

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    # --- jobs --------------------------------------------------------------------------------

    @property
    def serving(self) -> bool:
        return self._serving

    @property
    def running_ids(self) -> frozenset[int]:
        return self._runner.running_ids if self._runner is not None else frozenset()

    def submit(
        self, path: Path, options: JobOptions | None = None, *, origin: str = "manual"
    ) -> Job:
        """Queue one file (it starts when a slot is free). An unreadable file is still queued:
        it fails with a clear message when it runs, so nothing is dropped silently."""
        return self.runner.enqueue(path, options, origin)

    def retry(self, job_id: int) -> Job:
        """Queue a failed or canceled job again (JobStateError for any other state)."""
        return self.runner.retry(job_id)

    def rerun(self, job_id: int) -> Job:
        """Transcribe a finished job again. That is paid again: front ends ask the user first,
        showing the minutes and the cost (``tui.engine.estimates``)."""
        return self.runner.rerun(job_id)

    def cancel(self, job_id: int) -> Job:
        return self.runner.cancel(job_id)

    def cross_check(self, job_id: int) -> Job:
        """Compare a finished job's transcript with step-asr-1.1 (the main model does not run
        again). JobStateError when it cannot be (the message says why)."""
        return self.runner.cross_check(job_id)

    def mark_reviewed(self, job_id: int, reviewed: bool = True) -> Job:
        return self.runner.mark_reviewed(job_id, reviewed)

    # --- speakers ----------------------------------------------------------------------------
    # Each edit is stored beside the computed labels, the job's own transcript files are
    # rewritten (nothing recomputed, nothing sent) and SpeakersEdited is published. Errors:
    # SpeakerEditError (NoSpeakerLabels when the job has none) with the sentence to show.

    def speakers(self, job_id: int) -> SpeakerOverview:
        """The job's speakers now: label, merge, talk time, words, first words."""
        return self._speakers.overview(job_id)

    def rename_speaker(self, job_id: int, speaker: int, name: str) -> list[Path]:
        """Name a speaker (also in its folder's roster, so a later job there with that voice
        gets the name). Returns the files rewritten."""
        return self._speakers.rename(job_id, speaker, name)

    def merge_speakers(self, job_id: int, source: int, target: int) -> list[Path]:
        """Fold speaker ``source`` into ``target``. Returns the files rewritten."""
        return self._speakers.merge(job_id, source, target)

    def separate_speaker(self, job_id: int, speaker: int) -> list[Path]:
        """Take a merged speaker apart again."""
        return self._speakers.separate(job_id, speaker)

    def undo_speaker_edit(self, job_id: int) -> str | None:
        """Undo the job's last speaker edit of this session (None: there is none)."""
        return self._speakers.undo(job_id)

    def can_undo_speaker_edit(self, job_id: int) -> bool:
        return self._speakers.can_undo(job_id)

    # --- the queue as a whole ----------------------------------------------------------------

    @property
    def pause(self) -> Pause | None:
        """Why nothing new is being sent (an account refusal, an outage, a budget cap), or
        None while the queue runs. QueuePaused / QueueResumed on the bus say when it changes."""
        return self._runner.gate.pause if self._runner is not None else None

    def resume(self) -> bool:
        """Run a paused queue again now (the workbench's key); if the cause is still there it
        pauses again after one file. False when it was not paused."""
        return self.runner.resume("resumed by hand")

    def spend(self) -> Spend:
        """Estimated spend today and this month, in the region's currency."""
        from tui.engine import estimates

        return estimates.spend(self.store, self.settings)

    def export(
        self,
        job_id: int,
        formats: Iterable[str],
        out_dir: Path | None = None,
        policy: str = "skip",
    ) -> list[Path]:
        """Write a finished job's transcript files (blocking: front ends run it in a thread).
        Returns the paths written; with ``skip`` an existing file is left out."""
        job = self.store.require_job(job_id)
        result = self.store.corrections.result(job_id)  # corrected
        if job.state not in FINISHED or result is None:
            raise JobStateError(
                f"Job {job_id} is {job.state.value}; only finished transcripts can be exported."
            )
        from tui.transcript.exports import write_exports

        paths = write_exports(result, job.source, tuple(formats), out_dir, policy)
        if paths:
            self.store.set_outputs(job_id, [*job.outputs, *paths])
            self.bus.publish(ExportWritten(job_id, tuple(paths), job.source))
        return paths

    # --- watching ----------------------------------------------------------------------------

    def watch(self, config: WatchConfig) -> None:
        """Watch ``config.folders`` (from now, or as soon as ``serve`` runs)."""
        key = tuple(config.folders)
        if key in self._watches:
            return
        watch = self._watches[key] = _Watch(config)
        if self._serving:
            self._start_watch(watch)

    def watch_folder(self, folder: Path, **overrides: object) -> WatchConfig:
        """Watch one folder with the settings' export options (the workbench's ``w``)."""
        from tui.engine.watch_files import WatchConfig

        config = WatchConfig.from_settings(self.settings, [folder], **overrides)
        self.watch(config)
        return config

    def watched(self) -> list[WatchConfig]:
        return [w.config for w in self._watches.values()]

    def is_watched(self, folder: Path) -> bool:
        return any(folder in key for key in self._watches)

    async def unwatch(self, folder: Path) -> bool:
        """Stop every watch that covers ``folder``; False when none did."""
        keys = [key for key in self._watches if folder in key]
        for key in keys:
            await self._stop_watch(self._watches.pop(key))
        return bool(keys)

    @property
    def settling(self) -> frozenset[Path]:
        """Files seen in watched folders that are still being written (not queued yet)."""
        return frozenset().union(*(w.watcher.settling for w in self._watches.values() if w.watcher))

    def _start_watch(self, watch: _Watch) -> None:
        from tui.engine.watcher import Watcher

        watcher = watch.watcher = Watcher(watch.config, self.store, self.runner, self.bus)
        watch.stop = asyncio.Event()
        watch.task = asyncio.create_task(self._run_watch(watcher, watch), name="watch")

    async def _run_watch(self, watcher: Watcher, watch: _Watch) -> None:
        try:
            await watcher.run(watch.stop)
        except Exception as exc:
            # Never swallowed: reported on the bus, and the daemon stops on it.
            log.exception("watching %s failed", watch.config.folders)
            self._watches.pop(tuple(watch.config.folders), None)
            self.bus.publish(
                WatchFailed(tuple(watch.config.folders), f"{type(exc).__name__}: {exc}")
            )
            raise

    async def _stop_watch(self, watch: _Watch) -> None:
        watch.stop.set()
        if watch.task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(watch.task, STOP_TIMEOUT_S)

    # --- settings ----------------------------------------------------------------------------

    def apply_settings(self, changed: Iterable[str]) -> None:
        """The settings object was changed in place (names in ``changed``): take them up. A
        change to the key or the service restarts the HTTP session."""
        changed = set(changed)
        self._remember_key()
        self.runner.concurrency = max(1, self._concurrency_override or self.settings.concurrency)
        if "region" in changed and "base_url" not in changed:
            self.settings.base_url = None  # an explicit region beats an old base URL
        if changed & CLIENT_SETTINGS:
            # A new key or service may be what the account pause was waiting for.
            self.runner.resume("the key or service changed")
        elif changed & BUDGET_SETTINGS and self.pause and self.pause.reason is PauseReason.BUDGET:
            self.runner.resume("the budget changed")
        if changed & CLIENT_SETTINGS and self._serving:
            self._restart = True
            self.runner.stop_now()
            if self._session_stop is not None:
                self._session_stop.set()

    def _remember_key(self) -> None:
        # The key may come from the config file, not the environment: children (ffmpeg, hooks)
        # must not get it whatever variable it ends up in.
        if self.settings.api_key is not None:
            remember_secret(self.settings.api_key.reveal())

    # --- running -----------------------------------------------------------------------------

    async def drain(self, job_ids: Iterable[int] | None = None) -> None:
        """Run until nothing is queued or running (with ``job_ids``: until those ended)."""
        await self.runner.drain(job_ids)

    async def serve(
        self, stop: asyncio.Event, *, stop_on_watch_failure: bool = False
    ) -> list[BaseException]:
        """Run jobs and watches until ``stop`` is set; then in-flight jobs get the grace period
        (or ``stop_now``) and what is left goes back to the queue. Returns the errors that
        ended the runner early (and, with ``stop_on_watch_failure``, a failed watch); a watch
        that fails is always reported on the bus (WatchFailed)."""
        if self._serving:
            raise RuntimeError("this engine is already serving")
        self._serving = True
        errors: list[BaseException] = []
        for watch in self._watches.values():
            self._start_watch(watch)
        stop_wait = asyncio.ensure_future(stop.wait())
        session: asyncio.Future[None] | None = None
        session_stop = asyncio.Event()
        try:
            while True:
                if session is None:
                    session_stop = self._session_stop = asyncio.Event()
                    session = asyncio.ensure_future(self.runner.run_forever(session_stop))
                watches = self._watch_tasks()
                waiting: set[asyncio.Future[Any]] = {session, stop_wait, *watches}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                for task in watches:
                    if task.done() and (error := _error_of(task)) and stop_on_watch_failure:
                        errors.append(error)
                if stop.is_set() or errors:
                    session_stop.set()
                elif not session.done():
                    continue  # a watch failed in the workbench: reported, the runner goes on
                await asyncio.wait({session})
                if (error := _error_of(session)) is not None:
                    errors.append(error)
                session = None
                if stop.is_set() or errors or not self._restart:
                    break
                self._restart = False  # new settings: a new HTTP session
        finally:
            stop_wait.cancel()
            if session is not None:
                session.cancel()
                await asyncio.gather(session, return_exceptions=True)
            for watch in list(self._watches.values()):
                await self._stop_watch(watch)
            self._serving = False
            self._session_stop = None
        return errors

    def _watch_tasks(self) -> list[asyncio.Task[None]]:
        return [w.task for w in self._watches.values() if w.task is not None]

    def stop_now(self) -> None:
        """Skip the grace period: in-flight jobs go back to the queue at once."""
        self.runner.stop_now()


def _error_of(task: asyncio.Future[None]) -> BaseException | None:
    """The exception a finished task ended with (None when it ended normally or was canceled)."""
    if task.cancelled():
        return None
    return task.exception()
