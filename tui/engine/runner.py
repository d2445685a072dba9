"""The runner: takes queued jobs from the store, transcribes them, saves and exports results.

It owns concurrency, the requests-per-minute limit and the job lifecycle
(queued → running → done | needs_review | failed | canceled). Nothing it was given is lost: on
start, jobs left ``running`` by a dead runner go back to ``queued``; on stop, in-flight jobs
either finish within the grace period or go back to ``queued``. One bad file fails only its own
job. Every change is published on the bus; the store holds the state. A finished job can be
cross-checked (``cross_check``: step-asr-1.1 beside its stored result, ``tui.engine.cross_checks``)
in the same slots. How a job ends (recorded and published) is ``tui.engine.job_endings``; the
settings it runs with are ``tui.engine.job_settings``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tui.config import Settings
from tui.engine.budget import BudgetGuard
from tui.engine.cross_checks import CrossChecks
from tui.engine.delivery import Delivery
from tui.engine.events import (
    EventBus,
    JobCanceled,
    JobQueued,
    JobRequeued,
    JobReviewed,
    JobStarted,
    PauseReason,
)
from tui.engine.job_endings import JobEndings
from tui.engine.job_settings import settings_for
from tui.engine.outcome import attempt
from tui.engine.pause import QueueGate
from tui.engine.progress import ProgressTracker
from tui.engine.ratelimit import RateLimiter
from tui.engine.review import Review
from tui.engine.source_guard import source_signature, superseded
from tui.engine.transcriber import Transcriber, TranscriberFactory, pipeline_transcriber
from tui.folder_settings import FolderSettingsError
from tui.secrets import redact
from tui.stepfun.events import DeltaReceived
from tui.store import owners
from tui.store.records import Job, JobOptions, JobState, JobStateError
from tui.store.store import Store
from tui.transcript.exports import ExportSpec
from tui.transcript.model import TranscriptionResult

log = logging.getLogger(__name__)

STORE_POLL_S = 2.0  # notice jobs queued by another process (`stepfun-asr retry` next to a daemon)


class Runner:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        transcriber: TranscriberFactory = pipeline_transcriber,
        concurrency: int = 2,
        requests_per_minute: int | None = 10,
        settings: Settings | None = None,
        grace_s: float = 30.0,
        owner: str | None = None,
    ) -> None:
        """``transcriber`` is opened when serving starts (the real one needs the key) with the
        rate limiter, which it applies to every request it makes."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.bus = bus
        self.settings = settings or Settings()
        self.concurrency = concurrency
        self.grace_s = grace_s
        self.limiter = RateLimiter(requests_per_minute)
        # One owner per runner, not per process: a second runner on the same database in this
        # process must not take this one's running jobs for a crashed runner's leftovers.
        self.owner = owner or owners.new_runner_owner()
        self.delivery = Delivery(store, bus, self._redact, settings=self.settings)
        self.review = Review(store, bus, self.delivery)
        self.endings = JobEndings(
            store,
            bus,
            owner=self.owner,
            settings=self.settings,
            redact=self._redact,
            review=self.review,
            delivery=self.delivery,
        )
        self._factory = transcriber
        self._transcriber: Transcriber | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._cancel_events: dict[int, asyncio.Event] = {}
        self._user_canceled: set[int] = set()
        self._wake = asyncio.Event()
        self._force = asyncio.Event()
        self._serving = False
        self._stopping = False
        self.checks = CrossChecks(store, bus, self.delivery, self._wake, self.endings.describe)
        # Account refusals, outages and budget caps stop the whole queue (tui.engine.pause).
        self.gate = QueueGate(bus, self._wake)
        self.budget = BudgetGuard(store, self.settings)

    # --- commands (sync, called on the loop thread) ----------------------------------------

    @property
    def running_ids(self) -> frozenset[int]:
        return frozenset(self._tasks)

    @property
    def stopping(self) -> bool:
        """Shutting down: nothing new starts; in-flight jobs finish or go back to the queue."""
        return self._stopping

    def enqueue(
        self,
        path: Path,
        options: JobOptions | None = None,
        origin: str = "manual",
        *,
        watch_id: str | None = None,
        content_hash: str | None = None,
    ) -> Job:
        """Queue a file. A file that cannot be read is still queued: it fails with a clear
        message when it runs, so nothing is dropped silently."""
        size: int | None = None
        mtime: float | None = None
        with contextlib.suppress(OSError):
            st = path.stat()
            size, mtime = st.st_size, st.st_mtime
        job = self.store.add_job(
            path,
            options,
            origin,
            watch_id=watch_id,
            size=size,
            mtime=mtime,
            content_hash=content_hash,
        )
        return self.announce(job)

    def announce(self, job: Job) -> Job:
        """Publish JobQueued for a job already put in the store as queued, and wake a worker."""
        self.bus.publish(JobQueued(job))
        self._wake.set()
        return job

    def cancel(self, job_id: int) -> Job:
        job = self.store.require_job(job_id)
        if job.state is not JobState.RUNNING and self.checks.cancel(job_id):
            return job  # its cross-check stops; the job keeps its result
        if job.state is JobState.RUNNING:
            task = self._tasks.get(job_id)
            if task is None:
                raise JobStateError(f"Job {job_id} is running in another process; stop it there.")
            self._user_canceled.add(job_id)
            if ev := self._cancel_events.get(job_id):
                ev.set()
            task.cancel()
            return job
        job = self.store.cancel_job(job_id)
        self.bus.publish(JobCanceled(job_id))
        return job

    def retry(self, job_id: int) -> Job:
        return self.announce(self.store.retry_job(job_id))

    def rerun(self, job_id: int) -> Job:
        return self.announce(self.store.rerun_job(job_id))

    def cross_check(self, job_id: int) -> Job:
        """Cross-check a done/needs_review job with step-asr-1.1 as soon as a slot is free: the
        main model does not run again. Events: JobStarted/JobProgressed, then JobFinished
        (``cross_check_only``) or CrossCheckFailed (the job keeps its previous result and
        state). JobStateError when the job cannot be cross-checked (the message says why)."""
        return self.checks.request(job_id)

    def mark_reviewed(self, job_id: int, reviewed: bool = True) -> Job:
        job = self.store.mark_reviewed(job_id, reviewed)
        self.bus.publish(JobReviewed(job_id))
        return job

    def resume(self, how: str = "resumed by hand") -> bool:
        """Run a paused queue again (the cause may still be there: then it pauses again after
        one file). False when it was not paused."""
        pause = self.gate.pause
        if pause is not None and pause.reason is PauseReason.BUDGET:
            self.budget.allow_one()
        return self.gate.resume(how)

    def stop_now(self) -> None:
        """Skip the grace period: in-flight jobs go back to the queue at once, and running
        on-done hooks are stopped."""
        self._force.set()

    def export_for(self, job: Job, source: Path, spec: ExportSpec | None = None) -> list[Path]:
        """Write ``job``'s stored result as transcripts of ``source`` (a second copy of the same
        audio). Publishes ExportWritten / FileSkipped and runs the on-done hook."""
        return self.delivery.export_for(job, source, spec)

    # --- serving ---------------------------------------------------------------------------

    async def drain(self, job_ids: Iterable[int] | None = None) -> None:
        """Run until nothing is queued or running (the CLI and tests). With ``job_ids``, only
        those jobs are taken."""
        await self._serve(None, until_empty=True, only=set(job_ids) if job_ids else None)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then in-flight jobs get ``grace_s`` to finish (or until
        ``stop_now()``), and what is left goes back to the queue."""
        await self._serve(stop, until_empty=False, only=None)

    async def _serve(
        self, stop: asyncio.Event | None, *, until_empty: bool, only: set[int] | None
    ) -> None:
        if self._serving:
            raise RuntimeError("this runner is already running")
        self._serving = True
        self._stopping = False
        self._force.clear()
        owners.serving(self.owner, True)
        if self.gate.paused:
            self.gate.resume("started again")  # a new session tries once more
        self.gate.key_proven = False  # the key may have changed
        try:
            for job in self.store.recover_running(self.owner):
                self.bus.publish(JobRequeued(job.id, "left running by a stopped process"))
            async with self._factory(self.settings, self.limiter) as transcriber:
                self._transcriber = transcriber
                await self._loop(stop, until_empty, only)
        finally:
            await self.gate.close()
            self._transcriber = None
            owners.serving(self.owner, False)
            self._serving = False

    async def _loop(
        self, stop: asyncio.Event | None, until_empty: bool, only: set[int] | None
    ) -> None:
        stop_wait = asyncio.ensure_future(stop.wait()) if stop else None
        try:
            while not (stop and stop.is_set()):
                self._wake.clear()
                try:
                    self._fill(only)
                except sqlite3.OperationalError as exc:  # busy or full: tried again below
                    log.warning("cannot take the next job: %s", exc)
                if (
                    until_empty
                    and not self._busy
                    # A paused queue ends a drain: what is left stays queued, unsent.
                    and (self.gate.paused or (not self.checks.pending and not self._has_work(only)))
                ):
                    break
                wake = asyncio.ensure_future(self._wake.wait())
                waiters: set[asyncio.Future[Any]] = {
                    wake,
                    *self._tasks.values(),
                    *self.checks.tasks.values(),
                }
                if stop_wait:
                    waiters.add(stop_wait)
                await asyncio.wait(
                    waiters, timeout=STORE_POLL_S, return_when=asyncio.FIRST_COMPLETED
                )
                wake.cancel()
        finally:
            if stop_wait:
                stop_wait.cancel()
            await self._shutdown(bounded_hooks=stop is not None)

    def _has_work(self, only: set[int] | None) -> bool:
        if only is None:
            return self.store.has_queued()
        return any(
            (j := self.store.get_job(i)) is not None and j.state is JobState.QUEUED for i in only
        )

    @property
    def _busy(self) -> int:
        return len(self._tasks) + len(self.checks.tasks)

    def _fill(self, only: set[int] | None) -> None:
        """Start jobs (asked-for cross-checks first) up to the concurrency. Requests wait for
        the rate limit in the transcriber's transport, not here."""
        assert self._transcriber is not None
        if self.gate.paused:
            self._recheck_budget()
        # One file at a time until the service has accepted the key in this session: a
        # refused key then costs one upload, not one per slot.
        slots = self.concurrency if self.gate.key_proven else 1
        while self._busy < slots and not self.gate.paused:
            if self.checks.pending:
                self.checks.start(
                    self.checks.pending.popleft(),
                    self._transcriber.cross_check,
                    self._settings_for,
                )
                continue
            job = self._claim(only)
            if job is None:
                return
            task = asyncio.create_task(self._run_job(job), name=f"job-{job.id}")
            self._tasks[job.id] = task
            task.add_done_callback(functools.partial(self._job_done, job.id))

    def _claim(self, only: set[int] | None) -> Job | None:
        if only is None:
            return self.store.claim_next(self.owner)
        for job_id in sorted(only):
            job = self.store.claim_one(job_id, self.owner)
            if job is not None:
                return job
        return None

    def _job_done(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(job_id, None)
        self.budget.release(job_id)
        self._wake.set()

    async def _shutdown(self, *, bounded_hooks: bool = True) -> None:
        self._stopping = True
        self.checks.drop_pending()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace_s  # for jobs and on-done hooks together
        if self._busy:
            force = asyncio.ensure_future(self._force.wait())
            try:
                while not force.done():
                    pending = [
                        t
                        for t in (*self._tasks.values(), *self.checks.tasks.values())
                        if not t.done()
                    ]
                    remaining = deadline - loop.time()
                    if not pending or remaining <= 0:
                        break
                    await asyncio.wait(
                        {*pending, force}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                    )
            finally:
                force.cancel()
            tasks = [*self._tasks.values(), *self.checks.tasks.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        # Stopping a daemon: hooks share the grace period. Draining (the CLI): each hook
        # keeps its own timeout.
        hook_time = deadline - loop.time() if bounded_hooks else None
        await self.delivery.wait_for_hooks(self._force, hook_time)

    # --- one job -----------------------------------------------------------------------------

    def _settings_for(self, job: Job) -> Settings:
        return settings_for(self.settings, self.store, job)

    # --- budget ------------------------------------------------------------------------------

    async def _within_budget(self, job: Job, settings: Settings) -> bool:
        """Over a cap: the job goes back to the queue, unsent, and the queue pauses."""
        blocked, needed = await self.budget.admit(job, settings)
        if blocked is None:
            return True
        self.endings.requeue(job.id, "not sent: over budget; it runs when the budget allows")
        self.gate.stop(PauseReason.BUDGET, blocked, needed=needed)
        return False

    def _recheck_budget(self) -> None:
        pause = self.gate.pause
        budget_pause = pause is not None and pause.reason is PauseReason.BUDGET
        if budget_pause and pause is not None and self.budget.blocked(pause.needed, "") is None:
            self.gate.resume("the budget allows the next file")

    # --- one job -----------------------------------------------------------------------------

    async def _run_job(self, job: Job) -> None:
        assert self._transcriber is not None
        try:
            settings = self._settings_for(job)
        except FolderSettingsError as exc:  # the folder's settings file: this job alone fails
            self.endings.failed(job.id, *self.endings.describe(job, exc))
            return
        try:
            if not await self._within_budget(job, settings):
                return
        except asyncio.CancelledError:
            self.endings.requeue(job.id, "stopped before it started; it will run again")
            raise
        cancel = asyncio.Event()
        self._cancel_events[job.id] = cancel
        progress = ProgressTracker(self.bus, job.id)
        self.bus.publish(JobStarted(job.id, job.attempts))
        progress.publish(force=True)
        try:  # compared with the file after the answer
            before = await source_signature(job.source)
        except asyncio.CancelledError:
            self.endings.requeue(job.id, "stopped before it started; it will run again")
            raise
        transcriber = self._transcriber

        async def work() -> TranscriptionResult:
            # Kept for `show`: what it runs with (its option, else the settings').
            self.store.record_run_settings(job.id, settings.model, settings.language)
            return await transcriber.transcribe(
                job.source,
                settings=settings,
                on_event=functools.partial(self._on_pipeline_event, progress),
                cancel=cancel,
                cross_check=job.options.cross_check,
                format_override=job.options.audio_format,
            )

        try:
            outcome = await attempt(
                work(), cancel=cancel, user_canceled=lambda: job.id in self._user_canceled
            )
        except asyncio.CancelledError:
            self.endings.requeue(job.id, "stopped before it finished; it will run again")
            raise
        finally:
            self._cancel_events.pop(job.id, None)
        if outcome.canceled:
            self._user_canceled.discard(job.id)
            self.endings.canceled(job.id)
        elif outcome.error is not None and self._stopping:
            # A terminal's Ctrl-C also reaches our children (ffmpeg): a failure while we stop
            # is not trusted as the file's verdict. It runs again on the next start.
            reason = self._redact(str(outcome.error))
            self.endings.requeue(job.id, f"failed while stopping ({reason}); it will run again")
        elif outcome.error is not None and not self._paused_by(job, outcome.error):
            self.endings.failed(job.id, *self.endings.describe(job, outcome.error))
        elif outcome.value is not None and not await superseded(
            self.store, self.bus, job, outcome.value, before, self.owner
        ):
            self.gate.succeeded(job.id)
            self.gate.proved_key()
            await self.endings.finished(job, outcome.value)

    def _on_pipeline_event(self, progress: ProgressTracker, event: object) -> None:
        if isinstance(event, DeltaReceived):
            self.gate.proved_key()  # text came back: the key was accepted
        progress.on_event(event)

    def _paused_by(self, job: Job, error: Exception) -> bool:
        """An account refusal or an outage: the job goes back to the queue (it was not the
        file's fault) and the queue pauses. False for the file's own failures."""
        assert self._transcriber is not None
        reason = self.gate.absorb(job.id, error, self._redact, self._transcriber.probe)
        if reason is not None:
            self.endings.requeue(job.id, reason)
        return reason is not None

    def _redact(self, text: str) -> str:
        key = self.settings.api_key.reveal() if self.settings.api_key else None
        return redact(text, key)
