"""Header-only facts for MP4/M4A/MOV: the sound track's own length, fragments, truncation.

The length is the sound track's, not the movie's (``mvhd`` is the longest track: a screen
recording's video may run on past its audio): the edit list when there is one (it also drops the
AAC encoder priming), else ``mdhd``. A fragmented file (browser MediaRecorder, OBS, live
recorders) keeps its samples in ``moof`` boxes and has ``mvhd``/``mdhd`` durations of 0: its length
is ``mehd`` or the sum of its ``trun`` sample durations. A file is truncated when a chunk offset
(``stco``/``co64``) or the declared end of an ``mdat``/``moof`` lies past the end of the file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from tui.audio.header_info import HeaderInfo, ReadAt, is_short

_MAX_BOXES = 200_000


def _boxes(read_at: ReadAt, start: int, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """(type, body offset, body end clamped to ``end``, declared end) of boxes in a range."""
    pos = start
    for _ in range(_MAX_BOXES):
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
        yield kind, body, min(pos + size, end), pos + size
        pos += size


def _child(read_at: ReadAt, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, body, stop, _ in _boxes(read_at, start, end):
        if k == kind:
            return body, stop
    return None


def _path(read_at: ReadAt, box: tuple[int, int] | None, *kinds: bytes) -> tuple[int, int] | None:
    for kind in kinds:
        if box is None:
            return None
        box = _child(read_at, *box, kind)
    return box


@dataclass
class _Sound:
    track_id: int
    timescale: int
    duration: int  # mdhd, in timescale units
    edit_s: float | None  # the edit list's length, seconds
    rate: int | None
    channels: int | None
    bits: int | None
    codec: str | None
    last_chunk: int  # largest chunk offset (stco/co64)


def mp4_info(read_at: ReadAt, size: int) -> HeaderInfo | None:
    top = list(_boxes(read_at, 0, size))
    moov = next(((b, e) for k, b, e, _ in top if k == b"moov"), None)
    if moov is None:
        return None
    mvhd = _child(read_at, *moov, b"mvhd")
    if mvhd is None:
        return None
    raw = read_at(mvhd[0], 32)
    if raw[:1] == b"\x01":
        movie_scale, movie_len = struct.unpack(">IQ", raw[20:32])
    else:
        movie_scale, movie_len = struct.unpack(">II", raw[12:20])
    if movie_scale == 0:
        return None
    sound = _sound_track(read_at, moov, movie_scale)
    # A video keeps its container name: only its sound is ever sent, after transcoding.
    kind = "mp4" if _has_video(read_at, moov) else "m4a"
    if sound is None:
        # No sound track found (or one we cannot read): only a decoder can say "no audio".
        return HeaderInfo(kind, None, None, None, None, None)
    mvex = _child(read_at, *moov, b"mvex")
    cut_short = any(declared > size for k, _, _, declared in top if k in (b"mdat", b"moof"))
    cut_short = cut_short or sound.last_chunk >= size
    variant = None
    if mvex is not None:
        variant = "fragmented"
        duration = _fragmented_duration(read_at, top, mvex, sound, movie_scale, movie_len)
    elif sound.edit_s is not None:
        duration = sound.edit_s
    elif sound.timescale:
        duration = sound.duration / sound.timescale
    else:
        duration = movie_len / movie_scale
    facts = (sound.rate, sound.channels, sound.bits, sound.codec)
    if cut_short and duration:
        # The header's length is what was planned; what is there needs decoding to know.
        present = duration * _present_share(top, size)
        if is_short(present, duration):
            return HeaderInfo(
                kind, present, *facts, estimated=True, claimed_s=duration, variant=variant
            )
    return HeaderInfo(kind, duration, *facts, variant=variant)


def _has_video(read_at: ReadAt, moov: tuple[int, int]) -> bool:
    for kind, body, stop, _ in _boxes(read_at, *moov):
        hdlr = _path(read_at, (body, stop), b"mdia", b"hdlr") if kind == b"trak" else None
        if hdlr is not None and read_at(hdlr[0] + 8, 4) == b"vide":
            return True
    return False


def _present_share(top: list[tuple[bytes, int, int, int]], size: int) -> float:
    """The share of the media data (mdat bytes) present in the file."""
    declared = sum(d - b for k, b, _, d in top if k == b"mdat")
    present = sum(min(d, size) - b for k, b, _, d in top if k == b"mdat")
    return max(0.0, min(1.0, present / declared)) if declared > 0 else 0.0


def _sound_track(read_at: ReadAt, moov: tuple[int, int], movie_scale: int) -> _Sound | None:
    for kind, body, stop, _ in _boxes(read_at, *moov):
        if kind != b"trak":
            continue
        mdia = _child(read_at, body, stop, b"mdia")
        hdlr = mdia and _child(read_at, *mdia, b"hdlr")
        if not mdia or not hdlr or read_at(hdlr[0] + 8, 4) != b"soun":
            continue
        tkhd = _child(read_at, body, stop, b"tkhd")
        track_id = 0
        if tkhd:
            t = read_at(tkhd[0], 24)
            track_id = struct.unpack(">I", t[20:24] if t[:1] == b"\x01" else t[12:16])[0]
        mdhd = _child(read_at, *mdia, b"mdhd")
        scale = length = 0
        if mdhd:
            m = read_at(mdhd[0], 32)
            if m[:1] == b"\x01":
                scale, length = struct.unpack(">IQ", m[20:32])
            else:
                scale, length = struct.unpack(">II", m[12:20])
        stbl = _path(read_at, mdia, b"minf", b"stbl")
        rate, channels, bits, codec = _sample_entry(read_at, stbl)
        return _Sound(
            track_id,
            scale,
            length,
            _edit_seconds(read_at, (body, stop), movie_scale),
            rate,
            channels,
            bits,
            codec,
            _last_chunk(read_at, stbl),
        )
    return None


def _sample_entry(
    read_at: ReadAt, stbl: tuple[int, int] | None
) -> tuple[int | None, int | None, int | None, str | None]:
    stsd = _path(read_at, stbl, b"stsd")
    entry = read_at(stsd[0] + 8, 36) if stsd else b""  # skip version/flags and entry count
    if len(entry) < 36:
        return None, None, None, None
    fourcc = entry[4:8].decode("latin-1")
    channels, bits = struct.unpack(">HH", entry[24:28])
    rate = struct.unpack(">I", entry[32:36])[0] >> 16
    codec = {"mp4a": "aac", "alac": "alac", "Opus": "opus", "fLaC": "flac"}.get(fourcc, fourcc)
    if codec == "aac":
        channels = 0  # the sample entry says 2 for any AAC; the truth is deeper, in esds
    return rate or None, channels or None, bits or None, codec


def _edit_seconds(read_at: ReadAt, trak: tuple[int, int], movie_scale: int) -> float | None:
    """Length of the track's edit list (movie timescale), None without a usable one."""
    elst = _path(read_at, trak, b"edts", b"elst")
    if elst is None:
        return None
    head = read_at(elst[0], 8)
    if len(head) < 8:
        return None
    wide = head[0] == 1
    count = min(struct.unpack(">I", head[4:8])[0], 1000)
    step = 20 if wide else 12
    raw = read_at(elst[0] + 8, count * step)
    total = 0
    for i in range(len(raw) // step):
        entry = raw[i * step : (i + 1) * step]
        total += struct.unpack(">Q" if wide else ">I", entry[: 8 if wide else 4])[0]
    # Fragmented files write a 0-length edit (the length is in the fragments).
    return total / movie_scale if total > 0 else None


def _last_chunk(read_at: ReadAt, stbl: tuple[int, int] | None) -> int:
    for kind, fmt in ((b"stco", ">I"), (b"co64", ">Q")):
        box = _path(read_at, stbl, kind)
        if box is None:
            continue
        count = struct.unpack(">I", read_at(box[0] + 4, 4))[0]
        width = struct.calcsize(fmt)
        if count == 0:
            return 0
        return int(struct.unpack(fmt, read_at(box[0] + 8 + (count - 1) * width, width))[0])
    return 0


def _fragmented_duration(
    read_at: ReadAt,
    top: list[tuple[bytes, int, int, int]],
    mvex: tuple[int, int],
    sound: _Sound,
    movie_scale: int,
    movie_len: int,
) -> float | None:
    mehd = _child(read_at, *mvex, b"mehd")
    if mehd is not None:
        m = read_at(mehd[0], 12)
        length = int.from_bytes(m[4:12] if m[:1] == b"\x01" else m[4:8], "big")
        if length:
            return float(length) / movie_scale
    default = 0
    for kind, body, _stop, _ in _boxes(read_at, *mvex):
        t = read_at(body, 24) if kind == b"trex" else b""
        if len(t) >= 24 and struct.unpack(">I", t[4:8])[0] == sound.track_id:
            default = struct.unpack(">I", t[12:16])[0]
    ticks = sound.duration  # samples in moov itself, if any
    for kind, body, stop, _ in top:
        if kind == b"moof":
            ticks += _moof_ticks(read_at, body, stop, sound.track_id, default)
    if ticks and sound.timescale:
        return ticks / sound.timescale
    return movie_len / movie_scale if movie_len else None


def _moof_ticks(read_at: ReadAt, start: int, end: int, track_id: int, default: int) -> int:
    ticks = 0
    for kind, body, stop, _ in _boxes(read_at, start, end):
        if kind != b"traf":
            continue
        tfhd = _child(read_at, body, stop, b"tfhd")
        if tfhd is None:
            continue
        t = read_at(tfhd[0], 32)
        flags = int.from_bytes(t[1:4], "big")
        if struct.unpack(">I", t[4:8])[0] != track_id:
            continue
        at = 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
        sample_default = struct.unpack(">I", t[at : at + 4])[0] if flags & 0x08 else default
        for k, tb, ts, _ in _boxes(read_at, body, stop):
            if k == b"trun":
                ticks += _trun_ticks(read_at, tb, ts, sample_default)
    return ticks


def _trun_ticks(read_at: ReadAt, body: int, stop: int, default: int) -> int:
    head = read_at(body, 8)
    flags = int.from_bytes(head[1:4], "big")
    count = int.from_bytes(head[4:8], "big")
    if not flags & 0x100:
        return count * default
    at = body + 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
    step = 4 * bin(flags & 0xF00).count("1")
    raw = read_at(at, min(count * step, stop - at))
    return sum(struct.unpack(">I", raw[i : i + 4])[0] for i in range(0, len(raw) - 3, step))
