"""`stepfun-asr search QUERY`: find words across every stored transcript."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tui.cli_common import db_option, fail_usage

if TYPE_CHECKING:
    from tui.store.search import SearchHit

STATES = ("queued", "running", "done", "needs_review", "failed", "canceled")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "search",
        parents=[db_option()],
        help="find words across every stored transcript",
        description="Search every stored transcript, best matches first, one entry per "
        'subtitle cue. Words must all occur; "quoted words" match as a phrase; budg* '
        "matches words starting with budg; a OR b; -word excludes. Chinese works with one "
        "or more characters. Exit 0 (also when nothing matches); 2: the query or an option "
        "cannot be understood.",
    )
    p.add_argument("query", metavar="QUERY", help="what to look for")
    p.add_argument("--json", action="store_true", help="print a JSON list of hits")
    p.add_argument("--folder", type=Path, metavar="DIR", help="only recordings under DIR")
    p.add_argument(
        "--since", metavar="DATE", help="only jobs finished on or after DATE (YYYY-MM-DD)"
    )
    p.add_argument("--state", choices=STATES, action="append", help="only jobs in this state")
    p.add_argument("--limit", type=int, default=50, help="at most N hits (default 50)")
    p.set_defaults(func=run)


def parse_since(text: str) -> float:
    """Local midnight of a YYYY-MM-DD date (or an ISO date-time) as a timestamp."""
    import datetime as dt  # not for `--help`

    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r} is not a date; write it as YYYY-MM-DD (e.g. 2026-03-01)."
        ) from None
    return when.timestamp()  # naive: local time


def format_ms(ms: int) -> str:
    seconds, _ = divmod(max(0, ms), 1000)
    hours, rem = divmod(seconds, 3600)
    return f"{hours:d}:{rem // 60:02d}:{rem % 60:02d}"


def run(args: argparse.Namespace) -> int:
    from tui.store.search import QuerySyntaxError
    from tui.store.store import Store

    if args.limit < 1:
        return fail_usage("--limit must be 1 or more.")
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        return fail_usage(str(exc))
    folder = args.folder.expanduser().absolute() if args.folder else None
    try:
        store = Store(args.db)
    except Exception as exc:  # locked, corrupt, or from a newer version
        print(f"stepfun-asr: cannot open the job database: {exc}", file=sys.stderr)
        return 1
    with store:
        try:
            hits = store.search(
                args.query, folder=folder, since=since, states=args.state or (), limit=args.limit
            )
        except QuerySyntaxError as exc:
            return fail_usage(str(exc))
    if args.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print("no matches")
        return 0
    for hit in hits:
        print(_line(hit))
    return 0


def _line(hit: SearchHit) -> str:
    where = f"{hit.file} @ {format_ms(hit.start_ms)}"
    # The snippet on one line, whatever line breaks the cue had.
    return f"#{hit.job_id}  {where}\n    {' '.join(hit.snippet.split())}"
