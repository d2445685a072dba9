"""Exports: exact SRT/WebVTT text, JSON round trip, Markdown, fallbacks."""

from __future__ import annotations

import json

import pytest

from tui.transcript.formats import FORMATS, render
from tui.transcript.model import (
    CostEstimate,
    Segment,
    TranscriptionResult,
    TrustWarning,
)


def english_result() -> TranscriptionResult:
    segs = [
        Segment(1000, 1400, "Hello"),
        Segment(1400, 1700, " there."),
        Segment(2000, 2300, " How"),
        Segment(2300, 2500, " are"),
        Segment(2500, 3500, " you?"),
        # A pause of more than 2 s: a new Markdown paragraph.
        Segment(65_000, 65_400, " Fine,"),
        Segment(65_400, 66_000, " thanks."),
    ]
    return TranscriptionResult(
        file="/tmp/rec/interview.wav",
        text="Hello there. How are you? Fine, thanks.",
        segments=segs,
        model="stepaudio-2.5-asr",
        language="en",
        duration_s=70.0,
        cost=CostEstimate(0.0029, "CNY"),
    )


def test_formats_tuple() -> None:
    assert FORMATS == ("txt", "srt", "vtt", "json", "md")


def test_srt_exact() -> None:
    assert render(english_result(), "srt") == (
        "1\n00:00:01,000 --> 00:00:01,700\nHello there.\n\n"
        "2\n00:00:02,000 --> 00:00:03,500\nHow are you?\n\n"
        "3\n00:01:05,000 --> 00:01:06,000\nFine, thanks.\n"
    )


def test_vtt_exact() -> None:
    assert render(english_result(), "vtt") == (
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:01.700\nHello there.\n\n"
        "00:00:02.000 --> 00:00:03.500\nHow are you?\n\n"
        "00:01:05.000 --> 00:01:06.000\nFine, thanks.\n"
    )


def test_vtt_escapes_cue_syntax() -> None:
    r = TranscriptionResult(
        file="a.wav", text="a --> b & <c>", segments=[Segment(0, 900, "a --> b & <c>")]
    )
    assert render(r, "vtt") == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:00.900\na --&gt; b &amp; &lt;c&gt;\n"
    )


def test_no_timestamps_single_cue_spanning_duration() -> None:
    text = "你好，我是蕾格。今天天气很好。"
    r = TranscriptionResult(
        file="a.ogg", text=text, segments=[Segment(0, 0, c) for c in text], duration_s=12.5
    )
    assert render(r, "srt") == (
        "1\n00:00:00,000 --> 00:00:12,500\n你好，我是蕾格。\n今天天气很好。\n"
    )
    vtt = render(r, "vtt")
    assert vtt == (
        "WEBVTT\n\n"
        "NOTE\nNo word timestamps were returned (timestamps were off), so the whole\n"
        "transcript is one cue spanning the audio.\n\n"
        "00:00:00.000 --> 00:00:12.500\n你好，我是蕾格。\n今天天气很好。\n"
    )


def test_no_timestamps_latin_sentences_one_per_line() -> None:
    r = TranscriptionResult(
        file="a.wav",
        text="Version 3.5 is out. Try it!",
        segments=[Segment(0, 0, "Version 3.5 is out. Try it!")],
        duration_s=4.0,
    )
    assert render(r, "srt") == "1\n00:00:00,000 --> 00:00:04,000\nVersion 3.5 is out.\nTry it!\n"


def test_empty_transcript() -> None:
    r = TranscriptionResult(file="a.wav", text="", duration_s=3.0)
    assert render(r, "srt") == ""
    assert render(r, "txt") == ""
    assert render(r, "vtt") == "WEBVTT\n\nNOTE\nThe transcript is empty.\n"
    assert "*(empty transcript)*" in render(r, "md")


def test_txt() -> None:
    assert render(english_result(), "txt") == "Hello there. How are you? Fine, thanks.\n"


def test_json_keeps_word_timing_and_round_trips() -> None:
    r = english_result()
    r.warnings.append(TrustWarning("short_audio", "short", serious=False))
    data = json.loads(render(r, "json"))
    assert data["segments"][0] == {"start_ms": 1000, "end_ms": 1400, "text": "Hello"}
    assert TranscriptionResult.from_json(data) == r


def test_json_keeps_cjk_readable() -> None:
    r = TranscriptionResult(file="a.wav", text="你好")
    assert "你好" in render(r, "json")


def test_markdown() -> None:
    md = render(english_result(), "md")
    lines = md.split("\n")
    assert lines[0] == "# Transcript: interview.wav"
    assert "- **Model:** stepaudio-2.5-asr" in lines
    assert "- **Duration:** 00:01:10" in lines
    assert "- **Estimated cost:** 0.0029 CNY" in lines
    assert "**[00:00:01]** Hello there. How are you?" in lines
    assert "**[00:01:05]** Fine, thanks." in lines


def test_markdown_escapes_and_warnings() -> None:
    r = TranscriptionResult(
        file="x_y.wav",
        text="# not a heading *bold*",
        warnings=[TrustWarning("empty", "check *this*", serious=True)],
    )
    md = render(r, "md")
    assert "# Transcript: x\\_y.wav" in md
    assert "\\# not a heading \\*bold\\*" in md
    assert "> **Warning**: check \\*this\\*" in md


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="docx"):
        render(english_result(), "docx")


def test_line_breaks_in_the_text_never_make_a_blank_line_inside_a_cue() -> None:
    # A blank line ends an SRT cue: the rest would be read as garbage (or a broken cue).
    text = "第一段说完了\n\n第二段开始了"
    r = TranscriptionResult(file="a.wav", text=text, segments=[Segment(0, 0, text)], duration_s=5.0)
    assert render(r, "srt") == "1\n00:00:00,000 --> 00:00:05,000\n第一段说完了 第二段开始了\n"
    timed = TranscriptionResult(file="a.wav", text=text, segments=[Segment(0, 900, text)])
    assert "\n\n" not in render(timed, "srt").rstrip("\n")


def test_markdown_joins_cjk_cues_without_spaces_even_after_digits() -> None:
    # Two cues (a 1 s pause) in one paragraph: "100" then "元" must not become "100 元".
    r = TranscriptionResult(
        file="a.wav",
        text="价格是100元。",
        segments=[Segment(0, 500, "价格是100"), Segment(1500, 1900, "元。")],
    )
    assert "**[00:00:00]** 价格是100元。" in render(r, "md").split("\n")


def test_markdown_without_timestamps_has_paragraphs() -> None:
    sentences = [f"Sentence number {i} says something worth reading twice." for i in range(40)]
    text = " ".join(sentences)
    r = TranscriptionResult(file="a.wav", text=text, segments=[Segment(0, 0, text)])
    md = render(r, "md")
    body = md.split("\n\n")[2:]  # after the title and the metadata
    paragraphs = [p for p in body if p.strip()]
    assert len(paragraphs) > 3
    assert all(len(p) < 700 for p in paragraphs)
    assert " ".join(paragraphs).strip() == text
