"""The glossary: "always write X as Y" rules, global or for one folder (and what is under it)."""

from __future__ import annotations

import time
from pathlib import Path

from tui.store.connection import Connection
from tui.transcript.glossary_rules import MAX_HOTWORD_CHARS, Rule


class GlossaryError(ValueError):
    """A rule that cannot be stored; the message says why."""


class Glossary:
    def __init__(self, db: Connection) -> None:
        self._db = db

    def rules(self, scope: str | None = None) -> list[Rule]:
        """Every rule (``scope`` None), or those of one scope ("" is the global one)."""
        if scope is None:
            rows = self._db.all("SELECT scope, source, target FROM glossary ORDER BY scope, source")
        else:
            rows = self._db.all(
                "SELECT scope, source, target FROM glossary WHERE scope = ? ORDER BY source",
                (scope,),
            )
        return [Rule(r["source"], r["target"], r["scope"]) for r in rows]

    def rules_for(self, source: Path) -> list[Rule]:
        """The rules for a recording: the global ones, and those of every folder it is under
        (a folder's rule wins over a global one with the same FROM)."""
        chosen: dict[str, Rule] = {}
        folders = {str(p) for p in source.absolute().parents}
        for rule in self.rules():
            if rule.scope and rule.scope not in folders:
                continue
            held = chosen.get(rule.source)
            if held is None or (rule.scope and len(rule.scope) >= len(held.scope)):
                chosen[rule.source] = rule
        # Longer terms first: "New York Times" before "New York".
        return sorted(chosen.values(), key=lambda r: (-len(r.source), r.source))

    def add(self, source: str, target: str, scope: str = "") -> Rule:
        source, target = " ".join(source.split()), " ".join(target.split())
        if not source or not target:
            raise GlossaryError(
                "A glossary rule needs both the text to replace and its replacement."
            )
        if source == target:
            raise GlossaryError(f"{source!r} would be replaced by itself.")
        if len(target) > MAX_HOTWORD_CHARS:
            raise GlossaryError(
                f"{target!r} is longer than {MAX_HOTWORD_CHARS} characters; a glossary term "
                "is a word or a short phrase."
            )
        scope = str(Path(scope).absolute()) if scope else ""
        with self._db.tx() as conn:
            conn.execute(
                "INSERT INTO glossary (scope, source, target, created_at) VALUES (?,?,?,?) "
                "ON CONFLICT (scope, source) DO UPDATE SET target = excluded.target",
                (scope, source, target, time.time()),
            )
        return Rule(source, target, scope)

    def remove(self, source: str, scope: str = "") -> bool:
        scope = str(Path(scope).absolute()) if scope else ""
        with self._db.tx() as conn:
            cur = conn.execute(
                "DELETE FROM glossary WHERE scope = ? AND source = ?",
                (scope, " ".join(source.split())),
            )
            return cur.rowcount > 0
