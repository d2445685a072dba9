"""App-wide messages: engine events (from the job bus) turned into Textual messages.

The bus calls its subscribers synchronously; the app wraps each event in one of these and
posts it to itself, so every widget update happens in a message handler on the UI's own
schedule. Names are past tense. Transcript text never travels as a message (it goes through
the transcript buffer, flushed ~20 times a second); progress messages coalesce per job.
"""

from __future__ import annotations

from textual.message import Message

from tui.engine.events import JobEvent, JobProgressed, WatchEvent


class JobChanged(Message):
    """A job's lifecycle moved (queued, started, finished, failed, canceled, requeued,
    reviewed, restarted): re-read the job from the store."""

    def __init__(self, event: JobEvent, job_id: int) -> None:
        super().__init__()
        self.event = event
        self.job_id = job_id


class ProgressUpdated(Message, bubble=False):
    """Honest progress counters for one running job. A newer one replaces a queued older one
    for the same job, so a burst of progress never backs up the queue."""

    def __init__(self, event: JobProgressed) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ProgressUpdated) and message.event.job_id == self.event.job_id


class WatchUpdated(Message):
    """The watcher or the exporter reported something (watch on/off, folder missing, file
    detected or skipped, transcript written, hook failed)."""

    def __init__(self, event: WatchEvent) -> None:
        super().__init__()
        self.event = event
