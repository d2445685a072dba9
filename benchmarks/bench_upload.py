"""Upload memory and time: the streaming client against a naive client, same file, same run.

Generates a WAV of the requested size, starts the emulator in its own process, then runs each
variant in a fresh process (so each peak RSS is its own) and prints a table.

    python benchmarks/bench_upload.py            # 60 MB
    python benchmarks/bench_upload.py --mb 20
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import asyncio, base64, json, resource, sys, time
from pathlib import Path
import httpx

mode, path, base, key = sys.argv[1:5]

async def streaming() -> int:
    from tui.stepfun.client import AsrClient
    from tui.stepfun.options import AudioInput, TranscriptionOptions
    from tui.audio.encoding import AudioFormat
    async with AsrClient(key, base) as client:
        text, *_ = await client.transcribe(AudioInput(path, AudioFormat("wav")),
                                           TranscriptionOptions())
    return len(text)

async def naive() -> int:
    # What most scripts do: whole file, one base64 string, json.dumps, one POST.
    data = Path(path).read_bytes()
    body = json.dumps({"audio": {"data": base64.b64encode(data).decode(), "input": {
        "transcription": {"model": "stepaudio-2.5-asr"}, "format": {"type": "wav"}}}})
    async with httpx.AsyncClient(timeout=300) as client:
        r = await client.post(f"{base}/audio/asr/sse", content=body.encode(),
                              headers={"Authorization": f"Bearer {key}",
                                       "Content-Type": "application/json"})
        return len(r.text)

started = time.perf_counter()
out = asyncio.run(streaming() if mode == "streaming" else naive())
elapsed = time.perf_counter() - started
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"mode": mode, "wall_s": elapsed, "peak_rss_mb": peak_mb, "chars": out}))
"""

BASELINE = r"""
import resource, json, httpx, asyncio
import tui.stepfun.client
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_wav(path: Path, megabytes: float) -> float:
    import math
    import struct
    import wave

    rate = 16000
    frames = int(megabytes * 1024 * 1024 / 2)
    period = [
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / rate)))
        for i in range(rate // 220 * 220)
    ]
    one_second = b"".join(period[i % len(period)] for i in range(rate))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        written = 0
        while written < frames:
            n = min(rate, frames - written)
            w.writeframes(one_second[: n * 2])
            written += n
    return frames / rate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "long.wav"
        seconds = make_wav(wav, args.mb)
        port = free_port()
        key = "bench-" + os.urandom(6).hex()
        emu = subprocess.Popen(
            [sys.executable, "-m", "tui", "emulator", "--port", str(port), "--key", key],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.1)
            base = f"http://127.0.0.1:{port}/v1"
            idle = json.loads(
                subprocess.run(
                    [sys.executable, "-c", BASELINE],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            rows = []
            for _ in range(args.runs):
                for mode in ("naive", "streaming"):
                    done = subprocess.run(
                        [sys.executable, "-c", CHILD, mode, str(wav), base, key],
                        env=env,
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        finally:
            emu.terminate()
            emu.wait(10)
    size_mb = wav_size_mb = args.mb
    print(f"file: {wav_size_mb:.0f} MB WAV ({seconds / 60:.1f} min of 16 kHz mono audio)")
    print(f"imports alone (httpx + client): peak RSS {idle['peak_rss_mb']:.0f} MB")
    print(f"{'variant':<12}{'wall s':>9}{'peak RSS MB':>14}{'RSS over imports':>18}")
    for row in rows:
        over = row["peak_rss_mb"] - idle["peak_rss_mb"]
        print(f"{row['mode']:<12}{row['wall_s']:>9.2f}{row['peak_rss_mb']:>14.0f}{over:>18.0f}")
    naive = [r for r in rows if r["mode"] == "naive"]
    stream = [r for r in rows if r["mode"] == "streaming"]
    if naive and stream:
        ratio = (naive[-1]["peak_rss_mb"] - idle["peak_rss_mb"]) / max(
            1.0, stream[-1]["peak_rss_mb"] - idle["peak_rss_mb"]
        )
        print(f"memory above imports, naive / streaming: {ratio:.0f}x  (file {size_mb:.0f} MB)")


if __name__ == "__main__":
    main()
