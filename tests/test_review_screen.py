"""The review screen on the null audio device: play from a cue and watch the ▶ mark and the
position advance, pause, seek, speed (measured in the sink's consumed samples), and edit,
split, merge, undo and revert with the model's text kept in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.app.app import WorkbenchApp, make_app
from tui.app.screens.glossary_screen import LearnScreen
from tui.app.screens.review_screen import ReviewScreen
from tui.app.testing import emulator_settings, wait_until
from tui.playback.sinks import NullSink
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import FINISHED

SIZE = (120, 36)
TEXT = (
    "Hello there everyone. We met Jon Smith at the lab today. "
    "It was a long and useful meeting. Then we walked along the river. "
    "The end of the story is near now."
)


@pytest.fixture(autouse=True)
def null_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPFUN_ASR_AUDIO_DEVICE", "null")
    ReviewScreen.told_unavailable = False


async def _open_review(tmp_path: Path, emu: Emulator) -> tuple[WorkbenchApp, Path]:
    folder = tmp_path / "rec"
    folder.mkdir()
    write_directive_wav(folder / "talk.wav", 12, text=TEXT)
    app = make_app(
        emulator_settings(emu, concurrency=1),
        folder,
        db_path=tmp_path / "jobs.sqlite3",
        config_path=tmp_path / "config.toml",
    )
    return app, folder


async def _reviewing(pilot: object, app: WorkbenchApp) -> ReviewScreen:
    p = pilot  # a Pilot
    await wait_until(p, lambda: len(app.main.files.root.children) == 1, what="file listed")  # type: ignore[arg-type]
    await p.press("t")  # type: ignore[attr-defined]
    await wait_until(
        p,  # type: ignore[arg-type]
        lambda: [j.state in FINISHED for j in app.engine.store.list_jobs()] == [True],
        what="job done",
    )
    await p.press("o")  # type: ignore[attr-defined]
    await wait_until(p, lambda: isinstance(app.screen, ReviewScreen), what="review screen")  # type: ignore[arg-type]
    screen = app.screen
    assert isinstance(screen, ReviewScreen)
    return screen


async def test_play_pause_seek_and_speed_on_the_null_device(tmp_path: Path) -> None:
    with Emulator() as emu:
        app, _ = await _open_review(tmp_path, emu)
        async with app.run_test(size=SIZE) as pilot:
            screen = await _reviewing(pilot, app)
            cues = screen.cues
            assert len(cues) >= 4
            await pilot.press("down", "down")  # cue 3
            assert screen.cue_list.highlighted == 2
            await pilot.press("space")
            player = screen.player
            assert player is not None and player.playing
            sink = player.sink
            assert isinstance(sink, NullSink)
            start = cues[2].start_ms
            # The position advances from cue 3's start, the ▶ mark is on cue 3, the bar says ▶.
            await wait_until(pilot, lambda: player.position_ms > start + 400, what="playing")
            assert screen.cue_list.playing == 2 or screen.cue_list.playing == 3
            assert screen.bar.line.startswith("▶ ")
            assert sink.consumed_frames() > 0
            # It follows the cue being heard into cue 4.
            await wait_until(
                pilot,
                lambda: screen.cue_list.playing == 3 and screen.cue_list.highlighted == 3,
                what="the highlight followed into cue 4",
            )

            await pilot.press("space")  # pause
            assert not player.playing
            paused_at = player.position_ms
            await pilot.pause(0.3)
            assert player.position_ms == paused_at
            assert screen.bar.line.startswith("‖ ")

            await pilot.press("left")  # seek back 5 s while paused
            assert player.position_ms == max(0, paused_at - 5000)
            await pilot.press("right", "right")
            assert player.position_ms == max(0, paused_at - 5000) + 10000

            # 4 s of the recording at 1× and at 2×: half the samples reach the sink at 2×.
            async def stretch(speed_keys: list[str]) -> int:
                await pilot.press(*speed_keys)
                before = sink.consumed_frames()
                player.play(8000)  # to the end: 4 s of audio
                screen.tick()
                await wait_until(pilot, lambda: not player.playing, what="stretch played")
                assert player.ended and player.error is None
                return sink.consumed_frames() - before

            one = await stretch([])
            two = await stretch(["plus", "plus", "plus", "plus"])  # 1× → 2×
            assert player.speed == 2.0
            assert one == pytest.approx(4 * sink.rate, rel=0.03)
            assert two == pytest.approx(one / 2, rel=0.05)


async def test_edit_split_merge_undo_revert_keep_the_model_text(tmp_path: Path) -> None:
    with Emulator() as emu:
        app, _ = await _open_review(tmp_path, emu)
        async with app.run_test(size=SIZE) as pilot:
            screen = await _reviewing(pilot, app)
            store = app.engine.store
            job_id = screen.job_id
            model_text = store.get_result(job_id).text  # type: ignore[union-attr]
            second = screen.cues[1]
            assert "Jon Smith" in second.text

            await pilot.press("down", "i")
            assert app.focused is screen.editor
            # The field owns the keyboard: space, u and i are typed, not bindings.
            screen.editor.value = ""
            await pilot.press(*"We met Juni Smith at the lab today.")
            await pilot.press("enter")
            # One word replaced: the glossary offers to remember it.
            await wait_until(pilot, lambda: isinstance(app.screen, LearnScreen), what="offer")
            assert (app.screen.old, app.screen.new) == ("Jon", "Juni")  # type: ignore[attr-defined]
            await pilot.press("y")
            await wait_until(pilot, lambda: app.screen is screen, what="back on review")
            assert [(r.source, r.target, r.scope) for r in store.glossary.rules()] == [
                ("Jon", "Juni", "")
            ]
            assert screen.cues[1].text == "We met Juni Smith at the lab today."
            assert screen.cues[1].edited and "✎" in str(
                screen.cue_list.get_option_at_index(1).prompt
            )
            assert "Juni Smith" in store.corrections.result(job_id).text  # type: ignore[union-attr]
            assert app.main.pane is not None
            assert store.get_result(job_id).text == model_text  # type: ignore[union-attr]

            # Escape cancels an edit.
            await pilot.press("i", "x", "escape")
            assert screen.cues[1].text.endswith("today.") and app.focused is screen.cue_list

            count = len(screen.cues)
            await pilot.press("down", "s")  # split cue 3 at the cursor (the middle)
            await pilot.press("enter")
            assert len(screen.cues) == count + 1
            left, right = screen.cues[2], screen.cues[3]
            assert left.edited and right.edited and left.end_ms <= right.start_ms + 1
            await pilot.press("J")  # merge them back into one
            assert len(screen.cues) == count
            assert screen.cues[2].text == f"{left.text} {right.text}"

            await pilot.press("u")  # undo the merge
            assert len(screen.cues) == count + 1
            await pilot.press("u")  # undo the split
            assert len(screen.cues) == count and not screen.cues[2].edited

            await pilot.press("up", "r")  # revert cue 2 to the model's text
            assert screen.cues[1].text == second.text and not screen.cues[1].edited
            await pilot.press("u")
            assert "Juni Smith" in screen.cues[1].text
            await pilot.press("R")  # revert the whole job
            assert not any(c.edited for c in screen.cues)
            assert store.corrections.result(job_id).text == model_text  # type: ignore[union-attr]
            await pilot.press("u")  # even that is undone
            assert "Juni Smith" in screen.cues[1].text
            assert store.get_result(job_id).text == model_text  # type: ignore[union-attr]

            await pilot.press("m")
            assert store.require_job(job_id).reviewed
            assert store.corrections.reviewed_at(job_id) is not None
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is app.main, what="back on main")
            await wait_until(
                pilot, lambda: "Juni Smith" in app.main.pane.text, what="pane shows corrections"
            )
