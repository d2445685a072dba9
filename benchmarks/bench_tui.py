"""The workbench under load, headless: UI cost per streamed delta, key-press delay while
streaming, and start-up time to the first screen.

    python benchmarks/bench_tui.py [--rate 250 --rate 4000] [--seconds 6] [--screen FILE]

1. Streaming: the real runner runs one job whose transcriber (a stand-in for the network)
   emits ``--deltas`` word deltas at about ``--rate`` per second, with a sentence end every
   ~12 words (so ~120k characters in the end). Reported: process CPU per delta with the UI
   minus the same stream with no UI subscribed (= what the UI adds per delta), the time spent
   in the bus callback and in the pane's flushes, and the flush cost at the start vs the end
   of the transcript (it must stay flat as the text grows past 100k characters).
2. Key delay: while that stream runs, a key press (``j``, next job) is sent through the
   headless driver every 50 ms; reported is the delay from sending it to its action running
   (median and worst).
3. Playback follow: on the finished transcript, the pane's ``scroll_to_time`` (cue at the top,
   cursor line on it) at a player's 10 Hz with a key press per tick, at 1x pace and in the
   worst case (another cue every tick): the CPU share against the same time idle, the time
   per call, and the worst key delay.
4. Start-up: `stepfun-asr DIR` as a user runs it, in a fresh process on a pseudo-terminal
   (the real terminal driver, 120x36), on a folder of recordings and a job database of 200
   finished jobs, bytecode cached (one untimed run first). Timed from launch until the
   terminal has received the main screen's first frame (pane titles and the footer, which is
   the last row of a full frame), and until the status, the files and the queue's rows are
   shown; also the process's CPU time at the first frame. A bare Textual app with the same
   layout runs alternately (what Textual itself costs), and with ``--startup-baseline DIR``
   another source tree too (before/after under the same load). Median of ``--startup-runs``
   (5). Also ``stepfun-asr --help`` and ``stepfun-asr transcribe --help`` in fresh processes.
   ``--only-startup`` skips the streaming runs.

While it streams, the garbage collector's passes are recorded (``gc.callbacks``: count, time
and the longest pass per generation) and, at the end, the most numerous object types it tracks.
The app runs under the workbench process's collector policy (``tui.app.heap``: no passes during
start-up, start-up's objects frozen after it), as `stepfun-asr DIR` does; ``--gc-as-is`` streams
without it (the figures before it).

Streaming runs once per ``--rate`` (default 250/s, the real pace of a long file, and 4000/s);
each reports the CPU share per second of streaming, once with a key press every 50 ms (the
key-delay figures) and once without (what streaming alone costs).
``--screen FILE`` also saves a text capture of the main screen after the stream, and
``--demo-svg FILE`` an SVG of `stepfun-asr demo` mid-stream (for the README).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import fcntl
import gc
import os
import re
import resource
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from textual import events

from tui import config
from tui.app import heap
from tui.app.app import WorkbenchApp, make_app
from tui.app.main_screen import MainScreen
from tui.app.testing import screen_text, wait_until
from tui.app.widgets.transcript_pane import FLUSH_HZ
from tui.config import Settings
from tui.engine.engine import Engine
from tui.engine.transcriber import Transcriber
from tui.stepfun.events import DeltaReceived, TranscriptDone
from tui.store.records import JobState
from tui.store.store import Store
from tui.transcript.model import Segment, TranscriptionResult

WORDS = (
    "river",
    "stones",
    "morning",
    "light",
    "people",
    "gather",
    "markets",
    "bread",
    "tea",
    "stories",
    "weather",
    "trains",
    "music",
    "gardens",
    "valleys",
    "harbour",
)


def fake_transcriber(n: int, rate: float) -> Any:
    """A TranscriberFactory whose transcriber emits ``n`` deltas in bursts, paced to ``rate``
    per second (the network stand-in)."""
    burst = max(1, int(rate / 200))  # a burst every ~5 ms

    async def transcribe(
        path: Path,
        *,
        settings: Settings,
        on_event: Callable[[Any], None],
        cancel: asyncio.Event | None,
        cross_check: bool,
        **_kw: Any,
    ) -> TranscriptionResult:
        segments: list[Segment] = []
        t_ms = 0
        started = time.perf_counter()
        for i in range(n):
            word = WORDS[i % len(WORDS)]
            text = f" {word}." if i % 12 == 11 else f" {word}"
            segments.append(Segment(t_ms, t_ms + 300, text))
            on_event(DeltaReceived(text, t_ms, t_ms + 300))
            t_ms += 300
            if i % burst == burst - 1:
                ahead = (i + 1) / rate - (time.perf_counter() - started)
                await asyncio.sleep(max(0.0, ahead))
        full = "".join(s.text for s in segments).strip()
        on_event(TranscriptDone(full, {}))
        return TranscriptionResult(
            file=str(path),
            text=full,
            segments=segments,
            model=settings.model,
            duration_s=t_ms / 1000,
        )

    async def no_check(*_a: Any, **_kw: Any) -> TranscriptionResult:
        raise RuntimeError("no cross-check in this benchmark")

    @contextlib.asynccontextmanager
    async def factory(_settings: Settings, _limiter: Any) -> AsyncIterator[Transcriber]:
        yield Transcriber(cast(Any, transcribe), cast(Any, no_check))

    return factory


async def stream_without_ui(n: int, rate: float, tmp: Path) -> float:
    """CPU seconds for the runner + bus + fake stream alone (the baseline)."""
    with Engine(
        Settings(),
        db_path=tmp / "base.sqlite3",
        transcriber=fake_transcriber(n, rate),
        requests_per_minute=0,
    ) as engine:
        (tmp / "a.wav").write_bytes(b"RIFF")
        engine.submit(tmp / "a.wav")
        cpu = time.process_time()
        await engine.drain()
        return time.process_time() - cpu


class GcRecorder:
    """Garbage-collector passes (``gc.callbacks``): count and time per generation, the
    longest pass, while installed."""

    def __init__(self) -> None:
        self.passes: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.passes[info["generation"]].append(time.perf_counter() - self._started)

    def __enter__(self) -> GcRecorder:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> str:
        parts = []
        for generation, times in self.passes.items():
            if times:
                parts.append(
                    f"gen {generation}: {len(times)} passes, {sum(times) * 1e3:.0f} ms, "
                    f"longest {max(times) * 1e3:.1f} ms"
                )
            else:
                parts.append(f"gen {generation}: none")
        return "; ".join(parts)


def heap_census(top: int = 8) -> str:
    """The most numerous object types the collector tracks (what a full pass walks)."""
    counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
    frozen = gc.get_freeze_count()
    listed = ", ".join(f"{name} {n:,}" for name, n in counts.most_common(top))
    return f"{sum(counts.values()):,} tracked objects ({frozen:,} frozen): {listed}"


class Probe:
    """Times the UI's own work: the bus callback, each flush, each key's delay."""

    def __init__(self, app: WorkbenchApp) -> None:
        self.app = app
        self.bus_s = 0.0
        self.flushes: list[tuple[int, float]] = []  # (lines in the view, seconds)
        self.key_sent: list[float] = []
        self.key_delays: list[float] = []

    def install(self) -> None:
        app = self.app
        original_bus = app.main._on_engine_event

        def on_bus(event: Any) -> None:
            t = time.perf_counter()
            original_bus(event)
            self.bus_s += time.perf_counter() - t

        bus = app.engine.bus
        bus._subscribers = [on_bus if cb == original_bus else cb for cb in bus._subscribers]
        pane = app.main.pane
        original_flush = pane.flush

        def flush() -> None:
            edits = pane.flushes
            t = time.perf_counter()
            original_flush()
            elapsed = time.perf_counter() - t
            if pane.flushes != edits:  # only flushes that appended text
                self.flushes.append((len(pane.view.lines), elapsed))

        pane.flush = flush  # type: ignore[method-assign]
        for timer in list(pane._timers):
            timer.stop()
        pane.flush_timer = pane.set_interval(1 / FLUSH_HZ, pane.flush, name="transcript-flush")

        original_next = MainScreen.action_next_job

        def next_job(screen: MainScreen) -> None:
            if self.key_sent:
                self.key_delays.append(time.perf_counter() - self.key_sent.pop(0))
            original_next(screen)

        MainScreen.action_next_job = next_job  # type: ignore[method-assign]

    def press(self) -> None:
        driver = self.app._driver
        assert driver is not None
        self.key_sent.append(time.perf_counter())
        driver.send_message(events.Key("j", "j"))


async def stream_with_ui(
    n: int, rate: float, tmp: Path, *, keys: bool = True, gc_policy: bool = True
) -> dict[str, Any]:
    folder = tmp / ("rec" if keys else "rec-quiet")
    if gc_policy:
        heap.hold()  # as `stepfun-asr DIR` does (tui/app/heap.py); settled after start-up
    folder.mkdir()
    (folder / "talk.wav").write_bytes(b"RIFF")
    settings = Settings()
    settings.requests_per_minute = 0
    app = make_app(
        settings,
        folder,
        db_path=tmp / ("ui.sqlite3" if keys else "quiet.sqlite3"),
        config_path=tmp / "c.toml",
        transcriber=fake_transcriber(n, rate),
    )
    out: dict[str, Any] = {}
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await wait_until(pilot, lambda: not heap.held(), what="start-up settled")
        probe = Probe(app)
        probe.install()
        job = app.engine.submit(folder / "talk.wav", origin="tui")
        cpu = time.process_time()
        wall = time.perf_counter()
        with GcRecorder() as collector:
            for _ in range(1_000_000):
                state = app.engine.store.require_job(job.id).state
                if state is not JobState.RUNNING and state is not JobState.QUEUED:
                    break
                if keys:
                    probe.press()
                await asyncio.sleep(0.05)
        out["cpu_s"] = time.process_time() - cpu
        out["wall_s"] = time.perf_counter() - wall
        out["gc"] = collector.summary()
        out["heap"] = heap_census()
        await wait_until(pilot, lambda: not probe.key_sent, what="last key handled")
        out["bus_s"] = probe.bus_s
        out["flushes"] = probe.flushes
        out["key_delays"] = list(probe.key_delays)
        pane = app.main.pane
        await wait_until(pilot, lambda: pane.text.startswith("[00:00:00]"), what="final text")
        out["chars"] = len(pane.text)
        # Select it afresh: the finished 100k+ character transcript laid out off the loop.
        job = app.engine.store.require_job(job.id)
        app.main.transcripts.forget(job.id)
        probe.key_delays.clear()
        t = time.perf_counter()
        app.main.show_selected()
        for _ in range(10_000):
            if pane.text.startswith("[00:00:00]") and job.id in app.main.transcripts:
                break
            probe.press()
            await asyncio.sleep(0.02)
        out["reload_s"] = time.perf_counter() - t
        await wait_until(pilot, lambda: not probe.key_sent, what="last key handled")
        out["reload_key_delays"] = list(probe.key_delays)
        out["screen"] = screen_text(app)
        if keys:
            out["follow"] = await follow_playback(pilot, app, probe)
    return out


async def follow_playback(
    pilot: Any, app: WorkbenchApp, probe: Probe, seconds: float = 3.0, hz: float = 10.0
) -> dict[str, Any]:
    """``scroll_to_time`` (the pane's highlight-follow) on the finished transcript at a
    player's 10 Hz with a key press per tick: at playback pace (1x: the cue changes every few
    seconds) and in the worst case (another cue every tick); against the same time idle."""
    pane = app.main.pane
    starts = [line.start_ms for line in pane.view.lines if line.start_ms is not None]
    out: dict[str, Any] = {"cues": len(starts)}
    for phase in ("idle", "1x", "worst"):
        probe.key_delays.clear()
        calls: list[float] = []
        cpu = time.process_time()
        wall = time.perf_counter()
        for i in range(int(seconds * hz)):
            if phase != "idle":
                ms = starts[(i * 37) % len(starts)] if phase == "worst" else int(i * 1000 / hz)
                t = time.perf_counter()
                pane.scroll_to_time(ms)
                calls.append(time.perf_counter() - t)
                probe.press()
            await asyncio.sleep(1 / hz)
        await wait_until(pilot, lambda: not probe.key_sent, what="last key handled")
        out[phase] = {
            "cpu": (time.process_time() - cpu) / (time.perf_counter() - wall),
            "calls": calls,
            "key_delays": list(probe.key_delays),
        }
    return out


def demo_svg(path: Path) -> None:
    """`stepfun-asr demo` headless at 120x36, captured while two files stream."""
    from tui import demo

    with tempfile.TemporaryDirectory() as name, demo.demo_session(Path(name), rtf=0.3) as s:
        app = make_app(
            s.settings,
            s.folder,
            db_path=s.db_path,
            watch=True,
            config_path=s.config_path,
            demo=True,
            root_label="recordings",
        )

        async def pilot(p: Any) -> None:
            await wait_until(
                p,
                lambda: (
                    app.engine.store.counts()["done"] >= 1
                    and app.engine.store.counts()["running"] >= 1
                    and len(app.main.pane.text) > 120
                ),
                deadline_s=60,
                what="streaming",
            )
            await p.pause(0.3)
            app.exit(app.export_screenshot(title="stepfun-asr demo"))

        svg = app.run(headless=True, size=(120, 36), auto_pilot=pilot)
        assert isinstance(svg, str)
        path.write_text(svg, encoding="utf-8")


# --- start-up ----------------------------------------------------------------------------------

STARTUP_JOBS = 200  # finished jobs in the job database the workbench opens
STARTUP_FILES = 20  # recordings in the folder it browses
SCREEN_ROWS, SCREEN_COLS = 36, 120
# The first frame of the main screen: the pane titles and the footer (the bottom row, written
# last in a full frame) have reached the terminal.
FRAME_MARKS = ("Files", "Queue", "Transcript", "^p palette")
_CSI = re.compile(r"\x1b\[[0-9;?<>=$]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


@dataclass
class StartupRun:
    frame_s: float  # launch → the first frame of the main screen received by the terminal
    filled_s: float  # launch → status bar, file tree and queue rows received
    cpu_s: float  # the child's CPU time (all threads) when the first frame arrived


def startup_fixture(tmp: Path) -> tuple[Path, Path, dict[str, str]]:
    """A folder of recordings, a job database with finished jobs, a config file holding a
    key and a few settings (as the key dialog and `config set` leave it, so the workbench
    opens on the main screen), an isolated environment (config, data, cache in ``tmp``; a
    loopback base URL nobody listens on — nothing is queued, so nothing is sent)."""
    folder = tmp / "recordings"
    folder.mkdir()
    for i in range(STARTUP_FILES):
        (folder / f"talk-{i:02}.wav").write_bytes(b"RIFF")
    db = tmp / "jobs.sqlite3"
    with Store(db) as store:
        for i in range(STARTUP_JOBS):
            job = store.add_job(folder / f"seeded-{i:03}.wav")
            store.claim_one(job.id, "bench")
            words = [
                Segment(k * 300, k * 300 + 300, f" {WORDS[k % len(WORDS)]}") for k in range(40)
            ]
            store.finish_job(
                job.id,
                TranscriptionResult(
                    file=str(folder / f"seeded-{i:03}.wav"),
                    text="".join(w.text for w in words).strip(),
                    segments=words,
                    duration_s=12.0,
                ),
                owner="bench",
            )
    config_path = tmp / "config.toml"
    config.save_values({"region": "intl", "formats": ["txt", "srt"], "language": "en"}, config_path)
    config.save_key("bench-not-a-key", config_path)
    return folder, db, startup_fixture_env(tmp)


def startup_fixture_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STEPFUN_", "XDG_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode cached
    (tmp / "home").mkdir(exist_ok=True)
    env.update(
        HOME=str(tmp / "home"),
        XDG_CONFIG_HOME=str(tmp / "config"),
        XDG_DATA_HOME=str(tmp / "data"),
        XDG_STATE_HOME=str(tmp / "state"),
        XDG_CACHE_HOME=str(tmp / "cache"),
        STEPFUN_ASR_CONFIG=str(tmp / "config.toml"),
        STEPFUN_BASE_URL="http://127.0.0.1:9/v1",
        # Bytecode for this run's processes (not written into the source tree).
        PYTHONPYCACHEPREFIX=str(tmp / "pycache"),
        TERM="xterm-256color",
        COLORTERM="truecolor",
    )
    return env


def _cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` so far (schedstat: nanoseconds on a CPU)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def startup_run(argv: list[str], env: dict[str, str], timeout_s: float = 30.0) -> StartupRun:
    """``argv`` in a fresh process on a pseudo-terminal (the real driver, as a user runs it):
    times from launch until its output shows the main screen, then quits it (q)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SCREEN_ROWS, SCREEN_COLS, 0, 0))
    t0 = time.perf_counter()
    child = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        # Not the source tree: `python -m` puts the working folder first on the path.
        cwd=env["HOME"],
        start_new_session=True,
    )
    os.close(slave)
    seen = ""
    frame_s = cpu_s = filled_s = None
    filled_marks = ("queued", "talk-00.wav", "seeded-")
    try:
        while filled_s is None:
            if time.perf_counter() - t0 > timeout_s:
                raise RuntimeError(f"no main screen after {timeout_s:.0f} s: {seen[-500:]!r}")
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # the child closed the terminal: it exited
                raise RuntimeError(f"the workbench exited: {seen[-500:]!r}") from None
            t = time.perf_counter() - t0
            seen += _CSI.sub("", data.decode("utf-8", "replace"))
            if frame_s is None and all(m in seen for m in FRAME_MARKS):
                frame_s, cpu_s = t, _cpu_seconds(child.pid)
            if frame_s is not None and all(m in seen for m in filled_marks):
                filled_s = t
        os.write(master, b"q")
        _drain(master, child, timeout_s)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
    assert frame_s is not None and cpu_s is not None
    return StartupRun(frame_s, filled_s, cpu_s)


def _drain(master: int, child: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Read the terminal until the child exits (it blocks on a full terminal otherwise)."""
    deadline = time.perf_counter() + timeout_s
    while child.poll() is None and time.perf_counter() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                os.read(master, 1 << 16)
            except OSError:
                break
    child.wait(timeout=max(0.0, deadline - time.perf_counter()) + 1)


# The same layout in a bare Textual app (no engine, no store): what Textual itself costs.
TEXTUAL_FLOOR = r"""
import sys
from textual.app import App
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, DirectoryTree, Footer, Static

class Floor(App):
    CSS = "#files, #queue, #transcript, #errors { border: round $primary; height: 1fr; }"
    # As many footer keys as the workbench shows (each is a widget).
    KEYS = "Transcribe Watch Retry Cancel Export Search Library Review Reviewed Settings Help"
    BINDINGS = [("q", "quit", "Quit")] + [
        (f"f{i + 1}", "bell", name) for i, name in enumerate(KEYS.split())
    ]

    def compose(self):
        yield Static("0 running · 0 queued")
        with Horizontal():
            with Vertical():
                yield DirectoryTree(sys.argv[1], id="files")
                yield Static(id="errors")
            with Vertical():
                yield DataTable(id="queue")
                yield Static(id="transcript")
        yield Footer()

    def on_mount(self):
        for name in ("files", "queue", "transcript"):
            self.query_one("#" + name).border_title = name.title()
        table = self.query_one(DataTable)
        table.add_columns("#", "File", "State")
        for i in range(int(sys.argv[2])):
            table.add_row(str(i + 1), f"seeded-{i:03}.wav", "done")

Floor().run()
"""


def startup_times(
    tmp: Path, runs: int = 5, baseline: Path | None = None
) -> dict[str, list[StartupRun]]:
    """``runs`` fresh workbench processes after one untimed warm-up (bytecode written, files
    in the page cache — as on a machine where the program has run before), alternating with
    the bare Textual app (and ``baseline``, another checkout's source tree) so that all see
    the same load."""
    folder, db, env = startup_fixture(tmp)
    workbench = [sys.executable, "-m", "tui", str(folder), "--db", str(db)]
    commands = {"stepfun-asr DIR": (workbench, env)}
    if baseline is not None:
        old_env = {**env, "PYTHONPATH": str(baseline.resolve())}
        commands[f"same, from {baseline}"] = (workbench, old_env)
    floor = [sys.executable, "-c", TEXTUAL_FLOOR, str(folder), str(STARTUP_JOBS)]
    commands["bare Textual app, same layout"] = (floor, env)
    out: dict[str, list[StartupRun]] = {name: [] for name in commands}
    for i in range(runs + 1):
        for name, (argv, run_env) in commands.items():
            run = startup_run(argv, run_env)
            if i:
                out[name].append(run)
    return out


def startup_report(results: dict[str, list[StartupRun]]) -> None:
    runs = len(next(iter(results.values())))
    print(
        f"start-up on a {SCREEN_COLS}x{SCREEN_ROWS} pseudo-terminal, from launch ({runs} fresh "
        f"processes each, {STARTUP_JOBS} jobs in the database, load average "
        f"{os.getloadavg()[0]:.1f}):"
    )
    for name, rs in results.items():
        frame = [r.frame_s for r in rs]
        filled = [r.filled_s for r in rs]
        print(
            f"  {name:<30}: first frame median {statistics.median(frame):.3f} s "
            f"(worst {max(frame):.3f}, CPU {statistics.median(r.cpu_s for r in rs):.3f} s); "
            f"status, files and jobs shown {statistics.median(filled):.3f} s"
        )


def report(n: int, rate: float, base: float, ui: dict[str, Any]) -> None:
    flushes = [s for _lines, s in ui["flushes"]]
    lines = [n_lines for n_lines, _s in ui["flushes"]] or [0]
    tenth = max(1, len(flushes) // 10)
    delays = sorted(ui["key_delays"])
    print(
        f"streamed {n:,} deltas ({ui['chars']:,} characters shown) in {ui['wall_s']:.2f} s "
        f"wall, target {rate:,.0f} deltas/s"
    )
    print(f"  CPU per delta, whole process with UI : {ui['cpu_s'] / n * 1e6:7.1f} µs")
    print(f"  CPU per delta, same stream, no UI    : {base / n * 1e6:7.1f} µs")
    print(
        f"  => UI cost per delta                 : {(ui['cpu_s'] - base) / n * 1e6:7.1f} µs"
        f"  (UI load {(ui['cpu_s'] - base) / ui['wall_s']:.0%} of one core)"
    )
    print(
        f"  CPU share while streaming            : {ui['cpu_s'] / ui['wall_s']:.1%} of one core "
        f"(whole process, per second of streaming)"
    )
    print(f"  bus callback (delta into the buffer) : {ui['bus_s'] / n * 1e6:7.2f} µs per delta")
    if flushes:
        print(
            f"  flushes: {len(flushes)} (one view update each), median "
            f"{statistics.median(flushes) * 1e3:.2f} ms; first tenth "
            f"{statistics.mean(flushes[:tenth]) * 1e3:.2f} ms vs last tenth "
            f"{statistics.mean(flushes[-tenth:]) * 1e3:.2f} ms "
            f"(text {lines[0]:,} → {lines[-1]:,} lines)"
        )
    reload_delays = ui["reload_key_delays"]
    print(
        f"  selecting the finished transcript    : shown after {ui['reload_s'] * 1e3:.0f} ms;"
        f" keys meanwhile: worst delay "
        f"{max(reload_delays, default=0) * 1e3:.1f} ms ({len(reload_delays)} presses)"
    )
    if delays:
        print(
            f"  key press delay while streaming ({len(delays)} presses): median "
            f"{statistics.median(delays) * 1e3:.1f} ms, worst {delays[-1] * 1e3:.1f} ms"
        )
    print(f"  garbage collector while streaming    : {ui['gc']}")
    print(f"  heap at the end of the stream        : {ui['heap']}")
    follow = ui["follow"]
    for phase, what in (("1x", "at 1x"), ("worst", "a new cue every tick")):
        f = follow[phase]
        print(
            f"  playback follow, {what} (scroll_to_time at 10 Hz, {follow['cues']:,} cues): "
            f"{f['cpu']:.1%} of one core (idle {follow['idle']['cpu']:.1%}); call median "
            f"{statistics.median(f['calls']) * 1e3:.2f} ms; key delay worst "
            f"{max(f['key_delays'], default=0) * 1e3:.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rate",
        type=float,
        action="append",
        help="deltas per second (repeatable; default 250, the real pace of a long file, and "
        "4000, the stress case)",
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="streaming time per rate")
    parser.add_argument("--deltas", type=int, help="deltas per rate (default rate x seconds)")
    parser.add_argument("--screen", type=Path, help="save a text capture of the main screen")
    parser.add_argument("--demo-svg", type=Path, help="save an SVG of the demo mid-stream")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up runs")
    parser.add_argument(
        "--gc-as-is",
        action="store_true",
        help="stream without the workbench's collector policy (tui/app/heap.py: no passes "
        "during start-up, start-up's objects frozen): the figures before it",
    )
    parser.add_argument(
        "--only-startup", action="store_true", help="only the start-up runs (no streaming)"
    )
    parser.add_argument(
        "--startup-runs", type=int, default=5, help="fresh processes per start-up figure"
    )
    parser.add_argument(
        "--startup-baseline",
        type=Path,
        metavar="DIR",
        help="also time the workbench from another source tree (e.g. `git archive` of an older "
        "commit unpacked in DIR, holding DIR/tui), alternating with this one",
    )
    args = parser.parse_args()
    if args.only_startup:
        with tempfile.TemporaryDirectory() as name:
            run_startup(Path(name) / "startup", args.startup_runs, args.startup_baseline)
        return
    if args.demo_svg is not None:
        demo_svg(args.demo_svg)
        print(f"saved {args.demo_svg}")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for i, rate in enumerate(args.rate or [250.0, 4000.0]):
            n = args.deltas or max(100, int(rate * args.seconds))
            case = tmp / f"case{i}"
            case.mkdir()
            base = asyncio.run(stream_without_ui(n, rate, case))
            policy = not args.gc_as_is
            ui = asyncio.run(stream_with_ui(n, rate, case, gc_policy=policy))
            quiet = asyncio.run(stream_with_ui(n, rate, case, keys=False, gc_policy=policy))
            if args.screen is not None:
                args.screen.write_text(ui["screen"], encoding="utf-8")
            report(n, rate, base, ui)
            print(
                f"  without key presses: UI load {(quiet['cpu_s'] - base) / quiet['wall_s']:.1%}"
                f" of one core, whole process {quiet['cpu_s'] / quiet['wall_s']:.1%}; "
                f"{(quiet['cpu_s'] - base) / n * 1e6:.1f} µs of UI CPU per delta"
            )
        if not args.no_startup:
            run_startup(tmp / "startup", args.startup_runs, args.startup_baseline)


def run_startup(tmp: Path, runs: int, baseline: Path | None = None) -> None:
    """The start-up figures: the workbench's first screen, then `--help`."""
    tmp.mkdir()
    startup_report(startup_times(tmp, runs, baseline))
    env = startup_fixture_env(tmp)
    envs = {"": env}
    if baseline is not None:
        envs[f", from {baseline}"] = {**env, "PYTHONPATH": str(baseline.resolve())}
    for label, help_env in envs.items():
        for what, (times, cpus) in help_times(help_env, runs).items():
            print(
                f"`{what}`{label} (fresh process, {len(times)} runs): median "
                f"{statistics.median(times) * 1e3:.0f} ms, worst {max(times) * 1e3:.0f} ms "
                f"(CPU {statistics.median(cpus) * 1e3:.0f} ms)"
            )


def help_times(env: dict[str, str], runs: int = 5) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU time of `stepfun-asr --help` and `stepfun-asr transcribe --help` from
    process start (after one untimed run each)."""
    out: dict[str, tuple[list[float], list[float]]] = {}
    for argv in (["--help"], ["transcribe", "--help"]):
        walls: list[float] = []
        cpus: list[float] = []
        for i in range(runs + 1):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "tui", *argv],
                capture_output=True,
                timeout=60,
                check=True,
                env=env,
                cwd=env["HOME"],
            )
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if i:
                walls.append(time.perf_counter() - t0)
                cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out["stepfun-asr " + " ".join(argv)] = (walls, cpus)
    return out


if __name__ == "__main__":
    main()
