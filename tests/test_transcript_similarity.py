"""Cross-check similarity: normalisation, scores, and long texts in bounded time."""

from __future__ import annotations

import random

from tui.transcript.similarity import WINDOW, similarity, tokens


def test_tokens_normalise() -> None:
    assert tokens("Hello, WORLD!  It's 3pm.") == ["hello", "world", "it", "s", "3pm"]
    assert tokens("你好，世界！ＡＢＣ") == ["你", "好", "世", "界", "abc"]


def test_punctuation_case_and_spacing_do_not_matter() -> None:
    assert similarity("Hello, world. How are you?", "hello world how are you") == 1.0
    assert similarity("你好，世界。", "你好世界") == 1.0


def test_scores() -> None:
    assert similarity("", "") == 1.0
    assert similarity("text", "") == 0.0
    a = "the quick brown fox jumps over the lazy dog"
    b = "the quick brown fox jumped over a lazy dog"
    assert 0.7 < similarity(a, b) < 0.9
    assert similarity(a, "completely unrelated words appear here now") < 0.2


def test_repetition_scores_low() -> None:
    text = "今天我们讨论项目进度以及下周的安排。" * 3
    looped = text * 3 + text[: len(text) // 2]
    assert similarity(text, looped) < 0.5


def _words(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(800)]
    return [rng.choice(vocab) for _ in range(n)]


def test_long_texts_use_windows_and_stay_accurate() -> None:
    # ~30 minutes of English: 5,000 words; the second transcript differs in ~5% of words
    # and drops one sentence in the middle (drift that the window margin absorbs).
    a = _words(5000, 1)
    b = list(a)
    rng = random.Random(2)
    for i in rng.sample(range(len(b)), 250):
        b[i] = "x" + b[i]
    del b[2500:2520]
    assert len(a) > WINDOW
    score = similarity(" ".join(a), " ".join(b))
    assert 0.9 < score < 0.97
    # Same for 9,000 Chinese characters against a 3.5x loop of them.
    zh = "".join(chr(0x4E00 + rng.randrange(2000)) for _ in range(9000))
    assert similarity(zh, zh) == 1.0
    assert similarity(zh, zh * 3 + zh[:4500]) < 0.5
