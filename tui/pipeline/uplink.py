"""How to send a file soonest: as it is or compressed, whole or as parts sent at once.

The time a person waits is roughly: preparing the audio (ffmpeg, spread over the cores) +
uploading it (base64 in JSON: 4/3 of the bytes, over the uplink) + the service working through
it (a start-up plus the audio at some multiple of real time; parts sent at once are worked on in
parallel). ``choose`` compares the candidates with that model; the uplink rate is what earlier
uploads measured (``tui.stepfun.uplink_meter``), a cautious 10 Mbit/s before any.

The transcode figures are this project's own measurements (bench_opus_settings.py, shared 2-core
machine): the fast Opus settings take ~350x real time per core on 16 kHz WAV speech, ~125x on a
44.1 kHz stereo MP3 (decoding and resampling included); 150x is the cautious middle. Cutting a
16 kHz WAV part without encoding is ~10x quicker still.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from tui.stepfun.uplink_meter import DEFAULT_BPS

OPUS_BYTES_PER_S = 28_000 / 8 + 120  # 28 kbit/s plus Ogg framing
WAV_PART_BYTES_PER_S = 32_000  # 16 kHz 16-bit mono
BASE64 = 4 / 3
TRANSCODE_X = 150.0  # audio seconds per wall second per core (cautious)
CUT_WAV_X = 1500.0
# Recordings at least this long go as parts sent at once: the service works on them in
# parallel, which saves more than the extra requests cost. Shorter ones go whole.
PARALLEL_FROM_S = 180.0
MIN_PART_S = 90.0
MAX_PARTS = 8  # within the default 10 requests per minute
# The service's own speed, for weighing parts against one request (the published headline:
# 0.8 s + audio / 95). Only the comparison uses it, never a timeout.
SERVICE_STARTUP_S = 0.8
SERVICE_X = 95.0


@dataclass(frozen=True)
class Choice:
    compress: bool  # Opus (else: as it is when whole, 16 kHz WAV when parts)
    parts: int  # 1: the whole file in one request
    estimate_s: float


def cores() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def part_count(duration_s: float, parallel: int, limit_s: float) -> int:
    """How many parts a recording goes as: enough to keep ``parallel`` requests busy (two
    rounds, so preparing a part overlaps sending the one before), none under MIN_PART_S,
    none over the per-request limit."""
    if duration_s < PARALLEL_FROM_S or parallel < 2:
        return max(1, math.ceil(duration_s / limit_s))
    wanted = min(MAX_PARTS, 2 * parallel, max(1, int(duration_s // MIN_PART_S)))
    return max(wanted, math.ceil(duration_s / limit_s))


def _service(duration_s: float, parts: int, parallel: int) -> float:
    rounds = math.ceil(parts / max(1, parallel))
    return rounds * (SERVICE_STARTUP_S + duration_s / parts / SERVICE_X)


def choose(
    duration_s: float,
    bytes_per_s: float,
    *,
    parallel: int,
    limit_s: float,
    can_compress: bool,
    can_cut: bool,
    whole_ok: bool = True,
    uplink_bps: float | None = None,
    n_cores: int | None = None,
) -> Choice:
    """The quickest way to send a recording of ``duration_s`` whose file holds ``bytes_per_s``:
    ``can_compress`` (ffmpeg is there and compression is on), ``can_cut`` (ffmpeg is there),
    ``whole_ok`` (the file can go as it is in one request)."""
    link = uplink_bps or DEFAULT_BPS
    n_cores = n_cores or cores()
    n = part_count(duration_s, parallel, limit_s) if can_cut else 1
    upload = duration_s * BASE64 / link
    options: list[Choice] = []
    if whole_ok and duration_s <= limit_s:
        options.append(Choice(False, 1, upload * bytes_per_s + _service(duration_s, 1, 1)))
    if n > 1:
        cut = duration_s / (CUT_WAV_X * n_cores)
        wav = upload * WAV_PART_BYTES_PER_S
        options.append(Choice(False, n, cut + wav + _service(duration_s, n, parallel)))
    if can_compress or not options:
        encode = duration_s / (TRANSCODE_X * min(n_cores, n))
        opus = encode + upload * OPUS_BYTES_PER_S + _service(duration_s, n, parallel)
        options.append(Choice(True, n, opus))
    return min(options, key=lambda c: c.estimate_s)
