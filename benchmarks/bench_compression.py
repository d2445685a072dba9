"""Bytes sent per audio minute with and without compression, and what compressing costs in time.

Makes a long 16 kHz mono WAV of synthetic speech (espeak-ng, looped with sox; tone + noise
when espeak-ng is missing), then measures the request body the client would send (base64 of
the file plus the JSON envelope, ``StreamedBody.content_length``) for the WAV as it is and
after the pipeline's Opus transcode, and the wall time of that transcode.

    /work/venv/bin/python benchmarks/bench_compression.py [--minutes 10] [--compare]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tui.audio import ffmpeg as ff
from tui.audio.encoding import AudioFormat
from tui.audio.ffmpeg import require_ffmpeg
from tui.audio.headers import read_header_info
from tui.audio.transcode import OPUS_ARGS, OPUS_BITRATE, to_opus
from tui.stepfun.options import TranscriptionOptions
from tui.stepfun.request import StreamedBody

TEXT = (
    "Good morning and welcome to the weekly review. Today we will look at the audio pipeline, "
    "the subtitle exporter and the cost report. Long recordings are converted to a small "
    "Opus file before they are sent, and anything longer than twenty five minutes is split "
    "at a natural pause. Each part is transcribed on its own and the results are joined in "
    "order, with the timestamps shifted so that the subtitles line up with the original file. "
    "Questions are welcome at the end of the session."
)


def make_speech_wav(path: Path, minutes: float, work: Path) -> str:
    """A 16 kHz mono 16-bit WAV of ``minutes``; returns what it is made of."""
    seconds = minutes * 60
    if shutil.which("espeak-ng") and shutil.which("sox"):
        clip = work / "clip.wav"
        subprocess.run(
            ["espeak-ng", "-s", "160", "-w", str(clip), TEXT], check=True, capture_output=True
        )
        info = read_header_info(clip)
        clip_s = info.duration_s if info and info.duration_s else 30.0
        repeats = max(0, int(seconds // (clip_s + 0.5)))
        # 0.5 s pauses between sentences, as in a talk.
        subprocess.run(
            [
                "sox",
                str(clip),
                "-r",
                "16000",
                "-c",
                "1",
                "-b",
                "16",
                str(path),
                "pad",
                "0",
                "0.5",
                "repeat",
                str(repeats),
                "trim",
                "0",
                str(seconds),
            ],
            check=True,
            capture_output=True,
        )
        return "espeak-ng speech (looped), 16 kHz mono"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            "220",
            "whitenoise",
            "vol",
            "0.3",
        ],
        check=True,
        capture_output=True,
    )
    return "tone + noise, 16 kHz mono"


def body_bytes(path: Path, fmt: str) -> int:
    return StreamedBody(path, TranscriptionOptions(), AudioFormat(fmt)).content_length


async def opus_at_complexity(ffmpeg: str, src: Path, dst: Path, level: str) -> float:
    args = list(OPUS_ARGS)
    args[args.index("-compression_level") + 1] = level
    start = time.perf_counter()
    res = await ff.run(ffmpeg, ["-y", "-loglevel", "error", "-i", str(src), *args, str(dst)])
    assert res.returncode == 0, res.reason()
    return time.perf_counter() - start


async def main(minutes: float, compare: bool) -> None:
    ffmpeg = require_ffmpeg(None)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wav = work / "speech.wav"
        made = make_speech_wav(wav, minutes, work)
        info = read_header_info(wav)
        assert info is not None and info.duration_s
        audio_min = info.duration_s / 60
        start = time.perf_counter()
        ogg = await to_opus(ffmpeg, wav, work / "speech.ogg")
        took = time.perf_counter() - start
        rows = [
            ("WAV as is", wav.stat().st_size, body_bytes(wav, "wav"), 0.0),
            (f"Opus {OPUS_BITRATE} (pipeline)", ogg.stat().st_size, body_bytes(ogg, "ogg"), took),
        ]
        if compare:  # the encoder's default complexity, for the record
            slow = work / "c10.ogg"
            secs = await opus_at_complexity(ffmpeg, wav, slow, "10")
            rows.append(
                (
                    f"Opus {OPUS_BITRATE} complexity 10",
                    slow.stat().st_size,
                    body_bytes(slow, "ogg"),
                    secs,
                )
            )
        print(f"input: {audio_min:.1f} min of {made}")
        print(
            f"{'variant':<24}{'file MB':>9}{'body MB':>9}{'body KB/min':>13}"
            f"{'transcode s':>13}{'x realtime':>12}"
        )
        for name, size, body, secs in rows:
            speed = f"{info.duration_s / secs:.0f}x" if secs else "-"
            print(
                f"{name:<24}{size / 1e6:>9.2f}{body / 1e6:>9.2f}{body / 1e3 / audio_min:>13.1f}"
                f"{secs:>13.2f}{speed:>12}"
            )
        print(f"reduction: {rows[0][2] / rows[1][2]:.1f}x fewer bytes sent")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also time Opus at the encoder's default complexity (10)",
    )
    ns = parser.parse_args()
    asyncio.run(main(ns.minutes, ns.compare))
