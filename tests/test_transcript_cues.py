"""Cue grouping: punctuation, pauses, length limits, line wrapping."""

from __future__ import annotations

import itertools

from tui.transcript.cues import (
    CJK_LINE_CHARS,
    LATIN_LINE_CHARS,
    build_cues,
    format_timestamp,
    has_timestamps,
    is_cjk_text,
    wrap,
)
from tui.transcript.model import Segment


def words_to_segments(text: str, *, start: int = 0, step: int = 300) -> list[Segment]:
    """One segment per word, as the service sends deltas (" word" with its leading space)."""
    out = []
    t = start
    for i, word in enumerate(text.split(" ")):
        out.append(Segment(t, t + step - 20, (" " if i else "") + word))
        t += step
    return out


def test_format_timestamp() -> None:
    assert format_timestamp(0) == "00:00:00,000"
    assert format_timestamp(3_723_004) == "01:02:03,004"
    assert format_timestamp(61_500, sep=".") == "00:01:01.500"
    assert format_timestamp(-5) == "00:00:00,000"


def test_has_timestamps() -> None:
    assert not has_timestamps([Segment(0, 0, "a"), Segment(0, 0, "b")])
    assert has_timestamps([Segment(0, 0, "a"), Segment(0, 400, "b")])
    assert not has_timestamps([])


def test_script_detection() -> None:
    assert is_cjk_text("今天天气很好，我们去公园散步。")
    assert not is_cjk_text("The weather is fine today.")
    # A few English words in a Chinese sentence keep it Chinese.
    assert is_cjk_text("我们用 Python 写了一个 TUI 工具。")


def test_wrap_balances_two_lines_and_prefers_punctuation() -> None:
    text = "Today we talk about pipelines, subtitles and the details"
    lines = wrap(text, 42, 2)
    assert lines == ["Today we talk about pipelines,", "subtitles and the details"]
    assert all(len(line) <= 42 for line in lines)
    assert wrap("short line", 42, 2) == ["short line"]
    assert wrap("   ", 42) == []


def test_wrap_cjk_never_starts_a_line_with_punctuation() -> None:
    text = "以及字幕的分段规则，这些细节决定了字幕是否好读。"
    lines = wrap(text, CJK_LINE_CHARS, 2)
    assert lines == ["以及字幕的分段规则，", "这些细节决定了字幕是否好读。"]
    for line in wrap("一二三四五六七八九十。一二三四五六七八九十。一二三四五六七八九十", 10):
        assert line[0] not in "，。"
        assert len(line) <= 10


def test_sentence_punctuation_ends_a_cue() -> None:
    segs = words_to_segments("Hello there. How are you?")
    cues = build_cues(segs)
    assert [c.text for c in cues] == ["Hello there.", "How are you?"]
    assert cues[0].start_ms == 0
    assert cues[0].end_ms == 580
    assert cues[1].start_ms == 600


def test_pause_starts_a_new_cue() -> None:
    segs = [
        Segment(0, 300, "one"),
        Segment(320, 600, " two"),
        Segment(1500, 1800, " three"),
        Segment(1820, 2000, " four"),
    ]
    cues = build_cues(segs)
    assert [c.text for c in cues] == ["one two", "three four"]
    # A short gap (< 0.8 s) does not split.
    segs2 = [Segment(0, 300, "one"), Segment(1000, 1300, " two")]
    assert [c.text for c in build_cues(segs2)] == ["one two"]


def test_max_duration_and_line_limits() -> None:
    # 60 words, no punctuation, 300 ms each: limited by ~7 s and by 2 lines of 42 chars.
    text = " ".join(f"word{i:02d}" for i in range(60))
    cues = build_cues(words_to_segments(text))
    assert len(cues) > 3
    for cue in cues:
        assert cue.end_ms - cue.start_ms <= 7000
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= LATIN_LINE_CHARS for line in cue.lines)
    # Nothing lost, order kept.
    assert " ".join(" ".join(c.lines) for c in cues) == text
    # No overlaps, each cue has positive length.
    for a, b in itertools.pairwise(cues):
        assert a.end_ms <= b.start_ms
    assert all(c.end_ms > c.start_ms for c in cues)


def test_cjk_uses_shorter_lines() -> None:
    zh = "今天我们来聊一聊语音识别的流水线以及字幕的分段规则这些细节决定了字幕是否好读而且非常重要"
    segs = [Segment(i * 150, i * 150 + 140, c) for i, c in enumerate(zh)]
    cues = build_cues(segs)
    assert "".join("".join(c.lines) for c in cues) == zh
    for cue in cues:
        assert len(cue.lines) <= 2
        assert all(len(line) <= CJK_LINE_CHARS for line in cue.lines)


def test_soft_break_used_when_cue_is_full() -> None:
    text = (
        "Today we talk about audio pipelines, subtitles and the small details "
        "that make them readable."
    )
    cues = build_cues(words_to_segments(text))
    assert cues[0].text == "Today we talk about audio pipelines,"
    assert cues[1].lines == ("subtitles and the small details", "that make them readable.")


def test_shared_timestamps_get_positive_length() -> None:
    # Several deltas may share the previous one's times.
    segs = [Segment(1000, 1000, "a."), Segment(1000, 1000, " b.")]
    cues = build_cues(segs)
    assert len(cues) == 2
    assert all(c.end_ms > c.start_ms for c in cues)
    assert cues[0].end_ms <= cues[1].start_ms


def test_no_segments() -> None:
    assert build_cues([]) == []
    assert build_cues([Segment(0, 10, "")]) == []
