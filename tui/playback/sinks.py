"""Where decoded audio goes: a real output device, or a null sink at real-time pace.

A sink takes 16-bit mono PCM through a blocking ``write`` (that is what paces the decoder) and
says how many frames it has *played* — the position shown to the user comes from that count,
never from a clock of its own. ``reset`` drops what is buffered (pause, seek).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

RATE = 48_000
ENV_DEVICE = "STEPFUN_ASR_AUDIO_DEVICE"
NULL = "null"


class PlaybackUnavailable(Exception):
    """No way to play sound here; the message says why and what to do."""


class Sink(Protocol):
    rate: int

    def write(self, pcm: bytes) -> None: ...

    def played_frames(self) -> int: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


class NullSink:
    """Consumes audio at real-time pace and counts it: the whole playback path runs on a
    machine without sound (tests, benchmarks, headless servers)."""

    def __init__(self, rate: int = RATE, buffer_s: float = 0.05) -> None:
        self.rate = rate
        self._buffer = int(rate * buffer_s)
        self._lock = threading.Lock()
        self._written = 0
        self._t0: float | None = None
        self._reset_event = threading.Event()
        # Lifetime counters (the benchmark and the tests read them).
        self.total_frames = 0  # frames played since the sink opened, across resets
        self._played_before = 0
        self.first_write_at: float | None = None  # monotonic time of the first write since reset

    def _played(self, now: float) -> int:
        if self._t0 is None:
            return 0
        return min(self._written, int((now - self._t0) * self.rate))

    def write(self, pcm: bytes) -> None:
        frames = len(pcm) // 2
        with self._lock:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
                self.first_write_at = now
            elif self._played(now) >= self._written:
                # An underrun (the decoder was late): play on from now, not from the past.
                self._t0 = now - self._written / self.rate
            self._written += frames
            gen = self._reset_event
        # Block while more than the buffer is waiting, as a device's write does.
        while True:
            with self._lock:
                if gen is not self._reset_event:
                    return
                ahead = self._written - self._played(time.monotonic())
            if ahead <= self._buffer:
                return
            time.sleep(min(0.02, (ahead - self._buffer) / self.rate))

    def played_frames(self) -> int:
        with self._lock:
            return self._played(time.monotonic())

    def reset(self) -> None:
        with self._lock:
            played = self._played(time.monotonic())
            self.total_frames = self._played_before + played
            self._played_before = self.total_frames
            self._written = 0
            self._t0 = None
            self.first_write_at = None
            self._reset_event.set()
            self._reset_event = threading.Event()

    def consumed_frames(self) -> int:
        """Every frame played since the sink opened."""
        with self._lock:
            return self._played_before + self._played(time.monotonic())

    def close(self) -> None:
        self.reset()


class DeviceSink:
    """The sound card, through PortAudio (``sounddevice``: its wheels bundle PortAudio on
    macOS and Windows; on Linux it uses the system's libportaudio2)."""

    def __init__(self, device: str | None, rate: int = RATE) -> None:
        try:
            import sounddevice  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except (ImportError, OSError) as exc:  # OSError: the module is there, PortAudio is not
            raise PlaybackUnavailable(
                "Playback needs the sounddevice package and PortAudio: "
                "pip install 'stepfun-asr[audio]' (on Linux also `apt install libportaudio2`)"
                f" ({exc})."
            ) from None
        self._sd: Any = sounddevice
        self.rate = rate
        self._device: str | int | None = int(device) if device and device.isdigit() else device
        self._written = 0
        self.first_write_at: float | None = None
        try:
            self._stream: Any = self._open()
        except Exception as exc:  # PortAudioError, ValueError: no such device
            raise PlaybackUnavailable(f"No audio output device to play on ({exc}).") from None

    def _open(self) -> Any:
        stream = self._sd.RawOutputStream(
            samplerate=self.rate, channels=1, dtype="int16", device=self._device, latency="low"
        )
        stream.start()
        return stream

    def write(self, pcm: bytes) -> None:
        if self.first_write_at is None:
            self.first_write_at = time.monotonic()
        self._stream.write(pcm)
        self._written += len(pcm) // 2

    def played_frames(self) -> int:
        # What was written less what still waits in the device's buffer.
        queued = int(float(self._stream.latency) * self.rate)
        return max(0, self._written - queued)

    def reset(self) -> None:
        self._stream.abort()
        self._stream.start()
        self._written = 0
        self.first_write_at = None

    def close(self) -> None:
        self._stream.abort()
        self._stream.close()


def device_name(setting: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The device asked for: the environment's, else the setting's (None: the default)."""
    env = os.environ if env is None else env
    chosen = env.get(ENV_DEVICE) or setting
    return chosen.strip() if chosen and chosen.strip() not in ("", "default") else None


def open_sink(setting: str | None, env: Mapping[str, str] | None = None) -> Sink:
    """The sink for the configured device; PlaybackUnavailable when there is none."""
    name = device_name(setting, env)
    if name == NULL:
        return NullSink()
    return DeviceSink(name)
