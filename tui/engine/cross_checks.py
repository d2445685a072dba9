"""Cross-checks of finished jobs (``Runner.cross_check``): step-asr-1.1 beside a stored result,
without running the main model again.

The runner starts them in its own slots (same concurrency and requests-per-minute limits as
jobs). While one runs, the job stays done/needs_review in the store with its previous result;
only a completed check replaces that result, in one transaction. So a process that dies
mid-check loses nothing (the check is simply not done), and a failed or canceled check leaves
the job as it was and is reported as ``CrossCheckFailed``.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable

from tui.config import Settings
from tui.engine.delivery import Delivery
from tui.engine.events import CrossCheckFailed, EventBus, JobFinished, JobStarted
from tui.engine.outcome import attempt
from tui.engine.progress import ProgressTracker
from tui.engine.transcriber import CrossCheckFn
from tui.store.records import FINISHED, Job, JobState, JobStateError
from tui.store.store import Store
from tui.transcript.model import CostEstimate, TranscriptionResult

STOPPED = (
    "The cross-check was stopped before it finished; the transcript is unchanged. "
    "Ask for it again to run it."
)
CANCELED = "The cross-check was canceled; the transcript is unchanged."


class CrossChecks:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        delivery: Delivery,
        wake: asyncio.Event,
        describe: Callable[[Job, Exception], tuple[str, str]],
    ) -> None:
        """``describe``: (user-facing sentence, kind) for an exception, redacted."""
        self.store = store
        self.bus = bus
        self.delivery = delivery
        self.wake = wake
        self.describe = describe
        self.pending: deque[int] = deque()
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self._cancel: dict[int, asyncio.Event] = {}
        self._user_canceled: set[int] = set()

    def request(self, job_id: int) -> Job:
        """Queue a cross-check of a finished job; JobStateError says why it cannot be."""
        job = self.store.require_job(job_id)
        if job.state in (JobState.QUEUED, JobState.RUNNING):
            raise JobStateError(
                f"Job {job_id} is {job.state.value}; it can be cross-checked once it has finished."
            )
        if job.state not in FINISHED:
            raise JobStateError(
                f"Job {job_id} is {job.state.value}: there is no transcript to "
                f"cross-check. Run it again first (stepfun-asr retry {job_id})."
            )
        if job_id in self.tasks or job_id in self.pending:
            raise JobStateError(f"Job {job_id} is already being cross-checked.")
        if self.store.get_result(job_id) is None:
            raise JobStateError(f"Job {job_id} has no stored transcript to cross-check.")
        self.pending.append(job_id)
        self.wake.set()
        return job

    def cancel(self, job_id: int) -> bool:
        """Stop that job's cross-check (queued or running); False when it has none."""
        if job_id in self.pending:
            self.pending.remove(job_id)
            self.bus.publish(CrossCheckFailed(job_id, CANCELED, "canceled"))
            return True
        task = self.tasks.get(job_id)
        if task is None:
            return False
        self._user_canceled.add(job_id)
        if event := self._cancel.get(job_id):
            event.set()
        task.cancel()
        return True

    def drop_pending(self) -> None:
        """The runner is stopping: checks not started yet are not done (and said so)."""
        while self.pending:
            self.bus.publish(CrossCheckFailed(self.pending.popleft(), STOPPED, "canceled"))

    def start(
        self, job_id: int, check: CrossCheckFn, settings_for: Callable[[Job], Settings]
    ) -> None:
        task = asyncio.create_task(
            self._run(job_id, check, settings_for), name=f"cross-check-{job_id}"
        )
        self.tasks[job_id] = task
        task.add_done_callback(functools.partial(self._done, job_id))

    def _done(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self.tasks.pop(job_id, None)
        self.wake.set()

    async def _run(
        self, job_id: int, check: CrossCheckFn, settings_for: Callable[[Job], Settings]
    ) -> None:
        job = self.store.get_job(job_id)
        previous = self.store.get_result(job_id)
        if job is None or job.state not in FINISHED or previous is None:
            self._failed(
                job_id,
                f"Job {job_id} changed before its cross-check started; nothing was sent.",
                "changed",
            )
            return
        cancel = asyncio.Event()
        self._cancel[job_id] = cancel
        progress = ProgressTracker(self.bus, job_id)
        self.bus.publish(JobStarted(job_id, job.attempts, cross_check_only=True))
        progress.publish(force=True)
        work = check(
            job.source,
            settings=settings_for(job),
            result=previous,
            on_event=progress.on_event,
            cancel=cancel,
        )
        try:
            outcome = await attempt(
                work, cancel=cancel, user_canceled=lambda: job_id in self._user_canceled
            )
        except asyncio.CancelledError:
            self._failed(job_id, STOPPED, "canceled")
            raise
        finally:
            self._cancel.pop(job_id, None)
        if outcome.canceled:
            self._failed(job_id, CANCELED, "canceled")
        elif outcome.error is not None:  # the check fails alone: the job keeps its result
            self._failed(job_id, *self.describe(job, outcome.error))
        elif outcome.value is not None:
            self._save(job, previous, outcome.value)

    def _failed(self, job_id: int, message: str, kind: str) -> None:
        self._user_canceled.discard(job_id)
        self.bus.publish(CrossCheckFailed(job_id, message, kind))

    def _save(self, job: Job, previous: TranscriptionResult, result: TranscriptionResult) -> None:
        try:
            done = self.store.save_cross_check(job.id, result, finished_at=job.finished_at)
        except JobStateError as exc:
            self._failed(job.id, str(exc), "changed")
            return
        self.bus.publish(
            JobFinished(
                done.id,
                done.state.value,
                result,
                cross_check_only=True,
                added_cost=added_cost(previous.cost, result.cost),
            )
        )
        # The files carry the corrections too (the cross-check leaves them in place).
        self.delivery.rewrite(done, self.store.corrections.result(done.id) or result)


def added_cost(before: CostEstimate | None, after: CostEstimate | None) -> CostEstimate | None:
    """What a cross-check added to a job's estimate (None: nothing known in that currency)."""
    if after is None:
        return None
    if before is None:
        return after
    if before.currency != after.currency:
        return None
    return CostEstimate(round(after.amount - before.amount, 6), after.currency, after.basis)
