"""Header-only facts for the MPEG family: MP4/M4A (``mvhd``) and MP3 (Xing/Info/VBRI frame
count, else a CBR estimate from the first frame). Used by ``tui.audio.headers``."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

ReadAt = Callable[[int, int], bytes]
# (format, duration_s, sample_rate, channels, bits, codec): the fields of headers.HeaderInfo.
Facts = tuple[str, float | None, int | None, int | None, int | None, str | None]


# ---------------------------------------------------------------------------------------- MP4


def _boxes(read_at: ReadAt, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body offset, body end) of the boxes between ``start`` and ``end``."""
    pos = start
    for _ in range(100_000):
        if pos + 8 > end:
            return
        hdr = read_at(pos, 16)
        if len(hdr) < 8:
            return
        size, kind = struct.unpack(">I4s", hdr[:8])
        body = pos + 8
        if size == 1:
            if len(hdr) < 16:
                return
            size = struct.unpack(">Q", hdr[8:16])[0]
            body = pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos:
            return
        yield kind, body, min(pos + size, end)
        pos += size


def _child(read_at: ReadAt, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, body, stop in _boxes(read_at, start, end):
        if k == kind:
            return body, stop
    return None


def mp4_info(read_at: ReadAt, size: int) -> Facts | None:
    moov = _child(read_at, 0, size, b"moov")
    if moov is None:
        return None
    mvhd = _child(read_at, *moov, b"mvhd")
    if mvhd is None:
        return None
    raw = read_at(mvhd[0], 32)
    if raw[:1] == b"\x01":
        timescale, duration = struct.unpack(">IQ", raw[20:32])
    else:
        timescale, duration = struct.unpack(">II", raw[12:20])
    if timescale == 0:
        return None
    rate, channels, bits, codec = _mp4_audio_entry(read_at, moov)
    return "m4a", duration / timescale, rate, channels, bits, codec


def _mp4_audio_entry(
    read_at: ReadAt, moov: tuple[int, int]
) -> tuple[int | None, int | None, int | None, str | None]:
    for kind, body, stop in _boxes(read_at, *moov):
        if kind != b"trak":
            continue
        mdia = _child(read_at, body, stop, b"mdia")
        hdlr = mdia and _child(read_at, *mdia, b"hdlr")
        if not mdia or not hdlr or read_at(hdlr[0] + 8, 4) != b"soun":
            continue
        minf = _child(read_at, *mdia, b"minf")
        stbl = minf and _child(read_at, *minf, b"stbl")
        stsd = stbl and _child(read_at, *stbl, b"stsd")
        if not stsd:
            continue
        entry = read_at(stsd[0] + 8, 36)  # skip version/flags and entry count
        if len(entry) < 36:
            continue
        fourcc = entry[4:8].decode("latin-1")
        channels, bits = struct.unpack(">HH", entry[24:28])
        rate = struct.unpack(">I", entry[32:36])[0] >> 16
        codec = {"mp4a": "aac", "alac": "alac", "Opus": "opus", "fLaC": "flac"}.get(fourcc, fourcc)
        if codec == "aac":
            channels = 0  # the sample entry says 2 for any AAC; the truth is deeper, in esds
        return rate or None, channels or None, bits or None, codec
    return None, None, None, None


# ---------------------------------------------------------------------------------------- MP3

_MP3_BITRATES = {  # (version is MPEG-1, layer) -> kbit/s by index
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True)
class _Frame:
    mpeg1: bool
    layer: int
    bitrate: int  # bit/s
    rate: int
    channels: int
    length: int  # bytes
    samples: int  # per frame


def _mp3_frame(hdr: bytes) -> _Frame | None:
    if len(hdr) < 4 or hdr[0] != 0xFF or hdr[1] & 0xE0 != 0xE0:
        return None
    version = (hdr[1] >> 3) & 3  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    layer = 4 - ((hdr[1] >> 1) & 3)
    br_idx, sr_idx = hdr[2] >> 4, (hdr[2] >> 2) & 3
    if version == 1 or layer == 4 or br_idx in (0, 15) or sr_idx == 3:
        return None
    mpeg1 = version == 3
    bitrate = _MP3_BITRATES[(mpeg1, layer)][br_idx] * 1000
    rate = _MP3_RATES[version][sr_idx]
    padding = (hdr[2] >> 1) & 1
    channels = 1 if hdr[3] >> 6 == 3 else 2
    if layer == 1:
        return _Frame(mpeg1, 1, bitrate, rate, channels, (12 * bitrate // rate + padding) * 4, 384)
    samples = 1152 if layer == 2 or mpeg1 else 576
    length = samples // 8 * bitrate // rate + padding
    return _Frame(mpeg1, layer, bitrate, rate, channels, length, samples)


def skip_id3v2(read_at: ReadAt) -> int:
    pos = 0
    for _ in range(8):  # some files carry more than one tag
        hdr = read_at(pos, 10)
        if len(hdr) < 10 or hdr[:3] != b"ID3":
            break
        size = 0
        for b in hdr[6:10]:
            size = (size << 7) | (b & 0x7F)
        pos += 10 + size + (10 if hdr[5] & 0x10 else 0)
    return pos


def mp3_info(read_at: ReadAt, size: int, start: int) -> Facts | None:
    # After an ID3 tag there may be padding; without one only a little junk is plausible.
    window = read_at(start, 65_536 if start else 4096)
    frame: _Frame | None = None
    offset = 0
    for offset in range(max(0, len(window) - 3)):
        if window[offset] != 0xFF:
            continue
        frame = _mp3_frame(window[offset : offset + 4])
        if frame is None or frame.length < 24:
            frame = None
            continue
        nxt_pos = start + offset + frame.length
        nxt = read_at(nxt_pos, 4)
        # A lone sync word is common by chance; demand a second frame unless the file ends.
        if nxt_pos >= size or _mp3_frame(nxt) is not None:
            break
        frame = None
    if frame is None:
        return None
    audio_start = start + offset
    head = read_at(audio_start, 200)
    mono = frame.channels == 1
    side = (17 if mono else 32) if frame.mpeg1 else (9 if mono else 17)
    frames: int | None = None
    xing = head[4 + side : 4 + side + 12]
    if xing[:4] in (b"Xing", b"Info") and struct.unpack(">I", xing[4:8])[0] & 1:
        frames = struct.unpack(">I", xing[8:12])[0]
    elif head[36:40] == b"VBRI":
        frames = struct.unpack(">I", head[50:54])[0]
    if frames:
        duration = frames * frame.samples / frame.rate
    else:
        end = size - (128 if read_at(size - 128, 3) == b"TAG" else 0)
        duration = max(0, end - audio_start) * 8 / frame.bitrate
    return "mp3", duration, frame.rate, frame.channels, None, "mp3"
