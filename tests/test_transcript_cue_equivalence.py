"""``build_cues`` (linear: the open cue is tracked word by word) gives exactly the cues of the
plain algorithm it replaced, which re-joined and re-wrapped the whole cue for every word. That
plain version (with the line wrapping and break points it used) is kept here, verbatim, as the
specification (``reference_*``) and compared on seeded random transcripts: Latin, CJK, mixed,
odd whitespace, words longer than a line, pauses, and several line lengths, line counts and cue
durations. ``benchmarks/bench_cues.py`` times the two."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from tui.transcript.cues import (
    _HARD_END,
    _NO_LINE_START,
    _SOFT_END,
    MAX_CUE_MS,
    MAX_LINES,
    PAUSE_MS,
    Cue,
    _break_points,
    _fix_times,
    _join,
    _last_soft_break,
    build_cues,
    is_cjk_text,
    line_chars_for,
    wrap,
)
from tui.transcript.model import Segment
from tui.transcript.text import CJK


def reference_break_points(text: str) -> list[int]:
    if not CJK.search(text):
        return [i for i, c in enumerate(text) if c == " " and i > 0]
    points: list[int] = []
    for i in range(1, len(text)):
        before, here = text[i - 1], text[i]
        if here == " ":
            points.append(i)
        elif here in _NO_LINE_START:
            continue
        elif CJK.match(before) or CJK.match(here) or before in "，。！？、；：":
            points.append(i)
    return points


def reference_wrap(text: str, max_chars: int, max_lines: int | None = None) -> list[str]:
    text = " ".join(text.split())
    if not text:
        return []
    if len(text) <= max_chars:
        return [text]
    points = reference_break_points(text)
    if max_lines is None or max_lines >= 2:
        best: tuple[int, int] | None = None
        for p in points:
            first, second = text[:p].rstrip(), text[p:].lstrip()
            if len(first) <= max_chars and len(second) <= max_chars:
                score = abs(len(first) - len(second))
                if _SOFT_END.search(first) or _HARD_END.search(first):
                    score -= max_chars // 4
                if best is None or score < best[0]:
                    best = (score, p)
        if best is not None:
            p = best[1]
            return [text[:p].rstrip(), text[p:].lstrip()]
    lines: list[str] = []
    rest = text
    while rest:
        if len(rest) <= max_chars:
            lines.append(rest)
            break
        cut = 0
        for p in reference_break_points(rest):
            if p > max_chars:
                break
            cut = p
        if cut == 0:
            cut = max_chars
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return lines


def reference_build_cues(
    segments: Sequence[Segment],
    *,
    max_chars: int | None = None,
    max_lines: int = MAX_LINES,
    max_duration_ms: int = MAX_CUE_MS,
    pause_ms: int = PAUSE_MS,
) -> list[Cue]:
    """The algorithm before it was made linear, verbatim."""
    words = [s for s in segments if s.text]
    if not words:
        return []
    full = "".join(s.text for s in words)
    limit = max_chars or line_chars_for(full)
    cjk = is_cjk_text(full)

    groups: list[list[Segment]] = []
    current: list[Segment] = []

    def fits(candidate: list[Segment]) -> bool:
        text = _join(candidate, cjk)
        if len(text) <= limit:
            return True
        if len(text) > limit * max_lines:
            return False
        return len(reference_wrap(text, limit, max_lines)) <= max_lines

    for seg in words:
        if current:
            gap = seg.start_ms - current[-1].end_ms
            if gap > pause_ms:
                groups.append(current)
                current = []
            while current and (
                seg.end_ms - current[0].start_ms > max_duration_ms or not fits([*current, seg])
            ):
                cut = _last_soft_break(current)
                groups.append(current[:cut])
                current = current[cut:]
        current.append(seg)
        text = _join(current, cjk)
        if _HARD_END.search(seg.text):
            groups.append(current)
            current = []
        elif _SOFT_END.search(seg.text):
            duration = current[-1].end_ms - current[0].start_ms
            if len(text) >= limit * max_lines / 2 or duration >= max_duration_ms / 2:
                groups.append(current)
                current = []
    if current:
        groups.append(current)

    cues: list[Cue] = []
    for group in groups:
        lines = tuple(reference_wrap(_join(group, cjk), limit, max_lines))
        if not lines:
            continue
        start = min(s.start_ms for s in group)
        end = max(s.end_ms for s in group)
        cues.append(Cue(start, end, lines))
    return _fix_times(cues)


_VOCABULARY = """the of and a to in is you that it was for on are as with they at be this
from or one had by word but not what all were we when your can said there use an each which she
do how their if will up other about out many then them these so some her would make like him
into time has look two more write go see number no way could people internationalisation
Donaudampfschifffahrtsgesellschaftskapitänsmütze 3.5 e.g. semi-colon O'Brien"""
LATIN = _VOCABULARY.split()
CJK_CHARS = "我们今天讨论字幕的分段规则这些细节决定了是否好读时间戳音频模型服务"
PUNCT_LATIN = [".", ",", "!", "?", ";", ":", "…", ".\u201d", ","]
PUNCT_CJK = ["，", "。", "！", "？", "、", "；", "：", "」", "）", "”"]
ODD = [" ", "  ", "\n", " \t ", "\u3000"]


def transcript(rng: random.Random, kind: str, n: int) -> list[Segment]:
    segs: list[Segment] = []
    t = rng.randrange(0, 2000)
    for i in range(n):
        r = rng.random()
        if kind == "latin" or (kind == "mixed" and r < 0.4):
            word = rng.choice(LATIN)
            if rng.random() < 0.15:
                word += rng.choice(PUNCT_LATIN)
            text = word if i == 0 or rng.random() < 0.08 else " " + word  # "hel" + "lo"
        else:
            text = "".join(rng.choice(CJK_CHARS) for _ in range(rng.choice((1, 1, 2, 3))))
            if rng.random() < 0.15:
                text += rng.choice(PUNCT_CJK)
            if kind == "mixed" and rng.random() < 0.2:
                text = " " + text
        if rng.random() < 0.05:
            text = rng.choice(ODD) + text + rng.choice(ODD)
        if rng.random() < 0.02:
            text = rng.choice(ODD)  # a blank delta
        step = rng.choice((0, 120, 250, 300, 450, 600))
        gap = rng.choice((0, 0, 0, 50, 900, 2500)) if rng.random() < 0.1 else 20
        segs.append(Segment(t, t + step, text))
        t += step + gap
    return segs


OPTIONS = [
    {},
    {"max_chars": 10},
    {"max_chars": 20},
    {"max_chars": 42},
    {"max_lines": 1},
    {"max_lines": 3},
    {"max_chars": 16, "max_lines": 3},
    {"max_duration_ms": 3000},
    {"pause_ms": 300, "max_chars": 30},
]


@pytest.mark.parametrize("kind", ["latin", "cjk", "mixed"])
def test_same_cues_as_the_plain_algorithm(kind: str) -> None:
    rng = random.Random(f"cues-{kind}")
    compared = 0
    for _ in range(120):
        segs = transcript(rng, kind, rng.randrange(1, 160))
        for opts in OPTIONS:
            expected = reference_build_cues(segs, **opts)  # type: ignore[arg-type]
            assert build_cues(segs, **opts) == expected, (opts, segs)  # type: ignore[arg-type]
            compared += len(expected)
    assert compared > 5000  # the corpora really produced cues


def test_words_longer_than_a_line_and_blank_deltas() -> None:
    long_word = "x" * 50
    segs = [
        Segment(0, 300, "Start"),
        Segment(300, 600, " " + long_word),
        Segment(600, 900, "   "),
        Segment(900, 1200, " " + long_word + long_word),
        Segment(1200, 1500, " end."),
    ]
    for opts in OPTIONS:
        assert build_cues(segs, **opts) == reference_build_cues(segs, **opts)  # type: ignore[arg-type]


def test_break_points_and_wrap_as_before() -> None:
    rng = random.Random("wrap")
    alphabet = [*"我们今天字幕かカ한abc xyz，,。.！!？?、;；:：)）」』”’…\u3000\n\t", " ", " ", " "]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        assert _break_points(text) == reference_break_points(text), text
        width, lines = rng.choice((4, 10, 20, 42)), rng.choice((None, 1, 2, 3))
        assert wrap(text, width, lines) == reference_wrap(text, width, lines), (text, width)
