"""The uplink rate earlier uploads saw: body bytes over the time until the response headers.

The headers come once the service has the whole body (the emulator sends them right after
reading it), so this is the upload time plus one round trip: it errs low, towards compressing.
The figure is kept in the cache folder, so the next process (a one-shot `transcribe`) starts
from what the last one measured instead of a guess.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from tui import locations

DEFAULT_BPS = 10e6 / 8  # a cautious 10 Mbit/s before anything is measured
MIN_BODY = 256_000  # smaller bodies say more about latency than about the link
# Trusting a fast figure on a slow link (a laptop moved to a phone hotspot) costs far more
# than the reverse, so a remembered figure is used for an hour only and a slower upload pulls
# the figure halfway down at once.
KEEP_S = 3600


class UplinkMeter:
    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._path = path
        self._bps: float | None = self._load()

    @classmethod
    def shared(cls) -> UplinkMeter:
        """A meter remembering its figure in the user cache folder."""
        return cls(locations.cache_dir() / "uplink.json")

    def _load(self) -> float | None:
        if self._path is None:
            return None
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            bps, at = float(data["bytes_per_s"]), float(data["measured_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return bps if bps > 0 and time.time() - at < KEEP_S else None

    def record(self, body_bytes: int, seconds: float) -> None:
        if body_bytes < MIN_BODY or seconds <= 0:
            return
        sample = body_bytes / seconds
        with self._lock:
            # Up at once, down halfway: parts sharing the link each see only their share.
            self._bps = sample if self._bps is None else max(sample, (self._bps + sample) / 2)
            bps = self._bps
        if self._path is not None:
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self._path.with_suffix(".tmp")
                tmp.write_text(json.dumps({"bytes_per_s": bps, "measured_at": time.time()}))
                tmp.replace(self._path)
            except OSError:
                pass  # a figure not kept only costs the next process a guess

    @property
    def bytes_per_s(self) -> float:
        return self._bps or DEFAULT_BPS
