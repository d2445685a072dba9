"""`stepfun-asr glossary list | add FROM TO | remove FROM`: "always write FROM as TO".

Every later job sends the glossary's TO terms as hotwords (after the hotwords setting) and gets
its rules applied to the new transcript as corrections: shown as edits, the model's text kept.
``--folder DIR`` makes a rule apply only to recordings under DIR.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tui.cli_common import db_option


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    glossary = sub.add_parser(
        "glossary",
        help="words to always write your way (hotwords + corrections for later jobs)",
        description="Glossary rules: always write FROM as TO. Later jobs send TO as a hotword "
        "and get the rule applied to their transcript as a visible, revertible correction. "
        "Latin words match whole (any case); CJK terms match exactly.",
    )
    verbs = glossary.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing = verbs.add_parser("list", parents=[db_option()], help="show the rules")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=run)
    add = verbs.add_parser("add", parents=[db_option()], help="add or change a rule")
    add.add_argument("source", metavar="FROM", help="the text as the model writes it")
    add.add_argument("target", metavar="TO", help="how to write it")
    add.add_argument("--folder", type=Path, help="only for recordings under this folder")
    add.set_defaults(func=run)
    remove = verbs.add_parser("remove", parents=[db_option()], help="forget a rule")
    remove.add_argument("source", metavar="FROM")
    remove.add_argument("--folder", type=Path, help="the folder the rule was added for")
    remove.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tui.store.glossary import GlossaryError
    from tui.store.store import Store

    try:
        store = Store(args.db)
    except Exception as exc:  # locked, corrupt, or from a newer version
        print(f"stepfun-asr: cannot open the job database: {exc}", file=sys.stderr)
        return 1
    with store:
        if args.verb == "add":
            folder = getattr(args, "folder", None)
            if folder is not None and not folder.is_dir():
                print(f"stepfun-asr: {folder} is not a folder", file=sys.stderr)
                return 2
            try:
                rule = store.glossary.add(args.source, args.target, str(folder or ""))
            except GlossaryError as exc:
                print(f"stepfun-asr: {exc}", file=sys.stderr)
                return 2
            where = f" under {rule.scope}" if rule.scope else ""
            print(f"always write {rule.source!r} as {rule.target!r}{where}")
            return 0
        if args.verb == "remove":
            folder = getattr(args, "folder", None)
            if not store.glossary.remove(args.source, str(folder or "")):
                where = f" for {folder}" if folder else ""
                print(f"stepfun-asr: no glossary rule for {args.source!r}{where}", file=sys.stderr)
                return 1
            print(f"removed {args.source!r}")
            return 0
        rules = store.glossary.rules()
    if args.json:
        for r in rules:
            print(
                json.dumps(
                    {"from": r.source, "to": r.target, "folder": r.scope or None},
                    ensure_ascii=False,
                )
            )
        return 0
    if not rules:
        print("the glossary is empty (stepfun-asr glossary add FROM TO)")
        return 0
    width = max(len(r.source) for r in rules)
    for r in rules:
        print(f"{r.source:<{width}}  →  {r.target}" + (f"   (under {r.scope})" if r.scope else ""))
    return 0
