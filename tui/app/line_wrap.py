"""Soft wrap of one line of text to a width in terminal cells (no Textual here).

Rows break after spaces; between wide (CJK) characters anywhere; a word wider than a row is cut.
Spaces at a row's end hang past its edge (they are not drawn), so every character of the line
belongs to exactly one row and a row's start is an offset into the line: the pane maps a mouse
cell back to a character with it, and a search match to a row.
"""

from __future__ import annotations

import re

from rich.cells import cell_len, get_character_cell_size

_TOKEN = re.compile(r"\S+\s*|\s+")


def wrap_starts(text: str, width: int) -> list[int]:
    """The offset in ``text`` where each row starts (the first is 0)."""
    width = max(1, width)
    if len(text) <= width and cell_len(text) <= width:
        return [0]
    starts = [0]
    col = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        pos = match.start()
        word = token.rstrip()
        spaces = len(token) - len(word)
        cells = cell_len(word)
        if not word:
            col += spaces
        elif cells == len(word):  # narrow characters only: a word at a time
            if col and col + cells > width:
                starts.append(pos)
                col = 0
            while cells > width:  # longer than a row: cut it
                pos += width
                cells -= width
                starts.append(pos)
            col += cells + spaces
        else:  # wide characters: a character at a time
            for offset, char in enumerate(word):
                size = get_character_cell_size(char)
                if col and col + size > width:
                    starts.append(pos + offset)
                    col = 0
                col += size
            col += spaces
    return starts
