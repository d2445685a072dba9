"""Header-only facts for Ogg: every logical stream, by walking the page headers.

A chained Ogg (a stream dump, a restarted recorder, ``cat a.opus b.opus``) holds several logical
streams one after another; many decoders stop at the end of the first, and the tail-granule
shortcut reads only the last. Walking the pages (27 bytes + lacing each, ~1-8 KB apart) costs a
few milliseconds per megabyte and sees them all: the duration is the sum of the links.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from tui.audio.header_info import HeaderInfo, ReadAt

_MAX_PAGES = 2_000_000
_RESYNC = 65_536  # look this far for the next "OggS" after a damaged page


@dataclass
class _Stream:
    codec: str | None
    rate: int | None
    channels: int | None
    divisor: int
    skip: int
    last_granule: int = -1


def _page(read_at: ReadAt, pos: int) -> tuple[int, int, int, int, bytes] | None:
    """(flags, granule, serial, page length, first packet's start) of the page at ``pos``."""
    hdr = read_at(pos, 27)
    if len(hdr) < 27 or hdr[:4] != b"OggS" or hdr[4] != 0:
        return None
    flags = hdr[5]
    granule, serial = struct.unpack("<qI", hdr[6:18])
    nseg = hdr[26]
    lacing = read_at(pos + 27, nseg)
    if len(lacing) < nseg:
        return None
    body = read_at(pos + 27 + nseg, 64) if flags & 2 else b""  # only BOS pages are read
    return flags, granule, serial, 27 + nseg + sum(lacing), body


def _ident(body: bytes) -> _Stream | None:
    if body[:8] == b"OpusHead" and len(body) >= 19:
        channels, pre_skip = body[9], struct.unpack("<H", body[10:12])[0]
        # Opus always decodes at 48 kHz; the input rate in the header is informational.
        return _Stream("opus", 48000, channels or None, 48000, pre_skip)
    if body[:7] == b"\x01vorbis" and len(body) >= 16:
        rate = struct.unpack("<I", body[12:16])[0]
        return _Stream("vorbis", rate, body[11] or None, rate, 0)
    if body[:5] == b"\x7fFLAC" and len(body) >= 9 + 8 + 34:
        packed = int.from_bytes(body[27:35], "big")
        rate, channels = packed >> 44, ((packed >> 41) & 0x7) + 1
        return _Stream("flac", rate, channels, rate, 0)
    if body[:8] == b"Speex   " and len(body) >= 52:
        rate = struct.unpack("<I", body[36:40])[0]
        return _Stream("speex", rate, struct.unpack("<I", body[48:52])[0] or None, rate, 0)
    return None  # video (Theora), skeleton, or unknown: not audio we can time


def ogg_info(read_at: ReadAt, size: int) -> HeaderInfo | None:
    streams: dict[int, _Stream] = {}
    order: list[_Stream] = []
    others = 0  # logical streams that are not audio (Theora video, Skeleton)
    pos = 0
    for _ in range(_MAX_PAGES):
        if pos >= size:
            break
        page = _page(read_at, pos)
        if page is None:
            window = read_at(pos + 1, _RESYNC)
            found = window.find(b"OggS")
            if found < 0:
                break  # damaged or cut short: what came before stands
            pos += 1 + found
            continue
        flags, granule, serial, length, body = page
        if flags & 2:  # beginning of a logical stream
            stream = _ident(body)
            if stream is None:
                others += 1
            else:
                streams[serial] = stream
                order.append(stream)
        stream = streams.get(serial)
        if stream is not None and granule >= 0:
            stream.last_granule = granule
        pos += length
    if not order:
        return None  # no audio stream we know (or cut inside the first page): ask ffmpeg
    total = 0.0
    for s in order:
        if s.last_granule >= 0 and s.divisor:
            total += max(0.0, (s.last_granule - s.skip) / s.divisor)
    first = order[0]
    variant = "chained" if len(order) > 1 else ("multiplexed" if others else None)
    return HeaderInfo(
        "ogg",
        total if any(s.last_granule >= 0 for s in order) else None,
        first.rate,
        first.channels,
        None,
        first.codec,
        streams=len(order) + others,
        variant=variant,
    )
