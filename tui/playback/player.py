"""A player for one recording: play from a time, pause, seek, change speed; its position.

Each play decodes with a fresh ffmpeg from the wanted time (input seeking, so starting late in
a long file is as quick as starting at 0) through ``atempo`` when the speed is not 1×, and one
feeder thread writes the PCM to the sink, whose blocking write paces it. Pausing stops the
decoder and drops the sink's buffer; resuming decodes again from where it stopped. The
position is the start time plus what the sink has played, times the speed.

All methods are called from one thread (the UI's); the feeder thread only reads the decoder
and writes the sink.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import threading
import time
from pathlib import Path

from tui.playback.sinks import Sink

SPEEDS = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
MIN_SPEED, MAX_SPEED = 0.75, 2.0
CHUNK_S = 0.02  # what one sink write carries: small, so the first sound comes quickly
STOP_TIMEOUT_S = 2.0


class Player:
    def __init__(self, source: Path, sink: Sink, ffmpeg: str) -> None:
        self.source = source
        self.sink = sink
        self.ffmpeg = ffmpeg
        self.speed = 1.0
        self.error: str | None = None  # why the last play stopped early (ffmpeg's words)
        self.ended = False  # the last play reached the end of the recording
        self._base_ms = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self.started_at: float | None = None  # monotonic time of the last play() call
        # A decoder started ahead for where play() is likely to start (the selected cue):
        # starting ffmpeg is most of the delay before the first sample. (start_ms, speed).
        self._standby: tuple[int, float, subprocess.Popen[bytes]] | None = None

    # --- state -----------------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    @property
    def position_ms(self) -> int:
        if self._thread is None:
            return self._base_ms
        played = self.sink.played_frames() / self.sink.rate
        return self._base_ms + int(played * 1000 * self.speed)

    # --- verbs -----------------------------------------------------------------------------------

    def play(self, from_ms: int | None = None) -> None:
        """Play from ``from_ms`` (None: from where it is)."""
        start = self.position_ms if from_ms is None else max(0, from_ms)
        self._halt()
        self._base_ms = start
        self.error = None
        self.ended = False
        self.started_at = time.monotonic()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._proc = self._take_standby(start) or self._spawn(start)
        self._thread = threading.Thread(
            target=self._feed, args=(self._proc, self._stop, self._done), daemon=True
        )
        self._thread.start()

    def prepare(self, from_ms: int) -> None:
        """Start decoding from ``from_ms`` now, so that ``play(from_ms)`` sounds at once."""
        from_ms = max(0, from_ms)
        if self._standby is not None and self._standby[:2] == (from_ms, self.speed):
            return
        self._drop_standby()
        self._standby = (from_ms, self.speed, self._spawn(from_ms))

    def pause(self) -> None:
        if self._thread is not None:
            at = self.position_ms
            self._halt()
            self._base_ms = at
            self.prepare(at)  # resuming is the likely next key

    def toggle(self, from_ms: int | None = None) -> bool:
        """Pause when playing, else play (from ``from_ms``, or on from where it stopped).
        Returns whether it is playing now."""
        if self.playing:
            self.pause()
            return False
        self.play(from_ms)
        return True

    def seek(self, delta_ms: int) -> None:
        self.seek_to(self.position_ms + delta_ms)

    def seek_to(self, ms: int) -> None:
        if self.playing:
            self.play(ms)
        else:
            self._halt()
            self._base_ms = max(0, ms)
            self.prepare(self._base_ms)

    def set_speed(self, speed: float) -> float:
        """Clamped to 0.75–2×; playing goes on from the same point at the new speed."""
        speed = round(min(MAX_SPEED, max(MIN_SPEED, speed)), 2)
        if speed == self.speed:
            return speed
        playing = self.playing
        at = self.position_ms
        self._halt()
        self.speed = speed
        self._base_ms = at
        if playing:
            self.play(at)
        else:
            self.prepare(at)
        return speed

    def close(self) -> None:
        self._halt()
        self._drop_standby()
        self.sink.close()

    # --- inside ----------------------------------------------------------------------------------

    def _spawn(self, start_ms: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._command(start_ms),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def _take_standby(self, start_ms: int) -> subprocess.Popen[bytes] | None:
        standby, self._standby = self._standby, None
        # Still decoding, or done with all of it in the pipe: usable.
        if (
            standby is not None
            and standby[:2] == (start_ms, self.speed)
            and standby[2].poll() in (None, 0)
        ):
            return standby[2]
        if standby is not None:
            _kill(standby[2])
        return None

    def _drop_standby(self) -> None:
        if self._standby is not None:
            _kill(self._standby[2])
            self._standby = None

    def _command(self, start_ms: int) -> list[str]:
        cmd = [self.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error"]
        if start_ms > 0:
            cmd += ["-ss", f"{start_ms / 1000:.3f}"]
        cmd += ["-i", str(self.source), "-vn", "-ac", "1", "-ar", str(self.sink.rate)]
        if self.speed != 1.0:
            cmd += ["-af", f"atempo={self.speed}"]  # tempo without a pitch change
        return [*cmd, "-f", "s16le", "-"]

    def _feed(
        self, proc: subprocess.Popen[bytes], stop: threading.Event, done: threading.Event
    ) -> None:
        stdout = proc.stdout
        assert isinstance(stdout, io.BufferedReader)
        chunk = int(self.sink.rate * CHUNK_S) * 2
        try:
            while not stop.is_set():
                data = stdout.read1(chunk)
                if not data:
                    break
                if len(data) % 2:
                    data += stdout.read(1)
                self.sink.write(data)
            if not stop.is_set():
                proc.wait(timeout=STOP_TIMEOUT_S)
                if proc.returncode not in (0, None):
                    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
                    self.error = _first_line(err) or f"ffmpeg exited with {proc.returncode}"
                else:
                    # Let the sink play what it holds before calling it the end.
                    for _ in range(200):
                        if stop.is_set() or not self._sink_holds_audio():
                            break
                        time.sleep(0.01)
                    self.ended = not stop.is_set()
        except Exception as exc:  # a device error (PortAudioError), a broken pipe: reported
            if not stop.is_set():
                self.error = str(exc) or type(exc).__name__
        finally:
            done.set()

    def _sink_holds_audio(self) -> bool:
        before = self.sink.played_frames()
        time.sleep(0.01)
        return self.sink.played_frames() > before

    def _halt(self) -> None:
        """Stop the decoder and the feeder, drop what the sink holds."""
        proc, thread = self._proc, self._thread
        if proc is None and thread is None:
            return
        self._stop.set()
        self.sink.reset()  # unblocks a write in progress
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
        if thread is not None:
            thread.join(STOP_TIMEOUT_S)
        self.sink.reset()  # and anything the feeder wrote on its way out
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_TIMEOUT_S)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        self._proc = None
        self._thread = None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_TIMEOUT_S)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def format_position(ms: int) -> str:
    """``00:03.2`` (minutes, seconds, tenths); ``1:02:03.4`` past an hour."""
    tenths = max(0, ms) // 100
    seconds, tenth = divmod(tenths, 10)
    minutes, sec = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minute:02d}:{sec:02d}.{tenth}"
    return f"{minute:02d}:{sec:02d}.{tenth}"
