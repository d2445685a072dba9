"""What a real request costs in time: the uplink that carries its body, the service that works
on its audio. Both off by default, so tests run as fast as the machine allows.

``Uplink``: one link shared by every connection (parallel uploads split it, they do not each get
the whole rate), read at a fixed rate in small pieces. ``ServiceModel``: a request's answer starts
``startup_s`` after its body is read and its text streams across ``audio / speed`` seconds, each
request on its own (the service works on requests in parallel). The defaults are the seed's
headline speed: 0.8 s + audio / 95.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

# Small enough that a throttled read stays close to its rate, large enough to cost little.
PIECE = 64 * 1024


@dataclass(frozen=True)
class ServiceModel:
    startup_s: float = 0.8
    speed: float = 95.0  # audio seconds per wall second

    def __post_init__(self) -> None:
        if self.startup_s < 0 or self.speed <= 0:
            raise ValueError("service start-up must be >= 0 and speed > 0")

    def at(self, audio_s: float) -> float:
        """Wall seconds after the body is read when the text up to ``audio_s`` is out."""
        return self.startup_s + audio_s / self.speed


class Uplink:
    """A shared link of ``mbit`` Mbit/s: ``take(n)`` returns once ``n`` bytes would have
    crossed it, queued behind what other connections already took."""

    def __init__(self, mbit: float, stop: threading.Event) -> None:
        if mbit <= 0:
            raise ValueError("uplink_mbit must be > 0")
        self.bytes_per_s = mbit * 1e6 / 8
        self._stop = stop
        self._lock = threading.Lock()
        self._free_at = 0.0

    def take(self, n: int) -> bool:
        """Wait for ``n`` bytes' share of the link; False when the server is stopping."""
        with self._lock:
            now = time.monotonic()
            self._free_at = max(now, self._free_at) + n / self.bytes_per_s
            wait = self._free_at - now
        return not (wait > 0 and self._stop.wait(wait))
