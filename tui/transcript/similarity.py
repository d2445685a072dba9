"""How alike two transcripts of the same audio are (for the cross-check), 0..1.

Normalisation: case-folded, punctuation, symbols and whitespace dropped, full-width forms folded
(NFKC). Tokens: each CJK character is one token, each run of other letters/digits (a Latin word)
is one token. The score is difflib's ratio ``2*M/(len(a)+len(b))`` over those token sequences,
with autojunk off (frequent CJK characters must not be ignored).

Cost: difflib is quadratic in the worst case, so long texts are compared in aligned windows of
at most ``WINDOW`` tokens (slice i of one text against the proportional slice of the other,
widened by ``MARGIN`` on each side to absorb drift). That keeps a 30-minute transcript (~9k
Chinese characters or ~5k English words) to a few dozen small comparisons. Windowing can only
lose matches that drift by more than the margin; a hallucinated text 3x longer than the other
scores at most 2/(1+3) = 0.5 however it is aligned, so the verdict does not depend on it.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from tui.transcript.text import CJK_RANGES

WINDOW = 2000
MARGIN = 200

_TOKEN = re.compile(rf"[{CJK_RANGES}]|[^\W_{CJK_RANGES}]+")


def tokens(text: str) -> list[str]:
    norm = unicodedata.normalize("NFKC", text).casefold()
    return _TOKEN.findall(norm)


def _matches(a: list[str], b: list[str]) -> int:
    if not a or not b:
        return 0
    sm = SequenceMatcher(None, a, b, autojunk=False)
    return sum(block.size for block in sm.get_matching_blocks())


def similarity(text_a: str, text_b: str) -> float:
    a, b = tokens(text_a), tokens(text_b)
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    if len(a) <= WINDOW and len(b) <= WINDOW:
        matched = _matches(a, b)
    else:
        matched = 0
        windows = -(-max(len(a), len(b)) // WINDOW)
        for i in range(windows):
            a_lo, a_hi = len(a) * i // windows, len(a) * (i + 1) // windows
            b_lo, b_hi = len(b) * i // windows, len(b) * (i + 1) // windows
            matched += _matches(a[a_lo:a_hi], b[max(0, b_lo - MARGIN) : b_hi + MARGIN])
        # Overlapping b windows could let one b token count twice; never exceed the shorter.
        matched = min(matched, len(a), len(b))
    return round(2.0 * matched / (len(a) + len(b)), 4)
