"""`stepfun-asr demo`: sample recordings, settings aimed at the emulator, and the whole demo
run headless through the real command (every part of the workbench, no key, no ffmpeg)."""

from __future__ import annotations

import argparse
import wave
from pathlib import Path
from typing import Any

import pytest

from tui import demo, locations
from tui.app.app import WorkbenchApp
from tui.app.testing import wait_until
from tui.stepfun.emulator import read_directive
from tui.store.records import ENDED, JobState
from tui.store.store import Store


def test_samples_have_the_promised_lengths_and_directives(tmp_path: Path) -> None:
    paths = demo.make_samples(tmp_path / "rec")
    assert [p.name for p in paths] == [s.name for s in demo.SAMPLES]
    lengths = set()
    for path, sample in zip(paths, demo.SAMPLES, strict=True):
        with wave.open(str(path)) as w:
            seconds = w.getnframes() / w.getframerate()
        assert seconds == pytest.approx(sample.seconds)
        lengths.add(seconds)
        directive = read_directive(path.read_bytes()) or {}
        for key in ("text", "fault"):
            assert directive.get(key) == sample.directive.get(key)
    assert {5.0, 20.0, 60.0} <= lengths
    assert len({p.read_bytes() for p in paths}) == len(paths)  # distinct audio, no dedupe


def _parser() -> argparse.ArgumentParser:
    from tui.commands import tui_cmd

    parser = argparse.ArgumentParser(prog="stepfun-asr")
    tui_cmd.register(parser.add_subparsers(dest="command"))
    return parser


def test_demo_command_shows_every_part_without_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Runs `stepfun-asr demo` itself, with no key and no ffmpeg on PATH; only the terminal is
    replaced by Textual's headless driver, with a pilot that waits for the sample jobs and
    then quits like a user."""
    seen: dict[str, Any] = {}
    original_run = WorkbenchApp.run

    async def pilot_script(pilot: Any) -> None:
        app: WorkbenchApp = pilot.app
        await wait_until(
            pilot,
            lambda: (
                len(app.engine.store.list_jobs()) == len(demo.SAMPLES)
                and all(j.state in ENDED for j in app.engine.store.list_jobs())
            ),
            deadline_s=90,
            what="every demo job ended",
        )
        folder = app.root
        await wait_until(
            pilot,
            lambda: all(
                (folder / f"{Path(s.name).stem}.txt").exists()
                for s in demo.SAMPLES
                if s.directive.get("fault") != "error_event"
            ),
            what="transcripts written",
        )
        # The panel logs a job's problems when its event reaches the screen, a moment after
        # the store says it ended.
        await wait_until(
            pilot,
            lambda: all(
                any(name in p.where for p in app.main.errors.problems)
                for name in ("04 chorus.wav", "05 silence.wav", "06 [draft] phone memo.wav")
            ),
            what="the warnings and the failure logged",
        )
        seen["jobs"] = {j.name: j for j in app.engine.store.list_jobs()}
        seen["problems"] = list(app.main.errors.problems)
        seen["watching"] = app.engine.watched()
        seen["settings"] = app.settings
        await pilot.press("q")

    def headless_run(self: WorkbenchApp, **kwargs: Any) -> Any:
        return original_run(self, headless=True, size=(120, 36), auto_pilot=pilot_script)

    monkeypatch.setattr(WorkbenchApp, "run", headless_run)
    monkeypatch.setenv("STEPFUN_API_KEY", "")  # no key anywhere
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))  # no ffmpeg either: the samples are plain WAV
    args = _parser().parse_args(["demo", "--folder", str(tmp_path / "demo"), "--rtf", "0"])
    assert args.func(args) == 0

    out = capsys.readouterr()
    folder = tmp_path / "demo" / "recordings"
    assert str(folder) in out.out and "Drop more audio files" in out.out
    # Inside the workbench too: where to drop files.
    assert any(p.where == "demo" and str(folder) in p.message for p in seen["problems"])
    jobs = seen["jobs"]
    states = {name: job.state for name, job in jobs.items()}
    assert states == {
        "01 welcome.wav": JobState.DONE,
        "02 standup meeting.wav": JobState.DONE,
        "03 lecture.wav": JobState.DONE,
        "04 chorus.wav": JobState.NEEDS_REVIEW,
        "05 silence.wav": JobState.NEEDS_REVIEW,
        "06 [draft] phone memo.wav": JobState.FAILED,
    }
    failed = jobs["06 [draft] phone memo.wav"]
    errors = [p for p in seen["problems"] if p.severity == "error"]
    assert [p.message for p in errors] == [failed.error_message]
    warned = {p.where for p in seen["problems"] if p.severity == "warning"}
    assert any("04 chorus.wav" in w for w in warned) and any("05 silence" in w for w in warned)
    assert seen["watching"] and seen["watching"][0].folders == (folder,)
    assert seen["settings"].base_url.startswith("http://127.0.0.1:")
    # The user's own files are untouched: no config file, no job database.
    assert not locations.config_file().exists()
    assert not locations.default_db_path().exists()
    assert (tmp_path / "demo" / "jobs.sqlite3").exists()
    with Store(tmp_path / "demo" / "jobs.sqlite3") as store:
        assert {j.state for j in store.list_jobs()} <= ENDED  # nothing left running
