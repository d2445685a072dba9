"""A requests-per-minute limiter (``tui.engine.limited_transport`` applies it to every request).

StepFun's lowest pay-as-you-go tier allows 10 requests a minute. The limiter is an exact sliding
window (never more than ``rpm`` starts in any 60 s), so a big drop waits instead of drowning in
429s. Putting it in the transport counts what really goes out: chunks, retries, cross-checks.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0


class RateLimiter:
    def __init__(
        self,
        requests_per_minute: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        window_s: float = WINDOW_S,
    ) -> None:
        self.rpm = requests_per_minute if requests_per_minute and requests_per_minute > 0 else None
        self._clock = clock
        self._window = window_s
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    @property
    def unlimited(self) -> bool:
        return self.rpm is None

    def wait_time(self) -> float:
        """Seconds until one more request may start (0 when it may start now)."""
        if self.rpm is None:
            return 0.0
        now = self._clock()
        while self._starts and now - self._starts[0] >= self._window:
            self._starts.popleft()
        if len(self._starts) < self.rpm:
            return 0.0
        return max(0.0, self._starts[0] + self._window - now)

    def record(self) -> None:
        """Count a request started now (after ``wait_time()`` said 0)."""
        if self.rpm is not None:
            self._starts.append(self._clock())

    async def acquire(self) -> None:
        if self.rpm is None:
            return
        # The lock keeps waiters in order (first come, first served).
        async with self._lock:
            # Bounded: each sleep ends when the oldest start leaves the window.
            for _ in range(self.rpm + 1):
                delay = self.wait_time()
                if delay <= 0:
                    break
                await asyncio.sleep(delay)
            self._starts.append(self._clock())
