"""Audio in, mel frames out: the streamed decode and the GE2E encoder's front end.

The encoder was trained on librosa's mel power spectrogram (not log): 25 ms Hann windows every
10 ms, 40 Slaney mel bands, 16 kHz mono, frames centred on their time. ``MelStream`` computes
the same frames chunk by chunk so an hour of audio never sits in memory as samples (an hour of
frames is 360 000 × 40 float32, ~58 MB).
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tui.audio.ffmpeg import reason_from, require_ffmpeg
from tui.childenv import clean_child_env
from tui.errors import AsrError, ErrorKind

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
FRAME_MS = 10
# Bytes read from ffmpeg per step: 10 s of s16 mono.
CHUNK_BYTES = SAMPLE_RATE * 2 * 10

Array = np.ndarray[Any, np.dtype[np.float32]]


def _hz_to_mel(f: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Slaney's scale: linear below 1 kHz, logarithmic above (librosa's default)."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_part = f >= 1000.0
    mel[log_part] = 15.0 + np.log(f[log_part] / 1000.0) / (np.log(6.4) / 27.0)
    return mel


def _mel_to_hz(m: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    m = np.asarray(m, dtype=np.float64)
    f = m * (200.0 / 3)
    log_part = m >= 15.0
    f[log_part] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m[log_part] - 15.0))
    return f


def mel_filterbank(
    sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """(n_mels, n_fft // 2 + 1) triangular filters, Slaney-normalised (as librosa.filters.mel)."""
    fft_freqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([sr / 2.0]))[0], n_mels + 2)
    )
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
_FILTERS = mel_filterbank()


def mel_frames(padded: Array) -> tuple[Array, Array]:
    """(mel power frames, mean square of each frame's samples) of samples already padded at
    both ends: frame i covers ``padded[i*HOP : i*HOP + N_FFT]``."""
    count = (len(padded) - N_FFT) // HOP + 1
    if count <= 0:
        return np.zeros((0, N_MELS), dtype=np.float32), np.zeros(0, dtype=np.float32)
    frames = np.lib.stride_tricks.as_strided(
        padded,
        shape=(count, N_FFT),
        strides=(padded.strides[0] * HOP, padded.strides[0]),
        writeable=False,
    )
    energy = np.einsum("ij,ij->i", frames, frames) / N_FFT
    spectrum = np.fft.rfft(frames * _WINDOW, axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return np.asarray(power @ _FILTERS.T, dtype=np.float32), energy.astype(np.float32)


class Stopped(Exception):
    """The caller asked the computation to stop (its job was canceled or failed)."""


def check_stop(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Stopped


class MelStream:
    """Feed float samples in any chunk sizes; collects the frames librosa's centred STFT would
    give for the whole signal (zero padding at both ends)."""

    def __init__(self) -> None:
        self._pending = np.zeros(N_FFT // 2, dtype=np.float32)  # the leading pad
        self._chunks: list[Array] = []
        self._energy: list[Array] = []
        self.samples = 0

    def feed(self, samples: Array) -> None:
        self.samples += len(samples)
        buf = np.concatenate([self._pending, samples])
        frames, energy = mel_frames(buf)
        if len(frames):
            self._chunks.append(frames)
            self._energy.append(energy)
            # Keep what the next frame needs: from its start onwards.
            buf = buf[len(frames) * HOP :]
        self._pending = buf

    def finish(self) -> tuple[Array, Array]:
        """(frames, energy per frame) for the whole signal: 1 + samples // HOP frames, like
        librosa with center=True."""
        want = 1 + self.samples // HOP
        have = sum(len(c) for c in self._chunks)
        tail = np.concatenate([self._pending, np.zeros(N_FFT, dtype=np.float32)])
        frames, energy = mel_frames(tail)
        keep = max(0, want - have)
        mel = np.concatenate([*self._chunks, frames[:keep]])
        power = np.concatenate([*self._energy, energy[:keep]])
        self._chunks, self._energy = [], []
        return mel, power


def decode_pcm(
    path: Path, ffmpeg_path: str | None = None, stop: threading.Event | None = None
) -> Iterator[Array]:
    """16 kHz mono float samples of ``path`` in ~10 s chunks, decoded by ffmpeg through a pipe
    (the whole file is never in memory). AsrError(BAD_INPUT) when ffmpeg cannot read it."""
    exe = require_ffmpeg(ffmpeg_path, "Speaker labels need ffmpeg to read the audio")
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1"]
    cmd += ["-ar", str(SAMPLE_RATE), "-f", "s16le", "-"]
    # stderr to a file, not a pipe: a damaged file can log an error per frame, and a full pipe
    # nobody reads would stall ffmpeg (and us). The child gets no API key.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, env=clean_child_env())
        assert proc.stdout is not None
        leftover = b""
        try:
            while True:
                check_stop(stop)
                block = proc.stdout.read(CHUNK_BYTES)
                if not block:
                    break
                block = leftover + block
                cut = len(block) - len(block) % 2
                leftover = block[cut:]
                yield np.frombuffer(block[:cut], dtype="<i2").astype(np.float32) / 32768.0
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        errors.seek(0)
        stderr = errors.read(64_000).decode("utf-8", "replace")
    if code != 0:
        raise AsrError(
            ErrorKind.BAD_INPUT,
            f"Could not read the audio of {path.name} for speaker labels: {reason_from(stderr)}.",
        )


def file_mel(
    path: Path, ffmpeg_path: str | None = None, stop: threading.Event | None = None
) -> tuple[Array, Array]:
    """(mel frames, energy per frame) of the whole file, decoded as a stream."""
    stream = MelStream()
    for chunk in decode_pcm(path, ffmpeg_path, stop):
        stream.feed(chunk)
    return stream.finish()
