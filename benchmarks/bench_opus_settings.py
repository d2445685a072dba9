"""Opus settings for speech recognition: encode speed, size, and distance from the source.

No ASR model runs here, so accuracy is judged by a proxy: the log-spectral distance (LSD, dB)
between the source and the decoded Opus over speech frames (0-8 kHz, 32 ms windows). The
settings in ``tui.audio.transcode`` must be no further from the source than the ones they
replaced (24 kbit/s, complexity 5, 20 ms frames) while encoding much faster.

    python benchmarks/bench_opus_settings.py [FILE.wav]   # needs numpy; default: the
                                                           # 4-minute speech of bench_time_to_transcript
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import numpy as np
except ImportError:  # a benchmark-only need
    raise SystemExit("needs numpy: pip install numpy") from None

REPO = Path(__file__).resolve().parent.parent

# (bitrate, complexity, frame ms)
SETTINGS = [
    ("24k", 5, 20),  # the settings before issue 15
    ("24k", 0, 20),
    ("24k", 0, 60),
    ("28k", 0, 60),  # chosen
    ("32k", 0, 60),
    ("20k", 0, 60),
    ("16k", 0, 60),
    ("12k", 0, 60),
]


def pcm(path: Path) -> np.ndarray:
    raw = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-t",
            "120",
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.int16).astype(np.float64)


def spectrum(x: np.ndarray) -> np.ndarray:
    n, hop = 512, 160
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop] * np.hanning(n)
    return np.asarray(20 * np.log10(np.abs(np.fft.rfft(frames)) + 1e-3))


def lsd(ref: np.ndarray, out: np.ndarray) -> float:
    m = min(len(ref), len(out))
    a, b = spectrum(ref[:m]), spectrum(out[:m])
    speech = a.max(axis=1) > a.max() - 50
    return float(np.sqrt(((a[speech] - b[speech]) ** 2).mean(axis=1)).mean())


def main() -> None:
    if len(sys.argv) > 1:
        src = Path(sys.argv[1])
    else:
        sys.path.insert(0, str(REPO))
        from benchmarks.bench_time_to_transcript import make_audio

        src = make_audio(Path(tempfile.gettempdir()) / "stepfun-asr-bench-audio", 4.0)[0]
    ref = pcm(src)
    total_s = float(
        subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "csv=p=0",
                str(src),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    print(f"{src.name}: {len(ref) / 16000:.0f} s compared (the first 120 s)")
    print(
        f"{'bitrate':>8}{'cplx':>6}{'frame':>7}{'encode s':>10}{'x real':>8}{'KB':>8}{'LSD dB':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for rate, complexity, frame in SETTINGS:
            out = Path(tmp) / f"{rate}_{complexity}_{frame}.ogg"
            start = time.perf_counter()
            subprocess.run(
                [
                    "ffmpeg",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-y",
                    "-i",
                    str(src),
                    "-af",
                    "aresample=async=1:first_pts=0,asetpts=N/SR/TB",
                    "-ac",
                    "1",
                    "-ar",
                    "16000",
                    "-c:a",
                    "libopus",
                    "-b:a",
                    rate,
                    "-application",
                    "voip",
                    "-compression_level",
                    str(complexity),
                    "-frame_duration",
                    str(frame),
                    str(out),
                ],
                check=True,
            )
            took = time.perf_counter() - start
            print(
                f"{rate:>8}{complexity:>6}{frame:>5}ms{took:>10.2f}{total_s / took:>8.0f}"
                f"{out.stat().st_size / 1000:>8.0f}{lsd(ref, pcm(out)):>8.2f}"
            )


if __name__ == "__main__":
    main()
