"""The authoritative final text, timed by the deltas.

The service's ``done.text`` is the transcript; the deltas carry the times, but their
concatenation can drift from it (the docs' own example streams "识别的" and ends with
"识别的完整文字内容"). ``align`` matches the two character by character and returns segments
whose texts concatenate to exactly the final text: a matched character takes the times of the
delta it came from; text only the final has takes its neighbours' times (a short mark joins the
piece before it; a longer stretch is spread over the gap between its neighbours).

Matching: the common prefix and suffix first (the usual case is one difference or none), then
``difflib`` on a small middle, or unique k-gram anchors (patience-style, in order) splitting a
large middle into small ones. Linear in practice; a middle with no anchor at all is left
unmatched (then it is timed from its neighbours) rather than searched quadratically.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from difflib import SequenceMatcher

from tui.transcript.model import Segment
from tui.transcript.text import CJK

# difflib on a middle at most this big (product of the two lengths): well under 0.1 s.
DIFFLIB_MAX_CELLS = 200_000
ANCHOR_LENGTHS = (16, 8, 4)
# An inserted run this short, with no space in it, joins the piece before it ("hello" + ",").
ATTACH_MAX_CHARS = 3
_WORDS = re.compile(r"\s*\S+\s*$|\s*\S+")
_CJK_PIECE = re.compile(r".{1,8}?(?:[，。！？、；：,.!?;:]+|$)|.{1,8}", re.DOTALL)


def align(segments: Sequence[Segment], final: str) -> list[Segment]:
    """Segments whose texts concatenate to exactly ``final``, timed from ``segments``."""
    words = [s for s in segments if s.text]
    if not final:
        return []
    if not words:
        return [Segment(0, 0, final)]
    concat = "".join(s.text for s in words)
    if concat == final:
        return words
    owner: list[int] = []
    for k, seg in enumerate(words):
        owner.extend([k] * len(seg.text))
    src = match(concat, final)
    runs = _runs([owner[i] if i >= 0 else -1 for i in src])
    runs = _attach_short(runs, final)
    return _timed(runs, final, words)


def match(a: str, b: str) -> list[int]:
    """For each character of ``b``, the index of the character of ``a`` it matches (in
    increasing order), or -1."""
    src = [-1] * len(b)
    limit = min(len(a), len(b))
    p = 0
    while p < limit and a[p] == b[p]:
        p += 1
    s = 0
    while s < limit - p and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1
    for k in range(p):
        src[k] = k
    for k in range(1, s + 1):
        src[len(b) - k] = len(a) - k
    _middle(a, b, p, len(a) - s, p, len(b) - s, src)
    return src


def _middle(a: str, b: str, alo: int, ahi: int, blo: int, bhi: int, src: list[int]) -> None:
    if alo >= ahi or blo >= bhi:
        return
    if (ahi - alo) * (bhi - blo) <= DIFFLIB_MAX_CELLS:
        matcher = SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
        for i, j, n in matcher.get_matching_blocks():
            for k in range(n):
                src[blo + j + k] = alo + i + k
        return
    for size in ANCHOR_LENGTHS:
        anchors = _anchors(a, b, alo, ahi, blo, bhi, size)
        if anchors:
            break
    else:
        return  # nothing in common worth the search: timed from the neighbours instead
    ai, bj = alo, blo
    for i, j in anchors:
        if i < ai or j < bj:
            continue  # swallowed by the previous anchor's extension
        _middle(a, b, ai, i, bj, j, src)
        while i < ahi and j < bhi and a[i] == b[j]:
            src[j] = i
            i, j = i + 1, j + 1
        ai, bj = i, j
    _middle(a, b, ai, ahi, bj, bhi, src)


def _anchors(
    a: str, b: str, alo: int, ahi: int, blo: int, bhi: int, size: int
) -> list[tuple[int, int]]:
    """(i, j) starts of k-grams occurring exactly once in each range, the longest chain that
    is increasing in both."""
    if ahi - alo < size or bhi - blo < size:
        return []
    in_a = Counter(a[i : i + size] for i in range(alo, ahi - size + 1))
    in_b = Counter(b[j : j + size] for j in range(blo, bhi - size + 1))
    first_a: dict[str, int] = {}
    for i in range(alo, ahi - size + 1):
        gram = a[i : i + size]
        if in_a[gram] == 1 and in_b.get(gram) == 1:
            first_a[gram] = i
    pairs = [
        (first_a[gram], j)
        for j in range(blo, bhi - size + 1)
        if (gram := b[j : j + size]) in first_a
    ]
    return _increasing(pairs)


def _increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest chain of ``pairs`` (sorted by j) with increasing i (patience sorting)."""
    tails: list[int] = []  # i of the smallest tail of each chain length
    tail_at: list[int] = []  # index into pairs of that tail
    back: list[int] = [-1] * len(pairs)
    for n, (i, _j) in enumerate(pairs):
        k = bisect_left(tails, i)
        if k == len(tails):
            tails.append(i)
            tail_at.append(n)
        else:
            tails[k], tail_at[k] = i, n
        back[n] = tail_at[k - 1] if k else -1
    chain: list[tuple[int, int]] = []
    n = tail_at[-1] if tail_at else -1
    while n >= 0:
        chain.append(pairs[n])
        n = back[n]
    return chain[::-1]


def _runs(owners: list[int]) -> list[list[int]]:
    """[owner, start, end) runs of equal owner (-1: text only the final has)."""
    runs: list[list[int]] = []
    for j, o in enumerate(owners):
        if runs and runs[-1][0] == o:
            runs[-1][2] = j + 1
        else:
            runs.append([o, j, j + 1])
    return runs


def _attach_short(runs: list[list[int]], final: str) -> list[list[int]]:
    """A short inserted mark joins the matched piece before it (or after it, at the start)."""
    out: list[list[int]] = []
    for k, run in enumerate(runs):
        o, start, end = run
        short = end - start <= ATTACH_MAX_CHARS and not any(c.isspace() for c in final[start:end])
        if o < 0 and short and out and out[-1][0] >= 0:
            out[-1][2] = end
            continue
        if o < 0 and short and not out and k + 1 < len(runs) and runs[k + 1][0] >= 0:
            runs[k + 1][1] = start
            continue
        if out and out[-1][0] == o and o >= 0:
            out[-1][2] = end
            continue
        out.append([o, start, end])
    return out


def _timed(runs: list[list[int]], final: str, words: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for k, (o, start, end) in enumerate(runs):
        text = final[start:end]
        if o >= 0:
            out.append(Segment(words[o].start_ms, words[o].end_ms, text))
            continue
        before = next((words[r[0]] for r in reversed(runs[:k]) if r[0] >= 0), None)
        after = next((words[r[0]] for r in runs[k + 1 :] if r[0] >= 0), None)
        lo = before.end_ms if before else (after.start_ms if after else 0)
        hi = after.start_ms if after else lo
        if hi < lo:
            lo = hi  # inside one delta, or overlapping neighbours: keep the starts in order
        out.extend(_spread(_pieces(text), lo, hi))
    return out


def _pieces(text: str) -> list[str]:
    """Word-sized pieces of an inserted run (their concatenation is ``text``)."""
    pattern = _CJK_PIECE if CJK.search(text) else _WORDS
    pieces = [m.group(0) for m in pattern.finditer(text) if m.group(0)]
    rest = len(text) - sum(map(len, pieces))
    if rest and pieces:
        pieces[-1] += text[len(text) - rest :]
    return pieces or [text]


def _spread(pieces: list[str], lo: int, hi: int) -> list[Segment]:
    """The pieces over [lo, hi] by length (all at ``lo`` when there is no gap)."""
    total = sum(len(p) for p in pieces) or 1
    out: list[Segment] = []
    done = 0
    for piece in pieces:
        start = lo + (hi - lo) * done // total
        done += len(piece)
        out.append(Segment(start, lo + (hi - lo) * done // total, piece))
    return out
