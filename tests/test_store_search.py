"""Search across stored transcripts: a real SQLite file, results saved the way the engine does."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.store import search as fts
from tui.store.records import JobState, JobStateError
from tui.store.schema import MIGRATIONS
from tui.store.search import QuerySyntaxError, parse_query
from tui.store.store import Store
from tui.transcript.model import Segment, TranscriptionResult
from tui.transcript.text import CJK


def timed(text: str, step_ms: int = 250) -> list[Segment]:
    """Segments as the service sends them: a CJK character or a Latin word (with its space)."""
    pieces: list[str] = []
    for word in text.split(" "):
        run = ""
        for ch in word:
            if CJK.match(ch):
                if run:
                    pieces.append(run)
                    run = ""
                pieces.append(ch)
            else:
                run += ch
        pieces.append(run + " ")
    pieces = [p for p in pieces if p.strip()]
    return [Segment(i * step_ms, (i + 1) * step_ms, p) for i, p in enumerate(pieces)]


def result(path: Path, text: str) -> TranscriptionResult:
    segs = timed(text)
    return TranscriptionResult(
        file=str(path), text=text, segments=segs, model="m", duration_s=len(segs) / 4
    )


def finished(store: Store, path: Path, text: str) -> int:
    job = store.add_job(path)
    store.claim_one(job.id, "me")
    store.finish_job(job.id, result(path, text), owner="me")
    return job.id


def vocabulary(store: Store) -> list[tuple[str, int, int]]:
    conn = store._db.conn
    conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.v USING fts5vocab(main, search_fts, row)")
    return list(conn.execute("SELECT term, doc, cnt FROM temp.v ORDER BY term"))


def assert_index_exact(store: Store) -> None:
    """The index after every update equals one built afresh from the cue rows: each delete
    took out exactly the tokens its insert put in."""
    before = vocabulary(store)
    with store._db.tx() as conn:
        fts.rebuild(conn)
    assert vocabulary(store) == before


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "jobs.sqlite3") as s:
        yield s


@pytest.fixture
def library(store: Store, tmp_path: Path) -> dict[str, int]:
    return {
        "zh": finished(
            store,
            tmp_path / "meetings" / "周会.m4a",
            "今天我们讨论一下预算。下周的会议改到周三。钱的问题以后再说。",
        ),
        "en": finished(
            store,
            tmp_path / "meetings" / "standup.wav",
            "The budget review is on Friday. Please send the budgeting sheet before the "
            "meeting. Nothing else is urgent.",
        ),
        "mixed": finished(
            store,
            tmp_path / "calls" / "client.mp3",
            "客户说 AI 项目的 budget 要再看一下。下个 sprint 开始之前给答复。",
        ),
    }


def test_one_character_chinese_query_matches(store: Store, library: dict[str, int]) -> None:
    hits = store.search("钱")
    assert [h.job_id for h in hits] == [library["zh"]]
    assert "«钱»" in hits[0].snippet
    assert hits[0].file.endswith("周会.m4a")


def test_two_character_chinese_query_matches_as_a_word(
    store: Store, library: dict[str, int]
) -> None:
    hits = store.search("会议")
    assert [h.job_id for h in hits] == [library["zh"]]
    assert "«会议»" in hits[0].snippet
    # The two characters apart do not make the word.
    assert store.search("议会") == []
    # The cue's time is where the word was said: after the first sentence (11 segments).
    first = store.search("预算")[0]
    later = hits[0]
    assert first.start_ms < later.start_ms
    assert later.start_ms == 11 * 250
    assert later.end_ms > later.start_ms


def test_english_whole_words_prefixes_and_phrases(store: Store, library: dict[str, int]) -> None:
    words = store.search("budget")
    assert {h.job_id for h in words} == {library["en"], library["mixed"]}
    # A whole word: "budgeting" alone does not make "budget" match twice in the English job.
    assert all("«budgeting»" not in h.snippet for h in words)
    prefixed = store.search("budg*")
    assert {h.job_id for h in prefixed} == {library["en"], library["mixed"]}
    assert any("«budgeting»" in h.snippet for h in prefixed)
    assert store.search("BUDGET")  # case folded
    phrase = store.search('"budget review"')
    assert [h.job_id for h in phrase] == [library["en"]]
    assert "«budget review»" in phrase[0].snippet
    assert store.search('"review budget"') == []


def test_mixed_query_needs_every_part(store: Store, library: dict[str, int]) -> None:
    hits = store.search("budget 客户")
    assert [h.job_id for h in hits] == [library["mixed"]]
    assert "«budget»" in hits[0].snippet and "«客户»" in hits[0].snippet
    assert [h.job_id for h in store.search("AI项目")] == [library["mixed"]]
    assert {h.job_id for h in store.search("钱 OR sprint")} == {library["zh"], library["mixed"]}
    assert [h.job_id for h in store.search("budget -客户")] == [library["en"]]


def test_no_hits_is_an_empty_list(store: Store, library: dict[str, int]) -> None:
    assert store.search("kangaroo") == []
    assert store.search("袋鼠") == []


def test_ranking_puts_the_denser_match_first(store: Store, tmp_path: Path) -> None:
    finished(store, tmp_path / "a.wav", "A long cue about many things, including one budget note.")
    best = finished(store, tmp_path / "b.wav", "Budget, budget, budget.")
    hits = store.search("budget")
    assert hits[0].job_id == best
    assert hits[0].score <= hits[1].score


def test_filters_by_folder_state_and_date(
    store: Store, library: dict[str, int], tmp_path: Path
) -> None:
    assert {h.job_id for h in store.search("budget", folder=tmp_path / "calls")} == {
        library["mixed"]
    }
    # A folder whose name only starts the same is another folder.
    assert store.search("budget", folder=tmp_path / "call") == []
    assert store.search("budget", states=["failed"]) == []
    assert len(store.search("budget", states=["done"])) == 2
    assert store.search("budget", since=4e9) == []
    with pytest.raises(ValueError):
        store.search("budget", states=["finished"])


def test_edited_text_is_found_by_new_words_only(store: Store, library: dict[str, int]) -> None:
    job_id = library["zh"]
    # A correction written beside the store (as the review layer will), then reindexed.
    conn = sqlite3.connect(store.path)
    segs = [s.__dict__ for s in timed("今天我们讨论一下经费。")]
    conn.execute(
        "UPDATE results SET text = ?, segments = ? WHERE job_id = ?",
        ("今天我们讨论一下经费。", json.dumps(segs, ensure_ascii=False), job_id),
    )
    conn.commit()
    conn.close()
    assert store.reindex(job_id) == 1
    assert [h.job_id for h in store.search("经费")] == [job_id]
    assert store.search("预算") == []
    # The other jobs are intact, and can still be taken out exactly.
    assert {h.job_id for h in store.search("budget")} == {library["en"], library["mixed"]}
    store.remove_job(library["en"])
    assert_index_exact(store)


def test_replaced_result_is_reindexed(store: Store, library: dict[str, int]) -> None:
    job_id = library["en"]
    job = store.require_job(job_id)
    store.save_cross_check(
        job_id, result(job.source, "Quarterly forecast only."), finished_at=job.finished_at
    )
    assert [h.job_id for h in store.search("forecast")] == [job_id]
    assert {h.job_id for h in store.search("budget")} == {library["mixed"]}
    assert_index_exact(store)


def test_removed_job_is_gone_from_results(
    store: Store, library: dict[str, int], tmp_path: Path
) -> None:
    removed = store.remove_job(library["mixed"])
    assert removed.id == library["mixed"]
    assert store.get_job(library["mixed"]) is None
    assert store.get_result(library["mixed"]) is None
    assert {h.job_id for h in store.search("budget")} == {library["en"]}
    assert store.search("客户") == []
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM search_jobs").fetchone()[0] == 2
    assert_index_exact(store)


def test_running_job_cannot_be_removed(store: Store, tmp_path: Path) -> None:
    job = store.add_job(tmp_path / "a.wav")
    store.claim_one(job.id, "me")
    with pytest.raises(JobStateError, match="running"):
        store.remove_job(job.id)
    assert store.require_job(job.id).state is JobState.RUNNING


def test_results_saved_before_the_index_existed_are_indexed(tmp_path: Path) -> None:
    # A database as the previous version left it: schema 1, one finished job with its result.
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO jobs (id, source, state, created_at) VALUES (7, '/old/a.wav', 'done', 1.0)"
    )
    segs = [s.__dict__ for s in timed("Old database text about penguins.")]
    conn.execute(
        "INSERT INTO results (job_id, text, segments, saved_at) VALUES (7, ?, ?, 1.0)",
        ("Old database text about penguins.", json.dumps(segs)),
    )
    conn.commit()
    conn.close()
    with Store(path) as store:
        (hit,) = store.search("penguins")
        assert (hit.job_id, hit.file) == (7, "/old/a.wav")
        assert store.catch_up_index() == 0
        assert_index_exact(store)


def test_transcript_without_timestamps_is_searchable(store: Store, tmp_path: Path) -> None:
    job = store.add_job(tmp_path / "a.wav")
    store.claim_one(job.id, "me")
    text = "First sentence here. The second one mentions walruses."
    store.finish_job(
        job.id,
        TranscriptionResult(file="a.wav", text=text, segments=[], duration_s=9.0),
        owner="me",
    )
    (hit,) = store.search("walruses")
    assert hit.snippet == "The second one mentions «walruses»."
    assert (hit.start_ms, hit.end_ms) == (0, 9000)


@pytest.mark.parametrize(
    "query",
    ['"budget review', "budget OR", "OR budget", "!!! ...", "-budget", "a OR OR b"],
)
def test_bad_queries_say_why_in_one_sentence(query: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    message = str(info.value)
    assert message.endswith(".") and "\n" not in message


def test_the_index_holds_the_final_text_where_the_deltas_drifted(
    store: Store, tmp_path: Path
) -> None:
    # The final text can differ from the streamed words (e.g. number formatting): the exports
    # hold the final text aligned onto the deltas' times, and so does the index.
    job = store.add_job(tmp_path / "a.wav")
    store.claim_one(job.id, "me")
    res = result(tmp_path / "a.wav", "We spent twelve dollars. Then we left.")
    res.text = "We spent $12. Then we left."
    store.finish_job(job.id, res, owner="me")
    assert store.search("twelve") == []
    assert [h.snippet for h in store.search("12")] == ["We spent $«12»."]
    assert [h.snippet for h in store.search("left")] == ["Then we «left»."]
    store.remove_job(job.id)
    assert store.search("12") == []
    assert_index_exact(store)


def test_broad_queries_list_the_newest_matches_first(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fts, "BROAD_MATCHES", 3)
    old = [finished(store, tmp_path / "old" / f"{n}.wav", "Common word here.") for n in range(3)]
    new = [finished(store, tmp_path / "new" / f"{n}.wav", "Common word here.") for n in range(6)]
    rare = finished(store, tmp_path / "new" / "rare.wav", "Common and unusual.")
    hits = store.search("common", limit=4)
    assert [h.job_id for h in hits] == [rare, *new[::-1][:3]]
    assert not any(h.ranked for h in hits) and '"ranked": false' in json.dumps(hits[0].to_json())
    assert [h.job_id for h in store.search("common", limit=3, offset=4)] == new[::-1][3:6]
    # Filtered: job by job (few jobs), or joined (many), both newest first.
    in_old = store.search("common", folder=tmp_path / "old", limit=2)
    assert [h.job_id for h in in_old] == old[::-1][:2]
    monkeypatch.setattr(fts, "SPAN_QUERIES", 1)
    assert [h.job_id for h in store.search("common", folder=tmp_path / "old")] == old[::-1]
    # A filter leaving no indexed job answers at once.
    assert store.search("common", states=["failed"]) == []
    # A narrow query is ranked.
    (hit,) = store.search("unusual")
    assert hit.ranked and hit.job_id == rare


def test_library_pages_filters_and_marks(store: Store, tmp_path: Path) -> None:
    from tui.store.library import FileMark, LibraryFilter

    a = finished(store, tmp_path / "x" / "a.wav", "One.")
    b = finished(store, tmp_path / "y" / "b.wav", "Two.")
    queued = store.add_job(tmp_path / "x" / "c.wav")
    store.mark_reviewed(b)
    assert [j.id for j in store.library(limit=2)] == [queued.id, b]
    assert [j.id for j in store.library(limit=2, offset=2)] == [a]
    assert [j.id for j in store.library(group="folder")] == [a, queued.id, b]
    assert [j.id for j in store.library(LibraryFilter(reviewed=True))] == [b]
    done = LibraryFilter(states=(JobState.DONE,), folder=tmp_path / "x")
    assert [j.id for j in store.library(done)] == [a]
    assert store.library(LibraryFilter(since=4e9)) == []
    # A copy the watcher recognised by its bytes is marked like the file it copies.
    store.ledger.record_seen(tmp_path / "x" / "copy.wav", 4, 1, "h", a)
    assert store.file_marks(tmp_path / "x") == {
        tmp_path / "x" / "a.wav": FileMark.TRANSCRIBED,
        tmp_path / "x" / "c.wav": FileMark.QUEUED,
        tmp_path / "x" / "copy.wav": FileMark.TRANSCRIBED,
    }


def test_an_edited_cue_is_found_by_its_new_text_and_not_its_old_one(
    store: Store, tmp_path: Path
) -> None:
    """A correction made in review (tui.engine.review) is what a search finds; the model's
    words stay stored beside it but are no longer found."""
    from tui.config import Settings
    from tui.engine.engine import Engine

    job_id = finished(store, tmp_path / "meeting.wav", "We met Jon Smyth today. It went well.")
    engine = Engine(Settings(), store=store)
    cues = engine.review.cues(job_id)
    first = next(i for i, c in enumerate(cues) if "Smyth" in c.text)
    engine.review.edit(job_id, first, cues[first].text.replace("Jon Smyth", "John Smith"))
    assert [h.job_id for h in store.search("Smith")] == [job_id]
    assert store.search("Smyth") == []
    assert store.get_result(job_id).text.startswith("We met Jon Smyth")  # type: ignore[union-attr]
    engine.review.undo(job_id)
    assert [h.job_id for h in store.search("Smyth")] == [job_id]
    assert store.search("Smith") == []
    assert_index_exact(store)
