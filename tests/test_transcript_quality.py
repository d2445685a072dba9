"""Trust checks on real-ish text: no false positives on normal speech, detection of loops."""

from __future__ import annotations

import random

from tui.transcript.model import CrossCheck, TranscriptionResult
from tui.transcript.quality import assess

# About 75 s of a normal talk (≈ 2.7 words/s).
ENGLISH = (
    "Thanks for coming, everyone. Before we start, a quick word about the schedule. We moved "
    "the design review to Thursday because two of the reviewers are travelling, and the "
    "release candidate will be cut on Friday morning if the test suite stays green. Most of "
    "today is about the audio pipeline. Last week we found that long recordings were being "
    "sent as one huge request, which sometimes timed out on slow connections. The fix is to "
    "convert everything to a small Opus file first and to split anything longer than "
    "twenty-five minutes at a natural pause. That keeps each request under the size the "
    "service accepts, and it also makes the progress bar honest, because we can report each "
    "part as it finishes. The second topic is subtitles. People asked for SRT and WebVTT "
    "files next to the text, so the exporter now groups words into short cues, breaks at "
    "sentence ends and pauses, and never puts more than two lines on screen. Finally, cost. "
    "At fifteen fen per audio hour the numbers are tiny, but showing them builds trust."
)
ENGLISH_S = 75.0

# About 60 s of normal Mandarin (≈ 4.5 characters/s).
CHINESE = (
    "各位好，今天的会议主要讨论三件事情。第一，项目的进度。上周我们完成了音频处理模块的开发，"
    "现在所有常见的录音格式都可以直接转写了，长录音会在停顿的地方自动切分，每一段单独识别以后"
    "再按顺序拼接起来。第二，字幕导出。很多同事希望转写结果能直接生成字幕文件，所以我们增加了"
    "两种常用的字幕格式，每条字幕不超过两行，遇到句号或者较长的停顿就换一条。第三，费用。按照"
    "每小时一毛五的价格，一个小时的会议录音成本非常低，但我们还是会在界面上显示估算的金额，"
    "方便大家心里有数。最后提醒一下，下周五之前请把测试反馈发给我，谢谢大家。"
)
CHINESE_S = 60.0

CHORUS = "Hold on to the night, hold on to the light, we are running home tonight. "
SONG = (
    "I woke up early in a town I did not know, the streets were quiet and the sky was low. "
    + CHORUS * 5
    + "And when the morning comes we will find our way. "
)


def result(text: str, cc: CrossCheck | None = None) -> TranscriptionResult:
    return TranscriptionResult(file="x.wav", text=text, cross_check=cc)


def codes(
    text: str, duration: float | None, language: str | None = None, cc: CrossCheck | None = None
) -> dict[str, bool]:
    return {w.code: w.serious for w in assess(result(text, cc), duration, language)}


def test_normal_english_no_warning() -> None:
    assert codes(ENGLISH, ENGLISH_S) == {}
    assert codes(ENGLISH, ENGLISH_S, "en") == {}


def test_normal_chinese_no_warning() -> None:
    assert codes(CHINESE, CHINESE_S) == {}
    assert codes(CHINESE, CHINESE_S, "zh") == {}


def test_fast_but_plausible_speech_not_flagged() -> None:
    # The English paragraph read fast (in 45 s: ~4.5 words/s) is still speech.
    assert codes(ENGLISH, 45.0) == {}
    assert codes(CHINESE, 40.0) == {}


def test_text_repeated_3_5_times_is_flagged_by_rate() -> None:
    looped = ENGLISH * 3 + ENGLISH[: len(ENGLISH) // 2]
    warnings = assess(result(looped), ENGLISH_S, "en")
    assert [(w.code, w.serious) for w in warnings] == [("repetition", True)]
    assert "per second" in warnings[0].message
    assert "--cross-check" in warnings[0].message
    zh_looped = CHINESE * 3 + CHINESE[: len(CHINESE) // 2]
    assert codes(zh_looped, CHINESE_S, "zh") == {"repetition": True}


def test_repeated_chorus_is_flagged_by_ngrams() -> None:
    # Sung slowly (60 s): the rate is normal, the repetition is not.
    warnings = assess(result(SONG), 60.0, "en")
    assert [(w.code, w.serious) for w in warnings] == [("repetition", True)]
    assert "appears" in warnings[0].message


def test_chinese_phrase_loop_flagged_by_ngrams() -> None:
    text = "我们今天讨论一下。" + "这个问题我们下次再讨论，" * 6 + "好的。"
    assert codes(text, 60.0, "zh") == {"repetition": True}


def test_short_text_without_duration_still_checked_for_loops() -> None:
    assert codes(CHORUS * 6, None) == {"repetition": True}
    assert codes(ENGLISH, None) == {}


def test_rate_rule_needs_20_seconds() -> None:
    # 10 s of audio with a paragraph worth of text: too short to judge the rate.
    assert "repetition" not in codes(ENGLISH, 10.0)


def test_empty_transcript_is_serious_and_explains() -> None:
    warnings = assess(result("  "), 12.0, "zh")
    assert [(w.code, w.serious) for w in warnings] == [("empty", True)]
    msg = warnings[0].message
    for cause in ("silent", "language setting (zh)", "format", "under about 1 s"):
        assert cause in msg


def test_short_audio() -> None:
    warnings = assess(result(""), 0.4, None)
    assert [(w.code, w.serious) for w in warnings] == [("short_audio", False), ("empty", True)]
    assert "0.40 s" in warnings[1].message
    assert codes("Hi.", 0.8) == {"short_audio": False}


def test_cross_check_differs() -> None:
    cc = CrossCheck("step-asr-1.1", "something else entirely was said here", 0.31)
    got = codes(ENGLISH, ENGLISH_S, "en", cc)
    assert got == {"cross_check_differs": True}


def test_cross_check_agreeing_downgrades_repetition() -> None:
    cc = CrossCheck("step-asr-1.1", SONG, 0.97)
    warnings = assess(result(SONG, cc), 60.0, "en")
    assert [(w.code, w.serious) for w in warnings] == [("repetition", False)]
    assert "agrees" in warnings[0].message


VOCAB = (ENGLISH.lower().replace(",", "").replace(".", "")).split()


def long_talk(words: int, seed: int) -> list[str]:
    """A long transcript without looping (words drawn at random from a real paragraph)."""
    rng = random.Random(seed)
    return [rng.choice(VOCAB) for _ in range(words)]


def long_chinese(chars: int, seed: int) -> str:
    """Characters of a real paragraph in random order, with a comma or full stop now and then."""
    pool = [c for c in CHINESE if c not in "，。、"]
    rng = random.Random(seed)
    out = []
    for i in range(1, chars + 1):
        out.append(rng.choice(pool))
        if i % 15 == 0:
            out.append("。" if rng.random() < 0.5 else "，")
    return "".join(out)


def test_loop_inside_a_long_transcript_is_flagged() -> None:
    # 25 minutes of talk (~150 words/min) with a 12-fold loop of one sentence in the middle:
    # too little of the text for the coverage rule, and the rate stays normal.
    talk = long_talk(3750, seed=7)
    looped = " ".join(talk[:2000]) + " " + CHORUS * 12 + " ".join(talk[2000:])
    assert codes(" ".join(talk), 1500.0, "en") == {}
    warnings = assess(result(looped), 1500.0, "en")
    assert [(w.code, w.serious) for w in warnings] == [("repetition", True)]
    assert "in a row" in warnings[0].message
    zh_talk = long_chinese(6500, seed=3)  # ~4.3 characters/s over 25 minutes
    assert codes(zh_talk, 1500.0, "zh") == {}
    zh = zh_talk[:3000] + "这个问题我们下次再讨论，" * 12 + zh_talk[3000:]
    assert codes(zh, 1500.0, "zh") == {"repetition": True}


def test_phrases_repeated_apart_or_a_few_times_are_not_loops() -> None:
    talk = long_talk(3750, seed=11)
    spread = list(talk)
    for k in range(10):  # "at the end of the day" ten times, minutes apart
        spread[300 * k + 50 : 300 * k + 50] = ["at", "the", "end", "of", "the", "day"]
    assert codes(" ".join(spread), 1500.0, "en") == {}
    emphasis = (
        " ".join(talk[:1000]) + " " + "no no we cannot ship this now, " * 4 + " ".join(talk[1000:])
    )
    assert codes(emphasis, 1500.0, "en") == {}
