"""The library screen and the file browser's marks, in a real Textual app over a real store."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input

from tests.test_store_search import finished, result
from tui.app.screens.library_screen import (
    FIRST_PAGE,
    PAGE,
    LibraryJobChosen,
    LibraryScreen,
)
from tui.app.testing import screen_text, wait_until
from tui.app.widgets.file_browser import AudioTree
from tui.store.library import FileMark
from tui.store.store import Store
from tui.transcript.model import TrustWarning, WarningKind

SIZE = (120, 40)


class Harness(App[None]):
    def __init__(self, store: Store, root: Path | None = None) -> None:
        super().__init__()
        self.store = store
        self.root = root
        self.chosen: list[tuple[int, int | None]] = []

    def compose(self) -> ComposeResult:
        if self.root is not None:
            yield AudioTree(self.root, root_label="rec", id="files")

    def on_library_job_chosen(self, message: LibraryJobChosen) -> None:
        self.chosen.append((message.job_id, message.start_ms))


async def test_search_box_finds_a_cue_and_opens_the_job_there(tmp_path: Path) -> None:
    with Store(tmp_path / "jobs.sqlite3") as store:
        zh = finished(store, tmp_path / "team" / "周会.m4a", "今天讨论预算。下周的会议改到周三。")
        finished(store, tmp_path / "calls" / "client.wav", "The budget is fine.")
        app = Harness(store)
        async with app.run_test(size=SIZE) as pilot:
            screen = LibraryScreen(store)
            await app.push_screen(screen)
            await pilot.pause()
            text = screen_text(app)
            assert "周会.m4a" in text and "client.wav" in text
            screen.query_one("#library-search", Input).focus()
            await pilot.press(*"会议")
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(screen.hits) == 1, what="one hit")
            hits = screen.query_one("#library-hits", DataTable)
            assert hits.display and "下周的会议改到周三" in screen_text(app)
            hits.focus()
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.chosen, what="a hit chosen")
            assert app.chosen == [(zh, 7 * 250)]
            assert app.screen is not screen


async def test_bad_query_is_one_sentence_in_the_status_line(tmp_path: Path) -> None:
    with Store(tmp_path / "jobs.sqlite3") as store:
        finished(store, tmp_path / "a.wav", "The budget is fine.")
        app = Harness(store)
        async with app.run_test(size=SIZE) as pilot:
            screen = LibraryScreen(store)
            await app.push_screen(screen)
            screen.query_one("#library-search", Input).focus()
            await pilot.press(*'"budget', "enter")
            await wait_until(
                pilot, lambda: "no closing quote" in screen_text(app), what="the error"
            )
            # Letters typed in the search box are text, not the filter keys (d, g, s, r).
            assert set(screen.choice.values()) == {0}


async def test_jobs_load_a_page_at_a_time_and_filter_by_state(tmp_path: Path) -> None:
    with Store(tmp_path / "jobs.sqlite3") as store:
        for n in range(FIRST_PAGE + PAGE + 30):
            finished(store, tmp_path / f"f{n // 100}" / f"{n}.wav", f"Recording {n}.")
        store.add_job(tmp_path / "waiting.wav")
        app = Harness(store)
        async with app.run_test(size=SIZE) as pilot:
            screen = LibraryScreen(store)
            await app.push_screen(screen)
            await pilot.pause()
            assert screen.loaded == FIRST_PAGE and not screen.exhausted
            table = screen.query_one("#library-jobs", DataTable)
            table.focus()
            table.move_cursor(row=table.row_count - 1)
            await wait_until(pilot, lambda: screen.loaded > FIRST_PAGE, what="the next page")
            assert screen.loaded == FIRST_PAGE + PAGE
            table.move_cursor(row=table.row_count - 1)
            await wait_until(pilot, lambda: screen.exhausted, what="the last page")
            assert screen.loaded == FIRST_PAGE + PAGE + 31
            await pilot.press("s")  # state: any → queued
            await wait_until(pilot, lambda: screen.loaded == 1, what="the filter")
            assert "waiting.wav" in screen_text(app) and "state: queued" in screen_text(app)
            # Grouped by folder (state back to any): one header per folder.
            await pilot.press(*"s" * 6, "g")
            await wait_until(pilot, lambda: screen.grouping == "folder", what="grouping")
            await pilot.pause()
            assert screen.filter.states == ()
            keys = [str(k.value) for k in table.rows]
            groups = [k for k in keys if k.startswith("group:")]
            # The first page is in f0 (100 jobs there): one header.
            assert [g.rsplit("/", 1)[-1] for g in groups] == ["f0"]
            # Choosing a job row opens it (no cue).
            table.move_cursor(row=1)
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.chosen, what="a job chosen")
            assert app.chosen[0][1] is None
            assert store.get_job(app.chosen[0][0]) is not None


async def test_file_browser_marks_recordings_and_counts_folders(tmp_path: Path) -> None:
    root = tmp_path / "rec"
    (root / "sub").mkdir(parents=True)
    for name in ("done.wav", "review.wav", "sub/failed.wav", "sub/new.wav"):
        (root / name).write_bytes(b"RIFF")
    with Store(tmp_path / "jobs.sqlite3") as store:
        finished(store, root / "done.wav", "Fine.")
        job = store.add_job(root / "review.wav")
        store.claim_one(job.id, "me")
        res = result(root / "review.wav", "Odd.")
        res.warnings = [TrustWarning(WarningKind.REPETITION, "looped", serious=True)]
        store.finish_job(job.id, res, owner="me")
        bad = store.add_job(root / "sub" / "failed.wav")
        store.fail_job(bad.id, "Bad file.", "bad_input")
        marks = store.file_marks(root)
        assert marks == {
            root / "done.wav": FileMark.TRANSCRIBED,
            root / "review.wav": FileMark.NEEDS_REVIEW,
            root / "sub" / "failed.wav": FileMark.FAILED,
        }
        app = Harness(store, root)
        async with app.run_test(size=SIZE) as pilot:
            tree = app.query_one(AudioTree)
            await wait_until(pilot, lambda: tree.root.children, what="the listing")
            tree.update_marks(marks)
            await pilot.pause()
            text = screen_text(app)
            assert "rec ✓1 !1 ✗1" in text
            assert "done.wav ✓" in text and "review.wav !" in text
            # Live: marking the job reviewed turns its mark to transcribed.
            store.mark_reviewed(job.id)
            tree.update_marks(store.file_marks(root))
            await pilot.pause()
            assert "rec ✓2 ✗1" in screen_text(app)
            assert tree.mark_of(root / "sub" / "new.wav") is None
            assert tree.counts_of(root / "sub") == {FileMark.FAILED: 1}


async def test_typing_at_once_searches_and_leaves_the_filters_alone(tmp_path: Path) -> None:
    """The filter keys are letters: typing right after opening goes to the search box."""
    with Store(tmp_path / "jobs.sqlite3") as store:
        finished(store, tmp_path / "calls" / "client.wav", "The budget is fine.")
        app = Harness(store)
        async with app.run_test(size=SIZE) as pilot:
            screen = LibraryScreen(store)
            await app.push_screen(screen)
            await pilot.pause()
            await pilot.press(*"budgets", "backspace", "enter")
            await wait_until(pilot, lambda: len(screen.hits) == 1, what="one hit")
            assert "state: any" in screen_text(app) and "reviewed: any" in screen_text(app)
