"""Header-only facts for MPEG audio (Layer I/II/III): frame count from a Xing/Info/VBRI frame,
encoder delay and padding from the LAME tag; without a count (or when the file is shorter than
the tag says), the frame headers are walked and counted, which is exact (~25 ms per 10 minutes);
only when that walk breaks off (junk, damage) is the length a CBR estimate from the first frame.

Only Layer III is MP3; Layer I/II files (``.mp2``, broadcast, DVB) report ``format="mp2"``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tui.audio.header_info import HeaderInfo, ReadAt, is_short

_BITRATES = {  # (version is MPEG-1, layer) -> kbit/s by index
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True)
class Frame:
    mpeg1: bool
    layer: int
    bitrate: int  # bit/s
    rate: int
    channels: int
    length: int  # bytes
    samples: int  # per frame


def parse_frame(hdr: bytes) -> Frame | None:
    """The MPEG audio frame header in the first four bytes of ``hdr``, or None."""
    if len(hdr) < 4 or hdr[0] != 0xFF or hdr[1] & 0xE0 != 0xE0:
        return None
    version = (hdr[1] >> 3) & 3  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    layer = 4 - ((hdr[1] >> 1) & 3)
    br_idx, sr_idx = hdr[2] >> 4, (hdr[2] >> 2) & 3
    if version == 1 or layer == 4 or br_idx in (0, 15) or sr_idx == 3:
        return None
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][br_idx] * 1000
    rate = _RATES[version][sr_idx]
    padding = (hdr[2] >> 1) & 1
    channels = 1 if hdr[3] >> 6 == 3 else 2
    if layer == 1:
        return Frame(mpeg1, 1, bitrate, rate, channels, (12 * bitrate // rate + padding) * 4, 384)
    samples = 1152 if layer == 2 or mpeg1 else 576
    length = samples // 8 * bitrate // rate + padding
    return Frame(mpeg1, layer, bitrate, rate, channels, length, samples)


def skip_id3v2(read_at: ReadAt) -> int:
    """Offset of the first byte after any ID3v2 tags at the start (0 when there are none)."""
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


def find_first_frame(read_at: ReadAt, size: int, start: int) -> tuple[int, Frame] | None:
    """(offset, frame) of the first MPEG audio frame confirmed by the next one."""
    # After an ID3 tag there may be padding; without one only a little junk is plausible.
    window = read_at(start, 65_536 if start else 4096)
    for offset in range(max(0, len(window) - 3)):
        if window[offset] != 0xFF:
            continue
        frame = parse_frame(window[offset : offset + 4])
        if frame is None or frame.length < 24:
            continue
        nxt_pos = start + offset + frame.length
        # A lone sync word is common by chance; demand a second frame unless the file ends.
        if nxt_pos >= size or parse_frame(read_at(nxt_pos, 4)) is not None:
            return start + offset, frame
    return None


@dataclass(frozen=True)
class VbrTag:
    frames: int | None  # frames after the tag frame
    bytes: int | None  # bytes of the whole stream, tag frame included
    delay: int = 0  # encoder delay + padding, in samples (LAME tag)
    start_delay: int = 0  # what a decoder skips at the start: encoder delay + its own 529


def read_vbr_tag(head: bytes, frame: Frame) -> VbrTag | None:
    """The Xing/Info (with LAME extension) or VBRI tag in the first frame, or None."""
    mono = frame.channels == 1
    side = (17 if mono else 32) if frame.mpeg1 else (9 if mono else 17)
    pos = 4 + side
    if head[pos : pos + 4] in (b"Xing", b"Info") and len(head) >= pos + 8:
        flags = struct.unpack(">I", head[pos + 4 : pos + 8])[0]
        at = pos + 8
        frames = nbytes = None
        if flags & 1:
            frames = struct.unpack(">I", head[at : at + 4])[0]
            at += 4
        if flags & 2:
            nbytes = struct.unpack(">I", head[at : at + 4])[0]
            at += 4
        at += (100 if flags & 4 else 0) + (4 if flags & 8 else 0)
        delay = start = 0
        encoder = head[at : at + 9]
        # The LAME extension (also written by ffmpeg's muxer as "Lavf"/"Lavc"): delay and
        # padding are 12 bits each, 21 bytes after the encoder string.
        if len(encoder) == 9 and encoder[:4] in (b"LAME", b"Lavf", b"Lavc", b"GOGO"):
            raw = head[at + 21 : at + 24]
            if len(raw) == 3:
                packed = int.from_bytes(raw, "big")
                delay = (packed >> 12) + (packed & 0xFFF)
                start = (packed >> 12) + 529
        return VbrTag(frames or None, nbytes or None, delay, start)
    if head[36:40] == b"VBRI" and len(head) >= 54:
        nbytes, frames = struct.unpack(">II", head[46:54])
        return VbrTag(frames or None, nbytes or None)
    return None


_WALK_BLOCK = 1 << 20
_RESYNC = 4096  # junk tolerated between two frames before the walk gives up
_LEFTOVER = 4096  # what may follow the last frame (APE/Lyrics tags) and still count as the end


def count_frames(read_at: ReadAt, start: int, end: int, first: Frame) -> int | None:
    """Frames of ``first``'s layer and rate from ``start`` to ``end``, counted by walking the
    frame headers; None when the walk breaks off well before the end."""
    cache: dict[bytes, Frame | None] = {}
    frames, pos = 0, start
    buf, buf_at = b"", start
    for _ in range(50_000_000):
        if pos + 4 > end:
            break
        if pos + 4 > buf_at + len(buf):
            buf_at, buf = pos, read_at(pos, min(_WALK_BLOCK, end - pos))
            if len(buf) < 4:
                break
        i = pos - buf_at
        key = buf[i : i + 4]
        if key not in cache:
            cache[key] = parse_frame(key)
        frame = cache[key]
        if frame is not None and frame.layer == first.layer and frame.rate == first.rate:
            if pos + frame.length > end:
                break  # a frame cut off at the end
            frames += 1
            pos += frame.length
            continue
        skip = _resync(read_at, pos, end, first)
        if skip is None:
            break
        pos += skip
    return frames if end - pos <= _LEFTOVER else None


def _resync(read_at: ReadAt, pos: int, end: int, first: Frame) -> int | None:
    window = read_at(pos + 1, _RESYNC)
    at = window.find(b"\xff")
    while at >= 0:
        frame = parse_frame(window[at : at + 4])
        if frame is not None and frame.layer == first.layer and frame.rate == first.rate:
            nxt = pos + 1 + at + frame.length
            if nxt >= end or parse_frame(read_at(nxt, 4)) is not None:
                return 1 + at
        at = window.find(b"\xff", at + 1)
    return None


def mp3_info(read_at: ReadAt, size: int, start: int) -> HeaderInfo | None:
    found = find_first_frame(read_at, size, start)
    if found is None:
        return None
    audio_start, frame = found
    tag = read_vbr_tag(read_at(audio_start, 400), frame)
    end = size - (128 if read_at(size - 128, 3) == b"TAG" else 0)
    present_bytes = max(0, end - audio_start)
    fmt, codec = ("mp3", "mp3") if frame.layer == 3 else ("mp2", f"mp{frame.layer}")
    facts = (frame.rate, frame.channels, None, codec)
    if tag is None or tag.frames is None:
        # A tag frame (Xing/Info/VBRI) carries no audio: the count starts after it.
        first_audio = audio_start + (frame.length if tag else 0)
        counted = count_frames(read_at, first_audio, end, frame)
        if counted is not None:
            skip = tag.delay if tag else 0
            return HeaderInfo(fmt, max(0, counted * frame.samples - skip) / frame.rate, *facts)
        # The walk broke off: size over the first frame's bitrate, exact only for CBR.
        duration = present_bytes * 8 / frame.bitrate
        return HeaderInfo(fmt, duration, *facts, estimated=True)
    samples = max(0, tag.frames * frame.samples - tag.delay)
    duration = samples / frame.rate
    if tag.bytes and present_bytes > tag.bytes * 1.01 + _LEFTOVER:
        # More bytes than the tag counted: files joined with ``cat`` keep the first one's tag.
        counted = count_frames(read_at, audio_start + frame.length, end, frame)
        if counted is not None:
            longer = max(0, counted * frame.samples - tag.delay) / frame.rate
            return HeaderInfo(fmt, longer, *facts, variant="concatenated")
    if (
        tag.bytes
        and present_bytes < tag.bytes
        and is_short(duration * present_bytes / tag.bytes, duration)
    ):
        # The tag counts the bytes the encoder wrote: fewer are here, so the file was cut.
        # The Xing/Info frame itself carries no audio: it is not counted.
        counted = count_frames(read_at, audio_start + frame.length, end, frame)
        if counted is not None:
            # Only the start's delay applies: the end padding was in the part that is gone.
            present = max(0, counted * frame.samples - tag.start_delay) / frame.rate
            return HeaderInfo(fmt, present, *facts, claimed_s=duration)
        present = duration * present_bytes / tag.bytes
        return HeaderInfo(fmt, present, *facts, estimated=True, claimed_s=duration)
    return HeaderInfo(fmt, duration, *facts)
