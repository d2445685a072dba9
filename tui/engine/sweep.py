"""Temp files a crash left behind (a SIGKILL between writing a transcript and renaming it) are
removed when the watch starts. Only our own recognisable names (``.NAME.XXXXXXXX.stepfun-tmp``),
and only old ones: another process may be writing one right now."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from tui.fsutil import TEMP_SUFFIX

log = logging.getLogger(__name__)

MIN_AGE_S = 600.0  # a write takes milliseconds; ten minutes old is abandoned


def sweep_temp_files(folder: Path, *, recursive: bool, min_age_s: float = MIN_AGE_S) -> list[Path]:
    """Remove our abandoned temp files under ``folder``; returns those removed."""
    removed: list[Path] = []
    cutoff = time.time() - min_age_s
    walker = os.walk(folder) if recursive else [(str(folder), [], _names(folder))]
    for dirpath, _dirs, files in walker:
        for name in files:
            if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
                continue
            path = Path(dirpath) / name
            try:
                if path.lstat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except OSError as exc:
                log.warning("cannot remove the leftover temp file %r: %s", str(path), exc)
    return removed


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []
