"""Job and watch events (past tense), and the one bus that carries them.

The runner and the watcher publish; the CLI, the watch daemon and the TUI subscribe. Events are
frozen dataclasses so a subscriber can keep them. Progress figures are honest counters (bytes
sent, audio seconds covered by received timestamps, characters, elapsed time), never percentages.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.store.records import Job
    from tui.transcript.model import CostEstimate, TranscriptionResult

log = logging.getLogger(__name__)


# --- jobs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobQueued:
    """A job entered the queue: a new one, a retry, a rerun, one resumed after a restart, or a
    queued one whose file changed or was renamed before it ran (same id: re-read it)."""

    job: Job


@dataclass(frozen=True)
class JobStarted:
    """``cross_check_only``: a finished job's cross-check started (``Runner.cross_check``); the
    job stays done/needs_review in the store meanwhile, with its result."""

    job_id: int
    attempt: int = 1
    cross_check_only: bool = False


@dataclass(frozen=True)
class JobProgressed:
    """Where a running job stands. Any figure may be 0/None when not known yet.

    ``bytes_sent``/``bytes_total``: request bodies handed to the network (summed over parts).
    ``audio_s_covered``: furthest end timestamp received, in seconds of the whole file.
    ``chars_received``: characters of delta text so far (current attempt).
    ``duration_s``: probed audio length, None until probed. ``part``/``parts``: 1-based chunk.
    """

    job_id: int
    bytes_sent: int
    bytes_total: int
    audio_s_covered: float
    chars_received: int
    elapsed_s: float
    duration_s: float | None
    part: int = 1
    parts: int = 1
    # "probing" | "preparing" | "uploading" | "transcribing" | "cross-checking"
    stage: str = "transcribing"
    detail: str = ""  # e.g. "transcoding to Opus" while preparing


@dataclass(frozen=True)
class JobDeltaReceived:
    """Incremental text; append it. Times are ms offsets into the whole file."""

    job_id: int
    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class JobRestarted:
    """The request is being retried: discard the partial text shown for this job."""

    job_id: int
    reason: str


@dataclass(frozen=True)
class JobFinished:
    """state is "done" or "needs_review"; the result is also in the store.

    ``cross_check_only``: an earlier result, now cross-checked (the main model did not run
    again); ``added_cost`` is what that check added to the job's estimated cost.
    """

    job_id: int
    state: str
    result: TranscriptionResult
    cross_check_only: bool = False
    added_cost: CostEstimate | None = None


@dataclass(frozen=True)
class JobFailed:
    """``message``: the user-facing sentence (an AsrError's text verbatim); ``kind``: ErrorKind."""

    job_id: int
    message: str
    kind: str


@dataclass(frozen=True)
class CrossCheckFailed:
    """A finished job's cross-check did not complete (``kind``: an ErrorKind, "canceled" or
    "changed"); the job keeps its previous result and state. ``message`` is the sentence."""

    job_id: int
    message: str
    kind: str


@dataclass(frozen=True)
class JobCanceled:
    job_id: int


@dataclass(frozen=True)
class JobRequeued:
    """A running job went back to the queue (shutdown, crash recovery); it will run again."""

    job_id: int
    reason: str


@dataclass(frozen=True)
class JobReviewed:
    job_id: int


# --- the queue as a whole ---------------------------------------------------------------------


class PauseReason(enum.StrEnum):
    """Why nothing new is being sent. ACCOUNT: the key, balance, region or endpoint was
    refused (every file would fail the same way); OUTAGE: the service could not be reached
    after the client's retries; BUDGET: the next file would pass a spending cap."""

    ACCOUNT = "account"
    OUTAGE = "outage"
    BUDGET = "budget"


@dataclass(frozen=True)
class QueuePaused:
    """Nothing new starts until QueueResumed; queued jobs stay queued (and unsent).
    ``message`` says why and how to fix it; ``since`` is a Unix time (the first failure of an
    outage, kept while it lasts); ``kind`` the ErrorKind that caused it, if any."""

    reason: PauseReason
    message: str
    since: float
    kind: str | None = None


@dataclass(frozen=True)
class QueueResumed:
    """The queue runs again: ``how`` says what resumed it (settings changed, asked, the
    service answered a probe, the budget allows the next file)."""

    reason: PauseReason
    how: str


@dataclass(frozen=True)
class ServiceProbed:
    """During an outage the service was probed and did not answer; the next probe is in
    ``next_in_s`` seconds."""

    message: str
    since: float
    next_in_s: float


@dataclass(frozen=True)
class TranscriptCorrected:
    """A finished job's corrections changed (an edit, an undo, a revert, a glossary rule):
    its corrected result (``store.corrections.result``) is new; its own files are rewritten."""

    job_id: int
    action: str


@dataclass(frozen=True)
class SpeakersEdited:
    """A job's speakers were renamed or merged, or such an edit undone (``action`` says which):
    its result (``store.corrections.result``) carries the new labels and its own transcript
    files were rewritten. Nothing was computed again or sent."""

    job_id: int
    action: str


# --- watching and exports ----------------------------------------------------------------------


@dataclass(frozen=True)
class WatchStarted:
    folders: tuple[Path, ...]
    polling: bool = False
    recursive: bool = False


@dataclass(frozen=True)
class WatchStopped:
    pass


@dataclass(frozen=True)
class WatchFailed:
    """A watch stopped on an error; its folders are no longer watched (the message says why)."""

    folders: tuple[Path, ...]
    message: str


@dataclass(frozen=True)
class WatchDegraded:
    """One watched folder is in trouble but still watched: it switched to polling (the OS
    would not watch it), or its watch failed and restarts by itself (the message says when)."""

    folder: Path
    message: str


@dataclass(frozen=True)
class FolderMissing:
    folder: Path
    message: str = ""


@dataclass(frozen=True)
class FolderRestored:
    """A watched folder that had gone missing is back (and has been rescanned)."""

    folder: Path


@dataclass(frozen=True)
class FileDetected:
    """A candidate file appeared or changed; it will be queued once it stops changing."""

    path: Path


@dataclass(frozen=True)
class FileSkipped:
    """A candidate will not be transcribed; ``reason`` says why in a sentence."""

    path: Path
    reason: str
    job_id: int | None = None


@dataclass(frozen=True)
class ExportWritten:
    job_id: int
    paths: tuple[Path, ...]
    source: Path | None = None


@dataclass(frozen=True)
class ExportFailed:
    """Transcribed, but the transcript file could not be written (the result is in the store)."""

    job_id: int
    source: Path
    message: str


@dataclass(frozen=True)
class HookFailed:
    job_id: int
    message: str


JobEvent = (
    JobQueued
    | JobStarted
    | JobProgressed
    | JobDeltaReceived
    | JobRestarted
    | JobFinished
    | JobFailed
    | JobCanceled
    | JobRequeued
    | JobReviewed
    | TranscriptCorrected
    | SpeakersEdited
    | CrossCheckFailed
)
QueueEvent = QueuePaused | QueueResumed | ServiceProbed
WatchEvent = (
    WatchStarted
    | WatchStopped
    | WatchFailed
    | WatchDegraded
    | FolderMissing
    | FolderRestored
    | FileDetected
    | FileSkipped
    | ExportWritten
    | ExportFailed
    | HookFailed
)
Event = JobEvent | QueueEvent | WatchEvent
Callback = Callable[[Event], None]


# --- bus ---------------------------------------------------------------------------------------


@dataclass
class EventStream:
    """An async-iterator subscription. Use ``async with bus.stream() as events: async for ...``.

    Unbounded by default so transcript text is never dropped; ``close()`` ends the iteration.
    """

    _bus: EventBus
    _queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    _unsubscribe: Callable[[], None] | None = None
    _closed: bool = False

    def _push(self, event: Event) -> None:
        if not self._closed:
            self._queue.put_nowait(event)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._unsubscribe:
                self._unsubscribe()
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def get(self) -> Event | None:
        """The next event, or None once closed."""
        return await self._queue.get()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Synchronous fan-out on the event-loop thread.

    ``publish`` calls every subscriber in order; one subscriber raising is logged and never
    reaches the publisher (the runner). From another thread use ``publish_threadsafe``.
    """

    def __init__(self) -> None:
        self._subscribers: list[Callback] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            # Rebuild rather than remove in place: publish may be iterating right now.
            self._subscribers = [c for c in self._subscribers if c is not callback]

        return unsubscribe

    def stream(self) -> EventStream:
        stream = EventStream(self)
        stream._unsubscribe = self.subscribe(stream._push)
        return stream

    def publish(self, event: Event) -> None:
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", callback, type(event).__name__)

    def publish_threadsafe(self, event: Event) -> None:
        """Publish from a worker thread: hands the event to the loop last seen publishing."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self.publish(event)
        else:
            loop.call_soon_threadsafe(self.publish, event)
