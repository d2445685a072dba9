"""The errors & usage panel, the queue filter and the cross-check comparison, on a real
session against the emulator: a done job, one that needs review, one that failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import RichLog

from tui.app.app import WorkbenchApp, make_app
from tui.app.screens.compare_screen import CompareScreen
from tui.app.testing import emulator_settings, screen_text, wait_until
from tui.app.text_diff import ONLY_LEFT, ONLY_RIGHT, side_by_side
from tui.app.widgets.queue_table import QueueFilter
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import ENDED, Job, JobState

FILES = (
    ("done.wav", {"text": "Plain words that come back as they were said."}),
    ("loop.wav", {"text": "Again and again, the same line.", "fault": "repeat", "factor": 4.0}),
    ("broken.wav", {"fault": "error_event"}),
)


def _app(tmp_path: Path, emu: Emulator) -> WorkbenchApp:
    folder = tmp_path / "rec"
    folder.mkdir()
    for i, (name, directive) in enumerate(FILES):
        params = dict(directive)
        seconds = 16 if name == "loop.wav" else 4
        write_directive_wav(
            folder / name,
            seconds,
            text=params.pop("text", None),
            fault=params.pop("fault", None),
            tone_hz=300 + 25 * i,
            **params,
        )
    return make_app(
        emulator_settings(emu, concurrency=1),
        folder,
        db_path=tmp_path / "jobs.sqlite3",
        config_path=tmp_path / "config.toml",
        show_elapsed=False,
    )


async def _session(pilot: Any, app: WorkbenchApp) -> dict[str, int]:
    await wait_until(pilot, lambda: len(app.main.files.root.children) == 3, what="files")
    for name, _d in FILES:
        app.engine.submit(app.root / name, origin="tui")
    await wait_until(
        pilot,
        lambda: all(j.state in ENDED for j in app.engine.store.list_jobs()),
        what="jobs ended",
    )
    await pilot.pause()
    return {j.name: j.id for j in app.engine.store.list_jobs()}


def test_side_by_side_marks_only_the_words_that_differ() -> None:
    left, right = side_by_side("The quick brown fox, jumps.", "the quick red fox jumps")
    marked_left = [left.plain[s.start : s.end] for s in left.spans if s.style == ONLY_LEFT]
    marked_right = [right.plain[s.start : s.end] for s in right.spans if s.style == ONLY_RIGHT]
    assert marked_left == ["brown"] and marked_right == ["red"]
    assert left.plain == "The quick brown fox, jumps." and right.plain == "the quick red fox jumps"
    cjk_left, cjk_right = side_by_side("今天天气很好", "今天天汽很好")
    assert [cjk_left.plain[s.start : s.end] for s in cjk_left.spans] == ["气"]
    assert [cjk_right.plain[s.start : s.end] for s in cjk_right.spans] == ["汽"]


async def test_filter_review_count_and_the_log(tmp_path: Path) -> None:
    with Emulator() as emu:
        app = _app(tmp_path, emu)
        async with app.run_test(size=(120, 36)) as pilot:
            ids = await _session(pilot, app)
            table = app.main.table
            assert len(table.job_ids) == 3
            await pilot.press("F")  # what needs attention: to review and failed
            assert table.filter is QueueFilter.ATTENTION
            assert table.job_ids == [ids["loop.wav"], ids["broken.wav"]]
            assert "Queue · to review / failed" in screen_text(app)
            await pilot.press("F")  # running / queued: none
            assert table.job_ids == []
            await pilot.press("F")
            assert table.job_ids == [ids["done.wav"], ids["loop.wav"]]
            await pilot.press("F")
            assert table.filter is QueueFilter.ALL and len(table.job_ids) == 3

            # "N to review" counts what is left to do: marking the job reviewed drops it.
            assert "1 to review" in screen_text(app)
            table.select_job(ids["loop.wav"])
            await wait_until(pilot, lambda: app.main.selected_job == ids["loop.wav"])
            await pilot.press("m")
            await wait_until(pilot, lambda: "to review" not in screen_text(app), what="count")
            await pilot.press("F")  # reviewed: no longer needs attention
            assert table.job_ids == [ids["broken.wav"]]
            await pilot.press("F", "F", "F")

            # A message that comes again is counted, not written twice.
            errors = app.main.errors
            before = len(errors.problems)
            errors.add("error", "watch", "the folder went away")
            errors.add("error", "watch", "the folder went away")
            assert len(errors.problems) == before + 1
            log = errors.query_one("#problems", RichLog)
            await pilot.pause()
            logged = " ".join(s.text.strip() for s in log.lines)
            assert "the folder went away (×2)" in logged and logged.count("went away") == 1

            # Laid out again at the new width: no line wider than the panel.
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            await pilot.pause()
            width = log.scrollable_content_region.width
            assert log.lines and max(line.cell_length for line in log.lines) <= width + 1


async def test_cross_check_shown_side_by_side(tmp_path: Path) -> None:
    with Emulator() as emu:
        app = _app(tmp_path, emu)
        async with app.run_test(size=(120, 36)) as pilot:
            ids = await _session(pilot, app)
            app.main.table.select_job(ids["done.wav"])
            await wait_until(pilot, lambda: app.main.selected_job == ids["done.wav"])
            await pilot.press("d")  # no cross-check yet: a notice, nothing opens
            await pilot.pause()
            assert not isinstance(app.screen, CompareScreen)
            await pilot.press("v")
            await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ConfirmSendScreen")
            await pilot.click("#confirm-yes")
            await wait_until(
                pilot,
                lambda: (
                    (r := app.engine.store.get_result(ids["done.wav"])) is not None
                    and r.cross_check is not None
                ),
                what="cross-check stored",
            )
            await pilot.press("d")
            await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
            await pilot.pause()
            text = screen_text(app)
            assert "100% similar" in text and "step-asr-1.1" in text
            assert text.count("Plain words that come back as they were said.") == 2
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, CompareScreen)
            assert app.engine.store.require_job(ids["done.wav"]).state is JobState.DONE


async def test_a_watched_job_is_announced_while_idle(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    with Emulator() as emu:
        app = make_app(
            emulator_settings(emu, concurrency=1),
            folder,
            db_path=tmp_path / "jobs.sqlite3",
            config_path=tmp_path / "config.toml",
            watch=True,
        )
        bells: list[int] = []
        notes: list[str] = []
        notify = app.notify

        def recording(message: str, **kw: Any) -> None:
            notes.append(message)
            notify(message, **kw)

        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        app.notify = recording  # type: ignore[method-assign]
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_until(pilot, lambda: bool(app.engine.watched()), what="watching")
            write_directive_wav(folder / "memo.wav", 3, text="A memo from the road.")
            await wait_until(pilot, lambda: bool(bells), what="the bell")
            assert "memo.wav: transcribed" in notes
            app.settings.notifications = False
            write_directive_wav(folder / "memo2.wav", 3, text="Another memo.", tone_hz=500)
            await wait_until(
                pilot,
                lambda: sum(j.state is JobState.DONE for j in app.engine.store.list_jobs()) == 2,
                what="second job done",
            )
            await pilot.pause()
            assert len(bells) == 1 and "memo2.wav: transcribed" not in notes


async def test_the_log_keeps_its_newest_line_in_view_when_the_block_above_grows(
    tmp_path: Path,
) -> None:
    """The session log shows its newest lines even when the selected job's block above it
    grows after they were written (a job's details arriving late, as under load): the log
    got shorter and was left scrolled to its old end, hiding the newest problem."""
    with Emulator() as emu:
        app = _app(tmp_path, emu)
        async with app.run_test(size=(80, 24)) as pilot:
            errors = app.main.errors
            log = errors.query_one("#problems", RichLog)
            for n in range(12):
                errors.add("warning", f"job {n}", f"warning number {n}")
            await wait_until(
                pilot,
                lambda: log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y,
                what="the log at its end",
            )
            tall = log.size.height
            failed = Job(
                99,
                app.root / "broken.wav",
                JobState.FAILED,
                error_message="\n".join(f"line {n} of a long failure" for n in range(6)),
            )
            errors.show_job(failed, None)
            await wait_until(pilot, lambda: log.size.height < tall, what="a shorter log")
            await pilot.pause()
            assert log.scroll_y == log.max_scroll_y  # the newest line is still in view
            # Scrolled up by the user, the log stays where it was put.
            log.scroll_to(y=0, animate=False, immediate=True)
            await pilot.pause()
            errors.show_job(None, None)
            await pilot.pause()
            assert log.scroll_y == 0
