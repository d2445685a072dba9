"""Snapshots of the workbench's main states (pytest-textual-snapshot, SVG).

Deterministic: audio made here with fixed directives, one job at a time, the folder shown by
a fixed name, no elapsed times, a key whose mask is fixed while the key itself is random.
Update with `pytest tests/test_app_snapshots.py --snapshot-update` after looking at the report.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import RichLog

from tui.app.app import WorkbenchApp, make_app
from tui.app.screens.confirm_send_screen import ConfirmSendScreen
from tui.app.screens.export_screen import ExportScreen
from tui.app.screens.help_screen import HelpScreen
from tui.app.screens.settings_screen import SettingsScreen
from tui.app.testing import emulator_settings, wait_until
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.library import FileMark
from tui.store.records import ENDED

SIZE = (120, 36)
FILES = (
    (
        "interview.wav",
        12,
        {
            "text": (
                "Thanks for joining us today. Could you start by describing your role? Sure. I lead "
                "the field recordings team, and we archive about forty hours of interviews a month. "
                "Most of it is in two languages."
            )
        },
    ),
    (
        "loop [take 2].wav",
        20,
        {"text": "Again and again, the same line.", "fault": "repeat", "factor": 4.0},
    ),
    ("voicemail.wav", 4, {"fault": "error_event"}),
)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # The mask of this key (first 3 and last 4 characters) is fixed; the rest is random.
    key = "tst" + secrets.token_hex(10) + "0000"
    with Emulator(keys={key: "normal"}) as emu:
        yield emu


def _app(tmp_path: Path, emu: Emulator) -> WorkbenchApp:
    folder = tmp_path / "recordings"
    folder.mkdir()
    for i, (name, seconds, directive) in enumerate(FILES):
        params = dict(directive)
        write_directive_wav(
            folder / name,
            seconds,
            text=params.pop("text", None),
            fault=params.pop("fault", None),
            tone_hz=300 + 25 * i,
            **params,
        )
    settings = emulator_settings(emu, concurrency=1, formats=["txt", "srt"])
    return make_app(
        settings,
        folder,
        db_path=tmp_path / "jobs.sqlite3",
        config_path=tmp_path / "config.toml",
        show_elapsed=False,
        root_label="recordings",
    )


FINAL_MARKS = {FileMark.TRANSCRIBED, FileMark.NEEDS_REVIEW, FileMark.FAILED}


def _state(app: WorkbenchApp) -> Callable[[], str]:
    def describe() -> str:
        jobs = [(j.id, j.state.value, j.attempts) for j in app.engine.store.list_jobs()]
        problems = [(p.severity, p.where, p.message[:60]) for p in app.main.errors.problems]
        return f"jobs={jobs} problems={problems}"

    return describe


def _after_jobs(*then: str, screen: type | None = None) -> Callable[[Any], Awaitable[None]]:
    async def run_before(pilot: Any) -> None:
        app: WorkbenchApp = pilot.app
        await wait_until(
            pilot, lambda: len(app.main.files.root.children) == len(FILES), what="files listed"
        )
        for name, _s, _d in FILES:  # one by one, so ids and the panel's order are fixed
            app.engine.submit(app.root / name, origin="tui")
        await wait_until(
            pilot,
            lambda: all(j.state in ENDED for j in app.engine.store.list_jobs()),
            what="jobs ended",
            state=_state(app),
        )
        # The file browser's marks arrive a moment later (off the event loop).
        await wait_until(
            pilot,
            lambda: all(
                app.main.files.mark_of(app.root / name) in FINAL_MARKS for name, _s, _d in FILES
            ),
            what="files marked as finished",
        )
        log = app.main.errors.query_one(RichLog)
        # One warning (the loop) and one error (the voicemail), and the log scrolled to them.
        await wait_until(
            pilot,
            lambda: (
                len(app.main.errors.problems) == 2
                and log.lines
                and log.scroll_y == log.max_scroll_y
            ),
            what="problems shown",
            state=_state(app),
        )
        await pilot.press("k", "k", "k")  # back to the first job
        await pilot.pause()
        await wait_until(pilot, lambda: log.scroll_y == log.max_scroll_y, what="log settled")
        await pilot.press(*then)
        if screen is not None:
            await wait_until(pilot, lambda: isinstance(app.screen, screen), what="screen")
        await pilot.pause()

    return run_before


def test_main_screen_after_a_session(tmp_path: Path, emulator: Emulator, snap_compare: Any) -> None:
    assert snap_compare(_app(tmp_path, emulator), terminal_size=SIZE, run_before=_after_jobs())


def test_main_screen_needs_review_selected(
    tmp_path: Path, emulator: Emulator, snap_compare: Any
) -> None:
    assert snap_compare(_app(tmp_path, emulator), terminal_size=SIZE, run_before=_after_jobs("j"))


def test_help_screen(tmp_path: Path, emulator: Emulator, snap_compare: Any) -> None:
    assert snap_compare(
        _app(tmp_path, emulator),
        terminal_size=SIZE,
        run_before=_after_jobs("question_mark", screen=HelpScreen),
    )


def test_settings_screen(tmp_path: Path, emulator: Emulator, snap_compare: Any) -> None:
    assert snap_compare(
        _app(tmp_path, emulator),
        terminal_size=SIZE,
        run_before=_after_jobs("s", screen=SettingsScreen),
    )


def test_export_dialog(tmp_path: Path, emulator: Emulator, snap_compare: Any) -> None:
    assert snap_compare(
        _app(tmp_path, emulator),
        terminal_size=SIZE,
        run_before=_after_jobs("e", screen=ExportScreen),
    )


SMALL = (80, 24)


def test_confirm_send_dialog(tmp_path: Path, emulator: Emulator, snap_compare: Any) -> None:
    """r on a finished job: what would be sent again, and its cost, before anything is."""
    assert snap_compare(
        _app(tmp_path, emulator),
        terminal_size=SIZE,
        run_before=_after_jobs("r", screen=ConfirmSendScreen),
    )


def test_confirm_send_dialog_small(tmp_path: Path, emulator: Emulator, snap_compare: Any) -> None:
    assert snap_compare(
        _app(tmp_path, emulator),
        terminal_size=SMALL,
        run_before=_after_jobs("r", screen=ConfirmSendScreen),
    )


def test_confirm_transcribed_folder_small(
    tmp_path: Path, emulator: Emulator, snap_compare: Any
) -> None:
    """t on the folder once every file is transcribed: nothing is sent unless ticked."""
    assert snap_compare(
        _app(tmp_path, emulator),
        terminal_size=SMALL,
        run_before=_after_jobs("t", screen=ConfirmSendScreen),
    )


def test_main_screen_needs_review_selected_small(
    tmp_path: Path, emulator: Emulator, snap_compare: Any
) -> None:
    assert snap_compare(_app(tmp_path, emulator), terminal_size=SMALL, run_before=_after_jobs("j"))


def test_paused_queue_small(tmp_path: Path, emulator: Emulator, snap_compare: Any) -> None:
    """A refused key: the header says the queue is paused, why, and which keys fix it."""
    app = _app(tmp_path, emulator)
    app.settings.api_key = Secret("tst" + "9" * 20 + "0000")  # refused: not the emulator's

    async def run_before(pilot: Any) -> None:
        await wait_until(
            pilot, lambda: len(app.main.files.root.children) == len(FILES), what="files listed"
        )
        for name, _s, _d in FILES:
            app.engine.submit(app.root / name, origin="tui")
        await wait_until(pilot, lambda: app.engine.pause is not None, what="paused")
        await wait_until(
            pilot,
            lambda: any(p.where == "queue paused" for p in app.main.errors.problems),
            what="pause in the log",
        )
        # The file browser's marks arrive off the event loop: all three wait in the queue
        # (the first was put back), not an earlier look that still saw it running.
        await wait_until(
            pilot,
            lambda: all(
                app.main.files.mark_of(app.root / name) is FileMark.QUEUED for name, _s, _d in FILES
            ),
            what="files marked as queued",
        )
        await pilot.pause()

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)
