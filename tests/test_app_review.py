"""Reviewing finished transcripts with the keyboard: next/previous job, mark reviewed,
search with next/previous match, copy, export (files written), and the command palette."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input, SelectionList

from tui.app.app import WorkbenchApp, make_app
from tui.app.screens.confirm_send_screen import ConfirmSendScreen
from tui.app.screens.export_screen import ExportScreen
from tui.app.testing import emulator_settings, wait_until
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import FINISHED, JobState
from tui.transcript.formats import render

SIZE = (120, 36)


def _texts(n: int, needle: str) -> list[str]:
    """n transcripts; the i-th mentions ``needle`` i+1 times among fresh words."""
    out = []
    for i in range(n):
        parts = [f"{secrets.token_hex(3)} {needle} {secrets.token_hex(3)}." for _ in range(i + 1)]
        out.append(" ".join(p.capitalize() for p in parts))
    return out


async def _finished_app(
    tmp_path: Path, emu: Emulator, texts: list[str]
) -> tuple[WorkbenchApp, Path]:
    folder = tmp_path / "rec"
    folder.mkdir()
    for i, text in enumerate(texts):
        write_directive_wav(folder / f"clip{i + 1}.wav", 3, text=text, tone_hz=200 + 10 * i)
    app = make_app(
        emulator_settings(emu, concurrency=1),
        folder,
        db_path=tmp_path / "jobs.sqlite3",
        config_path=tmp_path / "config.toml",
    )
    return app, folder


def _all_finished(app: WorkbenchApp, n: int) -> bool:
    jobs = app.engine.store.list_jobs()
    return len(jobs) == n and all(j.state in FINISHED for j in jobs)


async def test_review_keys_move_mark_and_search(tmp_path: Path) -> None:
    needle = "zq" + secrets.token_hex(2)
    texts = _texts(3, needle)
    with Emulator() as emu:
        app, _folder = await _finished_app(tmp_path, emu, texts)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: len(app.main.files.root.children) == 3, what="files listed"
            )
            await pilot.press("t")  # the root folder is highlighted: queue all three
            await wait_until(pilot, lambda: _all_finished(app, 3), what="three jobs done")
            ids = app.main.table.job_ids
            assert app.main.selected_job == ids[2]  # followed each job as it started
            await pilot.press("k", "k")
            assert app.main.selected_job == ids[0]
            await pilot.press("k")
            assert app.main.selected_job == ids[0]  # stays on the first one
            await pilot.press("j")
            assert app.main.selected_job == ids[1]
            assert not app.main.follow_running  # the user took over
            await pilot.pause()
            assert needle in app.main.pane.text

            await pilot.press("m")
            assert app.engine.store.require_job(ids[1]).reviewed
            await pilot.press("m")
            assert not app.engine.store.require_job(ids[1]).reviewed
            await pilot.press("m")
            assert app.engine.store.require_job(ids[1]).reviewed

            await pilot.press("slash")
            assert isinstance(app.focused, Input)
            await pilot.press(*needle.upper(), "enter")  # case-insensitive
            pane = app.main.pane
            assert len(pane.matches) == 2 == pane.text.lower().count(needle)
            assert pane.current_match == needle and pane.match_index == 0
            await pilot.press("right_square_bracket")
            assert pane.match_index == 1 and pane.current_match == needle
            await pilot.press("right_square_bracket")
            assert pane.match_index == 0
            await pilot.press("left_square_bracket")
            assert pane.match_index == 1

            await pilot.press("c")
            assert app.clipboard == pane.text and needle in app.clipboard

            await pilot.press("j")  # the third transcript: three matches for the same query
            await pilot.pause()
            await pilot.press("slash", "enter")
            assert len(pane.matches) == 3
            await pilot.press("slash")
            assert pane.search_open
            await pilot.press("escape")
            assert not pane.search_open and app.focused is pane.view


async def _transcribe_then_open_export(pilot: Pilot[Any], app: WorkbenchApp) -> None:
    """Transcribe the folder's one file, wait for it, and open the export dialog."""
    await wait_until(pilot, lambda: len(app.main.files.root.children) == 1, what="file listed")
    await pilot.press("t")
    await wait_until(pilot, lambda: _all_finished(app, 1), what="job done")
    await pilot.press("e")
    await wait_until(pilot, lambda: isinstance(app.screen, ExportScreen), what="export dialog")


async def _confirm(pilot: Pilot[Any], app: WorkbenchApp, *, press: bool = True) -> Any:
    """Wait for the send confirmation; with ``press``, confirm it."""
    await wait_until(
        pilot, lambda: isinstance(app.screen, ConfirmSendScreen), what="confirmation dialog"
    )
    dialog = app.screen
    if press:
        await pilot.click("#confirm-yes")
    return dialog


async def test_export_writes_the_chosen_formats(tmp_path: Path) -> None:
    texts = _texts(1, "export")
    out = tmp_path / "out"
    with Emulator() as emu:
        app, folder = await _finished_app(tmp_path, emu, texts)
        async with app.run_test(size=SIZE) as pilot:
            await _transcribe_then_open_export(pilot, app)
            formats = app.screen.query_one(SelectionList)
            assert list(formats.selected) == ["txt"]  # the settings' formats
            await pilot.press("down", "space", "down", "space", "down", "down", "space")
            assert sorted(formats.selected) == ["md", "srt", "txt", "vtt"]
            folder_input = app.screen.query_one("#export-dir", Input)
            folder_input.focus()
            folder_input.insert_text_at_cursor(str(out))  # as a paste would
            await pilot.press("ctrl+s")
            job = app.engine.store.list_jobs()[0]
            expected = [out / f"clip1.{ext}" for ext in ("txt", "srt", "vtt", "md")]
            await wait_until(
                pilot, lambda: all(p.exists() for p in expected), what="exported files"
            )
            result = app.engine.store.get_result(job.id)
            assert result is not None
            for path in expected:
                assert path.read_text(encoding="utf-8") == render(result, path.suffix[1:])
            await wait_until(
                pilot,
                lambda: set(expected) <= set(app.engine.store.require_job(job.id).outputs),
                what="outputs recorded",
            )
            # `t` itself wrote the configured format next to the audio, as a watch would.
            assert (folder / "clip1.txt").read_text(encoding="utf-8") == render(result, "txt")


def _first_command(app: WorkbenchApp) -> str:
    """The palette's highlighted command ('' while it is still searching)."""
    commands = app.screen.query(CommandList)
    if not commands or commands.first().option_count == 0:
        return ""
    return str(commands.first().get_option_at_index(0).prompt)


async def test_command_palette_runs_workbench_actions(tmp_path: Path) -> None:
    with Emulator() as emu:
        app, _folder = await _finished_app(tmp_path, emu, _texts(1, "palette"))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: len(app.main.files.root.children) == 1, what="file listed"
            )
            await pilot.press("ctrl+p")
            await wait_until(
                pilot, lambda: isinstance(app.screen, CommandPalette), what="palette open"
            )
            await pilot.press(*"Transcribe")
            await wait_until(
                pilot, lambda: _first_command(app).startswith("Transcribe"), what="command listed"
            )
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda: len(app.engine.store.list_jobs()) == 1,
                what="job queued from the palette",
            )
            await wait_until(
                pilot,
                lambda: app.engine.store.list_jobs()[0].state is JobState.DONE,
                what="job done",
            )


async def test_cancel_retry_and_cross_check(tmp_path: Path) -> None:
    texts = ["One slow clip that will be canceled, then run again in full."]
    with Emulator(rtf=1.0) as emu:
        app, _folder = await _finished_app(tmp_path, emu, texts)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: len(app.main.files.root.children) == 1, what="file listed"
            )
            await pilot.press("t")
            await wait_until(pilot, lambda: bool(app.main.pane.text), what="streaming")
            job_id = app.engine.store.list_jobs()[0].id
            await pilot.press("x")
            await wait_until(
                pilot,
                lambda: app.engine.store.require_job(job_id).state is JobState.CANCELED,
                what="canceled",
            )
            emu.rtf = 0.0
            await pilot.press("r")  # canceled before it finished: no dialog, nothing was paid
            await wait_until(
                pilot,
                lambda: app.engine.store.require_job(job_id).state is JobState.DONE,
                what="retried to the end",
            )
            result = app.engine.store.get_result(job_id)
            assert result is not None and result.text == texts[0]
            sse_before = sum(r.endpoint == "sse" for r in emu.requests)
            session = app.main.session
            await pilot.press("v")  # cross-check the stored transcript with step-asr-1.1
            dialog = await _confirm(pilot, app, press=False)
            summary = str(dialog.query_one("#confirm-summary").render())
            assert "1 file · 0.1 min of audio · about ¥0.0018" in summary  # 3 s at ¥2.2/h
            await pilot.press("escape")  # sends nothing
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmSendScreen)
            assert sum(r.endpoint == "legacy" for r in emu.requests) == 0
            await pilot.press("v")
            await _confirm(pilot, app)
            await wait_until(
                pilot,
                lambda: (
                    (r := app.engine.store.get_result(job_id)) is not None
                    and r.cross_check is not None
                ),
                what="cross-check stored",
            )
            assert len(app.engine.store.list_jobs()) == 1  # no new job: the same one, checked
            assert sum(r.endpoint == "sse" for r in emu.requests) == sse_before
            assert sum(r.endpoint == "legacy" for r in emu.requests) == 1
            checked = app.engine.store.get_result(job_id)
            assert checked is not None and checked.cross_check is not None
            assert checked.text == texts[0] and checked.cross_check.similarity == 1.0
            assert app.engine.store.require_job(job_id).state is JobState.DONE
            await wait_until(
                pilot,
                lambda: (
                    f"cross-check with {checked.cross_check.model}"
                    in str(app.main.errors.query_one("#job-usage").render())
                ),
                what="check shown for the selected job",
            )
            assert any(
                p.message == "cross-checking with step-asr-1.1" for p in app.main.errors.problems
            )
            # The session counts the check's cost, not the same recording a second time.
            await wait_until(
                pilot,
                lambda: app.main.session.cost != session.cost,
                what="session cost updated",
            )
            totals = app.main.session
            assert (totals.jobs, totals.audio_s) == (session.jobs, session.audio_s)
            added = totals.cost["CNY"] - session.cost["CNY"]
            assert added == pytest.approx(2.2 * 3 / 3600, rel=0.02)


async def test_cross_check_key_on_a_failed_job_and_a_failing_check(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    write_directive_wav(folder / "a-fine.wav", 3, text="Fine words for a check.")
    write_directive_wav(folder / "b-broken.wav", 3, fault="status", code=451)
    with Emulator() as emu:
        app = make_app(
            emulator_settings(emu, concurrency=1),
            folder,
            db_path=tmp_path / "jobs.sqlite3",
            config_path=tmp_path / "config.toml",
        )
        notes: list[tuple[str, bool]] = []
        notify = app.notify

        def recording(message: str, **kw: Any) -> None:
            notes.append((message, kw.get("markup", True)))
            notify(message, **kw)

        app.notify = recording  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(
                pilot, lambda: len(app.main.files.root.children) == 2, what="files listed"
            )
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
            fine, broken = sorted(app.engine.store.list_jobs(), key=lambda j: j.name)
            assert broken.state is JobState.FAILED
            app.main.table.select_job(broken.id)
            await wait_until(
                pilot, lambda: app.main.selected_job == broken.id, what="failed job selected"
            )
            await pilot.press("v")
            await pilot.pause()
            message, markup = notes[-1]
            assert "there is no transcript to cross-check" in message and markup is False
            legacy = sum(r.endpoint == "legacy" for r in emu.requests)
            assert legacy == 0

            before = app.engine.store.get_result(fine.id)
            assert before is not None
            emu.inject("status", code=500, count=10, retry_after=0)
            app.main.table.select_job(fine.id)
            await wait_until(
                pilot, lambda: app.main.selected_job == fine.id, what="finished job selected"
            )
            await pilot.press("v")
            await _confirm(pilot, app)
            await wait_until(
                pilot,
                lambda: any("cross-check not done" in p.message for p in app.main.errors.problems),
                what="check failure in the errors panel",
            )
            problem = next(
                p for p in app.main.errors.problems if "cross-check not done" in p.message
            )
            assert problem.severity == "error" and f"job {fine.id}" in problem.where
            assert app.engine.store.require_job(fine.id).state is JobState.DONE
            after = app.engine.store.get_result(fine.id)
            assert after is not None and after.to_json() == before.to_json()
            await wait_until(
                pilot,
                lambda: (
                    str(app.main.table.get_cell(str(fine.id), "progress")) == "wrote a-fine.txt"
                ),
                what="the row back to its finished summary",
            )
            assert app.is_running


async def test_a_failing_worker_lands_in_the_errors_panel(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder.txt"
    blocker.write_text("a file where the export folder should be\n", encoding="utf-8")
    with Emulator() as emu:
        app, _folder = await _finished_app(tmp_path, emu, _texts(1, "fail"))
        async with app.run_test(size=SIZE) as pilot:
            await _transcribe_then_open_export(pilot, app)
            folder_input = app.screen.query_one("#export-dir", Input)
            folder_input.focus()
            folder_input.insert_text_at_cursor(str(blocker / "sub"))
            await pilot.press("ctrl+s")
            await wait_until(
                pilot,
                lambda: any(p.where == "export" for p in app.main.errors.problems),
                what="export failure reported",
            )
            problem = next(p for p in app.main.errors.problems if p.where == "export")
            assert problem.severity == "error" and "not-a-folder.txt" in problem.message
            assert app.is_running  # the app carries on
            await pilot.press("j", "k")
