"""The workbench driven with Pilot against the real emulator on loopback: transcribe, fail,
watch a folder, quit mid-job, and file names full of markup."""

from __future__ import annotations

import argparse
import asyncio
import secrets
from pathlib import Path

import pytest

from tui.app.app import WorkbenchApp, make_app
from tui.app.screens.quit_screen import QuitScreen
from tui.app.testing import emulator_settings, screen_text, wait_until
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import JobState
from tui.store.store import Store
from tui.transcript.formats import render

SIZE = (120, 36)


def _app(tmp_path: Path, emulator: Emulator, folder: Path, **kwargs: object) -> WorkbenchApp:
    settings = emulator_settings(emulator, concurrency=1)
    return make_app(
        settings,
        folder,
        db_path=tmp_path / "jobs.sqlite3",
        config_path=tmp_path / "config.toml",
        **kwargs,
    )  # type: ignore[arg-type]


def _sentences(n: int) -> str:
    """Fresh words each run: what comes back must be what the audio "says"."""
    words = [secrets.token_hex(3) for _ in range(n * 4)]
    return " ".join(" ".join(words[i : i + 4]).capitalize() + "." for i in range(0, len(words), 4))


async def _highlight(pilot: object, app: WorkbenchApp, name: str) -> None:
    tree = app.main.files
    await wait_until(
        pilot,
        lambda: any(str(c.label) == name for c in tree.root.children),  # type: ignore[arg-type]
        what=f"{name} in the file browser",
    )
    for _ in range(len(tree.root.children) + 1):
        path = tree.highlighted_path()
        if path is not None and path.name == name:
            return
        await pilot.press("down")  # type: ignore[attr-defined]
    raise AssertionError(f"could not highlight {name}")


async def test_transcribe_highlighted_file_streams_text_with_timestamps(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    text = _sentences(3)
    write_directive_wav(folder / "talk.wav", 6, text=text)
    with Emulator(rtf=0.5) as emu:
        app = _app(tmp_path, emu, folder)
        async with app.run_test(size=SIZE) as pilot:
            await _highlight(pilot, app, "talk.wav")
            await pilot.press("t")
            pane = app.main.pane
            first_word = text.split()[0]
            # Mid-stream: the job is still running and its first words are already shown.
            await wait_until(
                pilot,
                lambda: (
                    first_word in pane.text
                    and app.engine.store.list_jobs()[0].state is JobState.RUNNING
                ),
                what="streamed text while running",
            )
            job_id = app.engine.store.list_jobs()[0].id
            await wait_until(
                pilot,
                lambda: app.engine.store.require_job(job_id).state is JobState.DONE,
                what="job done",
            )
            await pilot.pause()
            result = app.engine.store.get_result(job_id)
            assert result is not None and result.text == text
            # The finished view is one cue per line, each with its start time.
            lines = pane.text.splitlines()
            assert lines and all(line.startswith("[00:00:0") for line in lines)
            assert " ".join(line.split("] ", 1)[1] for line in lines) == text
            assert pane.flushes >= 2  # streamed in several edits, not one per delta
            shown = screen_text(app)
            assert "talk.wav" in shown and "done" in shown


async def test_failure_lands_in_errors_panel_verbatim(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    write_directive_wav(folder / "broken.wav", 3, fault="error_event")
    with Emulator() as emu:
        app = _app(tmp_path, emu, folder)
        async with app.run_test(size=SIZE) as pilot:
            await _highlight(pilot, app, "broken.wav")
            await pilot.press("t")
            await wait_until(
                pilot,
                lambda: (
                    bool(app.engine.store.list_jobs())
                    and app.engine.store.list_jobs()[0].state is JobState.FAILED
                ),
                what="job failed",
            )
            errors = app.main.errors
            # Logged when the failure's event reaches the screen, a moment after the store.
            await wait_until(
                pilot,
                lambda: any(p.severity == "error" for p in errors.problems),
                what="the failure logged",
            )
            job = app.engine.store.list_jobs()[0]
            assert job.error_message
            assert [p.message for p in errors.problems if p.severity == "error"] == [
                job.error_message
            ]
            # The selected job's panel shows the same sentence.
            sentence = job.error_message[:40]
            await wait_until(
                pilot,
                lambda: sentence in str(errors.query_one("#job-usage").render()).replace("\n", " "),
                what="the failure in the job's panel",
            )


async def test_watch_mode_picks_up_a_dropped_file(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    staging = tmp_path / "staging"
    staging.mkdir()
    text = _sentences(2)
    with Emulator() as emu:
        app = _app(tmp_path, emu, folder, watch=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: bool(app.engine.watched()), what="watching")
            await wait_until(
                pilot,
                lambda: "watching ./" in screen_text(app),
                what="header shows the watched folder",
            )
            write_directive_wav(staging / "memo.wav", 3, text=text)
            mv = await asyncio.create_subprocess_exec(
                "mv", str(staging / "memo.wav"), str(folder / "memo.wav")
            )
            assert await mv.wait() == 0
            await wait_until(
                pilot,
                lambda: any(j.state is JobState.DONE for j in app.engine.store.list_jobs()),
                deadline_s=30,
                what="dropped file transcribed",
            )
            job = app.engine.store.list_jobs()[0]
            assert job.source == folder / "memo.wav" and job.origin == "watch"
            assert job.id in app.main.table.job_ids
            txt = folder / "memo.txt"
            await wait_until(pilot, txt.exists, what="transcript written next to the audio")
            result = app.engine.store.get_result(job.id)
            assert result is not None and txt.read_text(encoding="utf-8") == render(result, "txt")
            assert result.text == text
            tree = app.main.files
            await wait_until(
                pilot,
                lambda: any(str(c.label) == "memo.wav" for c in tree.root.children),
                what="file browser shows the new file",
            )


async def test_quitting_mid_job_leaves_it_queued(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    write_directive_wav(folder / "long.wav", 30, text=_sentences(12))
    db = tmp_path / "jobs.sqlite3"
    with Emulator(rtf=1.0) as emu:
        app = _app(tmp_path, emu, folder)
        async with app.run_test(size=SIZE) as pilot:
            await _highlight(pilot, app, "long.wav")
            await pilot.press("t")
            await wait_until(pilot, lambda: bool(app.main.pane.text), what="first words")
            job_id = app.engine.store.list_jobs()[0].id
            assert app.engine.store.require_job(job_id).state is JobState.RUNNING
            await pilot.press("q")  # asks first: what would be sent again, and its cost
            await wait_until(
                pilot,
                lambda: "0.5 min of audio" in screen_text(app),
                what="quit dialog with what would be sent again",
            )
            text = screen_text(app)
            assert "long.wav" in text and "sent again" in text
            assert "Finish running jobs, then quit" in text
            await pilot.press("escape")  # stay
            await pilot.pause()
            assert app.is_running and not isinstance(app.screen, QuitScreen)
            assert app.engine.store.require_job(job_id).state is JobState.RUNNING
            await pilot.press("q")
            await wait_until(pilot, lambda: isinstance(app.screen, QuitScreen), what="quit dialog")
            await pilot.click("#quit-now")
        assert app.return_code in (0, None)
    with Store(db) as store:
        job = store.require_job(job_id)
        assert job.state is JobState.QUEUED and job.owner is None


async def test_finish_running_jobs_then_quit(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    write_directive_wav(folder / "a.wav", 10, text=_sentences(2))
    write_directive_wav(folder / "b.wav", 10, text=_sentences(2), tone_hz=500)
    db = tmp_path / "jobs.sqlite3"
    with Emulator(rtf=0.5) as emu:
        app = _app(tmp_path, emu, folder)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: len(app.main.files.root.children) == 2, what="files")
            await pilot.press("t")  # both queued; one at a time
            await wait_until(pilot, lambda: bool(app.main.pane.text), what="first words")
            await pilot.press("q")
            await wait_until(pilot, lambda: isinstance(app.screen, QuitScreen), what="quit dialog")
            running = {j.id for j in app.engine.store.list_jobs(["running"])}
            await pilot.click("#quit-finish")
            await wait_until(pilot, lambda: not app.is_running, what="the app quit by itself")
        sent = sum(r.endpoint == "sse" for r in emu.requests)
    with Store(db) as store:
        jobs = store.list_jobs()
    # The running one finished; the one that had not started stays queued, unsent.
    assert len(running) == 1 and len(jobs) == 2
    for job in jobs:
        assert job.state is (JobState.DONE if job.id in running else JobState.QUEUED)
    assert sent == 1


# File names cannot hold "/", so no closing tags here; rendered as markup they would lose
# their brackets (or become a clickable action). The transcript text carries closing tags.
MARKUP_NAMES = ("[bold]oops [@click=app.quit]x.wav", "[link=https:x]y [red]z $accent.wav")


async def test_markup_in_file_names_and_text_never_crashes(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    good, bad = MARKUP_NAMES
    text = "Say [b]hello[/b] and [/] close. Then [link=x] stays literal."
    write_directive_wav(folder / good, 3, text=text)
    write_directive_wav(folder / bad, 3, fault="error_event")
    with Emulator() as emu:
        app = _app(tmp_path, emu, folder)
        async with app.run_test(size=(200, 40), notifications=True) as pilot:
            await _highlight(pilot, app, good)
            await pilot.press("t")
            await _highlight(pilot, app, bad)
            await pilot.press("t")
            await wait_until(
                pilot,
                lambda: (
                    len(app.engine.store.list_jobs()) == 2
                    and all(
                        j.state in (JobState.DONE, JobState.FAILED)
                        for j in app.engine.store.list_jobs()
                    )
                ),
                what="both jobs ended",
            )
            await pilot.press("k")  # select the first job
            await pilot.pause()
            await pilot.press("c")  # copy: a toast
            await pilot.press("e")  # the export dialog names the file
            await pilot.pause()
            assert good in screen_text(app)
            await pilot.press("ctrl+s")  # export next to the audio: a toast with the name
            await wait_until(
                pilot, lambda: (folder / good).with_suffix(".txt").exists(), what="export written"
            )
            await pilot.pause()
            await pilot.pause()
            shown = screen_text(app)
            for name in MARKUP_NAMES:
                assert name in shown
            assert "[b]hello[/b]" in shown and "[/] close." in shown
            assert app.clipboard.startswith("[00:00:0") and "[b]hello[/b]" in app.clipboard
            failed = next(j for j in app.engine.store.list_jobs() if j.state is JobState.FAILED)
            assert failed.name == bad


def _parser() -> argparse.ArgumentParser:
    from tui.commands import tui_cmd

    parser = argparse.ArgumentParser(prog="stepfun-asr")
    tui_cmd.register(parser.add_subparsers(dest="command"))
    return parser


def test_tui_command_rejects_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parser().parse_args(["tui", str(tmp_path / "missing"), "--watch"])
    assert args.func(args) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_registering_the_commands_does_not_import_textual() -> None:
    from tests.conftest import run_python

    code = (
        "import argparse, sys\n"
        "from tui.commands import tui_cmd\n"
        "p = argparse.ArgumentParser(); tui_cmd.register(p.add_subparsers())\n"
        "p.parse_args(['demo', '--rtf', '0.2']); p.parse_args(['tui', '.', '--watch'])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "print(bad); raise SystemExit(1 if bad else 0)\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stdout + done.stderr
