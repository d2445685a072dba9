"""What the money safeguards cost and save, measured.

1. How long the confirmation dialog's estimate takes for a folder (probing every file's
   length: WAV headers, MP3 frame counts), i.e. the delay between ``t`` and the dialog.
2. How many uploads a refused key costs for a batch, with several files at once allowed
   (the queue pauses after the first 401; one file at a time until the key is proven).
3. How long an outage takes to turn into a pause (the client's retries first).

Everything runs against the loopback emulator; nothing leaves the machine.

    .venv/bin/python benchmarks/bench_money.py [--files 100] [--mp3 20] [--batch 20]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import write_tone_wav
from tui.config import Settings
from tui.engine import events as ev
from tui.engine.engine import Engine
from tui.engine.estimates import estimate_files
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator


def make_mp3s(base: Path, folder: Path, n: int) -> list[Path]:
    mp3 = folder.parent / "base.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(base), "-codec:a", "libmp3lame", str(mp3)],
        check=True,
    )
    out = []
    for i in range(n):
        target = folder / f"m{i:04d}.mp3"
        shutil.copyfile(mp3, target)
        out.append(target)
    return out


async def bench_estimate(work: Path, n_wav: int, n_mp3: int) -> None:
    folder = work / "estimate"
    folder.mkdir()
    base = write_tone_wav(work / "base.wav", 30.0)
    paths = []
    for i in range(n_wav):
        target = folder / f"w{i:04d}.wav"
        shutil.copyfile(base, target)
        paths.append(target)
    if n_mp3 and shutil.which("ffmpeg"):
        paths += make_mp3s(base, folder, n_mp3)
    start = time.perf_counter()
    est = await estimate_files(paths, Settings())
    took = time.perf_counter() - start
    print(
        f"estimate: {len(paths)} files ({n_wav} WAV, {len(paths) - n_wav} MP3), "
        f"{est.minutes:.1f} min of audio, {est.describe().split(' · ')[-1]}: {took:.2f} s "
        f"({took / len(paths) * 1000:.1f} ms per file)"
    )


async def bench_refused_key(work: Path, batch: int) -> None:
    folder = work / "batch"
    folder.mkdir()
    files = [write_tone_wav(folder / f"b{i:03d}.wav", 2.0, freq=200 + i) for i in range(batch)]
    with Emulator() as emu:
        settings = Settings(base_url=emu.base_url, api_key=Secret("refused-" + "k" * 24))
        settings.concurrency = 4
        with Engine(settings, db_path=work / "jobs.sqlite3", requests_per_minute=0) as engine:
            ids = [engine.submit(f).id for f in files]
            start = time.perf_counter()
            await engine.drain(ids)
            took = time.perf_counter() - start
            queued = sum(engine.store.require_job(i).state.value == "queued" for i in ids)
        uploads = sum(r.endpoint == "sse" for r in emu.requests)
    print(
        f"refused key: {batch} files, 4 at once allowed -> {uploads} upload(s), "
        f"{queued} left queued and unsent, paused after {took:.2f} s"
    )


async def bench_outage(work: Path) -> None:
    emu = Emulator().start()
    emu.stop()
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    audio = write_tone_wav(work / "outage.wav", 2.0)
    with Engine(settings, db_path=work / "outage.sqlite3", requests_per_minute=0) as engine:
        seen: list[ev.Event] = []
        engine.bus.subscribe(seen.append)
        job = engine.submit(audio)
        start = time.perf_counter()
        await engine.drain([job.id])
        took = time.perf_counter() - start
        state = engine.store.require_job(job.id).state.value
    paused = any(isinstance(e, ev.QueuePaused) for e in seen)
    print(f"outage: service down -> paused={paused} after {took:.2f} s, job {state}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100, help="WAV files to estimate")
    parser.add_argument("--mp3", type=int, default=20, help="MP3 files to estimate")
    parser.add_argument("--batch", type=int, default=20, help="files in the refused-key batch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        asyncio.run(bench_estimate(work, args.files, args.mp3))
        asyncio.run(bench_refused_key(work, args.batch))
        asyncio.run(bench_outage(work))


if __name__ == "__main__":
    main()
