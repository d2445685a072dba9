"""Search queries: the words people type, checked and turned into an FTS5 expression over
the index's *token form* (each CJK character a word of its own), and found again in a cue's
original text to mark them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tui.lazy_regex import lazy_compile
from tui.transcript.text import CJK_RANGES

# Every Han ideograph block (extension B and later too), kana and Hangul: one token each.
_IDEOGRAPH = CJK_RANGES + r"\u3005\u3007\U00020000-\U0003134f"
CJK_CHAR = lazy_compile(f"[{_IDEOGRAPH}]")
# A token character of a Latin (or other spaced) word: it continues the word.
_LATIN_CHAR = lazy_compile(f"[^\\W_{_IDEOGRAPH}]")
_LATIN_RUN = lazy_compile(f"[^\\W_{_IDEOGRAPH}]*")
# What unicode61 keeps as a token: letters, digits, private use; the rest separates.
_TOKEN = lazy_compile(r"[^\W_]+")


class QuerySyntaxError(ValueError):
    """The search text cannot be understood; the message says why in one sentence."""


# --- token form ---------------------------------------------------------------------------


def token_form(text: str) -> str:
    """The text as the index sees it: each CJK character a word of its own."""
    return CJK_CHAR.sub(_spaced, text)


def _spaced(m: re.Match[str]) -> str:
    # A function, not a template: ~2.5x faster per match.
    return " " + m.group() + " "


def tokens(text: str) -> list[str]:
    """The tokens unicode61 makes of ``token_form(text)`` (case folded as it does)."""
    return [t.lower() for t in _TOKEN.findall(token_form(text))]


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One thing to look for: a word, a prefix (``budg*``) or a phrase of tokens."""

    tokens: tuple[str, ...]
    prefix: bool = False

    def fts(self) -> str:
        # Tokens are letters and digits only, so quoting them is always safe.
        return '"' + " ".join(self.tokens) + '"' + (" *" if self.prefix else "")

    def pattern(self) -> str:
        """The term in original text: tokens apart by any non-word run (as the tokenizer
        sees it). Word boundaries and a prefix's tail are checked by ``Query.spans``."""
        return r"[\W_]*".join(re.escape(tok) for tok in self.tokens)

    @property
    def latin_start(self) -> bool:
        return CJK_CHAR.fullmatch(self.tokens[0]) is None

    @property
    def latin_end(self) -> bool:
        return CJK_CHAR.fullmatch(self.tokens[-1]) is None


@dataclass(frozen=True)
class Query:
    """Groups are ANDed; the terms in a group are ORed; excluded terms must not occur."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()

    def fts(self) -> str:
        expr = " AND ".join(
            "(" + " OR ".join(t.fts() for t in group) + ")" if len(group) > 1 else group[0].fts()
            for group in self.groups
        )
        for term in self.excluded:
            expr = f"({expr}) NOT {term.fts()}"
        return expr

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the looked-for terms are in ``text`` (start, end), in order."""
        terms = sorted((t for group in self.groups for t in group), key=lambda t: -len(t.pattern()))
        # Longest first, so a phrase wins over a word inside it. A pattern with a big
        # character class takes ~10 ms to compile, so the boundaries are checked here.
        finder = re.compile(
            "|".join(f"(?P<t{i}>{t.pattern()})" for i, t in enumerate(terms)), re.IGNORECASE
        )
        out: list[tuple[int, int]] = []
        for m in finder.finditer(text):
            term = terms[int((m.lastgroup or "t0")[1:])]
            start, end = m.span()
            if term.latin_start and start and _LATIN_CHAR.match(text, start - 1):
                continue  # inside a word
            tail = _LATIN_RUN.match(text, end) if term.prefix else None
            if tail is not None:
                end = tail.end()
            elif term.latin_end and _LATIN_CHAR.match(text, end):
                continue
            if not out or start >= out[-1][1]:
                out.append((start, end))
        return out


_ITEM = re.compile(r'\s*(?:(-?)"([^"]*)"(\*?)|(\S+))')


def parse_query(text: str) -> Query:
    """Words (all must occur), ``"quoted phrases"``, ``prefix*``, ``a OR b``, ``-excluded``.

    Raises QuerySyntaxError for a quote left open, a dangling OR, or nothing to look for.
    """
    if text.count('"') % 2:
        raise QuerySyntaxError('The search has an opening quote (") with no closing quote.')
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    for m in _ITEM.finditer(text):
        if m.group(4) is not None:
            word = m.group(4)
            if word == "OR":
                if not groups or pending_or:
                    raise QuerySyntaxError("OR needs something to search for on each side.")
                pending_or = True
                continue
            if word == "AND":
                continue
            negate = word.startswith("-") and len(word) > 1
            body = word[1:] if negate else word
            prefix = body.endswith("*")
            toks = tokens(body.rstrip("*"))
        else:
            negate, body, prefix = bool(m.group(1)), m.group(2), bool(m.group(3))
            toks = tokens(body)
        if not toks:
            if pending_or:
                raise QuerySyntaxError("OR needs something to search for on each side.")
            continue  # punctuation alone: nothing the index could hold
        # A prefix ending on a CJK character is just that character.
        term = Term(tuple(toks), prefix and CJK_CHAR.fullmatch(toks[-1]) is None)
        if negate:
            if pending_or:
                raise QuerySyntaxError("An excluded word (-word) cannot be part of an OR.")
            excluded.append(term)
        elif pending_or:
            groups[-1].append(term)
            pending_or = False
        else:
            groups.append([term])
    if pending_or:
        raise QuerySyntaxError("OR needs something to search for on each side.")
    if not groups:
        raise QuerySyntaxError(
            "The search has no words to look for (only punctuation or excluded words)."
        )
    return Query(tuple(tuple(g) for g in groups), tuple(excluded))
