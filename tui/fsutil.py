"""Atomic file writes: a reader never sees half a transcript or half a config file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

# Temp files end in this (swept at the daemon's start if a crash left one); their names stay
# within 255 bytes whatever the target's length.
TEMP_SUFFIX = ".stepfun-tmp"


def _short(name: str, limit: int = 120) -> str:
    while len(os.fsencode(name)) > limit:
        name = name[:-1]
    return name


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{_short(path.name)}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; chmod explicitly so the result is independent of umask.
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str, *, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)
