"""Audio facts read from container headers alone: format, duration, rate, channels, bits.

No decoding and no ffprobe: WAV/RF64 (chunk walk), Ogg (Opus/Vorbis/FLAC, last page granule),
FLAC (STREAMINFO), MP4/M4A (mvhd), MP3 (Xing/Info/VBRI frame count, else CBR estimate).
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

from tui.audio.mpeg_headers import ReadAt, mp3_info, mp4_info, skip_id3v2

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

_OGG_TAIL = 140_000  # an Ogg page is at most 65 307 bytes; two of them fit
_WAVE_PCM = 1
_WAVE_FLOAT = 3
_WAVE_EXTENSIBLE = 0xFFFE


@dataclass(frozen=True)
class HeaderInfo:
    format: str  # "wav", "ogg", "flac", "m4a", "mp3"
    duration_s: float | None
    sample_rate: int | None
    channels: int | None
    bits: int | None
    codec: str | None = None  # "pcm_s16le", "opus", "vorbis", "aac", "mp3", ... when known


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
            return _ogg_info(read_at, size)
        if head[4:8] == b"ftyp":
            facts = mp4_info(read_at, size)
            return HeaderInfo(*facts) if facts else None
        start = skip_id3v2(read_at)
        if read_at(start, 4) == b"fLaC":
            return _flac_info(read_at, start)
        facts = mp3_info(read_at, size, start)
        return HeaderInfo(*facts) if facts else None
    except (struct.error, ValueError, IndexError, ZeroDivisionError):
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
            if csize in (0, 0xFFFFFFFF) or body + csize > size:
                csize = size - body  # streaming writer or truncated file: what is there
            chunks.append((cid, body, csize))
            if fmt is None:
                return None
            tag, channels, rate, byte_rate, align, bits = fmt
            return WavLayout(tag, channels, rate, byte_rate, align, bits, body, csize, chunks, fact)
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
    return HeaderInfo("wav", duration, lay.sample_rate, lay.channels, lay.bits or None, codec)


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


# ---------------------------------------------------------------------------------------- Ogg


def _ogg_page(read_at: ReadAt, pos: int) -> tuple[int, int, int, bytes] | None:
    """(granule, serial, total page length, first-packet body) for the page at ``pos``."""
    hdr = read_at(pos, 27)
    if len(hdr) < 27 or hdr[:4] != b"OggS" or hdr[4] != 0:
        return None
    granule, serial = struct.unpack("<qI", hdr[6:18])
    nseg = hdr[26]
    lacing = read_at(pos + 27, nseg)
    if len(lacing) < nseg:
        return None
    body_len = sum(lacing)
    first = 0
    for lace in lacing:
        first += lace
        if lace < 255:
            break
    want = min(first, 512)
    body = read_at(pos + 27 + nseg, want)
    if len(body) < want:
        return None  # cut short: not a page we can trust
    return granule, serial, 27 + nseg + body_len, body


def _ogg_info(read_at: ReadAt, size: int) -> HeaderInfo | None:
    page = _ogg_page(read_at, 0)
    if page is None:
        return None
    _, serial, _, ident = page
    rate: int | None
    if ident[:8] == b"OpusHead" and len(ident) >= 19:
        channels, pre_skip, input_rate = ident[9], *struct.unpack("<HI", ident[10:16])
        del input_rate  # the original rate is informational; Opus always decodes at 48 kHz
        codec, rate, divisor, skip = "opus", 48000, 48000, pre_skip
    elif ident[:7] == b"\x01vorbis" and len(ident) >= 16:
        channels, rate = ident[11], struct.unpack("<I", ident[12:16])[0]
        codec, divisor, skip = "vorbis", rate, 0
    elif ident[:5] == b"\x7fFLAC" and len(ident) >= 9 + 8 + 34:
        sr, channels, _bits, _ = _streaminfo(ident[17:51])
        codec, rate, divisor, skip = "flac", sr, sr, 0
    else:
        return HeaderInfo("ogg", None, None, None, None, None)
    granule = _last_granule(read_at, size, serial)
    duration = None
    if granule is not None and divisor:
        duration = max(0.0, (granule - skip) / divisor)
    return HeaderInfo("ogg", duration, rate, channels or None, None, codec)


def _last_granule(read_at: ReadAt, size: int, serial: int) -> int | None:
    start = max(0, size - _OGG_TAIL)
    tail = read_at(start, size - start)
    pos = tail.rfind(b"OggS")
    while pos >= 0:
        page = _ogg_page(read_at, start + pos)
        if page is not None and page[1] == serial and page[0] >= 0:
            return page[0]
        pos = tail.rfind(b"OggS", 0, pos)
    return None


# --------------------------------------------------------------------------------------- FLAC


def _streaminfo(raw: bytes) -> tuple[int, int, int, int]:
    """(rate, channels, bits, total samples) from a 34-byte STREAMINFO block."""
    packed = int.from_bytes(raw[10:18], "big")
    rate = packed >> 44
    channels = ((packed >> 41) & 0x7) + 1
    bits = ((packed >> 36) & 0x1F) + 1
    total = packed & 0xFFFFFFFFF
    return rate, channels, bits, total


def _flac_info(read_at: ReadAt, start: int) -> HeaderInfo | None:
    block = read_at(start + 4, 4 + 34)
    if len(block) < 38 or block[0] & 0x7F != 0:
        return None  # STREAMINFO must come first
    rate, channels, bits, total = _streaminfo(block[4:])
    if rate == 0:
        return None
    return HeaderInfo("flac", total / rate if total else None, rate, channels, bits, "flac")
