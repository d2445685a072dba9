"""Glossary rules ("always write X as Y") applied to transcript text, and the hotwords they add.

Latin-script terms match as whole words, case-insensitively (``step fun`` → ``StepFun`` also
fixes ``Step Fun``) but never inside a longer word; CJK terms match as exact strings, since CJK
text has no spaces between words. A match that is already part of the target (``阶跃`` inside
``阶跃星辰``) is left alone, so applying a rule twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tui.transcript.text import CJK

# The API documents no limit on hotwords; these keep a request sane (and match the size of
# term lists the service's own examples show).
MAX_HOTWORDS = 100
MAX_HOTWORD_CHARS = 50


@dataclass(frozen=True)
class Rule:
    source: str
    target: str
    scope: str = ""  # "" global, else the folder it applies under

    @property
    def label(self) -> str:
        return f"{self.source} → {self.target}"


def _pattern(source: str) -> re.Pattern[str]:
    escaped = re.escape(source)
    if CJK.search(source):
        return re.compile(escaped)
    # \w covers letters and digits of every script: "cat" never matches in "concatenate".
    return re.compile(rf"(?<!\w){escaped}(?!\w)", re.IGNORECASE)


def apply_rules(text: str, rules: Sequence[Rule]) -> tuple[str, list[Rule]]:
    """``text`` with every rule applied, and the rules that changed something."""
    used: list[Rule] = []
    for rule in rules:
        if not rule.source or rule.source == rule.target:
            continue
        new = _apply_one(text, rule)
        if new != text:
            text = new
            used.append(rule)
    return text, used


def _apply_one(text: str, rule: Rule) -> str:
    # Where the right spelling already stands (exactly): a match inside it stays.
    covered = [(m.start(), m.end()) for m in re.finditer(re.escape(rule.target), text)]
    out: list[str] = []
    last = 0
    for m in _pattern(rule.source).finditer(text):
        if any(a <= m.start() and m.end() <= b for a, b in covered):
            continue
        out.append(text[last : m.start()])
        out.append(rule.target)
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def replaced_phrase(before: str, after: str) -> tuple[str, str] | None:
    """When an edit replaced one word or phrase: (old, new), trimmed to whole words (Latin)
    or to the changed characters (CJK). None when nothing or more than one place changed."""
    if before == after:
        return None
    cjk = bool(CJK.search(before + after))
    a = list(before) if cjk else before.split()
    b = list(after) if cjk else after.split()
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    old = a[head : len(a) - tail]
    new = b[head : len(b) - tail]
    sep = "" if cjk else " "
    old_s, new_s = sep.join(old).strip(), sep.join(new).strip()
    if not old_s or not new_s or len(old) > 6 or len(new) > 6:
        return None  # an insertion, a deletion or a rewrite: nothing to learn
    # Punctuation at the ends ("Smith," → "Smyth.") is not part of a term; a change of
    # punctuation alone teaches nothing.
    old_s, new_s = _trim_punct(old_s), _trim_punct(new_s)
    return (old_s, new_s) if old_s and new_s and old_s != new_s else None


def _trim_punct(text: str) -> str:
    start, end = 0, len(text)
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return text[start:end]


def merged_hotwords(configured: Iterable[str], rules: Iterable[Rule]) -> list[str]:
    """The hotwords setting, then the glossary's targets, without repeats, within the limits
    (the user's own hotwords come first, so they are never the ones cut)."""
    out: list[str] = []
    seen: set[str] = set()
    for word in [*configured, *(r.target for r in rules)]:
        word = word.strip()
        if not word or len(word) > MAX_HOTWORD_CHARS or word.casefold() in seen:
            continue
        seen.add(word.casefold())
        out.append(word)
        if len(out) >= MAX_HOTWORDS:
            break
    return out
