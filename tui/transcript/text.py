"""Which script a text is in, and how pieces of transcript join (a space or none).

One definition of "CJK" serves cue wrapping, exports, the trust checks and the similarity score.
"""

from __future__ import annotations

from tui.lazy_regex import lazy_compile

# Kana, CJK ideographs (with extension A and compatibility forms) and Hangul syllables.
CJK_RANGES = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
CJK = lazy_compile(f"[{CJK_RANGES}]")
_LATIN = lazy_compile(r"[A-Za-z\u00c0-\u024f]")


def is_cjk_text(text: str) -> bool:
    """True when CJK characters dominate (they are counted against letters of Latin words)."""
    cjk = len(CJK.findall(text))
    latin = len(_LATIN.findall(text))
    # A Latin word averages ~5 letters; compare words with CJK characters.
    return cjk > 0 and cjk >= latin / 5


def needs_space(last: str, first: str) -> bool:
    """Between two pieces of text: a space unless either side is CJK or already a space."""
    if not last or not first or last.isspace() or first.isspace():
        return False
    return not (is_cjk_text(last) or is_cjk_text(first))


def join_texts(texts: list[str]) -> str:
    """Pieces (parts of a recording, cue lines) joined in order, empty ones skipped."""
    out = ""
    for piece in (t.strip() for t in texts):
        if not piece:
            continue
        if out and needs_space(out[-1], piece[0]):
            out += " "
        out += piece
    return out
