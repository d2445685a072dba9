"""Glossary matching, learning a rule from an edit, the hotwords merge, and corrections laid
over a result (stale ones ignored, untimed transcripts, the store's undo stack)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tui.store.records import JobOptions
from tui.store.store import Store
from tui.transcript.corrected import Correction, corrected_result, review_cues
from tui.transcript.glossary_rules import (
    MAX_HOTWORDS,
    Rule,
    apply_rules,
    merged_hotwords,
    replaced_phrase,
)
from tui.transcript.model import Segment, TranscriptionResult


def test_latin_rules_match_whole_words_in_any_case_never_inside_a_word() -> None:
    rule = Rule("cat", "Kat")
    text, used = apply_rules("Cat, concatenate the cat's catalog; CAT.", [rule])
    assert text == "Kat, concatenate the Kat's catalog; Kat."
    assert used == [rule]
    assert apply_rules("nothing here", [rule]) == ("nothing here", [])
    # A phrase, and a target that contains its source: applying twice changes nothing.
    phrase = Rule("step fun", "StepFun")
    once, _ = apply_rules("we use step fun and Step Fun daily", [phrase])
    assert once == "we use StepFun and StepFun daily"
    assert apply_rules(once, [phrase]) == (once, [])
    grow = Rule("Smith", "Smith-Jones")
    assert apply_rules(apply_rules("Mr Smith", [grow])[0], [grow])[0] == "Mr Smith-Jones"


def test_cjk_rules_match_exact_strings_and_leave_the_target_alone() -> None:
    rule = Rule("阶跃", "阶跃星辰")
    text, used = apply_rules("我们在阶跃工作。阶跃星辰很好。", [rule])
    assert text == "我们在阶跃星辰工作。阶跃星辰很好。" and used == [rule]
    assert apply_rules(text, [rule]) == (text, [])


def test_replaced_phrase_learns_one_replacement_only() -> None:
    assert replaced_phrase("We met Jon Smith today.", "We met John Smyth today.") == (
        "Jon Smith",
        "John Smyth",
    )
    assert replaced_phrase("Call Smith, now", "Call Smyth, now") == ("Smith", "Smyth")
    assert replaced_phrase("我们在阶跃工作", "我们在阶跃星辰工作") is None  # an insertion
    assert replaced_phrase("我们在皆月工作", "我们在阶跃工作") == ("皆月", "阶跃")
    assert replaced_phrase("same", "same") is None
    assert replaced_phrase("It was twice.", "It was twice!") is None  # punctuation only
    assert replaced_phrase("a b", "a") is None  # a deletion teaches nothing


def test_hotwords_merge_keeps_the_users_first_without_repeats_within_limits() -> None:
    rules = [Rule("x", "StepFun"), Rule("y", "stepfun"), Rule("z", "Juni"), Rule("w", "x" * 60)]
    assert merged_hotwords(["StepFun", "Quarkus"], rules) == ["StepFun", "Quarkus", "Juni"]
    many = [Rule(f"a{i}", f"T{i}") for i in range(300)]
    merged = merged_hotwords(["mine"], many)
    assert len(merged) == MAX_HOTWORDS and merged[0] == "mine"


def _result(words: list[tuple[int, int, str]], text: str | None = None) -> TranscriptionResult:
    segs = [Segment(a, b, t) for a, b, t in words]
    return TranscriptionResult("f.wav", text or "".join(s.text for s in segs).strip(), segs)


def test_a_correction_for_other_words_is_stale_and_ignored() -> None:
    model = _result([(0, 400, "Hello"), (400, 900, " world."), (1000, 1500, " Bye.")])
    cues = review_cues(model, [])
    first = cues[0]
    fix = Correction(
        first.seg_from, first.seg_to, first.start_ms, first.end_ms, "Hi all.", first.text
    )
    assert corrected_result(model, [fix]).text.startswith("Hi all.")
    # Transcribed again, different words: the old correction no longer applies.
    rerun = _result([(0, 400, "Yellow"), (400, 900, " word."), (1000, 1500, " Bye.")])
    assert corrected_result(rerun, [fix]).text == rerun.text
    assert not any(c.edited for c in review_cues(rerun, [fix]))


def test_untimed_transcripts_are_corrected_by_sentence() -> None:
    model = TranscriptionResult("f.wav", "First one. Second one! Third?", [Segment(0, 0, "x")])
    cues = review_cues(model, [])
    assert [c.text for c in cues] == ["First one.", "Second one!", "Third?"]
    c = cues[1]
    fix = Correction(c.seg_from, c.seg_to, 0, 0, "Second two!", c.model_text)
    fixed = corrected_result(model, [fix])
    assert fixed.text == "First one. Second two! Third?" and fixed.segments == []


def test_store_keeps_model_text_and_undoes_every_step(tmp_path: Path) -> None:
    store = Store(tmp_path / "j.db")
    job = store.add_job(tmp_path / "a.wav", JobOptions())
    store.claim_next("me")
    model = _result([(0, 400, "Hello"), (400, 900, " world."), (1000, 1500, " Bye.")])
    store.finish_job(job.id, dataclasses.replace(model), owner="me")
    cue = store.corrections.cues(job.id)[1][0]  # type: ignore[index]
    fix = Correction(cue.seg_from, cue.seg_to, cue.start_ms, cue.end_ms, "Hi.", cue.model_text)
    store.corrections.change(job.id, "edit", add=[fix])
    store.corrections.change(job.id, "revert job", remove_all=True)
    assert store.corrections.result(job.id).text == model.text  # type: ignore[union-attr]
    assert store.corrections.undo(job.id) == "revert job"
    assert store.corrections.result(job.id).text == "Hi. Bye."  # type: ignore[union-attr]
    assert store.corrections.undo(job.id) == "edit"
    assert store.corrections.undo(job.id) is None
    assert store.get_result(job.id).text == model.text  # type: ignore[union-attr]
    store.close()
