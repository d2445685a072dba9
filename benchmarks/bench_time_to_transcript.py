"""Time to transcript on a modelled uplink: the seed's approach against this project.

The emulator reads request bodies at a fixed rate (``uplink_mbit``, one link shared by all
connections) and answers like a service at the seed's headline speed (0.8 s + audio / 95, the
text streamed across it). Both contenders run as fresh processes, so each figure includes
start-up and the peak RSS is that process's (and its ffmpeg children's) own:

- seed: read the whole file, base64 it, one JSON POST, read the whole answer (the seed's way);
- project: ``stepfun-asr transcribe FILE`` (its own choices: compress or not, parts, overlap).

The recordings are speech (espeak-ng sentences with pauses between them) looped to length:
a 16 kHz mono WAV and a 128 kbit/s 44.1 kHz stereo MP3 of the same audio.

    python benchmarks/bench_time_to_transcript.py            # quick: 4-minute files, 10/100 Mbit/s, 1 run
    python benchmarks/bench_time_to_transcript.py --full     # the issue's table: 20 min, 1/10/100, median of 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tui.stepfun.emulator import Emulator  # noqa: E402
from tui.stepfun.emulator.link import ServiceModel  # noqa: E402

SENTENCES = (
    "Good morning everyone, and thank you for joining the weekly review.",
    "Today we look at the audio pipeline, the subtitles and the cost report.",
    "The first question is how long a person waits for the transcript of a long meeting.",
    "On a slow connection the upload dominates, on a fast one the service does.",
    "We measured both, with the same recordings, on the same machine.",
    "Questions come at the end, so please write them down as we go.",
)

TOOLS = ("ffmpeg", "espeak-ng", "time")
SEED = r"""
import base64, json, sys, httpx
path, url, key, fmt = sys.argv[1:5]
data = base64.b64encode(open(path, "rb").read()).decode("ascii")
body = json.dumps({"audio": {"data": data, "input": {"transcription": {
    "model": "stepaudio-2.5-asr", "enable_itn": True, "enable_timestamp": True},
    "format": {"type": fmt}}}})
headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json",
           "Accept": "text/event-stream"}
text = ""
with httpx.Client(timeout=None) as c:
    with c.stream("POST", url + "/audio/asr/sse", content=body, headers=headers) as r:
        for line in r.iter_lines():
            if line.startswith("data:") and '"transcript.text.done"' in line:
                text = json.loads(line[5:])["text"]
assert text, "no transcript"
"""


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
    )


def make_audio(cache: Path, minutes: float) -> tuple[Path, Path]:
    """(wav, mp3) of ``minutes`` of looped speech, made once and cached."""
    cache.mkdir(parents=True, exist_ok=True)
    wav, mp3 = cache / f"talk_{minutes:g}min.wav", cache / f"talk_{minutes:g}min.mp3"
    if wav.exists() and mp3.exists():
        return wav, mp3
    base = cache / "talk_base.wav"
    if not base.exists():
        parts = []
        for i, sentence in enumerate(SENTENCES):
            part = cache / f"s{i}.wav"
            subprocess.run(["espeak-ng", "-s", "150", "-w", str(part), sentence], check=True)
            parts.append(part)
        inputs = [a for p in parts for a in ("-i", str(p))]
        pads = ";".join(f"[{i}]aresample=16000,apad=pad_dur=0.9[a{i}]" for i in range(len(parts)))
        joined = "".join(f"[a{i}]" for i in range(len(parts)))
        graph = f"{pads};{joined}concat=n={len(parts)}:v=0:a=1[out]"
        ffmpeg(*inputs, "-filter_complex", graph, "-map", "[out]", "-ac", "1", str(base))
    seconds = str(minutes * 60)
    loop = ["-stream_loop", "-1", "-i", str(base), "-t", seconds]
    ffmpeg(*loop, "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(wav))
    ffmpeg(*loop, "-ac", "2", "-ar", "44100", "-c:a", "libmp3lame", "-b:a", "128k", str(mp3))
    return wav, mp3


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process and its own children.

    The RSS comes from /usr/bin/time, a small process: a child forked straight from this one
    (which holds the emulator and its request bodies) would count this process's pages too.
    """
    timer = shutil.which("time") or "/usr/bin/time"
    start = time.monotonic()
    proc = subprocess.run(
        [timer, "-f", "%M", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    elapsed = time.monotonic() - start
    err = proc.stderr.decode(errors="replace").strip()
    if proc.returncode != 0:
        raise SystemExit(f"{args[1:3]} failed ({proc.returncode}): {err[-600:]}")
    return elapsed, int(err.splitlines()[-1]) / 1024


def measure(
    path: Path, mbit: float, runs: int, home: Path, parts_at_once: int | None
) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    fmt = path.suffix.lstrip(".")
    with Emulator(uplink_mbit=mbit, service=ServiceModel()) as emu:
        env = dict(os.environ, PYTHONPATH=str(REPO), STEPFUN_API_KEY=emu.demo_key)
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            env[var] = str(home / var.lower())
        env["STEPFUN_ASR_CONFIG"] = str(home / "config.toml")
        if parts_at_once is not None:
            (home / "config.toml").write_text(f"chunk_parallelism = {parts_at_once}\n")
        contenders = {
            "seed": [sys.executable, "-c", SEED, str(path), emu.base_url, emu.demo_key, fmt],
            "project": [
                sys.executable,
                "-m",
                "tui",
                "transcribe",
                "-q",
                "--base-url",
                emu.base_url,
                str(path),
            ],
        }
        for name, args in contenders.items():
            times, rss = [], []
            for _ in range(runs):
                t, r = run_child(args, env)
                times.append(t)
                rss.append(r)
            out[name] = (statistics.median(times), max(rss))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="20-minute files, 1/10/100 Mbit/s, 3 runs")
    ap.add_argument("--minutes", type=float, help="recording length (default 4; --full 20)")
    ap.add_argument("--mbit", type=float, action="append", help="uplink rates (repeatable)")
    ap.add_argument("--runs", type=int, help="runs per figure, the median shown (quick 1, full 3)")
    ap.add_argument("--only", choices=("wav", "mp3"), help="one of the two recordings")
    ap.add_argument(
        "--parts-at-once", type=int, help="the project's chunk_parallelism (default: its own)"
    )
    args = ap.parse_args()
    if not all(shutil.which(t) or os.path.exists(f"/usr/bin/{t}") for t in TOOLS):
        raise SystemExit(f"needs {', '.join(TOOLS)} on PATH")
    minutes = args.minutes or (20.0 if args.full else 4.0)
    rates = args.mbit or ([1.0, 10.0, 100.0] if args.full else [10.0, 100.0])
    runs = args.runs or (3 if args.full else 1)
    cache = Path(tempfile.gettempdir()) / "stepfun-asr-bench-audio"
    wav, mp3 = make_audio(cache, minutes)
    files = [f for f in (wav, mp3) if args.only in (None, f.suffix[1:])]
    print(f"{minutes:g}-minute recordings, median of {runs}, service 0.8 s + audio/95")
    print(f"  wav {wav.stat().st_size / 1e6:.1f} MB, mp3 {mp3.stat().st_size / 1e6:.1f} MB")
    print(f"{'case':<22}{'seed s':>9}{'project s':>11}{'ratio':>8}{'seed MB':>9}{'proj MB':>9}")
    with tempfile.TemporaryDirectory() as home:
        for path in files:
            for mbit in rates:
                got = measure(path, mbit, runs, Path(home), args.parts_at_once)
                (st, sr), (pt, pr) = got["seed"], got["project"]
                case = f"{path.suffix[1:]} @ {mbit:g} Mbit/s"
                print(f"{case:<22}{st:>9.2f}{pt:>11.2f}{pt / st:>8.2f}{sr:>9.0f}{pr:>9.0f}")


if __name__ == "__main__":
    main()
