"""Header-only facts for AIFF, AMR and Matroska/WebM (formats that are always transcoded, but
whose length and completeness still matter: cost, progress, deadlines, the truncation warning).

AIFF: ``COMM`` declares the sample frames; the ``SSND`` bytes present say how many are there.
AMR (``#!AMR``/``#!AMR-WB``): every frame is 20 ms, so counting frames is exact, including the
tiny NO_DATA/SID frames a phone writes during pauses (DTX) that ffmpeg's decoder skips.
Matroska/WebM: only completeness is read here (the Segment's declared size against the file);
the length comes from ffprobe or decoding.
"""

from __future__ import annotations

import struct

from tui.audio.header_info import HeaderInfo, ReadAt, is_short

# Bytes per frame including the one-byte TOC, by frame type (ffmpeg's amr demuxer tables).
_AMR_NB = (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1)
_AMR_WB = (18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 1, 1, 1, 1, 1, 1)
_AMR_BLOCK = 1 << 20


def _extended(raw: bytes) -> float:
    """An 80-bit IEEE extended float (AIFF's sample rate)."""
    exponent = int.from_bytes(raw[:2], "big") & 0x7FFF
    mantissa = int.from_bytes(raw[2:10], "big")
    if exponent == 0 and mantissa == 0:
        return 0.0
    return float(mantissa) * 2.0 ** (exponent - 16383 - 63)


def aiff_info(read_at: ReadAt, size: int) -> HeaderInfo | None:
    head = read_at(0, 12)
    if head[:4] != b"FORM" or head[8:12] not in (b"AIFF", b"AIFC"):
        return None
    comm: tuple[int, int, int, float, bytes] | None = None
    ssnd_present: int | None = None
    pos = 12
    for _ in range(10_000):
        hdr = read_at(pos, 8)
        if len(hdr) < 8:
            break
        cid, csize = hdr[:4], struct.unpack(">I", hdr[4:])[0]
        body = pos + 8
        if cid == b"COMM":
            raw = read_at(body, 22)
            if len(raw) < 18:
                return None
            channels, frames, bits = struct.unpack(">HIH", raw[:8])
            comm = (channels, frames, bits, _extended(raw[8:18]), raw[18:22])
        elif cid == b"SSND":
            offset = struct.unpack(">I", read_at(body, 4) or b"\0\0\0\0")[0]
            ssnd_present = max(0, min(size, body + csize) - body - 8 - offset)
        pos = body + csize + (csize & 1)
    if comm is None:
        return None
    channels, frames, bits, rate, compression = comm
    if rate <= 0 or channels <= 0:
        return None
    codec = "pcm_s16be" if head[8:12] == b"AIFF" else compression.decode("latin-1").strip()
    claimed = frames / rate
    plain = head[8:12] == b"AIFF" or compression in (b"NONE", b"twos", b"sowt")
    if plain and ssnd_present is not None and bits:
        present = ssnd_present // (channels * ((bits + 7) // 8)) / rate
        if is_short(present, claimed):
            return HeaderInfo("aiff", present, int(rate), channels, bits, codec, claimed_s=claimed)
    return HeaderInfo("aiff", claimed, int(rate), channels, bits, codec)


def amr_info(read_at: ReadAt, size: int) -> HeaderInfo | None:
    if read_at(0, 9) == b"#!AMR-WB\n":
        sizes, pos, rate, codec = _AMR_WB, 9, 16000, "amr_wb"
    elif read_at(0, 6) == b"#!AMR\n":
        sizes, pos, rate, codec = _AMR_NB, 6, 8000, "amr_nb"
    else:
        return None
    frames = 0
    while pos < size:
        block = read_at(pos, _AMR_BLOCK)
        if not block:
            break
        i = 0
        while i < len(block):
            step = sizes[(block[i] >> 3) & 0x0F]
            if pos + i + step > size:
                break  # a frame cut off at the end
            frames += 1
            i += step
        if pos + i >= size or i == 0:
            break
        pos += i
    return HeaderInfo("amr", frames * 0.02, rate, 1, None, codec)


def _vint(raw: bytes, at: int) -> tuple[int, int, bool] | None:
    """(value, length, all-ones "unknown size") of an EBML variable-length integer."""
    if at >= len(raw) or raw[at] == 0:
        return None
    first = raw[at]
    length = 9 - first.bit_length()
    if at + length > len(raw):
        return None
    value = first & (0xFF >> length)
    for b in raw[at + 1 : at + length]:
        value = (value << 8) | b
    return value, length, value == (1 << (7 * length)) - 1


def matroska_info(read_at: ReadAt, size: int) -> HeaderInfo | None:
    head = read_at(0, 4096)
    if head[:4] != b"\x1aE\xdf\xa3":
        return None
    kind = "webm" if b"webm" in head[:64] else "mkv"
    ebml = _vint(head, 4)
    if ebml is None:
        return None
    at = 4 + ebml[1] + ebml[0]
    if head[at : at + 4] != b"\x18\x53\x80\x67":  # Segment
        return HeaderInfo(kind, None, None, None, None, None)
    seg = _vint(head, at + 4)
    if seg is None:
        return HeaderInfo(kind, None, None, None, None, None)
    value, length, unknown = seg
    declared_end = at + 4 + length + value
    duration = _segment_duration(head, at + 4 + length)
    if not unknown and declared_end > size and duration:
        # Live recordings write "unknown size"; a known size past the end means a cut file.
        share = (size - at) / max(1, declared_end - at)
        return HeaderInfo(
            kind, duration * share, None, None, None, None, estimated=True, claimed_s=duration
        )
    return HeaderInfo(kind, None, None, None, None, None)


def _segment_duration(head: bytes, start: int) -> float | None:
    """Segment Info's Duration (seconds), when the Info element is within ``head``."""
    pos = start
    for _ in range(64):
        if pos >= len(head) or head[pos] == 0:
            return None
        ident_len = 9 - head[pos].bit_length()
        size = _vint(head, pos + ident_len)
        if ident_len > 4 or size is None:
            return None
        body = pos + ident_len + size[1]
        if head[pos : pos + ident_len] == b"\x15\x49\xa9\x66":  # Info
            return _info_duration(head[body : body + size[0]])
        pos = body + size[0]  # SeekHead, Void, ...: Info comes before the clusters
    return None


def _info_duration(info: bytes) -> float | None:
    scale, duration, pos = 1_000_000, None, 0
    while pos < len(info):
        ident_len = 9 - info[pos].bit_length() if info[pos] else 0
        if ident_len <= 0 or ident_len > 4:
            return None
        ident = info[pos : pos + ident_len]
        size = _vint(info, pos + ident_len)
        if size is None:
            return None
        body = info[pos + ident_len + size[1] : pos + ident_len + size[1] + size[0]]
        if ident == b"\x2a\xd7\xb1":
            scale = int.from_bytes(body, "big")
        elif ident == b"\x44\x89":
            duration = struct.unpack(">f" if len(body) == 4 else ">d", body)[0]
        pos += ident_len + size[1] + size[0]
    return duration * scale / 1e9 if duration else None
