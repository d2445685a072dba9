"""Watch folders: every new recording transcribed exactly once, never while still being written.

Each candidate is stat-polled until it stops changing (``tui.engine.watch_files``). Exactly-once
comes from the store's content-hash ledger: a restart, a rename or a touch finds the same hash,
and a second copy of the same bytes gets its transcript from the stored result instead of a new
(paid) request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import sqlite3
import time
from pathlib import Path

from tui.engine.events import (
    Event,
    EventBus,
    FileDetected,
    FileSkipped,
    JobFailed,
    JobFinished,
    WatchDegraded,
    WatchStarted,
    WatchStopped,
)
from tui.engine.runner import Runner
from tui.engine.sweep import sweep_temp_files
from tui.engine.watch_files import (
    WatchConfig,
    sha256_file,
    skip_reason,
    stat_or_none,
    unreadable,
    wait_stable,
)
from tui.engine.watch_folders import FolderWatch
from tui.errors import ErrorKind
from tui.names import shown
from tui.store.errors import store_error_sentence
from tui.store.records import Admission, Job, JobOptions, JobState
from tui.store.store import Store

log = logging.getLogger(__name__)

STORE_RETRY_MAX_S = 60.0  # the longest wait between two tries of a refusing database


class Watcher:
    def __init__(self, config: WatchConfig, store: Store, runner: Runner, bus: EventBus) -> None:
        self.config = config
        self.store = store
        self.runner = runner
        self.bus = bus
        # Real paths: macOS FSEvents reports /private/tmp for /tmp, and the checks below compare.
        self.roots = tuple(Path(os.path.realpath(f)) for f in config.folders)
        out = Path(os.path.realpath(config.export.out_dir)) if config.export.out_dir else None
        # An output folder inside a watched folder is never watched (no loop on our own files).
        # One that *is* a watched folder (or holds one) is not excluded: that would be all of it.
        self.excluded = (
            (out,) if out and any(out != r and out.is_relative_to(r) for r in self.roots) else ()
        )
        self._pollers: dict[Path, asyncio.Task[None]] = {}
        self.folders = FolderWatch(config, bus, self._consider, self._is_excluded)
        self._store_down_since: float | None = None
        self._hash_slots = asyncio.Semaphore(2)

    # --- public --------------------------------------------------------------------------

    @property
    def settling(self) -> frozenset[Path]:
        """Files waiting to stop changing."""
        return frozenset(self._pollers)

    def job_options(self, root: Path) -> JobOptions:
        return dataclasses.replace(
            self.config.options, export=dataclasses.replace(self.config.export, root=str(root))
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until ``stop`` is set. Missing folders are reported and re-checked; a folder
        whose watch fails is reported and restarts by itself (the others keep running)."""
        self.bus.publish(WatchStarted(self.roots, self.config.force_polling, self.config.recursive))
        unsubscribe = self.bus.subscribe(self._on_event)
        sweep = asyncio.create_task(self._sweep())
        folder_tasks = [
            asyncio.create_task(self.folders.run(root, stop), name=f"watch:{shown(root)}")
            for root in self.roots
        ]
        try:
            await stop.wait()
        finally:
            unsubscribe()
            pending = [sweep, *folder_tasks, *self._pollers.values()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self.folders.close()
            self.bus.publish(WatchStopped())

    # --- folders -------------------------------------------------------------------------

    async def _sweep(self) -> None:
        """Remove the temp files a crash left where transcripts are written."""
        out = self.config.export.out_dir
        for folder in (*self.roots, *([Path(out)] if out else [])):
            # An out dir mirrors the tree: always walked.
            deep = self.config.recursive or folder not in self.roots
            removed = await asyncio.to_thread(sweep_temp_files, folder, recursive=deep)
            if removed:
                log.info("removed %d leftover temp file(s) under %s", len(removed), shown(folder))

    def _is_excluded(self, path: Path) -> bool:
        return any(path == ex or path.is_relative_to(ex) for ex in self.excluded)

    # --- one file ------------------------------------------------------------------------

    def _consider(self, path: Path, root: Path) -> None:
        if path in self._pollers or self._is_excluded(path):
            return
        if skip_reason(path, root) is not None:
            return
        if not self.config.recursive and path.parent != root:
            return
        if self._unchanged_and_handled(path):
            return
        self.bus.publish(FileDetected(path))
        task = asyncio.create_task(self._settle(path, root), name=f"settle:{path.name}")
        self._pollers[path] = task
        task.add_done_callback(functools.partial(self._settled, path))

    def _settled(self, path: Path, _task: asyncio.Task[None]) -> None:
        self._pollers.pop(path, None)

    def _unchanged_and_handled(self, path: Path) -> bool:
        """Quiet restarts: a file the ledger knows, unchanged since, with its job settled."""
        try:
            seen = self.store.ledger.seen_file(path)
        except sqlite3.Error:
            return False  # the database is busy: look at the file properly (it is retried)
        if seen is None or seen.job_id is None or not seen.exported:
            return False
        try:
            st = path.stat()
        except OSError:
            return False
        return (st.st_size, st.st_mtime_ns) == (seen.size, seen.mtime_ns)

    async def _settle(self, path: Path, root: Path) -> None:
        def skip(reason: str) -> None:
            self.bus.publish(FileSkipped(path, reason))

        store_failures = 0
        try:
            for _ in range(1_000_000):  # bounded; each round is one stat_interval or a backoff
                st = await wait_stable(path, self.config, skip)
                if st is None:
                    return
                try:
                    digest = await self._digest(path, st)
                    if digest is None:
                        return
                    after = stat_or_none(path)
                    if after is None:
                        return
                    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                        continue  # it changed while we hashed: wait for quiet again
                    self._admit(path, root, st, digest)
                except sqlite3.Error as exc:
                    # Busy, locked, full or failing: the file stays pending and is tried again
                    # (and again, waiting longer each time) until the database takes it.
                    store_failures += 1
                    delay = min(STORE_RETRY_MAX_S, 0.5 * 2 ** min(store_failures, 10))
                    self._store_trouble(root, path, exc, delay)
                    await asyncio.sleep(delay)
                    continue
                if store_failures:
                    log.info("the job database took %s after %d tries", path, store_failures)
                    self._store_down_since = None
                return
        except Exception:
            log.exception("watching %s failed", shown(path))
            skip("internal error while checking this file; see the log")

    def _store_trouble(self, root: Path, path: Path, exc: sqlite3.Error, delay: float) -> None:
        """Say once per outage that the database refuses writes; files wait, none is dropped."""
        log.warning("job database error on %s: %s; retrying in %g s", shown(path), exc, delay)
        if self._store_down_since is not None:
            return
        self._store_down_since = time.time()
        self.bus.publish(
            WatchDegraded(
                root,
                f"the job database cannot be written ({store_error_sentence(exc)}); new files "
                "wait and are queued as soon as it can (retrying with backoff)",
            )
        )

    async def _digest(self, path: Path, st: os.stat_result) -> str | None:
        seen = self.store.ledger.seen_file(path)
        if seen and (seen.size, seen.mtime_ns) == (st.st_size, st.st_mtime_ns):
            return seen.content_hash
        async with self._hash_slots:
            try:
                return await asyncio.to_thread(sha256_file, path)
            except FileNotFoundError:
                return None
            except OSError as exc:
                self.bus.publish(FileSkipped(path, unreadable(exc)))
                return None

    def _admit(self, path: Path, root: Path, st: os.stat_result, digest: str) -> None:
        cfg = self.config
        # What the next rescan compares against: this version is being taken care of now.
        self.folders.mark_known(root, path, (st.st_size, st.st_mtime_ns, st.st_ino))
        # Only for the skip-policy check below; the queueing decision itself is taken inside
        # the store's transaction (another process may be admitting the same bytes right now).
        known = self.store.ledger.ledger_entry(digest)
        seen = self.store.ledger.seen_file(path)
        reuse = cfg.skip_duplicate_content or self._renamed(digest, path)
        is_new = (seen is None or seen.content_hash != digest or seen.job_id is None) and (
            known is None or known.job_id is None or not reuse
        )
        if is_new and cfg.export.policy == "skip":
            # Only a transcript a person made stops a new one; ours is replaced when done.
            existing = self.runner.delivery.foreign_transcript(
                path, dataclasses.replace(cfg.export, root=str(root))
            )
            if existing is not None:
                self.store.ledger.record_seen(path, st.st_size, st.st_mtime_ns, digest, None)
                self.bus.publish(
                    FileSkipped(
                        path, f"a transcript already exists ({existing}) and the policy is skip"
                    )
                )
                return
        admission = self.store.ledger.admit_file(
            path,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            content_hash=digest,
            options=self.job_options(root),
            watch_id=str(root),
            skip_duplicate_content=reuse,
        )
        self._handle(admission, path, root)

    def _renamed(self, digest: str, path: Path) -> bool:
        # skip_duplicate_content=False sends real copies again, but a rename is not a copy:
        # a file with these bytes that we saw before has gone away.
        return any(p != path and not p.exists() for p in self.store.ledger.paths_with_hash(digest))

    def _handle(self, adm: Admission, path: Path, root: Path) -> None:
        job = adm.job
        if adm.kind == "new":
            self.runner.announce(job)
            return
        if adm.kind == "copy" and self._follow_rename(job, path):
            return
        if job.state in (JobState.QUEUED, JobState.RUNNING):
            if adm.kind == "copy":
                self._skip_copy(path, job, "its transcript will be written from that result")
            return  # exported when the job finishes (see _on_event)
        if job.state in (JobState.FAILED, JobState.CANCELED):
            what = f"failed: {job.error_message}" if job.state is JobState.FAILED else "canceled"
            self.bus.publish(
                FileSkipped(
                    path,
                    f"job {job.id} for this audio {what}; run `stepfun-asr retry {job.id}` "
                    "to try again",
                    job.id,
                )
            )
            return
        if adm.exported:
            return
        if adm.kind == "copy":
            self._skip_copy(path, job, "transcript written from the stored result, not sent again")
        self._export(job, path, root)

    def _follow_rename(self, job: Job, path: Path) -> bool:
        """The job's file was renamed before it could be read (it is queued, or it failed as
        missing): the job takes the new name, and a failed one runs again."""
        missing = job.state is JobState.QUEUED or (
            job.state is JobState.FAILED and job.error_kind == ErrorKind.BAD_INPUT.value
        )
        if not missing or job.source.exists():
            return False
        moved = self.store.ledger.move_source(job.id, path)
        if moved.state is JobState.FAILED:
            self.runner.retry(moved.id)
        else:
            self.runner.announce(moved)
        return True

    def _skip_copy(self, path: Path, job: Job, what: str) -> None:
        state = f", {job.state.value}" if job.state in (JobState.QUEUED, JobState.RUNNING) else ""
        self.bus.publish(
            FileSkipped(
                path, f"same audio as {job.source.name} (job {job.id}{state}); {what}", job.id
            )
        )

    def _export(self, job: Job, path: Path, root: Path) -> None:
        spec = self.job_options(root).export if path != job.source else None
        self.runner.export_for(job, path, spec)

    def _on_event(self, event: Event) -> None:
        if not isinstance(event, JobFinished | JobFailed):
            return
        job = self.store.get_job(event.job_id)
        if job is None:
            return
        for copy in self.store.ledger.unexported_copies(job.id):
            if not copy.path.exists():
                continue
            if isinstance(event, JobFailed):
                # Renamed after it started, so seen as a copy of a running job: run it again.
                if self._follow_rename(job, copy.path):
                    return
                continue
            root = next((r for r in self.roots if copy.path.is_relative_to(r)), None)
            if root is not None:
                self._export(job, copy.path, root)
