"""The final text aligned onto the delta timings, and every export built from it."""

from __future__ import annotations

import json
import random
import re
import time

import pytest

from tui.transcript.align import align, match
from tui.transcript.formats import render
from tui.transcript.model import Segment, TranscriptionResult


def joined(segments: list[Segment]) -> str:
    return "".join(s.text for s in segments)


def test_identical_text_keeps_the_deltas():
    deltas = [Segment(0, 400, "Hello"), Segment(400, 900, " world.")]
    assert align(deltas, "Hello world.") == deltas


def test_the_docs_example_final_text_longer_than_the_deltas():
    # asr-sse docs: a delta "识别的" with the final text "识别的完整文字内容".
    out = align([Segment(228, 1108, "识别的")], "识别的完整文字内容")
    assert joined(out) == "识别的完整文字内容"
    assert out[0] == Segment(228, 1108, "识别的")
    assert all(s.start_ms >= 1108 for s in out[1:])  # the rest takes its neighbour's time


def test_punctuation_only_in_the_final_text_joins_its_word():
    deltas = [Segment(0, 300, "Hello"), Segment(300, 700, " world"), Segment(900, 1500, " again")]
    out = align(deltas, "Hello, world! Again.")
    assert joined(out) == "Hello, world! Again."
    assert out[0] == Segment(0, 300, "Hello,")
    assert any(s.text.startswith(" world!") and s.start_ms == 300 for s in out)


def test_a_word_the_final_text_dropped_and_one_it_added():
    deltas = [
        Segment(0, 500, "So"),
        Segment(500, 900, " uh"),
        Segment(900, 1400, " we"),
        Segment(3000, 3500, " go."),
    ]
    out = align(deltas, "So we really go.")
    assert joined(out) == "So we really go."
    really = next(s for s in out if "really" in s.text)
    assert 1400 <= really.start_ms <= really.end_ms <= 3000  # between its neighbours
    assert "uh" not in joined(out)


def test_times_stay_in_order_and_nothing_is_lost_on_random_drift():
    rng = random.Random(7)
    words = [rng.choice(["alpha", "beta", "gamma", "delta", "42", "über"]) for _ in range(400)]
    deltas = [Segment(i * 300, i * 300 + 250, " " + w) for i, w in enumerate(words)]
    final = list(" ".join(words))
    for _ in range(60):  # substitutions, insertions and deletions all over
        k = rng.randrange(len(final))
        op = rng.random()
        if op < 0.3:
            final[k] = rng.choice(",.!?X")
        elif op < 0.6:
            final.insert(k, rng.choice(["，", " and", "."]))
        else:
            del final[k]
    text = "".join(final)
    out = align(deltas, text)
    assert joined(out) == text
    starts = [s.start_ms for s in out]
    assert starts == sorted(starts)


def test_match_is_monotonic_and_only_pairs_equal_characters():
    a, b = "the cat sat on the mat", "a cat sat, on the hat!"
    src = match(a, b)
    pairs = [(i, j) for j, i in enumerate(src) if i >= 0]
    assert all(a[i] == b[j] for i, j in pairs)
    assert [i for i, _ in pairs] == sorted(i for i, _ in pairs)
    assert len(pairs) >= 15


def test_long_transcripts_align_without_a_quadratic_search():
    """Correctness on a 25-minute-sized text (~60k characters) with drift sprinkled through;
    time is printed by benchmarks/, not asserted here."""
    rng = random.Random(1)
    chunks = [
        "".join(rng.choice("我们今天讨论项目进展会议记录") for _ in range(3)) for _ in range(20000)
    ]
    deltas = [Segment(i * 60, i * 60 + 50, c) for i, c in enumerate(chunks)]
    final = "".join(c + ("，" if i % 11 == 0 else "") for i, c in enumerate(chunks) if i % 97)
    started = time.perf_counter()
    out = align(deltas, final)
    assert joined(out) == final
    assert time.perf_counter() - started < 60  # a bound on a hang, not a speed claim


# --------------------------------------------------------------------------- the exports


def drifting_result() -> TranscriptionResult:
    final = "Hello, world! This is a test of the subtitles. 识别的完整文字内容。 The end."
    deltas = [
        Segment(0, 400, "hello"),
        Segment(400, 900, " world"),
        Segment(1200, 1500, " This"),
        Segment(1500, 1700, " is a"),
        Segment(1700, 2100, " test uh"),
        Segment(2100, 2600, " of the"),
        Segment(2600, 3300, " subtitle"),
        Segment(4000, 4800, " 识别的"),
        Segment(6000, 6500, " The end"),
    ]
    assert "".join(s.text for s in deltas) != final
    return TranscriptionResult(file="talk.wav", text=final, segments=deltas, duration_s=7.0)


def words_of(text: str) -> list[str]:
    return text.split()


def cue_text(rendered: str, fmt: str) -> str:
    lines = []
    for line in rendered.splitlines():
        if not line.strip() or "-->" in line or line.isdigit():
            continue
        if fmt == "vtt" and line in ("WEBVTT",):
            continue
        lines.append(line)
    return " ".join(lines)


@pytest.mark.parametrize("fmt", ["txt", "srt", "vtt", "md"])
def test_every_export_holds_exactly_the_final_text_when_deltas_drift(fmt):
    r = drifting_result()
    out = render(r, fmt)
    if fmt == "md":
        body = [
            re.sub(r"^\*\*\[\d\d:\d\d:\d\d\]\*\* ", "", line).replace("\\", "")
            for line in out.splitlines()
            if line.startswith("**[")
        ]
        text = " ".join(body)
    else:
        text = cue_text(out, fmt)
    # CJK characters may be wrapped at any point: compare with whitespace removed too.
    assert words_of(text) == words_of(r.text) or text.replace(" ", "") == r.text.replace(" ", "")
    assert "".join(text.split()) == "".join(r.text.split())
    for lost in ("uh", "subtitle "):
        assert lost not in text.replace("subtitles", "")


def test_json_export_has_aligned_segments_and_the_raw_deltas():
    r = drifting_result()
    data = json.loads(render(r, "json"))
    assert "".join(s["text"] for s in data["segments"]) == r.text
    assert [d["text"] for d in data["deltas"]] == [s.text for s in r.segments]
    # Reading an export back restores the deltas the service sent, not the aligned pieces.
    assert TranscriptionResult.from_json(data).segments == r.segments
