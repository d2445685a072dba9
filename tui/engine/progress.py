"""Turning one job's client and pipeline events into job events with honest counters.

Bytes sent, audio seconds covered by received timestamps, characters received, elapsed time;
never a percentage or an ETA. Counter updates are coalesced (``PROGRESS_INTERVAL_S``); delta text
is passed on at once, every piece of it.
"""

from __future__ import annotations

import time
from typing import Any

from tui.engine.events import EventBus, JobDeltaReceived, JobProgressed, JobRestarted

PROGRESS_INTERVAL_S = 0.2


class ProgressTracker:
    def __init__(self, bus: EventBus, job_id: int) -> None:
        self.bus = bus
        self.job_id = job_id
        self.started = time.monotonic()
        self.bytes_sent = 0
        self.bytes_total = 0
        self.covered_s = 0.0
        self.chars = 0
        self.duration_s: float | None = None
        self.part = 1
        self.parts = 1
        self.stage = "probing"
        self.detail = ""
        self._last = 0.0

    def on_event(self, event: Any) -> None:
        # Matched by class name: the pipeline's event classes are not imported here, so this
        # module (and the runner) load without the pipeline and its audio tooling.
        name = type(event).__name__
        force = False
        if name == "UploadProgressed":
            self.bytes_sent, self.bytes_total = int(event.sent), int(event.total)
            done = self.bytes_sent >= self.bytes_total
            force = done and self.stage != "transcribing"
            self.stage = "transcribing" if done else "uploading"
        elif name == "DeltaReceived":
            self.chars += len(event.text)
            start, end = int(event.start_ms), int(event.end_ms)
            if end:
                self.covered_s = max(self.covered_s, end / 1000)
            self.bus.publish(JobDeltaReceived(self.job_id, event.text, start, end))
        elif name == "AttemptRestarted":
            self.chars = 0
            self.covered_s = 0.0
            self.bus.publish(JobRestarted(self.job_id, str(event.reason)))
            force = True
        elif name == "Probed":
            self.duration_s = _num(event, "duration_s")
            force = True
        elif name == "Preparing":
            self.detail = str(getattr(event, "what", ""))
            # The pipeline announces the second engine's run as one more preparing step.
            checking = self.detail.startswith("cross-checking")
            self.stage = "cross-checking" if checking else "preparing"
            force = True
        elif name == "PartStarted":
            # Upload bytes stay as they are: the pipeline sums them over all parts.
            self.part = int(_num(event, "index", "part") or 1)
            self.parts = int(_num(event, "count", "parts") or 1)
            self.stage = "uploading"
            self.detail = ""
            force = True
        else:
            return
        self.publish(force)

    def publish(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        self.bus.publish(
            JobProgressed(
                self.job_id,
                self.bytes_sent,
                self.bytes_total,
                round(self.covered_s, 3),
                self.chars,
                round(now - self.started, 3),
                self.duration_s,
                self.part,
                self.parts,
                self.stage,
                self.detail,
            )
        )


def _num(event: Any, *names: str) -> float | None:
    for name in names:
        value = getattr(event, name, None)
        if isinstance(value, int | float):
            return float(value)
    return None
