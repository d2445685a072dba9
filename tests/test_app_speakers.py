"""The workbench's speaker features driven with Pilot over a real SQLite store: the Speakers
screen (rename, merge, undo by keys; the pane and the files follow), and the "How many
speakers?" question (asked only when it should be, remembered, never after audio is sent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fake_transcriber, write_tone_wav
from tests.test_speaker_labels import labelled
from tests.test_speakers_engine import finished
from tui.app.app import WorkbenchApp, make_app
from tui.app.screens.confirm_send_screen import ConfirmSendScreen
from tui.app.screens.speaker_count_screen import SpeakerCountScreen
from tui.app.screens.speakers_screen import SpeakersScreen
from tui.app.testing import screen_text, wait_until
from tui.config import Settings, read_file
from tui.folder_settings import FOLDER_FILE
from tui.store.records import FINISHED
from tui.store.store import Store
from tui.transcript.model import TranscriptionResult

SIZE = (130, 40)


class Recorder:
    """A scripted transcriber that notes the ``speakers`` value each file ran with."""

    def __init__(self) -> None:
        self.ran: dict[str, str] = {}

    def factory(self) -> Any:
        async def transcribe(path: Path, **kw: Any) -> TranscriptionResult:
            self.ran[path.name] = kw["settings"].speakers
            return TranscriptionResult(str(path), "Words.", [], duration_s=2.0)

        return fake_transcriber(transcribe)


def _app(tmp_path: Path, folder: Path, recorder: Recorder, **settings: Any) -> WorkbenchApp:
    return make_app(
        Settings(**settings),
        folder,
        db_path=tmp_path / "jobs.sqlite3",
        config_path=tmp_path / "config.toml",
        transcriber=recorder.factory(),
    )


def _notes(app: WorkbenchApp) -> str:
    return "\n".join(n.message for n in app._notifications)


# --- the Speakers screen ------------------------------------------------------------------------


async def test_rename_merge_and_undo_by_keys(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    result = labelled(voices={1: [1.0, 0.0], 2: [0.0, 1.0], 3: [0.6, 0.8]})
    with Store(tmp_path / "jobs.sqlite3") as store:
        job_id = finished(store, folder / "talk.wav", result)
    txt = folder / "talk.txt"
    app = _app(tmp_path, folder, Recorder())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        main = app.main
        await wait_until(pilot, lambda: job_id in main.table.job_ids, what="the job listed")
        await pilot.press("j")
        await wait_until(pilot, lambda: "Speaker 1: Hello there." in main.pane.text, what="pane")
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, SpeakersScreen), what="screen")
        shown = screen_text(app)
        assert "How are you?" in shown and "0:01" in shown  # first words, talk time

        # Rename speaker 1: the name box owns the keys (m, u, r are letters here).
        await pilot.press("enter")
        name = app.screen.query_one("#speakers-name")
        assert name.display and app.focused is name  # shown, and it has the keyboard
        await pilot.press(*"Sam", "space", *"Ruiz", "enter")
        assert not name.display
        stored = app.engine.store.get_result(job_id)
        assert stored is not None and stored.speakers is not None
        assert stored.speakers.names == {1: "Sam Ruiz"}
        assert txt.read_text().startswith("Sam Ruiz: Hello there.")
        await wait_until(pilot, lambda: "Sam Ruiz: Hello there." in main.pane.text, what="pane")

        # Escape in the name box cancels the rename, not the screen.
        await pilot.press("down", "r", *"Nobody", "escape")
        assert isinstance(app.screen, SpeakersScreen)
        assert app.engine.store.speakers.row(job_id, 2) is None
        # A name full of markup is shown as typed.
        await pilot.press("r", *"Ana", "space", "left_square_bracket", "b", "right_square_bracket")
        await pilot.press("enter")
        await pilot.pause()
        assert "Ana [b]" in screen_text(app)

        # Merge speaker 3 into speaker 1 (the first target offered).
        await pilot.press("down", "m")
        picker = app.screen.query_one("#speakers-pick")
        assert picker.display and app.focused is picker
        await pilot.press("enter")
        stored = app.engine.store.get_result(job_id)
        assert stored is not None and stored.speakers is not None
        assert stored.speakers.merged == {3: 1}
        assert txt.read_text().splitlines()[-1] == "Sam Ruiz: Fine, thanks. Good."
        await wait_until(pilot, lambda: "Speaker 3" not in main.pane.text, what="pane merged")

        # Undo: the merge goes, the labels computed on this machine are all still there.
        await pilot.press("u")
        await wait_until(pilot, lambda: "Speaker 3: Fine, thanks." in main.pane.text, what="undo")
        stored = app.engine.store.get_result(job_id)
        assert stored is not None and stored.speakers is not None
        assert stored.speakers.merged == {} and stored.speakers.names[1] == "Sam Ruiz"
        await pilot.press("escape")
        assert not isinstance(app.screen, SpeakersScreen)


async def test_a_job_without_labels_says_how_to_get_them(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    with Store(tmp_path / "jobs.sqlite3") as store:
        finished(store, folder / "plain.wav", TranscriptionResult("/x", "Hello.", []))
    app = _app(tmp_path, folder, Recorder())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: bool(app.main.table.job_ids), what="the job listed")
        await pilot.press("j", "S")
        await wait_until(pilot, lambda: "no speaker labels" in _notes(app), what="notice")
        assert not isinstance(app.screen, SpeakersScreen)
        (note,) = [n for n in _notes(app).splitlines() if "no speaker labels" in n]
        assert "stepfun-asr speakers install" in note and "set speakers" in note


# --- "How many speakers?" -----------------------------------------------------------------------


def _recordings(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        write_tone_wav(folder / name, 1.0)


async def _ran(pilot: Any, recorder: Recorder, n: int, app: WorkbenchApp) -> None:
    def done() -> bool:
        jobs = app.engine.store.list_jobs()
        return len(recorder.ran) == n and all(j.state in FINISHED for j in jobs)

    await wait_until(pilot, done, what=f"{n} jobs done")


async def test_asked_once_remembered_in_the_folder_file(
    tmp_path: Path, speaker_model: Path
) -> None:
    folder = tmp_path / "meetings"
    _recordings(folder, "a.wav", "b.wav")
    (folder / FOLDER_FILE).write_text('# our weekly calls\nlanguage = "en"\n', encoding="utf-8")
    recorder = Recorder()
    app = _app(tmp_path, folder, recorder)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: len(app.main.files.root.children) == 2, what="files")
        await pilot.press("t")  # the folder: both files
        await wait_until(pilot, lambda: isinstance(app.screen, SpeakerCountScreen), what="ask")
        assert recorder.ran == {} and app.engine.store.list_jobs() == []  # nothing yet
        await pilot.press("3")
        await _ran(pilot, recorder, 2, app)
        assert recorder.ran == {"a.wav": "3", "b.wav": "3"}
        text = (folder / FOLDER_FILE).read_text(encoding="utf-8")
        assert text.startswith('# our weekly calls\nlanguage = "en"\n')
        assert 'speakers = "3"' in text
        assert all(j.options.speakers == "3" for j in app.engine.store.list_jobs())

        # Again: the folder's file answers now. Both are transcribed, so the cost check
        # comes up, and no question before it.
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmSendScreen), what="cost")
        await pilot.press("escape")
    assert "speakers" not in read_file(tmp_path / "config.toml")


async def test_asked_before_the_cost_check_and_escape_sends_nothing(
    tmp_path: Path, speaker_model: Path
) -> None:
    folder = tmp_path / "calls"
    _recordings(folder, "a.wav")
    recorder = Recorder()
    # Every batch is shown before sending (a threshold of 0).
    app = _app(tmp_path, folder, recorder, confirm_above_usd=0.0, confirm_above_cny=0.0)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: len(app.main.files.root.children) == 1, what="files")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, SpeakerCountScreen), what="ask")
        await pilot.press("escape")  # the question: nothing queued
        await wait_until(pilot, lambda: "Nothing queued." in _notes(app), what="notice")
        assert app.engine.store.list_jobs() == []
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, SpeakerCountScreen), what="ask")
        await pilot.click("#speaker-count-remember")  # leave "remember for this folder" off
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmSendScreen), what="cost")
        await pilot.press("escape")  # the cost check: nothing sent
        await pilot.pause()
        assert app.engine.store.list_jobs() == [] and recorder.ran == {}
        assert not (folder / FOLDER_FILE).exists()
        # Answered for this session: the next t goes straight to the cost check.
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmSendScreen), what="cost")
        await pilot.click("#confirm-yes")
        await _ran(pilot, recorder, 1, app)
    assert recorder.ran == {"a.wav": "auto"}


async def test_dont_ask_again_sets_the_global_setting(tmp_path: Path, speaker_model: Path) -> None:
    root = tmp_path / "root"
    _recordings(root, "a.wav")
    recorder = Recorder()
    app = _app(tmp_path, root, recorder)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: len(app.main.files.root.children) == 1, what="files")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, SpeakerCountScreen), what="ask")
        await pilot.click("#speaker-count-everywhere")
        await pilot.press("2")
        await _ran(pilot, recorder, 1, app)
        assert app.engine.settings.speakers == "2"
        assert not (root / FOLDER_FILE).exists()  # the global setting, not the folder
    assert read_file(tmp_path / "config.toml")["speakers"] == "2"
    # A new session in another folder: not asked (the setting decides).
    other = tmp_path / "other"
    _recordings(other, "b.wav")
    recorder = Recorder()
    app = _app(tmp_path, other, recorder, speakers="off")  # the file's value not loaded here
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: len(app.main.files.root.children) == 1, what="files")
        await pilot.press("t")
        await _ran(pilot, recorder, 1, app)
    assert recorder.ran == {"b.wav": "off"}


async def test_unwritable_folder_keeps_the_answer_for_the_session(
    tmp_path: Path, speaker_model: Path
) -> None:
    folder = tmp_path / "shared"
    _recordings(folder, "a.wav")
    (folder / FOLDER_FILE).mkdir()  # the file cannot be read or written: a folder holds its name
    recorder = Recorder()
    app = _app(tmp_path, folder, recorder)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await wait_until(pilot, lambda: len(app.main.files.root.children) == 1, what="files")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, SpeakerCountScreen), what="ask")
        await pilot.press("4")
        await _ran(pilot, recorder, 1, app)
        assert "kept for this session" in _notes(app)
        assert app.main.speaker_answers == {folder: "4"}
    assert recorder.ran == {"a.wav": "4"}


@pytest.mark.parametrize("case", ["no model", "folder decides", "setting on"])
async def test_not_asked(tmp_path: Path, case: str, request: pytest.FixtureRequest) -> None:
    folder = tmp_path / "rec"
    _recordings(folder, "a.wav")
    settings: dict[str, Any] = {}
    expected = "off"
    if case != "no model":
        request.getfixturevalue("speaker_model")
    if case == "folder decides":
        (folder / FOLDER_FILE).write_text('speakers = "off"\n', encoding="utf-8")
    if case == "setting on":
        settings["speakers"] = expected = "2-3"
    recorder = Recorder()
    app = _app(tmp_path, folder, recorder, **settings)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: len(app.main.files.root.children) >= 1, what="files")
        await pilot.press("t")
        await _ran(pilot, recorder, 1, app)
        assert not isinstance(app.screen, SpeakerCountScreen)
    assert recorder.ran == {"a.wav": expected}


@pytest.mark.parametrize("installed", [False, True])
async def test_the_settings_screen_sets_speakers(
    tmp_path: Path, installed: bool, request: pytest.FixtureRequest
) -> None:
    from textual.widgets import Input

    from tui.app.screens.settings_screen import SettingsScreen

    if installed:
        request.getfixturevalue("speaker_model")
    app = _app(tmp_path, tmp_path, Recorder())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), what="settings")
        field = app.screen.query_one("#set-speakers", Input)
        assert field.value == "off"
        field.focus()
        await pilot.press("ctrl+u", *"2-4", "ctrl+s")
        await pilot.pause()
        if not installed:  # every job would fail on it: refused, saying how to add the model
            assert isinstance(app.screen, SettingsScreen)
            assert "stepfun-asr speakers install" in screen_text(app)
            assert not (tmp_path / "config.toml").exists()
            return
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen), what="saved")
        assert app.settings.speakers == "2-4"
    assert read_file(tmp_path / "config.toml")["speakers"] == "2-4"


async def test_watching_a_folder_asks_too(tmp_path: Path, speaker_model: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    recorder = Recorder()
    app = _app(tmp_path, folder, recorder, quiet_period_s=0.3)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("w")
        await wait_until(pilot, lambda: isinstance(app.screen, SpeakerCountScreen), what="ask")
        assert "new recordings in" in screen_text(app)
        assert not app.engine.watched()  # nothing watched (or sent) before the answer
        await pilot.press("5")
        await wait_until(pilot, lambda: bool(app.engine.watched()), what="watching")
        assert 'speakers = "5"' in (folder / FOLDER_FILE).read_text(encoding="utf-8")
        write_tone_wav(folder / "arrived.wav", 1.0)
        await _ran(pilot, recorder, 1, app)
        await pilot.press("w")  # unwatching asks nothing
        await wait_until(pilot, lambda: not app.engine.watched(), what="unwatched")
        assert not isinstance(app.screen, SpeakerCountScreen)
    assert recorder.ran == {"arrived.wav": "5"}
