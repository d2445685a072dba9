"""Know a file's duration (and that it holds audio at all) before anything is sent.

Order: container headers (exact, no subprocess), then ffprobe, then ffmpeg's ``Duration:`` line,
then, for streams that do not record a duration (browser WebM), a full decode to the last
``time=``. Raw PCM has no header: its duration follows from size and the declared layout.
Every failure is an ``AsrError(BAD_INPUT, "<file>: ...")`` that says what to do.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path

from tui.audio import ffmpeg as ff
from tui.audio.headers import read_header_info
from tui.stepfun.errors import AsrError, ErrorKind
from tui.stepfun.options import AudioFormat

_DURATION = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_TIME = re.compile(r"time=\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_AUDIO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Audio: ([^\s,]+)(?:.*?, (\d+) Hz)?")


@dataclass(frozen=True)
class ProbeResult:
    duration_s: float
    source: str  # "header", "ffprobe", "ffmpeg", "decode" or "pcm"
    sample_rate: int | None = None
    channels: int | None = None
    bits: int | None = None
    codec: str | None = None


def bad_input(path: Path, why: str) -> AsrError:
    return AsrError(ErrorKind.BAD_INPUT, f"{path.name}: {why}")


def check_readable(path: Path) -> int:
    """File size; BAD_INPUT for a missing, unreadable, empty or non-regular file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise bad_input(path, "file not found.") from None
    except OSError as exc:
        raise bad_input(path, f"cannot read it ({exc.strerror}).") from None
    if not path.is_file():
        raise bad_input(path, "not a regular file.")
    if st.st_size == 0:
        raise bad_input(path, "the file is empty (0 bytes); was the recording or copy "
                        "interrupted?")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise bad_input(path, f"cannot read it ({exc.strerror}); check its permissions.") from None
    return st.st_size


def pcm_duration(size: int, fmt: AudioFormat) -> float:
    if not (fmt.rate and fmt.bits and fmt.channel):
        raise AsrError(ErrorKind.BAD_INPUT, "Raw PCM needs a sample rate, bit depth and channel "
                       "count (e.g. --rate 16000 --bits 16 --channels 1).")
    return size / (fmt.rate * fmt.bits / 8 * fmt.channel)


async def probe(
    path: Path,
    *,
    ffmpeg: str | None,
    pcm: AudioFormat | None = None,
    cancel: asyncio.Event | None = None,
) -> ProbeResult:
    size = check_readable(path)
    if pcm is not None and pcm.type == "pcm":
        return ProbeResult(pcm_duration(size, pcm), "pcm", pcm.rate, pcm.channel, pcm.bits,
                           pcm.codec or "pcm_s16le")
    header = await asyncio.to_thread(read_header_info, path)
    # An MP4 header with no audio codec found may be a video without sound: ask ffmpeg.
    trusted = header is not None and (header.codec is not None or header.format != "m4a")
    if header is not None and trusted and header.duration_s is not None and header.duration_s > 0:
        return ProbeResult(header.duration_s, "header", header.sample_rate, header.channels,
                           header.bits, header.codec)
    if ffmpeg is None:
        raise bad_input(path, "no readable WAV/MP3/Ogg/FLAC/M4A header, so it is damaged or "
                        "in a format that needs ffmpeg. " + ff.FFMPEG_HELP)
    ffprobe = ff.find_ffprobe(ffmpeg)
    if ffprobe is not None:
        found = await _ffprobe(ffprobe, path, cancel)
        if found is not None:
            return found
    return await ffmpeg_probe(ffmpeg, path, cancel)


async def _ffprobe(exe: str, path: Path, cancel: asyncio.Event | None) -> ProbeResult | None:
    res = await ff.run(exe, ["-v", "error", "-show_entries",
                             "format=duration:stream=codec_type,codec_name,sample_rate,channels",
                             "-of", "json", "-i", _arg(path)], cancel=cancel, is_ffmpeg=False)
    if res.returncode != 0:
        raise bad_input(path, _unreadable(res.reason()))
    try:
        data = json.loads(res.stdout.decode("utf-8", errors="replace") or "{}")
    except ValueError:
        return None  # let the ffmpeg path decide
    streams = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise bad_input(path, "contains no audio stream.")
    stream = streams[0]
    try:
        duration = float(data.get("format", {}).get("duration", "nan"))
    except (TypeError, ValueError):
        duration = float("nan")
    if not duration > 0:  # also NaN: a stream that records no duration
        return None
    rate = stream.get("sample_rate")
    return ProbeResult(duration, "ffprobe", int(rate) if rate else None,
                       stream.get("channels"), None, stream.get("codec_name"))


async def ffmpeg_probe(exe: str, path: Path, cancel: asyncio.Event | None = None
                       ) -> ProbeResult:
    """Duration from ffmpeg alone (the bundled imageio-ffmpeg has no ffprobe)."""
    # Without an output ffmpeg exits 1 by design; the facts are on stderr.
    res = await ff.run(exe, ["-i", _arg(path)], cancel=cancel)
    stream = _AUDIO_STREAM.search(res.stderr)
    if stream is None:
        if "Stream #" in res.stderr:
            raise bad_input(path, "contains no audio stream.")
        raise bad_input(path, _unreadable(res.reason()))
    codec = stream.group(1)
    rate = int(stream.group(2)) if stream.group(2) else None
    match = _DURATION.search(res.stderr)
    if match:
        duration = _seconds(match)
        if duration > 0:
            return ProbeResult(duration, "ffmpeg", rate, None, None, codec)
    # No duration in the container: decode it all (fast for audio) and take the last time=.
    res = await ff.run(exe, ["-i", _arg(path), "-vn", "-f", "null", "-"], cancel=cancel)
    times = list(_TIME.finditer(res.stderr))
    if res.returncode != 0 or not times or _seconds(times[-1]) <= 0:
        raise bad_input(path, _unreadable(res.reason()))
    return ProbeResult(_seconds(times[-1]), "decode", rate, None, None, codec)


def _arg(path: Path) -> str:
    """Absolute, so a name like "-x.wav" or "a:b.wav" is not read as an option or protocol."""
    return str(path.resolve())


def _seconds(match: re.Match[str]) -> float:
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3))


def _unreadable(detail: str) -> str:
    return (f"not readable as audio ({detail}). The file may be damaged, still being written, "
            "or not an audio/video file.")
