"""Engine events as Textual messages: one message class per event kind, each with its handler.

The engine's bus calls its subscribers synchronously; the main screen wraps each event in the
message of its kind (``message_for``) and posts it to itself, so every widget update happens
in a message handler on the UI's own schedule. Transcript text never travels as a message (it
goes through the pane's buffer, flushed ~20 times a second); progress messages coalesce per job.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from textual.message import Message

from tui.engine import events as ev

E = TypeVar("E")


class EngineMessage(Message, Generic[E], bubble=False):
    """An engine event, delivered to the screen that subscribed to the engine."""

    def __init__(self, event: E) -> None:
        super().__init__()
        self.event = event


class JobQueued(EngineMessage[ev.JobQueued]):
    pass


class JobStarted(EngineMessage[ev.JobStarted]):
    pass


class JobProgressed(EngineMessage[ev.JobProgressed]):
    """Honest progress counters for one running job. A newer one replaces a queued older one
    for the same job, so a burst of progress never backs up the queue."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, JobProgressed) and message.event.job_id == self.event.job_id


class JobRestarted(EngineMessage[ev.JobRestarted]):
    pass


class JobFinished(EngineMessage[ev.JobFinished]):
    pass


class JobFailed(EngineMessage[ev.JobFailed]):
    pass


class CrossCheckFailed(EngineMessage[ev.CrossCheckFailed]):
    pass


class JobCanceled(EngineMessage[ev.JobCanceled]):
    pass


class JobRequeued(EngineMessage[ev.JobRequeued]):
    pass


class JobReviewed(EngineMessage[ev.JobReviewed]):
    pass


class QueuePaused(EngineMessage[ev.QueuePaused]):
    pass


class QueueResumed(EngineMessage[ev.QueueResumed]):
    pass


class ServiceProbed(EngineMessage[ev.ServiceProbed]):
    pass


class TranscriptCorrected(EngineMessage[ev.TranscriptCorrected]):
    pass


class SpeakersEdited(EngineMessage[ev.SpeakersEdited]):
    pass


class WatchStarted(EngineMessage[ev.WatchStarted]):
    pass


class WatchStopped(EngineMessage[ev.WatchStopped]):
    pass


class WatchFailed(EngineMessage[ev.WatchFailed]):
    pass


class WatchDegraded(EngineMessage[ev.WatchDegraded]):
    pass


class FolderMissing(EngineMessage[ev.FolderMissing]):
    pass


class FolderRestored(EngineMessage[ev.FolderRestored]):
    pass


class FileDetected(EngineMessage[ev.FileDetected]):
    pass


class FileSkipped(EngineMessage[ev.FileSkipped]):
    pass


class ExportWritten(EngineMessage[ev.ExportWritten]):
    pass


class ExportFailed(EngineMessage[ev.ExportFailed]):
    pass


class HookFailed(EngineMessage[ev.HookFailed]):
    pass


# Event class → message class; an event kind without a message is not shown (a test checks
# that every event kind the engine publishes has one).
_MESSAGES: dict[type, type[EngineMessage[Any]]] = {
    ev.JobQueued: JobQueued,
    ev.JobStarted: JobStarted,
    ev.JobProgressed: JobProgressed,
    ev.JobRestarted: JobRestarted,
    ev.JobFinished: JobFinished,
    ev.JobFailed: JobFailed,
    ev.CrossCheckFailed: CrossCheckFailed,
    ev.JobCanceled: JobCanceled,
    ev.JobRequeued: JobRequeued,
    ev.JobReviewed: JobReviewed,
    ev.QueuePaused: QueuePaused,
    ev.QueueResumed: QueueResumed,
    ev.ServiceProbed: ServiceProbed,
    ev.TranscriptCorrected: TranscriptCorrected,
    ev.SpeakersEdited: SpeakersEdited,
    ev.WatchStarted: WatchStarted,
    ev.WatchStopped: WatchStopped,
    ev.WatchFailed: WatchFailed,
    ev.WatchDegraded: WatchDegraded,
    ev.FolderMissing: FolderMissing,
    ev.FolderRestored: FolderRestored,
    ev.FileDetected: FileDetected,
    ev.FileSkipped: FileSkipped,
    ev.ExportWritten: ExportWritten,
    ev.ExportFailed: ExportFailed,
    ev.HookFailed: HookFailed,
}


def message_for(event: object) -> EngineMessage[Any] | None:
    kind = _MESSAGES.get(type(event))
    return kind(event) if kind is not None else None


def covered_events() -> frozenset[type]:
    return frozenset(_MESSAGES)


class ProblemReported(Message, bubble=False):
    """Something outside the engine's events went wrong (a worker, an export): show it."""

    def __init__(self, severity: str, where: str, message: str) -> None:
        super().__init__()
        self.severity = severity
        self.where = where
        self.message = message


class SettingsApplied(Message, bubble=False):
    """The settings changed (saved in the settings screen, or a key entered)."""


class SettingsRequested(Message):
    """The user asked for the settings screen (the app owns the screens over the main one)."""


class HelpRequested(Message):
    """The user asked for the list of keys."""


class QuitRequested(Message):
    """The user asked to quit."""
