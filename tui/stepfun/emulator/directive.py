"""Directive WAV files: synthetic "speech" plus an ``emux`` RIFF chunk of JSON that tells the
emulator what to do with this exact file (text to emit, fault to apply). Request order is not
deterministic under concurrency, so per-file directives are how tests and the demo script it.
"""

from __future__ import annotations

import json
import math
import random
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tui.audio.headers import wav_layout_from_bytes
from tui.fsutil import atomic_write_bytes

CHUNK_ID = b"emux"


def directive_chunk(directive: dict[str, Any]) -> bytes:
    payload = json.dumps(directive, ensure_ascii=False).encode("utf-8")
    pad = b"\0" if len(payload) & 1 else b""
    return CHUNK_ID + struct.pack("<I", len(payload)) + payload + pad


def synth_pcm16(
    seconds: float,
    *,
    tone_hz: float = 220.0,
    sample_rate: int = 16000,
    silence_gaps: Sequence[tuple[float, float]] = (),
    amplitude: float = 0.3,
    seed: int = 0,
) -> bytes:
    """Mono 16-bit "speech": a tone with a syllable-rate envelope and a little noise, never
    dipping below the emulator's voice threshold, with silent stretches where asked."""
    n = max(0, round(seconds * sample_rate))
    rng = random.Random(seed)
    peak = amplitude * 32767
    step = 2 * math.pi * tone_hz / sample_rate
    env_step = 2 * math.pi * 4.0 / sample_rate  # ~4 syllables a second
    noise = [rng.uniform(-0.02, 0.02) * peak for _ in range(997)]  # a prime-length loop
    sin = math.sin
    out = [
        int(peak * (0.6 + 0.4 * sin(env_step * i)) * sin(step * i) + noise[i % 997])
        for i in range(n)
    ]
    for a, b in silence_gaps:
        lo, hi = max(0, round(a * sample_rate)), min(n, round(b * sample_rate))
        if hi > lo:
            out[lo:hi] = [0] * (hi - lo)
    return struct.pack(f"<{n}h", *out)


def wav_bytes(
    pcm: bytes, *, sample_rate: int = 16000, channels: int = 1, extra_chunks: bytes = b""
) -> bytes:
    fmt = struct.pack(
        "<HHIIHH", 1, channels, sample_rate, sample_rate * channels * 2, channels * 2, 16
    )
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + extra_chunks
        + b"data"
        + struct.pack("<I", len(pcm))
        + pcm
        + (b"\0" if len(pcm) & 1 else b"")
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_directive_wav(
    path: Path,
    seconds: float,
    *,
    text: str | None = None,
    fault: str | None = None,
    tone_hz: float = 220.0,
    sample_rate: int = 16000,
    silence_gaps: Sequence[tuple[float, float]] = (),
    amplitude: float = 0.3,
    **params: Any,
) -> Path:
    """Write a 16-bit mono WAV of tone "speech" carrying an ``emux`` directive.

    ``text``: the exact transcript the emulator emits for this file (spread over voiced time).
    ``fault``: a fault name (see faults.ALL) applied to every request with this audio, or only
    the first ``times`` of them when ``times=N`` is given; other ``params`` go to the fault.
    ``silence_gaps``: (start_s, end_s) stretches of digital silence; ``amplitude=0`` makes the
    whole file silent. Without text, fault or params the file has no directive chunk.
    The tone frequency also seeds the noise, so two files differing only in ``tone_hz`` differ
    in content (and get different generated words).
    """
    directive: dict[str, Any] = dict(params)
    if text is not None:
        directive["text"] = text
    if fault is not None:
        directive["fault"] = fault
    pcm = synth_pcm16(
        seconds,
        tone_hz=tone_hz,
        sample_rate=sample_rate,
        silence_gaps=silence_gaps,
        amplitude=amplitude,
        seed=round(tone_hz * 1000),
    )
    extra = directive_chunk(directive) if directive else b""
    atomic_write_bytes(path, wav_bytes(pcm, sample_rate=sample_rate, extra_chunks=extra))
    return path


def read_directive(audio: bytes) -> dict[str, Any] | None:
    """The ``emux`` JSON of a WAV, if any (before or after the data chunk)."""
    if audio[:4] not in (b"RIFF", b"RF64"):
        return None
    lay = wav_layout_from_bytes(audio)
    if lay is None:
        return None
    spots = [(off, size) for cid, off, size in lay.chunks if cid == CHUNK_ID]
    after = lay.data_offset + lay.data_size + (lay.data_size & 1)
    if audio[after : after + 4] == CHUNK_ID:
        size = struct.unpack("<I", audio[after + 4 : after + 8])[0]
        spots.append((after + 8, size))
    for off, size in spots:
        try:
            value = json.loads(audio[off : off + size].decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(value, dict):
            return value
    return None
