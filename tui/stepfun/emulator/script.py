"""Deterministic transcripts: same audio in, same words and timings out.

Duration comes from the container headers (pcm: from the declared params). For 16-bit PCM the
words go only where the audio is voiced; otherwise across the whole file. Word choice is seeded
from a hash of the audio bytes. A directive's ``text`` replaces the generated words.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from typing import Any

from tui.audio.headers import header_info_from_bytes, pcm16_mono, wav_layout_from_bytes

WINDOW_S = 0.05
VOICE_RMS = 300.0  # about -40 dBFS: above room noise in a synthetic file, below any "speech"
MIN_AUDIO_S = 1.0  # shorter clips come back empty, as the real service does
_MAX_SAMPLES_PER_WINDOW = 64  # RMS from a subsample keeps a 25-minute file well under a second

_EN_TEXT = (
    "the quick brown fox jumps over a lazy dog while river stones sing softly under "
    "morning light and people gather near old markets to share bread tea stories about "
    "weather trains music gardens distant mountains bright windows quiet libraries paper "
    "lanterns small boats harbour bells evening clouds green valleys busy streets "
    "careful hands warm kitchens fresh apples patient teachers curious children open "
    "doors long roads simple questions honest answers"
)
_EN_WORDS = tuple(_EN_TEXT.split())
_ZH_CHARS = (
    "我们今天讨论一下这个项目的进展情况大家都觉得时间安排比较紧张但是质量还是要保证"
    "会议记录已经整理好了请各位查看并提出意见下周继续跟进客户反馈的问题以及新的需求"
)
_CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
_ZH_PUNCT = set("，。！？、；：")


@dataclass(frozen=True)
class Token:
    text: str
    start_ms: int
    end_ms: int


@dataclass
class Script:
    tokens: list[Token]
    text: str
    usage: dict[str, Any]
    duration_s: float | None
    voiced: list[tuple[float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class FormatSpec:
    type: str
    rate: int | None = None
    bits: int | None = None
    channel: int | None = None


def zero_usage() -> dict[str, Any]:
    return {
        "type": "tokens",
        "input_tokens": 0,
        "input_token_details": {"text_tokens": 0, "audio_tokens": 0},
        "output_tokens": 0,
        "total_tokens": 0,
    }


def usage_for(duration_s: float, n_tokens: int) -> dict[str, Any]:
    n_in = round(duration_s * 25)
    return {
        "type": "tokens",
        "input_tokens": n_in,
        "input_token_details": {"text_tokens": n_in, "audio_tokens": 0},
        "output_tokens": n_tokens,
        "total_tokens": n_in + n_tokens,
    }


# ------------------------------------------------------------------------------------ analysis


def voiced_regions(samples: memoryview, rate: int) -> list[tuple[float, float]]:
    """(start_s, end_s) stretches whose windowed RMS is above the voice threshold; gaps under
    200 ms are bridged and blips under 100 ms dropped."""
    win = max(1, int(rate * WINDOW_S))
    stride = max(1, win // _MAX_SAMPLES_PER_WINDOW)
    threshold = VOICE_RMS * VOICE_RMS
    flags: list[bool] = []
    for start in range(0, len(samples) - win + 1, win):
        part = samples[start : start + win : stride]
        flags.append(sum(x * x for x in part) / len(part) > threshold)
    regions: list[list[float]] = []
    for i, voiced in enumerate(flags):
        if not voiced:
            continue
        t0, t1 = i * WINDOW_S, (i + 1) * WINDOW_S
        if regions and t0 - regions[-1][1] < 0.2:
            regions[-1][1] = t1
        else:
            regions.append([t0, t1])
    return [(round(a, 3), round(b, 3)) for a, b in regions if b - a >= 0.1]


def analyse(audio: bytes, fmt: FormatSpec) -> tuple[float | None, list[tuple[float, float]]]:
    """(duration, voiced regions). Duration None: not decodable as the declared type."""
    if fmt.type == "pcm":
        rate, bits, ch = fmt.rate or 0, fmt.bits or 0, fmt.channel or 0
        if rate <= 0 or bits <= 0 or ch <= 0:
            return None, []
        duration = len(audio) / (rate * bits / 8 * ch)
        if bits != 16:
            return duration, [(0.0, duration)]
        return duration, voiced_regions(pcm16_mono(audio, ch), rate)
    info = header_info_from_bytes(audio, len(audio))
    if info is None or info.format != fmt.type or info.duration_s is None:
        return None, []  # a wrong format type gives an empty transcript, not an error
    duration = info.duration_s
    if info.codec == "pcm_s16le":
        lay = wav_layout_from_bytes(audio)
        if lay is not None and lay.sample_rate > 0:
            samples = pcm16_mono(audio, lay.channels, lay.data_offset, lay.data_size)
            return duration, voiced_regions(samples, lay.sample_rate)
    return duration, [(0.0, duration)]


# ---------------------------------------------------------------------------------- generation


def _generate_en(rng: random.Random, n_words: int, hotwords: list[str]) -> list[str]:
    words = [rng.choice(_EN_WORDS) for _ in range(n_words)]
    for hw in hotwords[: max(0, n_words // 3)]:
        words[rng.randrange(n_words)] = hw
    out: list[str] = []
    sentence_left = rng.randint(6, 12)
    new_sentence = True
    for i, word in enumerate(words):
        w = word[:1].upper() + word[1:] if new_sentence else word
        sentence_left -= 1
        last = i == len(words) - 1
        if sentence_left == 0 or last:
            w += "?" if rng.random() < 0.12 else "."
            sentence_left, new_sentence = rng.randint(6, 12), True
        else:
            new_sentence = False
            if sentence_left > 2 and rng.random() < 0.08:
                w += ","
        out.append(w if i == 0 else " " + w)
    return out


def _generate_zh(rng: random.Random, n_chars: int, hotwords: list[str]) -> list[str]:
    out: list[str] = []
    total, sentence_left = 0, rng.randint(8, 20)
    pending = list(hotwords)
    while total < n_chars:
        if pending and rng.random() < 0.15:
            chunk = pending.pop(0)
        else:
            chunk = "".join(rng.choice(_ZH_CHARS) for _ in range(rng.randint(1, 3)))
        total += len(chunk)
        sentence_left -= len(chunk)
        if total >= n_chars or sentence_left <= 0:
            chunk += "。"
            sentence_left = rng.randint(8, 20)
        elif rng.random() < 0.1:
            chunk += "，"
        out.append(chunk)
    return out


def split_text(text: str) -> list[str]:
    """Deltas for a given transcript: words (with their leading space) or 1–3 CJK chars,
    punctuation kept with what precedes it. ``"".join`` gives the text back."""
    if not _CJK.search(text):
        return re.findall(r"\s*\S+", text)
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    out: list[str] = []
    i = 0
    while i < len(text):
        j = min(len(text), i + rng.randint(1, 3))
        while j < len(text) and (text[j] in _ZH_PUNCT or text[j].isspace()):
            j += 1
        out.append(text[i:j])
        i = j
    return out


def repeated(chunks: list[str], factor: float) -> list[str]:
    """The hallucination: the whole text ``factor`` times over."""
    whole = int(factor)
    out = list(chunks) * whole
    out += chunks[: round((factor - whole) * len(chunks))]
    if chunks and not _CJK.search(chunks[0]):
        # Each repeated copy starts a new word.
        out = [
            c if i % len(chunks) or i == 0 or c[:1].isspace() else " " + c
            for i, c in enumerate(out)
        ]
    return out


def place(chunks: list[str], regions: list[tuple[float, float]]) -> list[Token]:
    """Share the chunks out among the voiced regions by length (largest remainder), then spread
    each region's chunks evenly, as ms offsets. No chunk straddles a silent gap."""
    voiced_total = sum(b - a for a, b in regions)
    if not chunks or voiced_total <= 0:
        return []
    n = len(chunks)
    exact = [(b - a) / voiced_total * n for a, b in regions]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(regions)), key=lambda i: counts[i] - exact[i])
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    tokens: list[Token] = []
    it = iter(chunks)
    for (a, b), count in zip(regions, counts, strict=True):
        step = (b - a) / count if count else 0.0
        for k in range(count):
            start, end = round((a + k * step) * 1000), round((a + (k + 1) * step) * 1000)
            tokens.append(Token(next(it), start, end))
    return tokens


def build(
    audio: bytes,
    fmt: FormatSpec,
    *,
    language: str | None = None,
    hotwords: list[str] | None = None,
    text: str | None = None,
    repeat_factor: float | None = None,
    region_words: bool = False,
) -> Script:
    duration, regions = analyse(audio, fmt)
    if duration is None or duration < MIN_AUDIO_S or not regions:
        return Script([], "", zero_usage(), duration, regions)
    voiced_s = sum(b - a for a, b in regions)
    if region_words and text is None and fmt.type in ("wav", "pcm"):
        return _by_region(regions, duration)
    if text is not None:
        chunks = split_text(text)
    else:
        rng = random.Random(hashlib.sha256(audio).digest())
        if language == "zh":
            chunks = _generate_zh(rng, max(1, round(voiced_s * 4)), list(hotwords or ()))
        else:
            chunks = _generate_en(rng, max(1, round(voiced_s * 2.5)), list(hotwords or ()))
    if repeat_factor is not None and repeat_factor > 1:
        chunks = repeated(chunks, repeat_factor)
    tokens = place(chunks, regions)
    full = "".join(t.text for t in tokens)
    if not full:
        return Script([], "", zero_usage(), duration, regions)
    return Script(tokens, full, usage_for(duration, len(tokens)), duration, regions)


def _by_region(regions: list[tuple[float, float]], duration: float) -> Script:
    """One word per voiced stretch, named by its length in half seconds (the windowing moves a
    stretch's ends by under 50 ms, so a stretch L = k/2 + 1/4 s long always gets word k)."""
    tokens = []
    for i, (a, b) in enumerate(regions):
        word = _EN_WORDS[int((b - a) / 0.5) % len(_EN_WORDS)]
        tokens.append(Token(word if i == 0 else " " + word, round(a * 1000), round(b * 1000)))
    full = "".join(t.text for t in tokens)
    return Script(tokens, full, usage_for(duration, len(tokens)), duration, regions)


_DRIFT_PUNCT = "，。！？、；：,.!?;:"


def drifted(tokens: list[Token]) -> list[Token]:
    """The same tokens with delta text that differs from the final text in the ways a real
    stream can: a last delta that stops short (the docs' example: "识别的" against
    "识别的完整文字内容"), punctuation only in the final text, a word cased differently and a
    filler the final text dropped. Deterministic; times unchanged."""
    out: list[Token] = []
    n = len(tokens)
    for i, tok in enumerate(tokens):
        text = tok.text
        cjk = bool(_CJK.search(text))
        if i == n - 1 and len(text.strip()) > 1:
            lead = len(text) - len(text.lstrip())
            text = text[: lead + max(1, (len(text) - lead) // 2)]
        elif i % 3 == 1:
            text = text.rstrip(_DRIFT_PUNCT) or text
        elif i % 5 == 3 and not cjk:
            text = text.lower() if text != text.lower() else text.upper()
        elif i % 7 == 5:
            text += "嗯" if cjk else " uh"
        out.append(Token(text, tok.start_ms, tok.end_ms))
    return out


def without(script: Script, start_s: float, end_s: float) -> Script:
    """The script with the words starting in [start_s, end_s) left out, its final text (and
    usage) matching what is left: a clean ``done`` that does not cover that stretch."""
    lo, hi = start_s * 1000, end_s * 1000
    kept = [t for t in script.tokens if not lo <= t.start_ms < hi]
    text = "".join(t.text for t in kept)
    if kept and kept[0].text[:1].isspace():
        kept[0] = Token(kept[0].text.lstrip(), kept[0].start_ms, kept[0].end_ms)
        text = text.lstrip()
    usage = usage_for(script.duration_s or 0.0, len(kept)) if kept else zero_usage()
    return Script(kept, text, usage, script.duration_s, script.voiced)
