"""The config file as text: read it, edit it in place, write it back safely.

Edits go through tomlkit, so the user's comments, order and blank lines survive a change, and
every value is escaped by the library (a control character in a hotword cannot break the file).
Writes are atomic, mode 0600 (the file may hold the key) and follow a symlink to its target. A
file that does not parse can still be edited: the lines the parser trips on are commented out
(the original is kept beside it), so `config set` repairs rather than locks the user out.
"""

from __future__ import annotations

import math
import os
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError
from tomlkit.toml_document import TOMLDocument

from tui.fsutil import atomic_write_bytes

# Put in front of a line the parser could not read, so the user can find and fix it.
BROKEN_MARK = "# [stepfun-asr: unreadable, commented out] "
# Lines taken out one at a time before the whole file is taken out (each round parses it all).
MAX_ROUNDS = 100


@dataclass(frozen=True)
class TomlProblem:
    """Why a config file could not be read, and where (1-based line and column)."""

    message: str
    line: int | None = None
    column: int | None = None

    def describe(self) -> str:
        where = ""
        if self.line is not None:
            where = f"line {self.line}"
            if self.column is not None:
                where += f", column {self.column}"
            where += ": "
        return where + self.message


class UnreadableConfig(Exception):
    """The file exists but is not valid TOML (or not UTF-8)."""

    def __init__(self, path: Path, problem: TomlProblem) -> None:
        super().__init__(f"{path}: {problem.describe()}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class Repair:
    """What was done to a broken file so it could be edited: which lines were commented out,
    the first problem found, and where the original went (set once it has been written)."""

    problem: TomlProblem
    commented_lines: tuple[int, ...]
    backup: Path | None = None


def target_of(path: Path) -> Path:
    """The file a write really lands in: a symlinked config is written through, not replaced."""
    return Path(os.path.realpath(path))


def _problem(exc: Exception) -> TomlProblem:
    if isinstance(exc, ParseError):
        message = str(exc).removesuffix(f" at line {exc.line} col {exc.col}").rstrip(".")
        return TomlProblem(message, exc.line, exc.col + 1)
    return TomlProblem(str(exc).rstrip(".") or type(exc).__name__)


def _decode(data: bytes) -> tuple[list[str], list[int]]:
    """The file's lines, and the (0-based) indexes of those that are not UTF-8 text."""
    lines: list[str] = []
    bad: list[int] = []
    for index, raw in enumerate(data.split(b"\n")):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(raw.decode("utf-8", errors="replace"))
            bad.append(index)
    return lines, bad


NOT_UTF8 = "not UTF-8 text"


def parse_text(text: str) -> TOMLDocument:
    """The document, or TomlProblem-carrying ``UnreadableConfig`` (path filled in by callers)."""
    try:
        return tomlkit.parse(text)
    except (TOMLKitError, ValueError) as exc:
        raise UnreadableConfig(Path(), _problem(exc)) from None


def read_values(path: Path) -> dict[str, Any]:
    """The file's values as plain Python ({} when it does not exist). UnreadableConfig when it
    cannot be parsed; OSError when it cannot be read at all."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    lines, bad = _decode(data)
    if bad:
        raise UnreadableConfig(path, TomlProblem(NOT_UTF8, bad[0] + 1))
    try:
        return parse_text("\n".join(lines)).unwrap()
    except UnreadableConfig as exc:
        raise UnreadableConfig(path, exc.problem) from None


def _comment_out(line: str) -> str:
    # A comment may not hold control characters either: show them as escapes.
    end = "\r" if line.endswith("\r") else ""
    body = line.removesuffix("\r")
    safe = "".join(c if c == "\t" or (" " <= c != "\x7f") else f"\\u{ord(c):04x}" for c in body)
    return BROKEN_MARK + safe + end


def salvage(lines: list[str], bad: list[int]) -> tuple[TOMLDocument, Repair | None]:
    """Parse the lines, commenting out those that are not UTF-8 (``bad``) and those the parser
    trips on until the rest parses.

    Each round comments out one more line (the one the error names, or the nearest readable
    line above it when that one is already out), so this ends within one round per line.
    """
    lines = list(lines)
    first = TomlProblem(NOT_UTF8, bad[0] + 1) if bad else None
    for index in bad:
        lines[index] = _comment_out(lines[index])
    done = set(bad)
    for _ in range(min(len(lines), MAX_ROUNDS) + 1):
        try:
            doc = tomlkit.parse("\n".join(lines))
        except (TOMLKitError, ValueError) as exc:
            problem = _problem(exc)
            first = first or problem
            index = min((problem.line or len(lines)) - 1, len(lines) - 1)
            while index >= 0 and (index in done or not lines[index].strip()):
                index -= 1
            if index < 0:  # nothing left to take out: start from an empty file
                return tomlkit.document(), Repair(first, tuple(sorted(i + 1 for i in done)))
            lines[index] = _comment_out(lines[index])
            done.add(index)
            continue
        if first is None:
            return doc, None
        return doc, Repair(first, tuple(sorted(i + 1 for i in done)))
    # Not a config file gone slightly wrong (another file, or garbage): keep it all, as comments.
    everything = [i for i, line in enumerate(lines) if line.strip() and i not in done]
    for index in everything:
        lines[index] = _comment_out(lines[index])
    numbers = tuple(sorted(i + 1 for i in done.union(everything)))
    return tomlkit.parse("\n".join(lines)), Repair(first or TomlProblem("unreadable"), numbers)


def open_for_edit(path: Path) -> tuple[TOMLDocument, Repair | None]:
    """The document to edit (empty for a new file) and, for a broken file, how it was mended."""
    try:
        data = target_of(path).read_bytes()
    except FileNotFoundError:
        return tomlkit.document(), None
    return salvage(*_decode(data))


def _same(a: Any, b: Any) -> bool:
    """Equal values, where NaN equals NaN (TOML allows nan; an unknown key may hold it)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and bool(a == b)


def write_document(path: Path, doc: TOMLDocument, repair: Repair | None = None) -> Repair | None:
    """Write ``doc`` atomically (mode 0600) to the file ``path`` names, through symlinks.

    Before anything is written the new text is read back with the standard library's parser,
    so a file this writes is one every TOML reader accepts. A repaired file's original bytes
    are kept beside it first (``config.toml.broken-<time>``, also 0600).
    """
    text = tomlkit.dumps(doc)
    try:
        readable = _same(tomllib.loads(text), doc.unwrap())
    except tomllib.TOMLDecodeError:
        readable = False
    if not readable:
        raise ValueError("the edited settings would not read back the same; nothing was written")
    target = target_of(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if repair is not None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = target.with_name(f"{target.name}.broken-{stamp}")
        atomic_write_bytes(backup, target.read_bytes(), mode=0o600)
        repair = Repair(repair.problem, repair.commented_lines, backup)
    atomic_write_bytes(target, text.encode("utf-8"), mode=0o600)
    return repair
