"""Review playback on the null device: key to first sample, and what following costs the UI.

Builds a job with a 20-minute MP3 (ffmpeg's sine source) and a transcript of one cue per
second (1200 cues), opens the workbench's review screen in Textual's headless Pilot with
``STEPFUN_ASR_AUDIO_DEVICE=null``, then:

- presses space on cues spread over the file and measures from the key to the first sample
  written to the sink (it includes the UI, starting ffmpeg, seeking and decoding);
- plays with the list following the cue being heard and measures this process's CPU time
  per second of playback (the decoder is a child process, not counted), against the same
  stretch of wall time paused, and the time spent in the follow/position tick itself.

    .venv/bin/python benchmarks/bench_review.py [--full]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

MINUTES = 20


def make_job(work: Path) -> tuple[Path, int]:
    from tui.store.records import JobOptions
    from tui.store.store import Store
    from tui.transcript.model import Segment, TranscriptionResult

    audio = work / "meeting.mp3"
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed"
    subprocess.run(
        [
            ffmpeg,
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=220:duration={MINUTES * 60}",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-b:a",
            "32k",
            str(audio),
        ],
        check=True,
    )
    segments = []
    for second in range(MINUTES * 60):
        for k, word in enumerate(("word", "number", f"{second}.")):
            start = second * 1000 + k * 300
            segments.append(Segment(start, start + 280, (" " if segments else "") + word))
    text = "".join(s.text for s in segments).strip()
    db = work / "jobs.sqlite3"
    with Store(db) as store:
        job = store.add_job(audio, JobOptions())
        store.claim_next("bench")
        store.finish_job(
            job.id,
            TranscriptionResult(str(audio), text, segments, duration_s=MINUTES * 60.0),
            owner="bench",
        )
    return db, job.id


async def run(full: bool) -> None:
    os.environ["STEPFUN_ASR_AUDIO_DEVICE"] = "null"
    from tui.app.app import make_app
    from tui.app.screens.review_screen import ReviewScreen
    from tui.app.testing import wait_until
    from tui.config import Settings
    from tui.playback.sinks import NullSink
    from tui.secrets import Secret

    trials = 30 if full else 10
    play_s = 20.0 if full else 5.0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db, job_id = make_job(work)
        settings = Settings()
        settings.base_url = "http://127.0.0.1:9"  # nothing is sent: no job is queued
        settings.api_key = Secret("bench-" + "0" * 24)
        app = make_app(settings, work, db_path=db, config_path=work / "c.toml")
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.main.table.job_ids, what="job listed")
            app.main.table.select_job(job_id)
            await pilot.pause()
            await pilot.press("o")
            await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
            screen = app.screen
            assert isinstance(screen, ReviewScreen)
            print(f"transcript: {len(screen.cues)} cues over {MINUTES} min of MP3")

            # Key to first sample: with the cursor resting on the cue (the decoder started
            # ahead), and pressed at once after moving there (ffmpeg starts on the key).
            async def first_sample(cue: int, rest_s: float) -> float:
                screen.cue_list.highlighted = cue
                await pilot.pause(rest_s)
                t0 = time.monotonic()
                await pilot.press("space")
                player = screen.player
                assert player is not None and isinstance(player.sink, NullSink)
                sink = player.sink
                await wait_until(
                    pilot, lambda: sink.first_write_at is not None, step=0.001, what="sound"
                )
                assert sink.first_write_at is not None
                took = (sink.first_write_at - t0) * 1000
                await pilot.press("space")
                return took

            for label, rest_s in (("cursor resting on the cue", 0.4), ("pressed at once", 0.0)):
                latencies = sorted(
                    [await first_sample((i * 97) % len(screen.cues), rest_s) for i in range(trials)]
                )
                print(
                    f"key to first sample, {label} ({trials} plays across the file): "
                    f"median {statistics.median(latencies):.0f} ms, worst {latencies[-1]:.0f} ms"
                )

            # Follow cost: CPU of this process per second of playback vs paused.
            ticks = 0.0
            original = screen.tick

            def timed_tick() -> None:
                nonlocal ticks
                t = time.perf_counter()
                original()
                ticks += time.perf_counter() - t

            screen.tick = timed_tick  # type: ignore[method-assign]
            if screen._timer is not None:
                screen._timer._callback = timed_tick  # the interval calls this one now
            screen.cue_list.highlighted = 600
            await pilot.pause()
            cpu0, wall0 = time.process_time(), time.monotonic()
            await pilot.pause(play_s)
            idle_cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)

            async def playing(follow_ui: bool) -> tuple[float, float, float]:
                """(CPU s per s, tick s per s, seconds heard) over play_s of playback."""
                nonlocal ticks
                ticks = 0.0
                await pilot.press("space")
                player = screen.player
                assert player is not None and screen._timer is not None
                if not follow_ui:
                    screen._timer.pause()  # audio only: no ▶ mark, no position, no follow
                start_pos = player.position_ms
                cpu0, wall0 = time.process_time(), time.monotonic()
                await pilot.pause(play_s)
                wall = time.monotonic() - wall0
                cpu = time.process_time() - cpu0
                heard = (player.position_ms - start_pos) / 1000
                await pilot.press("space")
                return cpu / wall, ticks / wall, heard

            audio_cpu, _, _ = await playing(False)
            cpu, tick, heard = await playing(True)
            print(
                f"CPU of the workbench per second of playback: {cpu * 1000:.0f} ms following "
                f"(playing cue, ▶ position, highlight at 10 Hz), {audio_cpu * 1000:.0f} ms with the "
                f"audio alone, {idle_cpu * 1000:.0f} ms paused; the follow tick itself "
                f"{tick * 1000:.1f} ms/s (1200-cue list; heard {heard:.1f} s)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="30 plays and 20 s of playback")
    args = parser.parse_args()
    asyncio.run(run(args.full))


if __name__ == "__main__":
    main()
