"""Soak: the watch daemon (a real subprocess) on a tree while files come and go and the service
goes down and up. Prints files, lost, duplicated, failed, peak RSS and CPU.

    .venv/bin/python benchmarks/bench_soak.py            # 3 minutes
    .venv/bin/python benchmarks/bench_soak.py --minutes 10

A script drops new recordings (half written as ``.part`` then renamed, half written in place),
renames, rewrites and deletes them in a recursive tree, some with names that are not UTF-8 or
that hold newlines; every ``--outage-every`` seconds the loopback emulator goes down for
``--outage-s`` seconds. Each recording carries a unique text, so the emulator's log tells what
was sent. At the end the script stops, the daemon gets time to settle, and:

- lost: files present at the end (stable) whose content has no finished job;
- duplicated: contents transcribed (finished) by more than one job, and answers paid for but
  neither saved nor kept aside (done requests minus finished jobs minus superseded answers);
- failed: jobs that ended failed (e.g. by an outage that outlasted the client's retries, until
  the queue pauses on outages instead);
- peak RSS (VmHWM) and CPU time (user+sys) of the daemon, from /proc.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tui.stepfun.emulator import Emulator
from tui.stepfun.emulator.directive import directive_chunk, synth_pcm16, wav_bytes

PCM = synth_pcm16(1.0)
ODD_NAMES = [b"caf\xe9-", b"\xff\xfe-", b"line\nbreak-"]


def recording(text: str) -> bytes:
    return wav_bytes(PCM, extra_chunks=directive_chunk({"text": text}))


class Churn:
    """Drops, renames, rewrites and deletes recordings under ``root``."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.counter = 0
        self.live: list[Path] = []
        self.folders = [root] + [root / f"d{i}" / "sub" for i in range(4)]
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
        self.actions = {"drop": 0, "rename": 0, "rewrite": 0, "delete": 0}

    def _name(self, folder: Path) -> Path:
        self.counter += 1
        prefix = self.rng.choice(ODD_NAMES) if self.rng.random() < 0.1 else b"rec-"
        raw = os.fsencode(folder) + b"/" + prefix + str(self.counter).encode() + b".wav"
        return Path(os.fsdecode(raw))

    def _text(self) -> str:
        self.counter += 1
        return f"Soak recording number {self.counter}."

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.55 or len(self.live) < 5:
            path = self._name(self.rng.choice(self.folders))
            body = recording(self._text())
            if self.rng.random() < 0.5:
                part = path.with_name(path.name + ".part")
                part.write_bytes(body)
                os.replace(part, path)
            else:
                with path.open("wb") as fh:  # in place, in two writes
                    fh.write(body[: len(body) // 2])
                    fh.flush()
                    time.sleep(0.05)
                    fh.write(body[len(body) // 2 :])
            self.live.append(path)
            self.actions["drop"] += 1
        elif roll < 0.7:
            old = self.rng.choice(self.live)
            new = self._name(self.rng.choice(self.folders))
            os.replace(old, new)
            self.live[self.live.index(old)] = new
            self.actions["rename"] += 1
        elif roll < 0.85:
            path = self.rng.choice(self.live)
            path.write_bytes(recording(self._text()))
            self.actions["rewrite"] += 1
        else:
            path = self.rng.choice(self.live)
            path.unlink()
            self.live.remove(path)
            self.actions["delete"] += 1


def proc_figures(pid: int) -> tuple[int, float]:
    """(peak RSS in bytes, CPU seconds user+sys) of a live process."""
    rss = 0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) * 1024
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=2.0, help="file operations per second")
    parser.add_argument("--outage-every", type=float, default=60.0, metavar="S")
    parser.add_argument("--outage-s", type=float, default=15.0, metavar="S")
    parser.add_argument("--settle-s", type=float, default=90.0, metavar="S")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="stepfun-soak-"))
    tree, db = work / "tree", work / "jobs.sqlite3"
    churn = Churn(tree, args.seed)
    emu = Emulator().start()
    env = dict(os.environ, STEPFUN_API_KEY=emu.demo_key, STEPFUN_BASE_URL=emu.base_url)
    env.setdefault("XDG_CONFIG_HOME", str(work / "config"))
    env.setdefault("XDG_DATA_HOME", str(work / "data"))
    log = (work / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui",
            "watch",
            str(tree),
            "--recursive",
            "--db",
            str(db),
            "--quiet-period",
            "0.5",
            "--rpm",
            "0",
            "--concurrency",
            "4",
            "--grace",
            "5",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    outages = 0
    down = threading.Event()
    try:
        time.sleep(2.0)
        end = time.monotonic() + args.minutes * 60
        next_outage = time.monotonic() + args.outage_every
        up_at = 0.0
        while time.monotonic() < end:
            now = time.monotonic()
            if not down.is_set() and now >= next_outage:
                emu.stop()
                down.set()
                outages += 1
                up_at = now + args.outage_s
            elif down.is_set() and now >= up_at:
                emu.start()
                down.clear()
                next_outage = now + args.outage_every
            churn.step()
            time.sleep(1.0 / args.rate)
        if down.is_set():
            emu.start()
        # Settle: everything present now must end up transcribed.
        want = {sha256(p) for p in churn.live}
        deadline = time.monotonic() + args.settle_s
        while time.monotonic() < deadline:
            done = _done_hashes(db)
            if want <= done and not _busy(db):
                break
            time.sleep(1.0)
        rss, cpu = proc_figures(daemon.pid)
        wall = time.monotonic() - (end - args.minutes * 60)
    finally:
        daemon.send_signal(signal.SIGINT)
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            daemon.kill()
        emu.stop()
        log.close()

    done = _done_hashes(db)
    conn = sqlite3.connect(db)
    states = dict(conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
    finished_hashes = [
        r[0]
        for r in conn.execute(
            "SELECT content_hash FROM jobs WHERE state IN ('done','needs_review')"
        )
    ]
    superseded = conn.execute("SELECT COUNT(*) FROM superseded_results").fetchone()[0]
    # Why each lost content was lost: a failed job (its error kind) or no job at all.
    why: dict[str, int] = {}
    for digest in want - done:
        row = conn.execute(
            "SELECT state, error_kind FROM jobs WHERE content_hash = ? ORDER BY id DESC LIMIT 1",
            (digest,),
        ).fetchone()
        key = "no job" if row is None else f"{row[0]} ({row[1]})" if row[1] else row[0]
        why[key] = why.get(key, 0) + 1
    conn.close()
    requests = sum(1 for r in emu.requests if r.endpoint == "sse" and r.done_sent)
    twice = len(finished_hashes) - len(set(finished_hashes))
    unsaved = requests - len(finished_hashes) - superseded
    lost = len(want - done)
    print(
        f"soak: {args.minutes:g} min, {sum(churn.actions.values())} operations {churn.actions}, "
        f"{outages} outage(s) of {args.outage_s:g} s"
    )
    print(f"  files present at the end: {len(want)}; lost: {lost} {why or ''}")
    print(f"  jobs: {states}")
    print(
        f"  requests answered: {requests}; contents finished twice: {twice}; "
        f"answers neither saved nor kept aside: {unsaved}; superseded (kept aside): {superseded}"
    )
    print(
        f"  daemon peak RSS {rss / 1e6:.1f} MB, CPU {cpu:.1f} s over {wall:.0f} s "
        f"({100 * cpu / wall:.1f}% of one core)"
    )
    traceback = "Traceback" in (work / "daemon.log").read_text(errors="replace")
    print(f"  daemon log: {work / 'daemon.log'}{' (has a traceback!)' if traceback else ''}")
    if lost == 0 and twice == 0 and not traceback:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if lost or twice or traceback else 0


def _done_hashes(db: Path) -> set[str]:
    try:
        conn = sqlite3.connect(db, timeout=5)
        try:
            return {
                r[0]
                for r in conn.execute(
                    "SELECT content_hash FROM jobs WHERE state IN ('done','needs_review')"
                )
            }
        finally:
            conn.close()
    except sqlite3.Error:
        return set()


def _busy(db: Path) -> bool:
    try:
        conn = sqlite3.connect(db, timeout=5)
        try:
            return (
                conn.execute(
                    "SELECT 1 FROM jobs WHERE state IN ('queued','running') LIMIT 1"
                ).fetchone()
                is not None
            )
        finally:
            conn.close()
    except sqlite3.Error:
        return True


if __name__ == "__main__":
    sys.exit(main())
