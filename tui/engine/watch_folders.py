"""One watched folder's changes: OS events where they work, scanning where they do not.

The live watch is set up before the start-up scan, so a file dropped as the watch starts is
caught by one or the other. A folder the OS will not watch (the inotify limit, a name it cannot
take, an error from the watch) is polled by scanning, and that is said once. A folder whose
watch fails is reported and restarts by itself with backoff; the other folders keep running.
A rescan now and then catches what events missed; each file is looked at again only when its
size, mtime or inode changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.engine.events import EventBus, FolderMissing, FolderRestored, WatchDegraded
from tui.engine.watch_files import WatchConfig, dir_identity, skip_reason
from tui.engine.watch_source import SYSCTL_HINT, changes, open_events, watch_limit_reached
from tui.names import shown

if TYPE_CHECKING:
    from watchfiles._rust_notify import RustNotify

log = logging.getLogger(__name__)

SCAN_BATCH = 200  # files looked at between two yields to the event loop
RESTART_MAX_S = 300.0  # the longest wait before a failed folder watch is tried again
DELETED = 3  # watchfiles.Change.deleted

Signature = tuple[int, int, int]


class FolderWatch:
    """Finds new and changed files under the roots and hands each to ``consider``."""

    def __init__(
        self,
        config: WatchConfig,
        bus: EventBus,
        consider: Callable[[Path, Path], None],
        is_excluded: Callable[[Path], bool],
    ) -> None:
        self.config = config
        self.bus = bus
        self._consider = consider
        self.is_excluded = is_excluded
        # Per folder: each file's (size, mtime_ns, inode) when last considered, so a rescan
        # looks again only at what changed; and the folders polled by scanning.
        self._known: dict[Path, dict[Path, Signature]] = {}
        self._scan_polled: set[Path] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def mark_known(self, root: Path, path: Path, sig: Signature) -> None:
        """This version of ``path`` is being taken care of: a rescan leaves it alone."""
        self._known.setdefault(root, {})[path] = sig

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self, root: Path, stop: asyncio.Event) -> None:
        """Watch ``root`` until ``stop``: reported when missing, restarted when it fails."""
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
                await _wait(stop, min(cfg.recheck_s, every), watch)
                if time.monotonic() >= next_scan and not stop.is_set():
                    if watch is not None and self._limit_hit(root):
                        self._fall_back(root, "the inotify watch limit is reached")
                        break
                    await self._scan(root)
                    next_scan = time.monotonic() + every
        finally:
            local_stop.set()
            error = None
            if watch is not None:
                await asyncio.wait({watch}, timeout=10)
                if not watch.done():
                    watch.cancel()
                elif not watch.cancelled():
                    error = watch.exception()  # retrieved here, whatever ends the session
        if error is not None:
            if "decode path" in str(error):
                # notify gives up on a name that is not UTF-8: start it again (the scan that
                # follows finds that file); not a reason to poll the whole tree.
                log.info("restarting the OS watch of %s: %s", shown(root), error)
                return
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

    def _background(self, root: Path, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._background_done, root))

    def _background_done(self, root: Path, task: asyncio.Task[None]) -> None:
        """A scan started by an event failed: said, never swallowed (the next rescan of the
        folder looks at those files again)."""
        self._tasks.discard(task)
        if task.cancelled() or (exc := task.exception()) is None:
            return
        log.warning("scanning in %s failed", shown(root), exc_info=exc)
        self.bus.publish(
            WatchDegraded(
                root,
                f"scanning a folder in {shown(root)} failed ({type(exc).__name__}: {exc}); "
                f"it is scanned again within {self.config.rescan_s:g} s",
            )
        )

    def _on_change(self, path: Path, root: Path) -> None:
        if "\ufffd" in path.name and not os.path.lexists(path):
            # notify reports a name that is not UTF-8 lossily (U+FFFD): list its folder.
            self._background(root, self._scan(root, path.parent, deep=False))
        elif self.config.recursive and path.is_dir():
            if not self.is_excluded(path) and skip_reason(path, root) != "hidden":
                # A folder moved in brings files with no events of their own.
                self._background(root, self._scan(root, path))
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
                d for d in dirnames if not d.startswith(".") and not self.is_excluded(here / d)
            )
            for name in sorted(filenames):
                yield here / name


def _signature(path: Path) -> Signature | None:
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


async def _wait(
    event: asyncio.Event, seconds: float, also: asyncio.Task[None] | None = None
) -> None:
    """Until ``event`` is set, ``also`` ends, or ``seconds`` pass."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter} if also is None else {waiter, also}, timeout=seconds)
    finally:
        waiter.cancel()
