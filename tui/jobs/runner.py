"""The runner: takes queued jobs from the store, transcribes them, saves and exports results.

It owns concurrency, the requests-per-minute limit and the job lifecycle
(queued → running → done | needs_review | failed | canceled). Nothing it was given is lost: on
start, jobs left ``running`` by a dead process go back to ``queued``; on stop, in-flight jobs
either finish within the grace period or go back to ``queued``. One bad file fails only its own
job. Every change is published on the bus; the store holds the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from tui.config import Settings
from tui.jobs.events import (
    EventBus,
    ExportFailed,
    ExportWritten,
    FileSkipped,
    HookFailed,
    JobCanceled,
    JobDeltaReceived,
    JobFailed,
    JobFinished,
    JobProgressed,
    JobQueued,
    JobRequeued,
    JobRestarted,
    JobReviewed,
    JobStarted,
)
from tui.jobs.exports import ExportSpec, planned_paths, rewrite_outputs, run_hook, write_spec
from tui.jobs.ratelimit import RateLimitedTransport, RateLimiter
from tui.jobs.store import Job, JobOptions, JobState, JobStateError, Store, process_owner
from tui.secrets import redact
from tui.stepfun.errors import AsrError, ErrorKind
from tui.transcript.model import TranscriptionResult

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.2  # coalesce byte/char counters; delta text is never coalesced
STORE_POLL_S = 2.0  # notice jobs queued by another process (`stepfun-asr retry` next to a daemon)


class TranscribeFn(Protocol):
    """What the runner calls for one file: ``tui.jobs.pipeline.transcribe_file`` with its client
    bound, or a fake in tests. ``settings`` carries the job's model/language/hotwords."""

    def __call__(
        self, path: Path, *, settings: Settings, on_event: Callable[[Any], None] | None,
        cancel: asyncio.Event | None, cross_check: bool,
    ) -> Awaitable[TranscriptionResult]: ...


@contextlib.asynccontextmanager
async def pipeline_transcriber(
    settings: Settings, limiter: RateLimiter | None = None,
) -> AsyncIterator[TranscribeFn]:
    """The real transcriber: one AsrClient shared by all jobs, every HTTP request rate-limited."""
    from tui.jobs.pipeline import transcribe_file
    from tui.stepfun.client import AsrClient

    transport = RateLimitedTransport(limiter) if limiter and not limiter.unlimited else None
    async with AsrClient(settings.require_key(), settings.resolved_base_url,
                         transport=transport) as client:
        fn: Any = functools.partial(transcribe_file, client=client)
        yield fn


class _Progress:
    """Turns client/pipeline events for one job into job events with honest counters."""

    def __init__(self, runner: Runner, job: Job) -> None:
        self.runner = runner
        self.job_id = job.id
        self.started = time.monotonic()
        self.bytes_sent = 0
        self.bytes_total = 0
        self.covered_s = 0.0
        self.chars = 0
        self.duration_s: float | None = None
        self.part = 1
        self.parts = 1
        self.offset_ms = 0
        self.stage = "probing"
        self.detail = ""
        self._last = 0.0

    def on_event(self, event: Any) -> None:
        name = type(event).__name__
        bus = self.runner.bus
        force = False
        if name == "UploadProgressed":
            self.bytes_sent, self.bytes_total = int(event.sent), int(event.total)
            done = self.bytes_sent >= self.bytes_total
            force = done and self.stage != "transcribing"
            self.stage = "transcribing" if done else "uploading"
        elif name == "DeltaReceived":
            self.chars += len(event.text)
            start, end = int(event.start_ms), int(event.end_ms)
            if end:
                self.covered_s = max(self.covered_s, end / 1000)
            bus.publish(JobDeltaReceived(self.job_id, event.text, start, end))
        elif name == "AttemptRestarted":
            self.chars = 0
            self.covered_s = 0.0
            bus.publish(JobRestarted(self.job_id, str(event.reason)))
            force = True
        elif name == "Probed":
            self.duration_s = _num(event, "duration_s")
            force = True
        elif name == "Preparing":
            self.stage = "preparing"
            self.detail = str(getattr(event, "what", ""))
            force = True
        elif name == "PartStarted":
            # Upload bytes stay as they are: the pipeline sums them over all parts.
            self.part = int(_num(event, "index", "part") or 1)
            self.parts = int(_num(event, "count", "parts") or 1)
            self.stage = "uploading"
            self.detail = ""
            force = True
        else:
            return
        self.publish(force)

    def publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        self.runner.bus.publish(JobProgressed(
            self.job_id, self.bytes_sent, self.bytes_total, round(self.covered_s, 3), self.chars,
            round(now - self.started, 3), self.duration_s, self.part, self.parts, self.stage,
            self.detail))


def _num(event: Any, *names: str) -> float | None:
    for name in names:
        value = getattr(event, name, None)
        if isinstance(value, int | float):
            return float(value)
    return None


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
    ) -> None:
        """``transcribe=None`` builds the real pipeline (needs the key) when serving starts, with
        the RPM limit applied to every HTTP request. A given callable is limited per job start."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.bus = bus
        self.settings = settings or Settings()
        self.concurrency = concurrency
        self.grace_s = grace_s
        self.limiter = RateLimiter(requests_per_minute)
        self.owner = owner or process_owner()
        self._given = transcribe
        self._fn: TranscribeFn | None = transcribe
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._cancel_events: dict[int, asyncio.Event] = {}
        self._user_canceled: set[int] = set()
        self._hooks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._force = asyncio.Event()
        self._serving = False

    # --- commands (sync, called on the loop thread) ----------------------------------------

    @property
    def running_ids(self) -> frozenset[int]:
        return frozenset(self._tasks)

    def enqueue(self, path: Path, options: JobOptions | None = None, origin: str = "manual", *,
                watch_id: str | None = None, content_hash: str | None = None) -> Job:
        """Queue a file. A file that cannot be read is still queued: it fails with a clear
        message when it runs, so nothing is dropped silently."""
        size: int | None = None
        mtime: float | None = None
        with contextlib.suppress(OSError):
            st = path.stat()
            size, mtime = st.st_size, st.st_mtime
        job = self.store.add_job(path, options, origin, watch_id=watch_id, size=size,
                                 mtime=mtime, content_hash=content_hash)
        return self.announce(job)

    def announce(self, job: Job) -> Job:
        """Publish JobQueued for a job already put in the store as queued, and wake a worker."""
        self.bus.publish(JobQueued(job))
        self._wake.set()
        return job

    def cancel(self, job_id: int) -> Job:
        job = self.store.require_job(job_id)
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

    def mark_reviewed(self, job_id: int, reviewed: bool = True) -> Job:
        job = self.store.mark_reviewed(job_id, reviewed)
        self.bus.publish(JobReviewed(job_id))
        return job

    def stop_now(self) -> None:
        """Skip the grace period: in-flight jobs go back to the queue at once."""
        self._force.set()

    # --- serving ---------------------------------------------------------------------------

    async def drain(self, job_ids: Iterable[int] | None = None) -> None:
        """Run until nothing is queued or running (the CLI and tests). With ``job_ids``, only
        those jobs are taken."""
        await self._serve(None, until_empty=True, only=set(job_ids) if job_ids else None)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then in-flight jobs get ``grace_s`` to finish (or until
        ``stop_now()``), and what is left goes back to the queue."""
        await self._serve(stop, until_empty=False, only=None)

    async def _serve(self, stop: asyncio.Event | None, *, until_empty: bool,
                     only: set[int] | None) -> None:
        if self._serving:
            raise RuntimeError("this runner is already running")
        self._serving = True
        self._force.clear()
        try:
            for job in self.store.recover_running(self.owner):
                self.bus.publish(JobRequeued(job.id, "left running by a stopped process"))
            async with self._transcriber() as fn:
                self._fn = fn
                await self._loop(stop, until_empty, only)
        finally:
            self._serving = False

    @contextlib.asynccontextmanager
    async def _transcriber(self) -> AsyncIterator[TranscribeFn]:
        if self._given is not None:
            yield self._given
        else:
            async with pipeline_transcriber(self.settings, self.limiter) as fn:
                yield fn

    async def _loop(self, stop: asyncio.Event | None, until_empty: bool,
                    only: set[int] | None) -> None:
        stop_wait = asyncio.ensure_future(stop.wait()) if stop else None
        try:
            while not (stop and stop.is_set()):
                self._wake.clear()
                delay = self._fill(only)
                if until_empty and not self._tasks and not self._has_work(only):
                    break
                wake = asyncio.ensure_future(self._wake.wait())
                waiters: set[asyncio.Future[Any]] = {wake, *self._tasks.values()}
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
        return any((j := self.store.get_job(i)) is not None and j.state is JobState.QUEUED
                   for i in only)

    def _fill(self, only: set[int] | None) -> float | None:
        """Start jobs up to the concurrency; returns the rate-limit wait if that stopped us."""
        while len(self._tasks) < self.concurrency:
            if not self._has_work(only):
                return None
            if self._given is not None:
                wait = self.limiter.wait_time()
                if wait > 0:
                    return wait
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
        if self._tasks:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.grace_s
            force = asyncio.ensure_future(self._force.wait())
            try:
                while not force.done():
                    pending = [t for t in self._tasks.values() if not t.done()]
                    remaining = deadline - loop.time()
                    if not pending or remaining <= 0:
                        break
                    await asyncio.wait({*pending, force}, timeout=remaining,
                                       return_when=asyncio.FIRST_COMPLETED)
            finally:
                force.cancel()
            for task in list(self._tasks.values()):
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self._hooks:
            # Hooks have their own timeout; on a forced stop they are cut short.
            if self._force.is_set():
                for hook in self._hooks:
                    hook.cancel()
            await asyncio.gather(*self._hooks, return_exceptions=True)

    # --- one job -----------------------------------------------------------------------------

    def _settings_for(self, job: Job) -> Settings:
        opts, base = job.options, self.settings
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
        progress = _Progress(self, job)
        self.bus.publish(JobStarted(job.id, job.attempts))
        progress.publish(force=True)
        try:
            result = await self._fn(job.source, settings=self._settings_for(job),
                                    on_event=progress.on_event, cancel=cancel,
                                    cross_check=job.options.cross_check)
        except asyncio.CancelledError:
            if job.id in self._user_canceled:
                if (me := asyncio.current_task()) is not None:
                    me.uncancel()
                self._canceled(job.id)
                return  # the user asked for this; the runner itself carries on
            self._requeue(job.id, "stopped before it finished; it will run again")
            raise
        except AsrError as exc:
            if job.id in self._user_canceled or (
                    exc.kind is ErrorKind.CANCELED and cancel.is_set()):
                self._canceled(job.id)
            else:
                self._failed(job.id, exc.message, exc.kind.value)
        except Exception as exc:  # one bad file fails only its own job
            log.debug("job %s raised", job.id, exc_info=True)
            self._failed(job.id, *self._describe(job, exc))
        else:
            if job.id in self._user_canceled:
                self._canceled(job.id)
            else:
                self._finished(job, result)
        finally:
            self._cancel_events.pop(job.id, None)

    def _describe(self, job: Job, exc: Exception) -> tuple[str, str]:
        key = self.settings.api_key.reveal() if self.settings.api_key else None
        if isinstance(exc, OSError):
            return redact(f"Cannot read {job.source}: {exc.strerror or exc}", key), \
                ErrorKind.BAD_INPUT.value
        return redact(f"Unexpected error on {job.source.name}: {type(exc).__name__}: {exc}",
                      key), "internal"

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
            self._export(done, result, done.source, done.options.export, previous_outputs)

    # --- exports -----------------------------------------------------------------------------

    def export_for(self, job: Job, source: Path, spec: ExportSpec | None = None) -> list[Path]:
        """Write ``job``'s stored result as transcripts of ``source`` (a second copy of the same
        audio). Publishes ExportWritten / FileSkipped and runs the on-done hook."""
        result = self.store.get_result(job.id)
        spec = spec or job.options.export
        if result is None or spec is None:
            return []
        return self._export(job, result, source, spec, ())

    def _export(self, job: Job, result: TranscriptionResult, source: Path, spec: ExportSpec,
                previous: tuple[Path, ...]) -> list[Path]:
        try:
            if previous and source == job.source:
                # A rerun rewrites this job's own files, whatever the policy.
                paths = rewrite_outputs(result, previous)
            else:
                paths = write_spec(result, source, spec)
        except (OSError, ValueError) as exc:
            self.bus.publish(ExportFailed(job.id, source, f"Could not write the transcript of "
                                          f"{source}: {exc}; the result is kept "
                                          f"(stepfun-asr show {job.id})."))
            return []
        if source == job.source:
            self.store.set_outputs(job.id, paths)
        self.store.mark_exported(source, job.id)
        if not paths:
            existing = [str(p) for p in planned_paths(
                source, spec.formats, Path(spec.out_dir) if spec.out_dir else None,
                Path(spec.root) if spec.root else None) if p.exists()]
            self.bus.publish(FileSkipped(
                source, f"transcript already exists ({', '.join(existing)}) and the policy is "
                f"skip; the result is kept (stepfun-asr show {job.id})", job.id))
            return []
        self.bus.publish(ExportWritten(job.id, tuple(paths), source))
        if spec.on_done:
            hook = asyncio.get_running_loop().create_task(
                self._hook(job.id, spec.on_done, paths[0], spec.hook_timeout_s))
            self._hooks.add(hook)
            hook.add_done_callback(self._hooks.discard)
        return paths

    async def _hook(self, job_id: int, command: str, transcript: Path, timeout_s: float) -> None:
        outcome = await run_hook(command, transcript, timeout_s=timeout_s)
        if not outcome.ok:
            self.bus.publish(HookFailed(job_id, outcome.message))
