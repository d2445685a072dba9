"""Finding the doubtful parts fast: d/D step through warning spans, edited cues and search
matches; N opens the next job that needs review; without an audio device (and without the
null one) playback says so once and editing still works."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import write_tone_wav
from tui.app.app import make_app
from tui.app.screens.glossary_screen import GlossaryScreen
from tui.app.screens.review_screen import ReviewScreen
from tui.app.testing import wait_until
from tui.config import Settings
from tui.secrets import Secret
from tui.store.records import JobOptions
from tui.store.store import Store
from tui.transcript.model import Segment, TranscriptionResult, TrustWarning, WarningKind

SENTENCES = [
    "One fine morning.",
    "The cat sat down.",
    "Nothing at all happened.",
    "A dog barked twice.",
    "Then the cat left.",
    "That was the day.",
]


def _result(path: Path, spans: tuple[tuple[float, float], ...]) -> TranscriptionResult:
    segments: list[Segment] = []
    t = 0
    for sentence in SENTENCES:
        for word in sentence.split():
            segments.append(Segment(t, t + 300, (" " if segments else "") + word))
            t += 300
        t += 1000  # a pause: each sentence is its own cue
    warnings = [TrustWarning(WarningKind.REPETITION, "repeats", True, None, spans)] if spans else []
    text = " ".join(SENTENCES)
    return TranscriptionResult(str(path), text, segments, warnings=warnings, duration_s=t / 1000)


def _stored_jobs(tmp_path: Path) -> tuple[Path, list[int]]:
    db = tmp_path / "jobs.sqlite3"
    ids = []
    with Store(db) as store:
        for name, spans in (("a.wav", ((2.0, 2.5),)), ("b.wav", ()), ("c.wav", ((0.1, 0.2),))):
            path = write_tone_wav(tmp_path / name, 1.0)
            job = store.add_job(path, JobOptions())
            store.claim_next("seed")
            store.finish_job(job.id, _result(path, spans), owner="seed")
            ids.append(job.id)
    return db, ids


async def test_doubtful_spots_and_the_next_job_needing_review(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STEPFUN_ASR_AUDIO_DEVICE", raising=False)
    db, ids = _stored_jobs(tmp_path)
    settings = Settings()
    settings.base_url = "http://127.0.0.1:9"  # nothing is sent: no job is queued
    settings.api_key = Secret("test-" + "0" * 24)
    settings.audio_device = "no-such-device-here"
    app = make_app(settings, tmp_path, db_path=db, config_path=tmp_path / "c.toml")
    ReviewScreen.told_unavailable = False
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.main.table.job_ids, what="jobs listed")
        app.main.table.select_job(ids[0])
        await pilot.pause()
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.job_id == ids[0]
        assert [c.text for c in screen.cues] == SENTENCES
        # Cue 2 (2.0–2.5 s) is under the warning's span.
        await pilot.press("d")
        assert screen.cue_list.highlighted == 1
        await pilot.press("d")
        assert screen.cue_list.highlighted == 1  # the only one: it stays there
        # An edit and a search add spots.
        await pilot.press("down", "down", "i", "end", "!", "enter")
        assert screen.cues[3].edited
        screen.query_text = "cat"
        screen.load()
        screen.cue_list.highlighted = 0
        await pilot.press("d", "d", "d")
        assert screen.cue_list.highlighted == 4  # warning (1), edit (3), match "cat" (4)
        await pilot.press("D")
        assert screen.cue_list.highlighted == 3
        await pilot.press("right_square_bracket")
        assert screen.cue_list.highlighted == 4
        await pilot.press("left_square_bracket")
        assert screen.cue_list.highlighted == 1

        # No device: said once, and the rest works.
        await pilot.press("space")
        await pilot.press("space")
        notes = [n.message for n in app._notifications]
        assert sum("Cannot play" in m for m in notes) == 1
        assert screen.player is None

        # N: the next job that needs review (b.wav has no serious warning; c.wav has one).
        await pilot.press("N")
        assert screen.job_id == ids[2]
        await pilot.press("m")
        assert app.engine.store.require_job(ids[2]).reviewed
        await pilot.press("N")
        assert screen.job_id == ids[0]
        await pilot.press("m", "N")
        assert screen.job_id == ids[0]
        assert any("No other job needs review" in n.message for n in app._notifications)


async def test_glossary_screen_adds_and_removes_rules(tmp_path: Path) -> None:
    db, ids = _stored_jobs(tmp_path)
    settings = Settings()
    settings.base_url = "http://127.0.0.1:9"
    settings.api_key = Secret("test-" + "0" * 24)
    app = make_app(settings, tmp_path, db_path=db, config_path=tmp_path / "c.toml")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: app.main.table.job_ids, what="jobs listed")
        app.main.table.select_job(ids[1])
        await pilot.pause()
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, GlossaryScreen), what="glossary")
        await pilot.press("a", *"cat", "enter", *"Kat", "enter")
        store = app.engine.store
        assert [(r.source, r.target, r.scope) for r in store.glossary.rules()] == [
            ("cat", "Kat", "")
        ]
        await pilot.press("a", *"same", "enter", *"same", "enter")  # refused, said why
        assert len(store.glossary.rules()) == 1
        assert any("replaced by itself" in n.message for n in app._notifications)
        await pilot.press("escape", "x")
        assert store.glossary.rules() == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="back")
