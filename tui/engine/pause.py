"""When the queue stops as a whole: account refusals, outages and budget caps.

A refused key, an empty balance or a key sent to the wrong region would fail every file the
same way, and each failure would upload a whole file for nothing; a service that cannot be
reached would turn every file that arrives meanwhile into a permanent failure. Both are the
queue's problem, not the file's: the job that met it goes back to the queue and nothing new
starts until the cause is gone. The ``QueueGate`` holds that state for the runner, publishes
``QueuePaused``/``QueueResumed``, and during an outage probes the service with a capped
backoff (each probe is one small request, never audio) until it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tui.engine.events import EventBus, PauseReason, QueuePaused, QueueResumed, ServiceProbed
from tui.errors import AsrError, ErrorKind

log = logging.getLogger(__name__)

# Failures that say nothing about the file: every other file would meet them too.
ACCOUNT_KINDS = frozenset(
    {
        ErrorKind.MISSING_KEY,
        ErrorKind.INVALID_KEY,
        ErrorKind.NO_BALANCE,
        ErrorKind.KEY_BASE_MISMATCH,
        ErrorKind.WRONG_ENDPOINT,
    }
)
# What is left once the client's own retries gave up: the service is down or unreachable.
OUTAGE_KINDS = frozenset({ErrorKind.CONNECTION, ErrorKind.SERVER_ERROR, ErrorKind.TIMEOUT})
# A file that meets an "outage" this many times while the service answers probes fails on
# its own (a file the service always answers 5xx for must not hold the queue for ever).
OUTAGE_STRIKES = 3
PROBE_FIRST_S = 60.0
PROBE_MAX_S = 300.0

ProbeFn = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Pause:
    reason: PauseReason
    message: str
    since: float
    kind: str | None = None
    # BUDGET: what the blocked file would cost, to see when it fits again.
    needed: float = 0.0


def pause_reason(exc: BaseException) -> PauseReason | None:
    """The queue-wide reason an error stands for, or None when it is the file's own."""
    if isinstance(exc, AsrError):
        if exc.kind in ACCOUNT_KINDS:
            return PauseReason.ACCOUNT
        if exc.kind in OUTAGE_KINDS:
            return PauseReason.OUTAGE
    return None


def clock(since: float) -> str:
    """``14:02`` (local time), as the header and the daemon's log show it."""
    return time.strftime("%H:%M", time.localtime(since))


def outage_message(detail: str, since: float) -> str:
    return f"Service unreachable since {clock(since)}, retrying ({detail})"


class QueueGate:
    """The runner's pause state. ``wake`` is set whenever the queue may run again."""

    def __init__(self, bus: EventBus, wake: asyncio.Event) -> None:
        self.bus = bus
        self._wake = wake
        self.pause: Pause | None = None
        self.probe_first_s = PROBE_FIRST_S
        self.probe_max_s = PROBE_MAX_S
        self._probe_task: asyncio.Task[None] | None = None
        self._strikes: dict[int, int] = {}
        self.key_proven = False  # the service accepted the key in this session

    def proved_key(self) -> None:
        if not self.key_proven:
            self.key_proven = True
            self._wake.set()

    def absorb(
        self, job_id: int, error: Exception, redact: Callable[[str], str], probe: ProbeFn | None
    ) -> str | None:
        """For an account refusal or an outage met by ``job_id``: pause, and return why the
        job goes back to the queue. None for the file's own failures (it fails alone)."""
        reason = pause_reason(error)
        if reason is None or not isinstance(error, AsrError):
            return None
        message = redact(error.message)
        if reason is PauseReason.ACCOUNT:
            self.stop(reason, message, kind=error.kind.value)
            return f"not transcribed: {message}; it runs when the queue resumes"
        redacted = AsrError(error.kind, message, status=error.status)
        if not self.outage(job_id, redacted, probe):
            return None  # this file keeps meeting it while the service answers: its own
        return f"not transcribed: {message}; it runs when the service answers"

    @property
    def paused(self) -> bool:
        return self.pause is not None

    def stop(
        self,
        reason: PauseReason,
        message: str,
        *,
        kind: str | None = None,
        needed: float = 0.0,
    ) -> None:
        """Pause (a pause already in place for the same reason is kept, with its start)."""
        current = self.pause
        if current is not None and current.reason is reason:
            return
        since = time.time()
        self.pause = Pause(reason, message, since, kind, needed)
        log.warning("queue paused (%s): %s", reason.value, message)
        self.bus.publish(QueuePaused(reason, message, since, kind))

    def resume(self, how: str) -> bool:
        """Run again; False when the queue was not paused."""
        self._cancel_probe()
        current, self.pause = self.pause, None
        if current is None:
            return False
        log.info("queue resumed (%s): %s", current.reason.value, how)
        self.bus.publish(QueueResumed(current.reason, how))
        self._wake.set()
        return True

    # --- outages ------------------------------------------------------------------------------

    def outage(self, job_id: int, error: AsrError, probe: ProbeFn | None) -> bool:
        """Pause for an outage met by ``job_id``; False when that file has met one too often
        while the service answered (then it fails on its own)."""
        strikes = self._strikes[job_id] = self._strikes.get(job_id, 0) + 1
        if strikes >= OUTAGE_STRIKES:
            self._strikes.pop(job_id, None)
            return False
        if self.pause is None:
            since = time.time()
            self.stop(PauseReason.OUTAGE, outage_message(error.message, since), kind=error.kind)
        if self.pause is not None and self.pause.reason is PauseReason.OUTAGE:
            self._start_probe(probe)
        return True

    def succeeded(self, job_id: int) -> None:
        self._strikes.pop(job_id, None)

    def _start_probe(self, probe: ProbeFn | None) -> None:
        if self._probe_task is None or self._probe_task.done():
            self._probe_task = asyncio.create_task(self._probe_loop(probe), name="service-probe")

    async def _probe_loop(self, probe: ProbeFn | None) -> None:
        delay = self.probe_first_s
        while self.pause is not None and self.pause.reason is PauseReason.OUTAGE:
            await asyncio.sleep(delay)
            if probe is None:  # nothing cheaper to try: the next job is the probe
                break
            try:
                await probe()
            except AsrError as exc:
                since = self.pause.since if self.pause else time.time()
                delay = min(self.probe_max_s, delay * 2)
                log.warning("%s; next probe in %.0f s", outage_message(exc.message, since), delay)
                self.bus.publish(ServiceProbed(exc.message, since, delay))
                continue
            except Exception as exc:  # a probe that breaks must not keep the queue paused
                log.warning("service probe failed unexpectedly: %s", exc)
            break
        self._probe_task = None
        if self.pause is not None and self.pause.reason is PauseReason.OUTAGE:
            self.resume("the service answers again")

    def _cancel_probe(self) -> None:
        task, self._probe_task = self._probe_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def close(self) -> None:
        """Stop probing (serving ended); the pause itself is kept for the next session."""
        task, self._probe_task = self._probe_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
