"""Know a file's duration (and that it holds audio at all) before anything is sent.

Order: container headers (no subprocess; exact when they count samples or frames), then
ffprobe, then ffmpeg's ``Duration:`` line, then, for streams that do not record a duration
(browser WebM), a full decode to the last ``time=``. Raw PCM has no header: its duration
follows from size and the declared layout.

Estimates are not trusted when ffmpeg can do better: a header that could only guess (an MP3
whose frames could not all be counted: size divided by the first frame's bitrate, exact only
for CBR, a VBR file can be 4x longer), a file shorter than its header claims (truncated), and
whatever ffmpeg says it "estimated from bitrate" (ADTS AAC: off by 25% and more) are decoded
instead. Audio decodes at ~1000-2500x real time, so that
costs about a second. Without ffmpeg an estimate is returned flagged ``estimated``, so the
caller can say so. Every failure is an ``AsrError(BAD_INPUT, "<file>: ...")`` that says what
to do, naming the file once.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from tui.audio import ffmpeg as ff
from tui.audio.encoding import AudioFormat
from tui.audio.headers import HeaderInfo, read_header_info
from tui.errors import AsrError, ErrorKind

_DURATION = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_TIME = re.compile(r"time=\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_ESTIMATED = "Estimating duration from bitrate"
# Formats whose header counts samples or frames: a 0 there is a fact, not a missing value.
_COUNTED = frozenset({"wav", "aiff", "amr"})
_AUDIO_STREAM = re.compile(r"Stream #\d+:\d+.*?: Audio: ([^\s,]+)(?:.*?, (\d+) Hz)?")


@dataclass(frozen=True)
class ProbeResult:
    """``estimated``: ``duration_s`` is a guess, not a measurement (show it as approximate).
    ``claimed_s``: the header promised this much but the file holds less (truncated).
    ``streams``/``variant``/``format``: as ``HeaderInfo`` found them (None when no header)."""

    duration_s: float
    source: str  # "header", "ffprobe", "ffmpeg", "decode" or "pcm"
    sample_rate: int | None = None
    channels: int | None = None
    bits: int | None = None
    codec: str | None = None
    estimated: bool = False
    claimed_s: float | None = None
    streams: int = 1
    variant: str | None = None
    format: str | None = None

    @property
    def truncated(self) -> bool:
        return self.claimed_s is not None


def _from_header(h: HeaderInfo, duration: float, source: str, *, estimated: bool) -> ProbeResult:
    return ProbeResult(
        duration,
        source,
        h.sample_rate,
        h.channels,
        h.bits,
        h.codec,
        estimated=estimated,
        claimed_s=h.claimed_s,
        streams=h.streams,
        variant=h.variant,
        format=h.format,
    )


def _with_header(found: ProbeResult, h: HeaderInfo | None) -> ProbeResult:
    """A result from ffprobe/ffmpeg, with what the header knew about the file's layout."""
    if h is None:
        return found
    return replace(
        found, claimed_s=h.claimed_s, streams=h.streams, variant=h.variant, format=h.format
    )


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
        raise bad_input(path, "the file is empty (0 bytes); was the recording or copy interrupted?")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise bad_input(path, f"cannot read it ({exc.strerror}); check its permissions.") from None
    return st.st_size


def pcm_duration(size: int, fmt: AudioFormat) -> float:
    if not (fmt.rate and fmt.bits and fmt.channel):
        raise AsrError(
            ErrorKind.BAD_INPUT,
            "Raw PCM needs a sample rate, bit depth and channel "
            "count (e.g. --rate 16000 --bits 16 --channel 1).",
        )
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
        return ProbeResult(
            pcm_duration(size, pcm),
            "pcm",
            pcm.rate,
            pcm.channel,
            pcm.bits,
            pcm.codec or "pcm_s16le",
        )
    header = await asyncio.to_thread(read_header_info, path)
    if header is not None and header.duration_s == 0 and header.format in _COUNTED:
        if header.claimed_s:
            raise bad_input(
                path,
                f"contains no audio samples, though its header promises {header.claimed_s:.1f} "
                "s: the file was cut short (an interrupted copy, download or recording?).",
            )
        raise bad_input(path, "contains no audio samples (0 s long).")
    if header is not None and header.duration_s is not None and header.duration_s > 0:
        if not header.estimated:
            return _from_header(header, header.duration_s, "header", estimated=False)
        if ffmpeg is not None:
            # Only a guess in the header (no frame count, or fewer bytes than it claims).
            decoded = await decode_duration(ffmpeg, path, cancel)
            if decoded is not None:
                return _from_header(header, decoded, "decode", estimated=False)
        return _from_header(header, header.duration_s, "header", estimated=True)
    if ffmpeg is None:
        if header is not None:  # a format we know, whose length only a decoder can tell
            raise bad_input(path, ff.FFMPEG_HELP)
        raise bad_input(
            path,
            "no readable WAV/MP3/Ogg/FLAC/M4A header, so it is damaged or "
            "in a format that needs ffmpeg. " + ff.FFMPEG_HELP,
        )
    ffprobe = ff.find_ffprobe(ffmpeg)
    if ffprobe is not None:
        found = await _ffprobe(ffprobe, path, cancel)
        if found is not None:
            return _with_header(found, header)
    return _with_header(await ffmpeg_probe(ffmpeg, path, cancel), header)


async def _ffprobe(exe: str, path: Path, cancel: asyncio.Event | None) -> ProbeResult | None:
    # Warnings on: ffprobe says so when its duration is only a bitrate estimate.
    res = await ff.run(
        exe,
        [
            "-v",
            "warning",
            "-show_entries",
            "format=duration:stream=codec_type,codec_name,sample_rate,channels,duration"
            ":stream_tags=DURATION",
            "-of",
            "json",
            "-i",
            _arg(path),
        ],
        cancel=cancel,
        is_ffmpeg=False,
    )
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
    # The audio stream's own length first: a video's container length is its longest track.
    duration = _float(stream.get("duration"))
    if not duration > 0:
        duration = _tag_seconds((stream.get("tags") or {}).get("DURATION"))
    if not duration > 0:
        duration = _float(data.get("format", {}).get("duration"))
    if not duration > 0 or _ESTIMATED in res.stderr:  # NaN too: no duration recorded
        return None  # ffmpeg_probe decodes it
    rate = stream.get("sample_rate")
    return ProbeResult(
        duration,
        "ffprobe",
        int(rate) if rate else None,
        stream.get("channels"),
        None,
        stream.get("codec_name"),
    )


async def ffmpeg_probe(exe: str, path: Path, cancel: asyncio.Event | None = None) -> ProbeResult:
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
    stated = _seconds(match) if match else 0.0
    if stated > 0 and _ESTIMATED not in res.stderr:
        return ProbeResult(stated, "ffmpeg", rate, None, None, codec)
    # No duration in the container, or only a guess: decode it all and take the last time=.
    res = await ff.run(exe, _decode_args(path), cancel=cancel)
    decoded = _decoded(res)
    if decoded is not None:
        return ProbeResult(decoded, "decode", rate, None, None, codec)
    if stated > 0:  # a guess beats nothing, said to be one
        return ProbeResult(stated, "ffmpeg", rate, None, None, codec, estimated=True)
    raise bad_input(path, _unreadable(res.reason()))


async def decode_duration(
    exe: str, path: Path, cancel: asyncio.Event | None = None
) -> float | None:
    """The exact duration, by decoding the audio to nowhere; None if that fails."""
    return _decoded(await ff.run(exe, _decode_args(path), cancel=cancel))


def _decode_args(path: Path) -> list[str]:
    return ["-i", _arg(path), "-vn", "-map", "0:a:0", "-f", "null", "-"]


def _decoded(res: ff.RunResult) -> float | None:
    times = list(_TIME.finditer(res.stderr))
    if res.returncode != 0 or not times or _seconds(times[-1]) <= 0:
        return None
    return _seconds(times[-1])


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _tag_seconds(value: object) -> float:
    """Matroska's per-track ``DURATION`` tag, "HH:MM:SS.nnnnnnnnn"."""
    match = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", str(value or "").strip())
    return _seconds(match) if match else float("nan")


def _arg(path: Path) -> str:
    """Absolute, so a name like "-x.wav" or "a:b.wav" is not read as an option or protocol."""
    return str(path.resolve())


def _seconds(match: re.Match[str]) -> float:
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3))


def _unreadable(detail: str) -> str:
    return (
        f"not readable as audio ({detail}). The file may be damaged, still being written, "
        "or not an audio/video file."
    )
