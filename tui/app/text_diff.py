"""Two transcripts of the same audio, word by word (CJK: character by character), with what
differs marked on each side. Pure Rich text; no Textual here."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from rich.text import Text

from tui.transcript.text import CJK_RANGES

_UNIT = re.compile(rf"[{CJK_RANGES}]|[^\s{CJK_RANGES}]+|\s+")
_PUNCT = re.compile(r"[\W_]+")
ONLY_LEFT = "bold black on red"
ONLY_RIGHT = "bold black on green"


def _key(unit: str) -> str:
    return _PUNCT.sub("", unicodedata.normalize("NFKC", unit).casefold())


def side_by_side(left: str, right: str) -> tuple[Text, Text]:
    """``left`` and ``right`` as Rich text, the words only one side has highlighted (case and
    punctuation do not count as differences)."""
    units_a, units_b = _UNIT.findall(left), _UNIT.findall(right)
    words_a = [i for i, u in enumerate(units_a) if not u.isspace() and _key(u)]
    words_b = [i for i, u in enumerate(units_b) if not u.isspace() and _key(u)]
    matcher = SequenceMatcher(
        None,
        [_key(units_a[i]) for i in words_a],
        [_key(units_b[i]) for i in words_b],
        autojunk=False,
    )
    differ_a: set[int] = set()
    differ_b: set[int] = set()
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag != "equal":
            differ_a.update(words_a[a0:a1])
            differ_b.update(words_b[b0:b1])
    return _render(units_a, differ_a, ONLY_LEFT), _render(units_b, differ_b, ONLY_RIGHT)


def _render(units: list[str], differ: set[int], style: str) -> Text:
    text = Text()
    for i, unit in enumerate(units):
        text.append(unit, style=style if i in differ else "")
    return text
