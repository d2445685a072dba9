"""Queue throughput, watch latency and idle CPU of the watch daemon, against the emulator.

    /work/venv/bin/python benchmarks/bench_queue.py [--files 500] [--concurrency 4]

1. Throughput: N short WAVs moved into a watched folder at once; the runner (RPM limit off)
   transcribes them through the real pipeline and the loopback emulator, which waits
   ``--service-delay`` before its first event (a stand-in for network + model latency).
   Reported against the ideal N × mean per-file latency / concurrency, with the per-file latency
   (JobStarted → JobFinished) measured in the same run.
2. Watch latency: files written one at a time; time from the end of the write (the file is
   stable from then on) to JobQueued. The quiet period is part of it by design.
3. Idle CPU: `python -m tui watch` as a subprocess on an empty folder, CPU time (user+sys from
   /proc) over ``--idle-s`` seconds, with OS events and with --poll.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tui.config import Settings
from tui.engine import events as ev
from tui.engine.engine import Engine
from tui.engine.watch_files import WatchConfig
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator
from tui.stepfun.emulator.directive import directive_chunk, synth_pcm16, wav_bytes
from tui.store.store import Store
from tui.transcript.exports import ExportSpec


def wav(pcm: bytes, text: str) -> bytes:
    return wav_bytes(pcm, extra_chunks=directive_chunk({"text": text}))


async def throughput(root: Path, n: int, concurrency: int, delay: float) -> None:
    inbox, staging = root / "inbox", root / "staging"
    inbox.mkdir()
    staging.mkdir()
    pcm = synth_pcm16(1.5)
    for i in range(n):
        (staging / f"f{i:04d}.wav").write_bytes(wav(pcm, f"file number {i}"))
    with Emulator(first_event_delay_s=delay) as emu:
        settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
        store = Store(root / "jobs.sqlite3")
        started: dict[int, float] = {}
        finished: dict[int, float] = {}
        queued: dict[int, float] = {}

        def on(e: ev.Event) -> None:
            now = time.monotonic()
            if isinstance(e, ev.JobQueued):
                queued[e.job.id] = now
            elif isinstance(e, ev.JobStarted):
                started[e.job_id] = now
            elif isinstance(e, ev.JobFinished | ev.JobFailed):
                finished[e.job_id] = now

        engine = Engine(settings, store=store, concurrency=concurrency, requests_per_minute=0)
        engine.bus.subscribe(on)
        cfg = WatchConfig(folders=(inbox,), export=ExportSpec(formats=("txt",)))
        engine.watch(cfg)
        stop = asyncio.Event()
        tasks = asyncio.ensure_future(engine.serve(stop))
        await asyncio.sleep(0.5)
        t_drop = time.monotonic()
        for i in range(n):
            os.rename(staging / f"f{i:04d}.wav", inbox / f"f{i:04d}.wav")
        for _ in range(100_000):
            if len(finished) >= n:
                break
            await asyncio.sleep(0.05)
        t_end = time.monotonic()
        stop.set()
        await tasks
        failed = store.counts()["failed"]
        lat = [finished[j] - started[j] for j in finished]
        mean = statistics.mean(lat)
        first_start, last_end = min(started.values()), max(finished.values())
        busy = last_end - first_start
        ideal = n * mean / concurrency
        completed = sum(1 for r in emu.requests if r.endpoint == "sse" and r.done_sent)
        print(f"throughput: {n} files, concurrency {concurrency}, service delay {delay:g} s")
        print(
            f"  per-file latency (started→finished): mean {mean:.3f} s, median "
            f"{statistics.median(lat):.3f} s, p95 {sorted(lat)[int(0.95 * len(lat))]:.3f} s"
        )
        print(
            f"  first start → last finish: {busy:.1f} s; ideal N×latency/{concurrency} = "
            f"{ideal:.1f} s; ratio {busy / ideal:.2f}"
        )
        print(
            f"  drop → all finished: {t_end - t_drop:.1f} s (includes the "
            f"{cfg.quiet_period_s:g} s quiet period and hashing)"
        )
        print(
            f"  first queued {min(queued.values()) - t_drop:.2f} s after the drop, last "
            f"{max(queued.values()) - t_drop:.2f} s"
        )
        print(f"  requests completed by the emulator: {completed}; failed jobs: {failed}")
        store.close()


async def watch_latency(root: Path, count: int) -> None:
    inbox = root / "latency"
    inbox.mkdir()
    pcm = synth_pcm16(1.0)
    with Emulator() as emu:
        settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
        store = Store(root / "latency.sqlite3")
        queued: dict[str, float] = {}

        def on(e: ev.Event) -> None:
            if isinstance(e, ev.JobQueued):
                queued[e.job.source.name] = time.monotonic()

        engine = Engine(settings, store=store, concurrency=2, requests_per_minute=0)
        engine.bus.subscribe(on)
        cfg = WatchConfig(folders=(inbox,))
        engine.watch(cfg)
        stop = asyncio.Event()
        tasks = asyncio.ensure_future(engine.serve(stop))
        await asyncio.sleep(0.5)
        stable_at: dict[str, float] = {}
        for i in range(count):
            name = f"w{i:02d}.wav"
            with (inbox / name).open("wb") as fh:  # written in place, in two parts
                data = wav(pcm, f"latency {i}")
                fh.write(data[: len(data) // 2])
                fh.flush()
                await asyncio.sleep(0.2)
                fh.write(data[len(data) // 2 :])
            stable_at[name] = time.monotonic()
            await asyncio.sleep(0.7)
        for _ in range(10_000):
            if len(queued) >= count:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await tasks
        store.close()
    lat = sorted(queued[n] - stable_at[n] for n in stable_at)
    q = cfg.quiet_period_s
    print(
        f"watch latency, file stable → queued ({count} files, quiet period {q:g} s, stat "
        f"every {cfg.stat_interval_s:g} s): min {lat[0]:.2f} s, median "
        f"{statistics.median(lat):.2f} s, max {lat[-1]:.2f} s; beyond the quiet period: "
        f"median {statistics.median(lat) - q:.2f} s"
    )


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def idle_cpu(root: Path, seconds: float, poll: bool) -> None:
    folder = root / ("idle-poll" if poll else "idle")
    folder.mkdir()
    for i in range(20):  # some files already handled would be typical; here: non-audio files
        (folder / f"notes{i}.txt").write_text("x")
    env = dict(
        os.environ,
        STEPFUN_API_KEY="bench-" + os.urandom(6).hex(),
        STEPFUN_BASE_URL="http://127.0.0.1:9/v1",
        XDG_DATA_HOME=str(root / "xdg"),
        STEPFUN_ASR_CONFIG=str(root / "none.toml"),
        PYTHONUNBUFFERED="1",
    )
    args = [
        sys.executable,
        "-m",
        "tui",
        "watch",
        str(folder),
        "--db",
        str(root / f"idle{int(poll)}.sqlite3"),
    ] + (["--poll"] if poll else [])
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "watching" in line:
                break
        time.sleep(1.0)  # let start-up work settle
        hz = os.sysconf("SC_CLK_TCK")
        t0, c0 = time.monotonic(), cpu_ticks(proc.pid)
        time.sleep(seconds)
        t1, c1 = time.monotonic(), cpu_ticks(proc.pid)
        cpu = (c1 - c0) / hz
        mode = "--poll" if poll else "OS events"
        print(
            f"idle CPU ({mode}): {cpu:.2f} s CPU over {t1 - t0:.1f} s = "
            f"{100 * cpu / (t1 - t0):.2f} % of one core"
        )
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--service-delay",
        type=float,
        default=0.3,
        help="emulator pause before the first event, seconds",
    )
    parser.add_argument("--latency-files", type=int, default=10)
    parser.add_argument("--idle-s", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as tmp:
        root = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(root / "xdg")
        os.environ["XDG_CACHE_HOME"] = str(root / "cache")
        os.environ["STEPFUN_ASR_CONFIG"] = str(root / "none.toml")
        asyncio.run(throughput(root, args.files, args.concurrency, args.service_delay))
        asyncio.run(watch_latency(root, args.latency_files))
        idle_cpu(root, args.idle_s, poll=False)
        idle_cpu(root, args.idle_s, poll=True)


if __name__ == "__main__":
    main()
