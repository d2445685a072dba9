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
4. Start-up: a fresh ``python`` process imports the app and runs it headless until the main
   screen has loaded the job list; wall time from process start (median of 5). Also
   ``stepfun-asr --help`` and ``stepfun-asr transcribe --help`` in fresh processes.
Streaming runs once per ``--rate`` (default 250/s, the real pace of a long file, and 4000/s);
each reports the CPU share per second of streaming, once with a key press every 50 ms (the
key-delay figures) and once without (what streaming alone costs).
``--screen FILE`` also saves a text capture of the main screen after the stream, and
``--demo-svg FILE`` an SVG of `stepfun-asr demo` mid-stream (for the README).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

from textual import events

from tui.app.app import WorkbenchApp, make_app
from tui.app.main_screen import MainScreen
from tui.app.testing import screen_text, wait_until
from tui.app.widgets.transcript_pane import FLUSH_HZ
from tui.config import Settings
from tui.engine.engine import Engine
from tui.engine.transcriber import Transcriber
from tui.stepfun.events import DeltaReceived, TranscriptDone
from tui.store.records import JobState
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


async def stream_with_ui(n: int, rate: float, tmp: Path, *, keys: bool = True) -> dict[str, Any]:
    folder = tmp / ("rec" if keys else "rec-quiet")
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
        probe = Probe(app)
        probe.install()
        job = app.engine.submit(folder / "talk.wav", origin="tui")
        cpu = time.process_time()
        wall = time.perf_counter()
        for _ in range(1_000_000):
            state = app.engine.store.require_job(job.id).state
            if state is not JobState.RUNNING and state is not JobState.QUEUED:
                break
            if keys:
                probe.press()
            await asyncio.sleep(0.05)
        out["cpu_s"] = time.process_time() - cpu
        out["wall_s"] = time.perf_counter() - wall
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


STARTUP_SCRIPT = r"""
import sys, time
t0 = float(sys.argv[1])
from pathlib import Path
from tui.app.app import make_app
from tui.config import Settings
from tui.secrets import Secret
s = Settings(); s.api_key = Secret("bench-not-a-key"); s.base_url = "http://127.0.0.1:9/v1"
app = make_app(s, Path(sys.argv[2]), db_path=Path(sys.argv[3]))
async def pilot(p):
    while not p.app.main.table.is_mounted:
        await p.pause(0.001)
    p.app.exit(time.time() - t0)
print(app.run(headless=True, size=(120, 36), auto_pilot=pilot))
"""


def startup_times(tmp: Path, runs: int = 5) -> list[float]:
    times = []
    for i in range(runs):
        t0 = time.time()
        done = subprocess.run(
            [sys.executable, "-c", STARTUP_SCRIPT, repr(t0), str(tmp), str(tmp / f"s{i}.sqlite3")],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return times


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
    args = parser.parse_args()
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
            ui = asyncio.run(stream_with_ui(n, rate, case))
            quiet = asyncio.run(stream_with_ui(n, rate, case, keys=False))
            if args.screen is not None:
                args.screen.write_text(ui["screen"], encoding="utf-8")
            report(n, rate, base, ui)
            print(
                f"  without key presses: UI load {(quiet['cpu_s'] - base) / quiet['wall_s']:.1%}"
                f" of one core, whole process {quiet['cpu_s'] / quiet['wall_s']:.1%}; "
                f"{(quiet['cpu_s'] - base) / n * 1e6:.1f} µs of UI CPU per delta"
            )
        if not args.no_startup:
            starts = startup_times(tmp)
            print(
                f"start-up to the first screen (fresh process, {len(starts)} runs): median "
                f"{statistics.median(starts):.2f} s, worst {max(starts):.2f} s"
            )
            helps = help_times()
            for what, times in helps.items():
                print(
                    f"`{what}` (fresh process, {len(times)} runs): median "
                    f"{statistics.median(times) * 1e3:.0f} ms, worst {max(times) * 1e3:.0f} ms"
                )


def help_times(runs: int = 5) -> dict[str, list[float]]:
    """Wall time of `stepfun-asr --help` and `stepfun-asr transcribe --help` from process start."""
    out: dict[str, list[float]] = {}
    for argv in (["--help"], ["transcribe", "--help"]):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "tui", *argv], capture_output=True, timeout=60, check=True
            )
            times.append(time.perf_counter() - t0)
        out["stepfun-asr " + " ".join(argv)] = times
    return out


if __name__ == "__main__":
    main()
