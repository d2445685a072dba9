"""Watch folders: every new recording transcribed exactly once, never while still being written.

watchfiles only says *something happened*; it reports a file at its first byte and, in polling
mode, can miss the last write (watchfiles #319). So each candidate gets its own stat poller that
waits until size and mtime have stood still for the quiet period, whatever further events do or
do not arrive. Exactly-once comes from the store's content-hash ledger: a restart, a rename or a
touch finds the same hash, and a second copy of the same bytes gets its transcript from the
stored result instead of a new (paid) request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import logging
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tui.audio.sniff import is_audio_path
from tui.config import Settings
from tui.jobs.events import (
    Event,
    EventBus,
    FileDetected,
    FileSkipped,
    FolderMissing,
    FolderRestored,
    JobFinished,
    WatchStarted,
    WatchStopped,
)
from tui.jobs.exports import ExportSpec, transcript_exists
from tui.jobs.runner import Runner
from tui.jobs.store import Admission, Job, JobOptions, JobState, Store

log = logging.getLogger(__name__)

PARTIAL_SUFFIXES = (".part", ".crdownload", ".download", ".partial", ".tmp", "~")
HASH_CHUNK = 1 << 20


def skip_reason(path: Path, root: Path | None = None) -> str | None:
    """Why a path is not a candidate (None: it is). Cheap: names only, no stat."""
    rel = path.relative_to(root) if root is not None and path.is_relative_to(root) else None
    parts = rel.parts if rel is not None else (path.name,)
    if any(p.startswith(".") for p in parts):
        return "hidden"
    lower = path.name.lower()
    if lower.endswith(PARTIAL_SUFFIXES):
        return "partial download"
    if not is_audio_path(path):
        return "not audio or video"
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class WatchConfig:
    folders: tuple[Path, ...]
    recursive: bool = False
    force_polling: bool = False
    quiet_period_s: float = 2.0
    export: ExportSpec = field(default_factory=ExportSpec)
    options: JobOptions = field(default_factory=JobOptions)  # model/language/hotwords
    skip_duplicate_content: bool = True
    stat_interval_s: float = 0.5
    recheck_s: float = 2.0  # how often a folder's existence is checked
    empty_give_up_s: float = 60.0
    debounce_ms: int = 400

    @classmethod
    def from_settings(cls, settings: Settings, folders: Iterable[Path], **overrides: object
                      ) -> WatchConfig:
        export = ExportSpec(formats=tuple(settings.formats), out_dir=settings.out_dir,
                            policy=settings.existing_policy)
        base = cls(folders=tuple(folders), quiet_period_s=settings.quiet_period_s,
                   export=export, skip_duplicate_content=settings.skip_duplicate_content)
        return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


class Watcher:
    def __init__(self, config: WatchConfig, store: Store, runner: Runner, bus: EventBus) -> None:
        self.config = config
        self.store = store
        self.runner = runner
        self.bus = bus
        self.roots = tuple(Path(os.path.abspath(f)) for f in config.folders)
        out = config.export.out_dir
        # An output folder inside a watched folder is never watched (no loop on our own files).
        self.excluded = (Path(os.path.abspath(out)),) if out else ()
        self._pollers: dict[Path, asyncio.Task[None]] = {}
        self._hash_slots = asyncio.Semaphore(2)
        self._tasks: set[asyncio.Task[None]] = set()

    # --- public --------------------------------------------------------------------------

    @property
    def settling(self) -> frozenset[Path]:
        """Files waiting to stop changing."""
        return frozenset(self._pollers)

    def job_options(self, root: Path) -> JobOptions:
        return dataclasses.replace(
            self.config.options, export=dataclasses.replace(self.config.export, root=str(root)))

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until ``stop`` is set. Missing folders are reported and re-checked."""
        self.bus.publish(WatchStarted(self.roots, self.config.force_polling,
                                      self.config.recursive))
        unsubscribe = self.bus.subscribe(self._on_event)
        folder_tasks = [asyncio.create_task(self._folder(root, stop), name=f"watch:{root}")
                        for root in self.roots]
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
        while not stop.is_set():
            ident = _dir_identity(root)
            if ident is None:
                if not missing:
                    self.bus.publish(FolderMissing(
                        root, f"{root} is missing; other folders keep running and it is "
                        f"checked again every {self.config.recheck_s:g} s"))
                    missing = True
                await _wait(stop, self.config.recheck_s)
                continue
            if missing:
                self.bus.publish(FolderRestored(root))
                missing = False
            local_stop = asyncio.Event()
            watch = asyncio.create_task(self._watch(root, local_stop))
            try:
                self._scan(root)
                # The folder may vanish or be replaced (new inode: the old watch is deaf).
                while not stop.is_set() and not watch.done() and _dir_identity(root) == ident:
                    await _wait(stop, self.config.recheck_s)
            finally:
                local_stop.set()
                await asyncio.wait({watch}, timeout=10)
                if not watch.done():
                    watch.cancel()
            if watch.done() and not watch.cancelled() and (exc := watch.exception()):
                log.warning("watching %s stopped: %s", root, exc)
                await _wait(stop, self.config.recheck_s)

    async def _watch(self, root: Path, local_stop: asyncio.Event) -> None:
        from watchfiles import Change, awatch

        async for changes in awatch(
            root, watch_filter=None, recursive=self.config.recursive,
            force_polling=self.config.force_polling, stop_event=local_stop,
            debounce=self.config.debounce_ms, step=50, ignore_permission_denied=True,
        ):
            for change, raw in changes:
                if change is Change.deleted:
                    continue
                self._on_change(Path(raw), root)

    def _on_change(self, path: Path, root: Path) -> None:
        if self.config.recursive and path.is_dir():
            if not self._is_excluded(path) and skip_reason(path, root) != "hidden":
                self._scan(root, path)  # a folder moved in brings files with no events
        else:
            self._consider(path, root)

    def _scan(self, root: Path, top: Path | None = None) -> None:
        top = top or root
        if not self.config.recursive:
            try:
                entries = list(os.scandir(top))
            except OSError as exc:
                log.warning("cannot list %s: %s", top, exc)
                return
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_file(follow_symlinks=True):
                    self._consider(Path(entry.path), root)
            return
        for dirpath, dirnames, filenames in os.walk(top):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                                 and not self._is_excluded(here / d))
            for name in sorted(filenames):
                self._consider(here / name, root)

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
        seen = self.store.seen_file(path)
        if seen is None or seen.job_id is None or not seen.exported:
            return False
        try:
            st = path.stat()
        except OSError:
            return False
        return (st.st_size, st.st_mtime_ns) == (seen.size, seen.mtime_ns)

    async def _settle(self, path: Path, root: Path) -> None:
        try:
            for _ in range(1_000_000):  # bounded; each round is one stat_interval
                st = await self._wait_stable(path)
                if st is None:
                    return
                digest = await self._digest(path, st)
                if digest is None:
                    return
                after = _stat(path)
                if after is None:
                    return
                if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                    continue  # it changed while we hashed: wait for quiet again
                self._admit(path, root, st, digest)
                return
        except Exception:
            log.exception("watching %s failed", path)
            self.bus.publish(FileSkipped(path, "internal error while checking this file; "
                                         "see the log"))

    async def _wait_stable(self, path: Path) -> os.stat_result | None:
        cfg = self.config
        started = last_change = time.monotonic()
        last: tuple[int, int, int] | None = None
        polls = 0
        while True:
            try:
                st = _stat(path)
            except PermissionError:
                # Windows: the writer still holds it open. Not stable yet; look again.
                last = None
                await asyncio.sleep(cfg.stat_interval_s)
                continue
            now = time.monotonic()
            if st is None:
                return None  # gone (renamed away or deleted); its new name has its own event
            if not stat.S_ISREG(st.st_mode):
                return None
            sig = (st.st_size, st.st_mtime_ns, st.st_ino)
            if sig != last:
                last, last_change, polls = sig, now, 0
            else:
                polls += 1
            quiet = now - last_change >= cfg.quiet_period_s or (
                # Unchanged across a poll and untouched for the quiet period by the file's own
                # clock: already complete (mv/rsync/copy2 keep old mtimes). Not on polled
                # (network) mounts, whose server clock may differ from ours.
                not cfg.force_polling and polls >= 1
                and 0 <= time.time() - st.st_mtime >= cfg.quiet_period_s)
            if quiet:
                if st.st_size > 0:
                    return st
                if now - started >= cfg.empty_give_up_s:
                    self.bus.publish(FileSkipped(path, "the file is empty (0 bytes); it will be "
                                                 "picked up if it gets written"))
                    return None
            await asyncio.sleep(cfg.stat_interval_s)

    async def _digest(self, path: Path, st: os.stat_result) -> str | None:
        seen = self.store.seen_file(path)
        if seen and (seen.size, seen.mtime_ns) == (st.st_size, st.st_mtime_ns):
            return seen.content_hash
        async with self._hash_slots:
            try:
                return await asyncio.to_thread(sha256_file, path)
            except FileNotFoundError:
                return None
            except OSError as exc:
                self.bus.publish(FileSkipped(path, f"cannot read it: {exc.strerror or exc}"))
                return None

    def _admit(self, path: Path, root: Path, st: os.stat_result, digest: str) -> None:
        cfg = self.config
        known = self.store.ledger_entry(digest)
        seen = self.store.seen_file(path)
        is_new = (seen is None or seen.content_hash != digest or seen.job_id is None) and (
            known is None or known.job_id is None
            or (not cfg.skip_duplicate_content and not self._renamed(digest, path)))
        if is_new and cfg.export.policy == "skip":
            existing = transcript_exists(
                path, cfg.export.formats, Path(cfg.export.out_dir) if cfg.export.out_dir else None,
                root)
            if existing is not None:
                self.store.record_seen(path, st.st_size, st.st_mtime_ns, digest, None)
                self.bus.publish(FileSkipped(
                    path, f"a transcript already exists ({existing}) and the policy is skip"))
                return
        admission = self.store.admit_file(
            path, size=st.st_size, mtime_ns=st.st_mtime_ns, content_hash=digest,
            options=self.job_options(root), watch_id=str(root),
            skip_duplicate_content=not is_new)
        self._handle(admission, path, root)

    def _renamed(self, digest: str, path: Path) -> bool:
        # skip_duplicate_content=False sends real copies again, but a rename is not a copy:
        # a file with these bytes that we saw before has gone away.
        return any(p != path and not p.exists() for p in self.store.paths_with_hash(digest))

    def _handle(self, adm: Admission, path: Path, root: Path) -> None:
        job = adm.job
        if adm.kind == "new":
            self.runner.announce(job)
            return
        if job.state in (JobState.QUEUED, JobState.RUNNING):
            if adm.kind == "copy":
                self.bus.publish(FileSkipped(
                    path, f"same audio as {job.source.name} (job {job.id}, {job.state.value}); "
                    "its transcript will be written from that result", job.id))
            return  # exported when the job finishes (see _on_event)
        if job.state in (JobState.FAILED, JobState.CANCELED):
            what = f"failed: {job.error_message}" if job.state is JobState.FAILED else "canceled"
            self.bus.publish(FileSkipped(
                path, f"job {job.id} for this audio {what}; run `stepfun-asr retry {job.id}` "
                "to try again", job.id))
            return
        if adm.exported:
            return
        if adm.kind == "copy":
            self.bus.publish(FileSkipped(
                path, f"same audio as {job.source.name} (job {job.id}); transcript written "
                "from the stored result, not sent again", job.id))
        self._export(job, path, root)

    def _export(self, job: Job, path: Path, root: Path) -> None:
        spec = self.job_options(root).export if path != job.source else None
        self.runner.export_for(job, path, spec)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, JobFinished):
            job = self.store.get_job(event.job_id)
            if job is None:
                return
            for copy in self.store.unexported_copies(job.id):
                root = next((r for r in self.roots if copy.path.is_relative_to(r)), None)
                if root is not None and copy.path.exists():
                    self._export(job, copy.path, root)


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _dir_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
