"""How a job leaves ``running``: finished (saved, the glossary applied, delivered), failed
with a sentence a person can act on, canceled, or put back in the queue. Each is recorded in
the store and published on the bus; every sentence is redacted (it is stored and shown).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

from tui.config import Settings
from tui.engine.delivery import Delivery
from tui.engine.events import EventBus, JobCanceled, JobFailed, JobFinished, JobRequeued
from tui.engine.job_settings import folder_export
from tui.engine.review import Review
from tui.engine.store_retry import retry_store
from tui.errors import AsrError, ErrorKind
from tui.store.records import Job, JobStateError
from tui.store.store import Store
from tui.transcript.model import TranscriptionResult

log = logging.getLogger(__name__)


class JobEndings:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        owner: str,
        settings: Settings,
        redact: Callable[[str], str],
        review: Review,
        delivery: Delivery,
    ) -> None:
        self.store = store
        self.bus = bus
        self.owner = owner
        self.settings = settings  # the engine's, changed in place by apply_settings
        self.redact = redact
        self.review = review
        self.delivery = delivery

    def describe(self, job: Job, exc: Exception) -> tuple[str, str]:
        """(sentence, kind) for a failed job or cross-check; redacted, as both are shown."""
        message, kind = self._explain(job, exc)
        return self.redact(message), kind

    def _explain(self, job: Job, exc: Exception) -> tuple[str, str]:
        if isinstance(exc, AsrError):
            return exc.message, exc.kind.value
        # The traceback goes to the debug log redacted: an exception's text may quote the key.
        log.debug(
            "job %s raised:\n%s", job.id, self.redact("".join(traceback.format_exception(exc)))
        )
        if isinstance(exc, OSError):
            return f"Cannot read {job.source}: {exc.strerror or exc}", ErrorKind.BAD_INPUT.value
        return f"Unexpected error on {job.source.name}: {type(exc).__name__}: {exc}", "internal"

    def canceled(self, job_id: int) -> None:
        try:
            self.store.cancel_job(job_id)
        except JobStateError:
            log.warning("job %s changed state while being canceled", job_id)
        self.bus.publish(JobCanceled(job_id))

    def requeue(self, job_id: int, reason: str) -> None:
        try:
            self.store.requeue_job(job_id, owner=self.owner)
        except JobStateError:
            return
        self.bus.publish(JobRequeued(job_id, reason))

    def failed(self, job_id: int, message: str, kind: str) -> None:
        message = self.redact(message)  # stored and printed: never with the key in it
        try:
            self.store.fail_job(job_id, message, kind, owner=self.owner)
        except JobStateError as exc:
            log.warning("%s", exc)
            return
        self.bus.publish(JobFailed(job_id, message, kind))

    async def finished(self, job: Job, result: TranscriptionResult) -> None:
        try:
            previous_outputs = job.outputs
            done = await retry_store(  # a paid result waits out a busy or full database
                lambda: self.store.finish_job(job.id, result, owner=self.owner),
                f"saving the transcript of job {job.id}",
            )
        except JobStateError as exc:
            log.warning("%s", exc)
            return
        # The glossary's rules, as visible corrections (the model's text stays in the store);
        # what is delivered is corrected (a rerun keeps the edits that still fit its words).
        self.review.apply_glossary(done.id, rewrite=False)
        if self.store.corrections.of(done.id):
            result = self.store.corrections.result(done.id) or result
        self.bus.publish(JobFinished(done.id, done.state.value, result))
        if done.options.export is not None:
            spec = folder_export(self.settings, done, done.options.export)
            self.delivery.deliver(done, result, done.source, spec, previous_outputs)
