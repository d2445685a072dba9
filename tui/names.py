"""File names as they may be shown or stored: no name can break a line, a log or the database.

On Linux a file name is bytes. Python hands undecodable bytes over as lone surrogates
(``os.fsdecode``, "surrogateescape"); such a string cannot be encoded as UTF-8, so printing it,
logging it or binding it to SQLite raises. ``shown`` escapes those bytes (``\\xff``) and every
control character (a newline in a name must not forge a line of the daemon's output);
``db_value``/``path_from_db`` keep the exact bytes in the store.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(value: Path | str) -> str:
    """``value`` safe to print on one line: undecodable bytes as ``\\xNN``, control and
    line-separator characters escaped. Readable names come back unchanged."""
    text = str(value)
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def utf8_text(text: str) -> str:
    """``text`` encodable as UTF-8 (a message quoting an undecodable name): stray surrogates
    become ``\\xNN`` escapes; everything else, newlines included, is kept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(shown(ch) if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


def db_value(path: Path | str) -> str | bytes:
    """How a path is stored: text when it is valid UTF-8 (every ordinary name), otherwise its
    exact bytes (a BLOB, which never equals any TEXT, so the two cannot collide)."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def path_from_db(value: str | bytes) -> Path:
    return Path(os.fsdecode(value) if isinstance(value, bytes) else value)
