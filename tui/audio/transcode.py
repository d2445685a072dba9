"""Turn any audio (or the audio of a video) into what the API takes best: 16 kHz mono Ogg/Opus.

28 kbit/s Opus in VoIP mode keeps speech intelligible for recognition and makes 30 minutes
about 6.5 MB (a 16 kHz 16-bit WAV of the same length is 57 MB). ``-vn`` drops video streams.

The timeline is kept: a gap in the input's timestamps (an AMR phone call's DTX pauses, whose
NO_DATA/SID frames ffmpeg's decoder drops; a WebRTC recorder's missing packets) becomes silence
(``aresample=async=1``), as does a late start, instead of being closed up, which would shift every later timestamp. The
output's timestamps are then renumbered from its samples, so ffmpeg's ``-progress`` report gives
the length actually sent, to check against the source's.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

from tui.audio import ffmpeg as ff
from tui.audio.encoding import AudioFormat
from tui.audio.headers import read_header_info
from tui.audio.probe import bad_input
from tui.errors import AsrError, ErrorKind

# Chosen for speech recognition at speed (benchmarks/bench_opus_settings.py): 28 kbit/s at
# encoder complexity 0 with 60 ms frames takes ~2.7x less CPU than 24 kbit/s at complexity 5
# with 20 ms frames (~350x against ~130x real time per core on 16 kHz speech here), and is as
# close to the source by log-spectral distance (7.3 against 7.2 dB; 24 kbit/s at complexity 0
# is 7.8, 16 kbit/s 9.2, 12 kbit/s, which falls back to narrowband, 29). Opus's own guidance
# puts wideband speech at 16-20 kbit/s; the extra bits pay back what the fast encoder gives up.
OPUS_BITRATE = "28k"
SAMPLE_RATE = 16000
OPUS_COMPLEXITY = "0"
OPUS_FRAME_MS = "60"
# first_pts=0: sound that starts late in a video (an empty edit, -itsoffset) keeps its offset,
# so subtitles line up with the picture.
KEEP_TIMELINE = ["-af", "aresample=async=1:first_pts=0,asetpts=N/SR/TB"]
# Every output: the first audio track only, its timeline kept, mono 16 kHz.
_MONO_16K = [
    "-vn",
    "-sn",
    "-dn",
    "-map",
    "0:a:0",
    *KEEP_TIMELINE,
    "-ac",
    "1",
    "-ar",
    str(SAMPLE_RATE),
]
OPUS_ARGS = [
    *_MONO_16K,
    "-c:a",
    "libopus",
    "-b:a",
    OPUS_BITRATE,
    "-application",
    "voip",
    "-compression_level",
    OPUS_COMPLEXITY,
    "-frame_duration",
    OPUS_FRAME_MS,
]
# Used for split parts when compression is off: lossless, still mono 16 kHz to stay small.
WAV_ARGS = [*_MONO_16K, "-c:a", "pcm_s16le"]

_PCM_SAMPLE_FORMATS = {8: "u8", 16: "s16le", 24: "s24le", 32: "s32le"}
_OUT_TIME = re.compile(r"^out_time=(\d+):(\d{2}):(\d{2}(?:\.\d+)?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Converted:
    """A file ffmpeg wrote, and how long it is as written (None if ffmpeg did not say)."""

    path: Path
    sent_s: float | None


def input_args(path: Path, pcm: AudioFormat | None = None) -> list[str]:
    """``-i`` for ``path``; raw PCM first needs its layout spelled out."""
    args: list[str] = []
    if pcm is not None and pcm.type == "pcm":
        sample_fmt = _PCM_SAMPLE_FORMATS.get(pcm.bits or 16)
        if sample_fmt is None or not pcm.rate or not pcm.channel:
            raise AsrError(
                ErrorKind.BAD_INPUT,
                f"{path.name}: raw PCM needs a rate, 8/16/24/32 bits and a channel count.",
            )
        args += ["-f", sample_fmt, "-ar", str(pcm.rate), "-ac", str(pcm.channel)]
    return [*args, "-i", str(path.resolve())]


async def to_opus(
    ffmpeg: str,
    src: Path,
    dst: Path,
    *,
    pcm: AudioFormat | None = None,
    cancel: asyncio.Event | None = None,
) -> Path:
    """Transcode ``src`` to ``dst`` (.ogg). BAD_INPUT with ffmpeg's reason when it cannot."""
    return (await encode_opus(ffmpeg, src, dst, pcm=pcm, cancel=cancel)).path


async def encode_opus(
    ffmpeg: str,
    src: Path,
    dst: Path,
    *,
    pcm: AudioFormat | None = None,
    cancel: asyncio.Event | None = None,
) -> Converted:
    """``to_opus``, also saying how long the written file is."""
    return await convert(
        ffmpeg, src, [*input_args(src, pcm), *OPUS_ARGS, "-f", "ogg"], dst, cancel=cancel
    )


async def convert(
    ffmpeg: str, src: Path, args: list[str], dst: Path, *, cancel: asyncio.Event | None = None
) -> Converted:
    """One ffmpeg run writing ``dst`` from ``src`` (``args`` hold its input and output options).

    BAD_INPUT naming ``src`` with ffmpeg's reason when it fails or writes nothing.
    """
    res = await ff.run(
        ffmpeg,
        ["-y", "-loglevel", "error", "-nostats", *args, "-progress", "pipe:1", str(dst)],
        cancel=cancel,
    )
    if res.returncode != 0 or not output_ok(dst):
        raise bad_input(src, transcode_failure(res.stderr, res.returncode))
    # The written header counts the samples exactly (Opus granules less pre-skip, WAV data);
    # ffmpeg's report also counts the encoder's look-ahead, so it is only the fallback.
    written = await asyncio.to_thread(read_header_info, dst)
    if written is not None and written.duration_s is not None and not written.estimated:
        return Converted(dst, written.duration_s)
    return Converted(dst, sent_seconds(res.stdout.decode("ascii", errors="replace")))


def sent_seconds(progress: str) -> float | None:
    """The output length from ffmpeg's ``-progress`` report (its last ``out_time``)."""
    times = _OUT_TIME.findall(progress)
    if not times:
        return None
    h, m, s = times[-1]
    return int(h) * 3600 + int(m) * 60 + float(s)


def output_ok(path: Path) -> bool:
    """ffmpeg wrote a non-empty file (a stat, cheap enough to do on the event loop)."""
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def transcode_failure(stderr: str, returncode: int) -> str:
    if "matches no streams" in stderr or "does not contain any stream" in stderr:
        return "contains no audio stream."
    if "No space left on device" in stderr:
        # Not the file's fault: the converted copy goes to the cache folder.
        return (
            "could not be converted because the disk holding the cache folder is full. "
            "Free some space and try again."
        )
    if "Unknown encoder" in stderr or ("libopus" in stderr and "not found" in stderr.lower()):
        return (
            "this ffmpeg has no Opus encoder (libopus); install a full ffmpeg build "
            "(`apt install ffmpeg`, `brew install ffmpeg`, or `pip install "
            "'stepfun-asr[ffmpeg]'`)."
        )
    detail = ff.reason_from(stderr) or f"ffmpeg exit code {returncode}"
    return (
        f"ffmpeg could not convert it ({detail}). The file may be damaged or not an "
        "audio/video file."
    )
