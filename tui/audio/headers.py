"""Audio facts read from container headers alone: format, duration, rate, channels, bits.

No decoding and no ffprobe: WAV/RF64 (chunk walk), FLAC (STREAMINFO, last frame header) here;
Ogg (every logical stream), MP4/M4A (the sound track), MP3 (Xing/Info/VBRI/LAME), AIFF, AMR and
Matroska in their own modules. Each also says when the file is shorter than its header claims.
Everything goes through a ``read_at(offset, n)`` function so the same parsers work on a file
(seeking, so an MP4 with ``moov`` at the end costs little) and on a head/tail pair of buffers.
Unknown or corrupt data gives ``None``.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tui.audio.header_info import HeaderInfo, ReadAt, is_short
from tui.audio.mp4_headers import mp4_info
from tui.audio.mpeg_headers import mp3_info, skip_id3v2
from tui.audio.ogg_headers import ogg_info
from tui.audio.other_headers import aiff_info, amr_info, matroska_info

__all__ = [
    "HeaderInfo",
    "ReadAt",
    "WavLayout",
    "header_info_from_bytes",
    "iter_wav_pcm16",
    "pcm16_mono",
    "read_header_info",
    "wav_layout",
    "wav_layout_from_bytes",
]

# Recorders writing to a pipe put a placeholder here (0xFFFFFFFF, arecord's 0x7FFFFFFF, ...):
# "unknown", not a promise the file broke.
_STREAMING_SIZE = 0x7FFF0000
_FLAC_TAIL = 1 << 18  # the last frame header is within this many bytes of the end
_WAVE_PCM = 1
_WAVE_FLOAT = 3
_WAVE_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True)
class WavLayout:
    """Where things are inside a RIFF/WAVE (or RF64) file."""

    format_tag: int  # after resolving WAVE_FORMAT_EXTENSIBLE
    channels: int
    sample_rate: int
    byte_rate: int
    block_align: int
    bits: int
    data_offset: int
    data_size: int  # clamped to the bytes actually present
    declared_size: int  # what the header says (0 / 0xFFFFFFFF: a streaming writer's "unknown")
    chunks: list[tuple[bytes, int, int]] = field(default_factory=list)  # (id, offset, size)
    fact_samples: int | None = None


# ---------------------------------------------------------------------------- public entry points


def read_header_info(path: Path) -> HeaderInfo | None:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)

            def read_at(offset: int, n: int) -> bytes:
                if offset < 0 or n <= 0 or offset >= size:
                    return b""
                f.seek(offset)
                return f.read(n)

            return _dispatch(read_at, size)
    except OSError:
        return None


def header_info_from_bytes(head: bytes, total_size: int, tail: bytes = b"") -> HeaderInfo | None:
    """Parse from the first bytes of a file (and optionally its last bytes) plus its size.

    Pass the whole file as ``head`` when it is in memory.
    """
    tail_start = total_size - len(tail)

    def read_at(offset: int, n: int) -> bytes:
        if offset < 0 or n <= 0:
            return b""
        if offset + n <= len(head):
            return head[offset : offset + n]
        if tail and offset >= tail_start:
            return tail[offset - tail_start : offset - tail_start + n]
        return head[offset : offset + n]  # short (or empty) past what we were given

    return _dispatch(read_at, total_size)


def _dispatch(read_at: ReadAt, size: int) -> HeaderInfo | None:
    head = read_at(0, 12)
    if len(head) < 4:
        return None
    try:
        if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
            return _wav_info(read_at, size)
        if head[:4] == b"OggS":
            return ogg_info(read_at, size)
        if head[4:8] == b"ftyp":
            return mp4_info(read_at, size)
        if head[:4] == b"FORM":
            return aiff_info(read_at, size)
        if head[:5] == b"#!AMR":
            return amr_info(read_at, size)
        if head[:4] == b"\x1aE\xdf\xa3":
            return matroska_info(read_at, size)
        start = skip_id3v2(read_at)
        if read_at(start, 4) == b"fLaC":
            return _flac_info(read_at, start, size)
        return mp3_info(read_at, size, start)
    except (struct.error, ValueError, IndexError, ZeroDivisionError, OverflowError):
        return None


# ---------------------------------------------------------------------------------------- WAV


def wav_layout(read_at: ReadAt, size: int) -> WavLayout | None:
    """Walk the RIFF chunks. Handles RF64's ds64 and streaming writers' 0/0xFFFFFFFF sizes."""
    riff = read_at(0, 12)
    if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
        return None
    fmt: tuple[int, int, int, int, int, int] | None = None
    ds64_data: int | None = None
    fact: int | None = None
    chunks: list[tuple[bytes, int, int]] = []
    pos = 12
    for _ in range(10_000):
        hdr = read_at(pos, 8)
        if len(hdr) < 8:
            break
        cid, csize = hdr[:4], struct.unpack("<I", hdr[4:])[0]
        body = pos + 8
        if cid == b"data":
            if ds64_data is not None and csize == 0xFFFFFFFF:
                csize = ds64_data
            declared = csize
            if csize in (0, 0xFFFFFFFF) or body + csize > size:
                csize = size - body  # streaming writer or truncated file: what is there
            chunks.append((cid, body, csize))
            if fmt is None:
                return None
            tag, channels, rate, byte_rate, align, bits = fmt
            return WavLayout(
                tag, channels, rate, byte_rate, align, bits, body, csize, declared, chunks, fact
            )
        chunks.append((cid, body, csize))
        if cid == b"fmt ":
            raw = read_at(body, min(csize, 40))
            if len(raw) < 16:
                return None
            tag, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", raw[:16])
            if tag == _WAVE_EXTENSIBLE and len(raw) >= 26:
                tag = struct.unpack("<H", raw[24:26])[0]  # first two bytes of the GUID
            fmt = (tag, channels, rate, byte_rate, align, bits)
        elif cid == b"ds64":
            raw = read_at(body, 28)
            if len(raw) >= 16:
                ds64_data = struct.unpack("<Q", raw[8:16])[0]
        elif cid == b"fact":
            raw = read_at(body, 4)
            if len(raw) == 4:
                fact = struct.unpack("<I", raw)[0]
        pos = body + csize + (csize & 1)  # chunks are word-aligned
    return None


def _wav_info(read_at: ReadAt, size: int) -> HeaderInfo | None:
    lay = wav_layout(read_at, size)
    if lay is None or lay.sample_rate <= 0 or lay.channels <= 0:
        return None
    duration: float | None
    if lay.format_tag in (_WAVE_PCM, _WAVE_FLOAT) and lay.block_align > 0:
        duration = (lay.data_size // lay.block_align) / lay.sample_rate
    elif lay.fact_samples:
        duration = lay.fact_samples / lay.sample_rate
    elif lay.byte_rate > 0:
        duration = lay.data_size / lay.byte_rate
    else:
        duration = None
    codec = {
        _WAVE_PCM: f"pcm_s{lay.bits}le" if lay.bits > 8 else "pcm_u8",
        _WAVE_FLOAT: f"pcm_f{lay.bits}le",
    }.get(lay.format_tag, f"wav_0x{lay.format_tag:04x}")
    variant = "rf64" if read_at(0, 4) != b"RIFF" else None
    facts = (lay.sample_rate, lay.channels, lay.bits or None, codec)
    claimed: float | None = None
    if duration is not None and lay.data_size < lay.declared_size < _STREAMING_SIZE:
        # The data chunk's size is what the writer finished with: less is here, so it was cut.
        if lay.block_align > 0 and lay.format_tag in (_WAVE_PCM, _WAVE_FLOAT):
            claimed = (lay.declared_size // lay.block_align) / lay.sample_rate
        elif lay.byte_rate > 0:
            claimed = lay.declared_size / lay.byte_rate
        if claimed is not None and not is_short(duration, claimed):
            claimed = None
    return HeaderInfo("wav", duration, *facts, claimed_s=claimed, variant=variant)


def wav_layout_from_bytes(buf: bytes) -> WavLayout | None:
    return wav_layout(lambda o, n: buf[o : o + n] if o >= 0 else b"", len(buf))


def pcm16_mono(
    buf: bytes, channels: int = 1, offset: int = 0, size: int | None = None
) -> memoryview:
    """Signed 16-bit samples of the first channel, as a zero-copy view (enough for voice
    detection). Native byte order, i.e. little-endian on every platform this runs on."""
    end = len(buf) if size is None else min(len(buf), offset + size)
    usable = max(0, (end - offset) // (2 * channels) * (2 * channels))
    view = memoryview(buf)[offset : offset + usable].cast("h")
    return view[::channels] if channels > 1 else view


def iter_wav_pcm16(path: Path, block_frames: int = 16_000) -> Iterator[array[int]]:
    """Yield first-channel samples of a 16-bit PCM WAV file in blocks; nothing for other WAVs."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)

        def read_at(offset: int, n: int) -> bytes:
            f.seek(offset)
            return f.read(n)

        lay = wav_layout(read_at, size)
        if lay is None or lay.format_tag != _WAVE_PCM or lay.bits != 16 or lay.channels < 1:
            return
        frame = 2 * lay.channels
        pos, end = lay.data_offset, lay.data_offset + lay.data_size
        while pos < end:
            raw = read_at(pos, min(block_frames * frame, end - pos))
            if len(raw) < frame:
                return
            pos += len(raw)
            block = array("h")
            block.frombytes(raw[: len(raw) // frame * frame])
            yield block[:: lay.channels] if lay.channels > 1 else block


# --------------------------------------------------------------------------------------- FLAC


def _streaminfo(raw: bytes) -> tuple[int, int, int, int]:
    """(rate, channels, bits, total samples) from a 34-byte STREAMINFO block."""
    packed = int.from_bytes(raw[10:18], "big")
    rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    bits = ((packed >> 36) & 0x1F) + 1
    total = packed & 0xFFFFFFFFF
    return rate, channels, bits, total


def _flac_info(read_at: ReadAt, start: int, size: int) -> HeaderInfo | None:
    block = read_at(start + 4, 4 + 34)
    if len(block) < 38 or block[0] & 0x7F != 0:
        return None  # STREAMINFO must come first
    rate, channels, bits, total = _streaminfo(block[4:])
    if rate == 0:
        return None
    facts = (rate, channels, bits, "flac")
    if not total:
        return HeaderInfo("flac", None, *facts)
    present = _flac_samples_present(read_at, size, block[4:8], channels, bits)
    if present is not None and is_short(present / rate, total / rate):
        return HeaderInfo("flac", present / rate, *facts, estimated=True, claimed_s=total / rate)
    return HeaderInfo("flac", total / rate, *facts)


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


_FLAC_BLOCK = {1: 192, 2: 576, 3: 1152, 4: 2304, 5: 4608, 8: 256, 9: 512, 10: 1024}
_FLAC_BLOCK.update({11: 2048, 12: 4096, 13: 8192, 14: 16384, 15: 32768})


def _flac_samples_present(
    read_at: ReadAt, size: int, block_sizes: bytes, channels: int, bits: int
) -> int | None:
    """Samples up to the end of the last frame whose header is in the file (None: no frame
    header found in the tail). Frame headers carry their frame or sample number and a CRC-8."""
    min_block = struct.unpack(">H", block_sizes[:2])[0]
    start = max(0, size - _FLAC_TAIL)
    tail = read_at(start, size - start)
    pos = tail.rfind(b"\xff", 0, len(tail) - 6)
    while pos >= 0:
        found = _flac_frame_end(tail, pos, min_block, channels, bits)
        if found is not None:
            return found
        pos = tail.rfind(b"\xff", 0, pos)
    return None


_FLAC_BITS = {0: 0, 1: 8, 2: 12, 4: 16, 5: 20, 6: 24, 7: 32}


def _flac_frame_end(buf: bytes, pos: int, min_block: int, channels: int, bits: int) -> int | None:
    if buf[pos + 1] not in (0xF8, 0xF9) or buf[pos + 3] & 1:
        return None
    # Audio data can look like a frame header by chance: it must also agree with STREAMINFO.
    layout, depth = buf[pos + 3] >> 4, (buf[pos + 3] >> 1) & 7
    frame_channels = layout + 1 if layout < 8 else (2 if layout <= 10 else 0)
    if frame_channels != channels or _FLAC_BITS.get(depth, -1) not in (0, bits):
        return None
    variable = buf[pos + 1] == 0xF9
    block_code, rate_code = buf[pos + 2] >> 4, buf[pos + 2] & 0x0F
    if block_code == 0 or rate_code == 15:
        return None
    first = buf[pos + 4]
    # UTF-8-style coding: n leading ones in the first byte, then n - 1 continuation bytes.
    extra = 0 if first < 0x80 else 7 - (first ^ 0xFF).bit_length()
    if extra < 0 or extra > 6 or (first >= 0x80 and extra == 0):
        return None
    number = first & (0x7F >> (extra + 1)) if extra else first
    at = pos + 5
    for b in buf[at : at + extra]:
        if b & 0xC0 != 0x80:
            return None
        number = (number << 6) | (b & 0x3F)
    at += extra
    if block_code == 6:
        block = buf[at] + 1 if at < len(buf) else 0
        at += 1
    elif block_code == 7:
        block = int.from_bytes(buf[at : at + 2], "big") + 1
        at += 2
    else:
        block = _FLAC_BLOCK.get(block_code, 0)
    at += {12: 1, 13: 2, 14: 2}.get(rate_code, 0)
    if at >= len(buf) or block == 0 or _crc8(buf[pos:at]) != buf[at]:
        return None
    return number + block if variable else number * min_block + block
