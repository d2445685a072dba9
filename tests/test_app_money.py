"""Nothing paid happens in the workbench without intent: each accident from the money issue,
driven with Pilot against the emulator, checked on the emulator's request log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input

from tui.app.app import WorkbenchApp, make_app
from tui.app.screens.confirm_send_screen import ConfirmSendScreen
from tui.app.testing import emulator_settings, screen_text, wait_until
from tui.engine import events as ev
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import FINISHED, JobState

SIZE = (120, 36)


def _sent(emu: Emulator) -> int:
    """Requests that carried audio."""
    return sum(r.endpoint in ("sse", "legacy") for r in emu.requests)


def _app(tmp_path: Path, emu: Emulator, folder: Path, **settings: Any) -> WorkbenchApp:
    return make_app(
        emulator_settings(emu, concurrency=1, **settings),
        folder,
        db_path=tmp_path / "jobs.sqlite3",
        config_path=tmp_path / "config.toml",
    )


def _folder(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "rec"
    folder.mkdir()
    for i, name in enumerate(names):
        text = f"Words of {name} number {i}, findable rx here."
        write_directive_wav(folder / name, 3, text=text, tone_hz=220 + 20 * i)
    return folder


async def _listed(pilot: Pilot[Any], app: WorkbenchApp, n: int) -> None:
    await wait_until(pilot, lambda: len(app.main.files.root.children) == n, what="files listed")


def _finished(app: WorkbenchApp, n: int) -> bool:
    jobs = app.engine.store.list_jobs()
    return len(jobs) == n and all(j.state in FINISHED for j in jobs)


async def _dialog(pilot: Pilot[Any], app: WorkbenchApp) -> ConfirmSendScreen:
    await wait_until(
        pilot, lambda: isinstance(app.screen, ConfirmSendScreen), what="confirmation dialog"
    )
    assert isinstance(app.screen, ConfirmSendScreen)
    return app.screen


async def test_typing_in_search_never_reruns_or_cancels(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["talk.wav"])
    with Emulator() as emu:
        app = _app(tmp_path, emu, folder)
        async with app.run_test(size=SIZE) as pilot:
            await _listed(pilot, app, 1)
            await pilot.press("t")
            await wait_until(pilot, lambda: _finished(app, 1), what="job done")
            job = app.engine.store.list_jobs()[0]
            sent = _sent(emu)
            await pilot.press("slash")
            assert isinstance(app.focused, Input)
            await pilot.press("r", "x", "enter")  # typed into the box: no binding fires
            pane = app.main.pane
            assert len(pane.matches) == 1
            assert not pane.search_open and app.focused is pane.view
            # What the user types next reaches the workbench, but nothing paid happens at once:
            # r asks first (the job is finished), x does nothing in the dialog.
            await pilot.press("r", "x")
            dialog = await _dialog(pilot, app)
            assert "Transcribe talk.wav again" in screen_text(app)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is not dialog
            assert _sent(emu) == sent
            assert app.engine.store.require_job(job.id).state is JobState.DONE


async def test_rerun_of_a_finished_job_asks_and_escape_sends_nothing(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["talk.wav"])
    with Emulator() as emu:
        app = _app(tmp_path, emu, folder)
        async with app.run_test(size=SIZE) as pilot:
            await _listed(pilot, app, 1)
            await pilot.press("t")
            await wait_until(pilot, lambda: _finished(app, 1), what="job done")
            job = app.engine.store.list_jobs()[0]
            before = app.engine.store.get_result(job.id)
            sent = _sent(emu)
            await pilot.press("r")
            dialog = await _dialog(pilot, app)
            text = screen_text(app)
            assert "talk.wav" in text and "already transcribed" in text
            assert "1 file · 0.1 min of audio · about ¥0.0001" in text
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is not dialog and _sent(emu) == sent
            assert app.engine.store.require_job(job.id).state is JobState.DONE
            # Enter on the dialog's default button (Cancel) sends nothing either.
            await pilot.press("r")
            await _dialog(pilot, app)
            await pilot.press("enter")
            await pilot.pause()
            assert _sent(emu) == sent
            await pilot.press("r")
            await _dialog(pilot, app)
            await pilot.click("#confirm-yes")
            await wait_until(
                pilot,
                lambda: (
                    _sent(emu) == sent + 1
                    and app.engine.store.require_job(job.id).state is JobState.DONE
                ),
                what="re-run done",
            )
            after = app.engine.store.get_result(job.id)
            assert before is not None and after is not None and after.text == before.text


async def test_t_on_a_folder_skips_transcribed_files_unless_asked(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["a.wav", "b.wav"])
    with Emulator() as emu:
        app = _app(tmp_path, emu, folder)
        async with app.run_test(size=SIZE) as pilot:
            await _listed(pilot, app, 2)
            await pilot.press("t")  # two new files, under the threshold: no dialog
            await wait_until(pilot, lambda: _finished(app, 2), what="two jobs done")
            assert _sent(emu) == 2
            write_directive_wav(folder / "c.wav", 3, text="A new one.", tone_hz=500)
            app.main.files.reload_folder(folder)
            await _listed(pilot, app, 3)
            await pilot.press("t")
            dialog = await _dialog(pilot, app)
            listed = str(dialog.query_one("#confirm-list").render())
            assert listed.count("already transcribed") == 2 and "c.wav" in listed
            assert "1 file · 0.1 min of audio" in screen_text(app)  # only c.wav by default
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is not dialog and _sent(emu) == 2
            assert len(app.engine.store.list_jobs()) == 2

            await pilot.press("t")
            dialog = await _dialog(pilot, app)
            box = dialog.query_one("#confirm-include", Checkbox)
            box.value = True
            await pilot.pause()
            assert "3 files · 0.1 min of audio" in screen_text(app)
            box.value = False
            await pilot.pause()
            await pilot.click("#confirm-yes")
            await wait_until(pilot, lambda: _finished(app, 3), what="c.wav done")
            assert _sent(emu) == 3  # a.wav and b.wav were not sent again
            names = sorted(j.name for j in app.engine.store.list_jobs())
            assert names == ["a.wav", "b.wav", "c.wav"]


async def test_a_batch_over_the_threshold_is_confirmed_first(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["a.wav", "b.wav"])
    with Emulator() as emu:
        app = _app(tmp_path, emu, folder, confirm_above_cny=0.0001)
        async with app.run_test(size=SIZE) as pilot:
            await _listed(pilot, app, 2)
            await pilot.press("t")
            await _dialog(pilot, app)
            assert "2 files · 0.1 min of audio · about ¥0.0003" in screen_text(app)
            await pilot.press("escape")
            await pilot.pause()
            assert _sent(emu) == 0 and app.engine.store.list_jobs() == []


async def test_a_rejected_key_pauses_the_queue_and_a_new_key_resumes_it(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["a.wav", "b.wav", "c.wav"])
    with Emulator() as emu:
        app = _app(tmp_path, emu, folder)
        app.settings.api_key = Secret("wrong-" + "z" * 24)
        seen: list[ev.Event] = []
        app.engine.bus.subscribe(seen.append)
        async with app.run_test(size=SIZE) as pilot:
            await _listed(pilot, app, 3)
            await pilot.press("t")
            await wait_until(
                pilot,
                lambda: "PAUSED" in screen_text(app),
                what="the header says the queue is paused",
            )
            jobs = app.engine.store.list_jobs()
            assert len(jobs) == 3 and all(j.state is JobState.QUEUED for j in jobs)
            assert _sent(emu) == 1  # the first file met the 401; the others were not sent
            assert "3 queued, unsent" in screen_text(app)
            assert any(p.where == "queue paused" for p in app.main.errors.problems)
            await pilot.press("p")  # try again by hand: one more 401, paused again
            await wait_until(pilot, lambda: _sent(emu) == 2, what="one more try")
            await wait_until(pilot, lambda: app.engine.pause is not None, what="paused again")
            assert all(j.state is JobState.QUEUED for j in app.engine.store.list_jobs())

            app.settings.api_key = Secret(emu.demo_key)
            app.engine.apply_settings({"api_key"})
            await wait_until(pilot, lambda: _finished(app, 3), what="all three done")
            assert _sent(emu) == 5
            assert "PAUSED" not in screen_text(app)
    assert not any(isinstance(e, ev.JobFailed) for e in seen)


async def test_text_inputs_own_the_keyboard_in_every_dialog(tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["talk.wav"])
    with Emulator() as emu:
        app = _app(tmp_path, emu, folder)
        async with app.run_test(size=SIZE) as pilot:
            await _listed(pilot, app, 1)
            await pilot.press("t")
            await wait_until(pilot, lambda: _finished(app, 1), what="job done")
            sent = _sent(emu)
            typed = "rxtvqwsme"  # every one a workbench key
            for opener, field in (("s", "#set-hotwords"), ("e", "#export-dir"), ("slash", None)):
                await pilot.press(opener)
                await pilot.pause()
                box = (
                    app.screen.query_one(field, Input)
                    if field
                    else app.main.pane.query_one("#search-input", Input)
                )
                box.focus()
                await pilot.pause()
                await pilot.press(*typed)
                assert box.value == typed and app.is_running
                await pilot.press("escape")
                await pilot.pause()
            assert not isinstance(app.screen, ConfirmSendScreen)
            assert _sent(emu) == sent
            assert app.engine.store.list_jobs()[0].state is JobState.DONE
            assert len(app.engine.store.list_jobs()) == 1
