"""Which files a watch considers, and when one is ready to queue.

watchfiles only says *something happened*; it reports a file at its first byte and, in polling
mode, can miss the last write (watchfiles #319). So each candidate is stat-polled until its size
and mtime have stood still for the quiet period, whatever further events do or do not arrive.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tui.audio.sniff import is_audio_path
from tui.config import Settings
from tui.store.records import JobOptions
from tui.transcript.exports import ExportSpec

PARTIAL_SUFFIXES = (".part", ".crdownload", ".download", ".partial", ".tmp", "~")
HASH_CHUNK = 1 << 20


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
    empty_give_up_s: float = 60.0  # also how long a file may refuse to be looked at
    debounce_ms: int = 400
    # A full rescan this often catches what OS events missed (a queue overflow, a folder past
    # the watch limit); a folder the OS will not watch is scanned every ``fallback_scan_s``.
    rescan_s: float = 60.0
    fallback_scan_s: float = 2.0

    @classmethod
    def from_settings(
        cls, settings: Settings, folders: Iterable[Path], **overrides: object
    ) -> WatchConfig:
        export = ExportSpec(
            formats=tuple(settings.formats),
            out_dir=settings.out_dir,
            policy=settings.existing_policy,
        )
        base = cls(
            folders=tuple(folders),
            quiet_period_s=settings.quiet_period_s,
            export=export,
            skip_duplicate_content=settings.skip_duplicate_content,
        )
        return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


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


def unreadable(exc: OSError) -> str:
    """The FileSkipped reason for a file we may not read."""
    return (
        f"cannot read it: {exc.strerror or exc}; check the permissions of the file and its "
        "folders (it is looked at again when it changes, and on restart)"
    )


async def wait_stable(
    path: Path, cfg: WatchConfig, skip: Callable[[str], None]
) -> os.stat_result | None:
    """The file's stat once it has stood still for the quiet period and is non-empty; None when
    it went away or will not be queued (then ``skip`` got the reason)."""
    started = last_change = time.monotonic()
    last: tuple[int, int, int] | None = None
    polls = 0
    denied_since: float | None = None
    while True:  # a file that keeps growing is watched for as long as it grows
        now = time.monotonic()
        try:
            st = os.stat(path)  # a quick syscall; not worth a thread per poll
        except (FileNotFoundError, NotADirectoryError):
            return None  # gone (renamed away or deleted); its new name has its own event
        except PermissionError as exc:
            # Perhaps a writer still holds it (Windows); perhaps for good (a folder without
            # search permission): not stable, and given up on after a while, with the reason.
            denied_since = now if denied_since is None else denied_since
            if now - denied_since >= cfg.empty_give_up_s:
                skip(unreadable(exc))
                return None
            last = None
            await asyncio.sleep(cfg.stat_interval_s)
            continue
        except OSError as exc:  # e.g. a symlink loop
            skip(unreadable(exc))
            return None
        denied_since = None
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
            not cfg.force_polling
            and polls >= 1
            and 0 <= time.time() - st.st_mtime >= cfg.quiet_period_s
        )
        if quiet:
            if st.st_size > 0:
                return st
            if now - started >= cfg.empty_give_up_s:
                skip("the file is empty (0 bytes); it will be picked up if it gets written")
                return None
        await asyncio.sleep(cfg.stat_interval_s)


def stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def dir_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None
