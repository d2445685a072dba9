"""`stepfun-asr db check` and `stepfun-asr db repair`: the job database's health."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "db",
        help="check or repair the job database",
        description="check: SQLite's integrity check of the job database (exit 0 sound, 1 "
        "damaged). repair: copy the database aside (name.damaged-DATE), then rebuild it from "
        "every row that can still be read. Stop any running `stepfun-asr watch` first.",
    )
    parser.add_argument("action", choices=("check", "repair"))
    # --db after the action too: `stepfun-asr db check --db FILE`.
    parser.add_argument(
        "--db", type=Path, metavar="FILE", help="job database (default: the user's)"
    )
    parser.set_defaults(func=run)


def _default_db(args: argparse.Namespace) -> Path:
    from tui import locations

    return Path(args.db) if args.db else locations.default_db_path()


def run(args: argparse.Namespace) -> int:
    import sqlite3  # here, not for every command's parser

    from tui.store import repair

    path = _default_db(args)
    if args.action == "check":
        try:
            problems = repair.check(path)
        except FileNotFoundError as exc:
            print(f"stepfun-asr: {exc}", file=sys.stderr)
            return 2
        except sqlite3.Error as exc:
            problems = [str(exc)]
        if not problems:
            print(f"{path}: ok")
            return 0
        print(f"{path} is damaged:")
        for line in problems:
            print(f"  {line}")
        print(f"run `stepfun-asr db repair --db {path}` to back it up and recover what can be read")
        return 1
    if not path.exists():
        print(f"stepfun-asr: there is no job database at {path}", file=sys.stderr)
        return 2
    report = repair.repair(path)
    copied = ", ".join(f"{n} {table}" for table, n in report.copied.items()) or "nothing"
    print(f"backed up the damaged database to {report.backup}")
    print(f"recovered {copied} into {path}")
    if report.lost:
        lost = ", ".join(f"{n} {table}" for table, n in report.lost.items())
        print(f"could not read (at least): {lost}")
    if report.unreadable_tables:
        print(f"tables that could not be read at all: {', '.join(report.unreadable_tables)}")
    return 0
