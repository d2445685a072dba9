"""A file that changes while it is being sent: its result is not the file's transcript.

The runner takes the file's signature (size, mtime, sha256) before the request and again after
the answer. If they differ, the answer is for bytes the file no longer holds: it is kept aside
as superseded (``Store.revisions``), never saved as the job's current transcript, and the new
content is transcribed (the job is queued again, or another job already has it). A file that
keeps changing is not sent over and over: after a few versions the job fails and says why.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from tui.engine.events import EventBus, JobCanceled, JobFailed, JobRequeued
from tui.engine.watch_files import sha256_file
from tui.errors import ErrorKind
from tui.names import shown
from tui.store.records import Job, JobState, JobStateError
from tui.store.revisions import ContentSignature
from tui.store.store import Store
from tui.transcript.model import TranscriptionResult

log = logging.getLogger(__name__)

MAX_VERSIONS = 3  # superseded answers per job before it fails instead of sending again
CHANGING = "changing"  # the hash of a file that changed while it was hashed


def _read_signature(path: Path) -> ContentSignature | None:
    try:
        before = os.stat(path)
        digest = sha256_file(path)
        after = os.stat(path)
    except OSError:
        return None  # gone or unreadable: nothing to compare (the request says the rest)
    if (before.st_size, before.st_mtime_ns, before.st_ino) != (
        after.st_size,
        after.st_mtime_ns,
        after.st_ino,
    ):
        return ContentSignature(after.st_size, after.st_mtime_ns, CHANGING)
    return ContentSignature(after.st_size, after.st_mtime_ns, digest)


async def source_signature(path: Path) -> ContentSignature | None:
    """The file's size, mtime and sha256 now (read in a thread)."""
    return await asyncio.to_thread(_read_signature, path)


async def superseded(
    store: Store,
    bus: EventBus,
    job: Job,
    result: TranscriptionResult,
    before: ContentSignature | None,
    owner: str,
) -> bool:
    """True when ``result`` is for bytes that are no longer ``job.source``'s: then it has been
    kept aside and the job requeued (or ended); the caller must not save it as the job's."""
    if before is None:
        return False
    now = await source_signature(job.source)
    if now is None or (now == before and now.content_hash != CHANGING):
        return False
    reason = f"{shown(job.source)} changed while it was being sent"
    versions = len(store.revisions.superseded_results(job.id)) + 1
    try:
        kept = store.revisions.supersede(
            job.id,
            result,
            now,
            sent_hash=before.content_hash if before.content_hash != CHANGING else None,
            reason=reason,
            owner=owner,
        )
    except JobStateError as exc:
        log.warning("%s", exc)
        return True
    if kept.replaced_by is not None:
        bus.publish(JobCanceled(job.id))
        log.info("job %s superseded by job %s", job.id, kept.replaced_by)
    elif versions >= MAX_VERSIONS:
        message = (
            f"{reason}, {versions} times; each answer was kept aside (not as its transcript). "
            f"Run `stepfun-asr retry {job.id}` once the file is complete."
        )
        store.fail_job(job.id, message, ErrorKind.BAD_INPUT.value)
        bus.publish(JobFailed(job.id, message, ErrorKind.BAD_INPUT.value))
    elif kept.job.state is JobState.QUEUED:
        bus.publish(
            JobRequeued(
                job.id,
                f"{reason}: the answer for the old bytes is kept aside (not as its "
                "transcript) and the new content is transcribed",
            )
        )
    return True
