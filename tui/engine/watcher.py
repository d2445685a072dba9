"""Watch folders: every new recording transcribed exactly once, never while still being written.

Each candidate is stat-polled until it stops changing (``tui.engine.watch_files``). Exactly-once
comes from the store's content-hash ledger: a restart, a rename or a touch finds the same hash,
and a second copy of the same bytes gets its transcript from the stored result instead of a new
(paid) request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

from watchfiles._rust_notify import RustNotify

from tui.engine.events import (
    Event,
    EventBus,
    FileDetected,
    FileSkipped,
    FolderMissing,
    FolderRestored,
    JobFailed,
    JobFinished,
    WatchDegraded,
    WatchStarted,
    WatchStopped,
)
from tui.engine.runner import Runner
from tui.engine.watch_files import (
    WatchConfig,
    dir_identity,
    sha256_file,
    skip_reason,
    stat_or_none,
    unreadable,
    wait_stable,
)
from tui.engine.watch_source import SYSCTL_HINT, changes, open_events, watch_limit_reached
from tui.errors import ErrorKind
from tui.names import shown
from tui.store.errors import store_error_sentence
from tui.store.records import Admission, Job, JobOptions, JobState
from tui.store.store import Store

log = logging.getLogger(__name__)

SCAN_BATCH = 200  # files looked at between two yields to the event loop
RESTART_MAX_S = 300.0  # the longest wait before a failed folder watch is tried again
STORE_RETRY_MAX_S = 60.0  # the longest wait between two tries of a refusing database
DELETED = 3  # watchfiles.Change.deleted


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
        # Per folder: each file's (size, mtime_ns, inode) when last considered, so a rescan
        # looks again only at what changed; and the folders polled by scanning.
        self._known: dict[Path, dict[Path, tuple[int, int, int]]] = {}
        self._scan_polled: set[Path] = set()
        self._store_down_since: float | None = None
        self._hash_slots = asyncio.Semaphore(2)
        self._tasks: set[asyncio.Task[None]] = set()

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
        folder_tasks = [
            asyncio.create_task(self._folder(root, stop), name=f"watch:{shown(root)}")
            for root in self.roots
        ]
        try:
            await stop.wait()
        finally:
            unsubscribe()
            pending = [*folder_tasks, *self._pollers.values(), *self._tasks]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self.bus.publish(WatchStopped())

    # --- folders -------------------------------------------------------------------------

    async def _folder(self, root: Path, stop: asyncio.Event) -> None:
        missing = False
        failures = 0
        while not stop.is_set():
            if dir_identity(root) is None:
                if not missing:
                    self.bus.publish(
                        FolderMissing(
                            root,
                            f"{shown(root)} is missing; other folders keep running and it is "
                            f"checked again every {self.config.recheck_s:g} s",
                        )
                    )
                    missing = True
                await _wait(stop, self.config.recheck_s)
                continue
            if missing:
                self.bus.publish(FolderRestored(root))
                missing = False
            started = time.monotonic()
            try:
                await self._session(root, stop)
                failures = 0
            except Exception as exc:
                # Never swallowed, never fatal to the other folders: said, then tried again.
                failures = 1 if time.monotonic() - started > RESTART_MAX_S else failures + 1
                delay = min(RESTART_MAX_S, self.config.recheck_s * 2 ** min(failures - 1, 12))
                log.warning("watching %s failed", shown(root), exc_info=True)
                self.bus.publish(
                    WatchDegraded(
                        root,
                        f"watching {shown(root)} failed ({type(exc).__name__}: {exc}); it "
                        f"restarts by itself in {delay:g} s (other folders keep running)",
                    )
                )
                await _wait(stop, delay)

    async def _session(self, root: Path, stop: asyncio.Event) -> None:
        """Watch ``root`` until it goes away, is replaced, or its OS watch fails (then it is
        polled). The live watch is set up before the scan, so a file dropped at start is
        caught by one or the other."""
        ident = dir_identity(root)
        cfg = self.config
        notify = None
        if root not in self._scan_polled:
            try:
                notify = await asyncio.to_thread(
                    open_events, root, recursive=cfg.recursive, polling=cfg.force_polling
                )
            except Exception as exc:
                self._fall_back(root, f"the OS would not watch it ({type(exc).__name__}: {exc})")
        if notify is not None and self._limit_hit(root):
            notify.close()
            notify = None
            self._fall_back(root, "the inotify watch limit is reached")
        local_stop = threading.Event()
        watch = (
            asyncio.create_task(self._watch(notify, root, local_stop), name=f"events:{root}")
            if notify is not None
            else None
        )
        try:
            await self._scan(root)
            every = cfg.rescan_s if watch is not None else cfg.fallback_scan_s
            next_scan = time.monotonic() + every
            while not stop.is_set() and dir_identity(root) == ident:
                if watch is not None and watch.done():
                    break
                await _wait(stop, min(cfg.recheck_s, every))
                if time.monotonic() >= next_scan and not stop.is_set():
                    if watch is not None and self._limit_hit(root):
                        self._fall_back(root, "the inotify watch limit is reached")
                        break
                    await self._scan(root)
                    next_scan = time.monotonic() + every
        finally:
            local_stop.set()
            if watch is not None:
                await asyncio.wait({watch}, timeout=10)
                if not watch.done():
                    watch.cancel()
        if watch is not None and watch.done() and not watch.cancelled() and watch.exception():
            error = watch.exception()
            self._fall_back(root, f"its OS watch failed ({type(error).__name__}: {error})")

    def _limit_hit(self, root: Path) -> bool:
        return self.config.recursive and not self.config.force_polling and watch_limit_reached(root)

    def _fall_back(self, root: Path, why: str) -> None:
        """Poll ``root`` by scanning from now on, and say so once."""
        if root in self._scan_polled:
            return
        self._scan_polled.add(root)
        hint = "" if "limit" not in why else f"; {SYSCTL_HINT}"
        self.bus.publish(
            WatchDegraded(
                root,
                f"{shown(root)}: {why}; polling it instead (a scan every "
                f"{self.config.fallback_scan_s:g} s){hint}",
            )
        )

    async def _watch(self, notify: RustNotify, root: Path, local_stop: threading.Event) -> None:
        async for batch in changes(notify, local_stop, debounce_ms=self.config.debounce_ms):
            for change, raw in batch:
                if change == DELETED:
                    continue
                self._on_change(Path(raw), root)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_change(self, path: Path, root: Path) -> None:
        if "\ufffd" in path.name and not os.path.lexists(path):
            # notify reports a name that is not UTF-8 lossily (U+FFFD): list its folder.
            self._background(self._scan(root, path.parent, deep=False))
        elif self.config.recursive and path.is_dir():
            if not self._is_excluded(path) and skip_reason(path, root) != "hidden":
                # A folder moved in brings files with no events of their own.
                self._background(self._scan(root, path))
        else:
            self._consider(path, root)

    async def _scan(self, root: Path, top: Path | None = None, *, deep: bool = True) -> None:
        """Consider every file under ``top`` that is new or changed since the last scan."""
        known = self._known.setdefault(root, {})
        listed: set[Path] = set()
        for n, path in enumerate(self._listing(root, top or root, deep), 1):
            if n % SCAN_BATCH == 0:
                await asyncio.sleep(0)  # a huge folder must not freeze the loop (the workbench)
            if skip_reason(path, root) is not None:
                continue
            listed.add(path)
            sig = _signature(path)
            if sig is None or known.get(path) == sig:
                continue  # gone, or unchanged since it was last looked at
            known[path] = sig
            self._consider(path, root)
        if top is None:
            for gone in known.keys() - listed:
                del known[gone]

    def _listing(self, root: Path, top: Path, deep: bool) -> Iterator[Path]:
        if not self.config.recursive or not deep:
            try:
                entries = list(os.scandir(top))
            except OSError as exc:
                log.warning("cannot list %s: %s", shown(top), exc)
                return
            for entry in sorted(entries, key=lambda e: e.name):
                with contextlib.suppress(OSError):
                    if entry.is_file(follow_symlinks=True):
                        yield Path(entry.path)
            return
        for dirpath, dirnames, filenames in os.walk(top):
            here = Path(dirpath)
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and not self._is_excluded(here / d)
            )
            for name in sorted(filenames):
                yield here / name

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
        self._known.setdefault(root, {})[path] = (st.st_size, st.st_mtime_ns, st.st_ino)
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


def _signature(path: Path) -> tuple[int, int, int] | None:
    """(size, mtime_ns, inode); None when it is gone. One that cannot be looked at (no
    permission) gets a mark of its own: it is considered (and reported) once, and again when
    it can be."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return (-1, -1, -1)
    return (st.st_size, st.st_mtime_ns, st.st_ino)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
