"""The runner: takes queued jobs from the store, transcribes them, saves and exports results.

It owns concurrency, the requests-per-minute limit and the job lifecycle
(queued → running → done | needs_review | failed | canceled). Nothing it was given is lost: on
start, jobs left ``running`` by a dead runner go back to ``queued``; on stop, in-flight jobs
either finish within the grace period or go back to ``queued``. One bad file fails only its own
job. Every change is published on the bus; the store holds the state. A finished job can be
cross-checked (``cross_check``: step-asr-1.1 beside its stored result, ``tui.engine.cross_checks``)
in the same slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import traceback
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from tui.config import Settings
from tui.engine.cross_checks import CrossChecks
from tui.engine.delivery import Delivery
from tui.engine.events import (
    EventBus,
    JobCanceled,
    JobFailed,
    JobFinished,
    JobQueued,
    JobRequeued,
    JobReviewed,
    JobStarted,
)
from tui.engine.progress import PROGRESS_INTERVAL_S, ProgressTracker
from tui.engine.ratelimit import RateLimiter
from tui.engine.transcriber import CrossCheckFn, TranscribeFn, pipeline_engines
from tui.errors import AsrError, ErrorKind
from tui.folder_settings import FolderSettingsError, effective_settings
from tui.secrets import redact
from tui.store import owners
from tui.store.records import Job, JobOptions, JobState, JobStateError
from tui.store.store import Store
from tui.transcript.exports import ExportSpec
from tui.transcript.model import TranscriptionResult

__all__ = ["PROGRESS_INTERVAL_S", "STORE_POLL_S", "CrossCheckFn", "Runner", "TranscribeFn"]

log = logging.getLogger(__name__)

STORE_POLL_S = 2.0  # notice jobs queued by another process (`stepfun-asr retry` next to a daemon)


class Runner:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        transcribe: TranscribeFn | None = None,
        *,
        concurrency: int = 2,
        requests_per_minute: int | None = 10,
        settings: Settings | None = None,
        grace_s: float = 30.0,
        owner: str | None = None,
        cross_check: CrossCheckFn | None = None,
    ) -> None:
        """``transcribe=None`` builds the real pipeline (needs the key) when serving starts, with
        the RPM limit applied to every HTTP request. A given callable is limited per job start;
        with it, ``cross_check`` is what cross-checks a finished job (without it, none can)."""
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
        self.delivery = Delivery(store, bus, self._redact)
        self._given = transcribe
        self._fn: TranscribeFn | None = transcribe
        self._given_check = cross_check
        self._check_fn: CrossCheckFn | None = cross_check
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._cancel_events: dict[int, asyncio.Event] = {}
        self._user_canceled: set[int] = set()
        self._wake = asyncio.Event()
        self._force = asyncio.Event()
        self._serving = False
        self._stopping = False
        self.checks = CrossChecks(store, bus, self.delivery, self._wake, self._describe)

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
        if self._given is not None and self._given_check is None:
            raise JobStateError("This runner was given a transcriber without a cross-checker.")
        return self.checks.request(job_id)

    def mark_reviewed(self, job_id: int, reviewed: bool = True) -> Job:
        job = self.store.mark_reviewed(job_id, reviewed)
        self.bus.publish(JobReviewed(job_id))
        return job

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
        try:
            for job in self.store.recover_running(self.owner):
                self.bus.publish(JobRequeued(job.id, "left running by a stopped process"))
            async with self._transcriber() as (fn, check):
                self._fn, self._check_fn = fn, check
                await self._loop(stop, until_empty, only)
        finally:
            owners.serving(self.owner, False)
            self._serving = False

    @contextlib.asynccontextmanager
    async def _transcriber(self) -> AsyncIterator[tuple[TranscribeFn, CrossCheckFn | None]]:
        if self._given is not None:
            yield self._given, self._given_check
        else:
            async with pipeline_engines(self.settings, self.limiter) as engines:
                yield engines

    async def _loop(
        self, stop: asyncio.Event | None, until_empty: bool, only: set[int] | None
    ) -> None:
        stop_wait = asyncio.ensure_future(stop.wait()) if stop else None
        try:
            while not (stop and stop.is_set()):
                self._wake.clear()
                delay = self._fill(only)
                if (
                    until_empty
                    and not self._busy
                    and not self.checks.pending
                    and not self._has_work(only)
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
                timeout = STORE_POLL_S if delay is None else min(delay, STORE_POLL_S)
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
        finally:
            if stop_wait:
                stop_wait.cancel()
            await self._shutdown()

    def _has_work(self, only: set[int] | None) -> bool:
        if only is None:
            return self.store.has_queued()
        return any(
            (j := self.store.get_job(i)) is not None and j.state is JobState.QUEUED for i in only
        )

    @property
    def _busy(self) -> int:
        return len(self._tasks) + len(self.checks.tasks)

    def _fill(self, only: set[int] | None) -> float | None:
        """Start jobs (asked-for cross-checks first) up to the concurrency; returns the
        rate-limit wait if that stopped us."""
        while self._busy < self.concurrency:
            check = bool(self.checks.pending) and self._check_fn is not None
            if not check and not self._has_work(only):
                return None
            if self._given is not None:
                wait = self.limiter.wait_time()
                if wait > 0:
                    return wait
            if check:
                assert self._check_fn is not None
                self.checks.start(self.checks.pending.popleft(), self._check_fn, self._settings_for)
                if self._given is not None:
                    self.limiter.record()
                continue
            job = self._claim(only)
            if job is None:
                return None
            if self._given is not None:
                self.limiter.record()
            task = asyncio.create_task(self._run_job(job), name=f"job-{job.id}")
            self._tasks[job.id] = task
            task.add_done_callback(functools.partial(self._job_done, job.id))
        return None

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
        self._wake.set()

    async def _shutdown(self) -> None:
        self._stopping = True
        self.checks.drop_pending()
        if self._busy:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.grace_s
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
        await self.delivery.wait_for_hooks(self._force)

    # --- one job -----------------------------------------------------------------------------

    def _settings_for(self, job: Job) -> Settings:
        # Global settings < the folder's .stepfun-asr.toml files < the job's own options.
        # A broken folder file raises FolderSettingsError: that job fails, saying which file.
        opts = job.options
        base, _ = effective_settings(self.settings, job.source, _watch_root(job))
        return dataclasses.replace(
            base,
            model=opts.model or base.model,
            language=opts.language if opts.language is not None else base.language,
            hotwords=list(opts.hotwords) if opts.hotwords is not None else list(base.hotwords),
        )

    async def _run_job(self, job: Job) -> None:
        assert self._fn is not None
        cancel = asyncio.Event()
        self._cancel_events[job.id] = cancel
        progress = ProgressTracker(self.bus, job.id)
        self.bus.publish(JobStarted(job.id, job.attempts))
        progress.publish(force=True)
        try:
            result = await self._fn(
                job.source,
                settings=self._settings_for(job),
                on_event=progress.on_event,
                cancel=cancel,
                cross_check=job.options.cross_check,
            )
        except asyncio.CancelledError:
            if job.id in self._user_canceled:
                if (me := asyncio.current_task()) is not None:
                    me.uncancel()
                self._canceled(job.id)
                return  # the user asked for this; the runner itself carries on
            self._requeue(job.id, "stopped before it finished; it will run again")
            raise
        except Exception as exc:  # one bad file fails only its own job
            if job.id in self._user_canceled or (
                isinstance(exc, AsrError) and exc.kind is ErrorKind.CANCELED and cancel.is_set()
            ):
                self._canceled(job.id)
            elif self._stopping:
                # A terminal's Ctrl-C also reaches our children (ffmpeg): a failure while we
                # stop is not trusted as the file's verdict. It runs again on the next start.
                self._requeue(
                    job.id, f"failed while stopping ({self._redact(str(exc))}); it will run again"
                )
            else:
                self._failed(job.id, *self._describe(job, exc))
        else:
            if job.id in self._user_canceled:
                self._canceled(job.id)
            else:
                self._finished(job, result)
        finally:
            self._cancel_events.pop(job.id, None)

    def _redact(self, text: str) -> str:
        key = self.settings.api_key.reveal() if self.settings.api_key else None
        return redact(text, key)

    def _describe(self, job: Job, exc: Exception) -> tuple[str, str]:
        """(sentence, kind) for a failed job or cross-check; redacted, as both are shown."""
        message, kind = self._explain(job, exc)
        return self._redact(message), kind

    def _explain(self, job: Job, exc: Exception) -> tuple[str, str]:
        if isinstance(exc, AsrError):
            return exc.message, exc.kind.value
        # The traceback goes to the debug log redacted: an exception's text may quote the key.
        log.debug(
            "job %s raised:\n%s", job.id, self._redact("".join(traceback.format_exception(exc)))
        )
        if isinstance(exc, OSError):
            return f"Cannot read {job.source}: {exc.strerror or exc}", ErrorKind.BAD_INPUT.value
        return f"Unexpected error on {job.source.name}: {type(exc).__name__}: {exc}", "internal"

    def _canceled(self, job_id: int) -> None:
        self._user_canceled.discard(job_id)
        try:
            self.store.cancel_job(job_id)
        except JobStateError:
            log.warning("job %s changed state while being canceled", job_id)
        self.bus.publish(JobCanceled(job_id))

    def _requeue(self, job_id: int, reason: str) -> None:
        try:
            self.store.requeue_job(job_id, owner=self.owner)
        except JobStateError:
            return
        self.bus.publish(JobRequeued(job_id, reason))

    def _failed(self, job_id: int, message: str, kind: str) -> None:
        message = self._redact(message)  # stored and printed: never with the key in it
        try:
            self.store.fail_job(job_id, message, kind, owner=self.owner)
        except JobStateError as exc:
            log.warning("%s", exc)
            return
        self.bus.publish(JobFailed(job_id, message, kind))

    def _finished(self, job: Job, result: TranscriptionResult) -> None:
        try:
            previous_outputs = job.outputs
            done = self.store.finish_job(job.id, result, owner=self.owner)
        except JobStateError as exc:
            log.warning("%s", exc)
            return
        self.bus.publish(JobFinished(done.id, done.state.value, result))
        if done.options.export is not None:
            spec = _folder_export(self.settings, done, done.options.export)
            self.delivery.deliver(done, result, done.source, spec, previous_outputs)


def _watch_root(job: Job) -> Path | None:
    return Path(job.watch_id) if job.watch_id else None  # a watch's id is its folder


def _folder_export(settings: Settings, job: Job, spec: ExportSpec) -> ExportSpec:
    """The export spec with the formats and out dir a folder file sets for the job's file."""
    try:
        eff, sources = effective_settings(settings, job.source, _watch_root(job))
    except FolderSettingsError as exc:  # broken since the job started: it ran without it
        log.warning("job %s: %s", job.id, exc)
        return spec
    changes: dict[str, Any] = {}
    if sources["formats"].folder_file:
        changes["formats"] = tuple(eff.formats)
    if (where := sources["out_dir"].folder) is not None:
        changes.update(out_dir=eff.out_dir, root=str(where))  # mirrored below that folder
    return dataclasses.replace(spec, **changes) if changes else spec
