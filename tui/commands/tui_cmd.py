"""`stepfun-asr tui [PATH]` (the default command) and `stepfun-asr demo`.

register() must not import Textual: the whole CLI parser is built by headless commands too.
The app is imported inside the run functions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tui.cli_common import client_options, db_option, fail_usage, settings_from_args
from tui.config import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "tui",
        parents=[client_options(), db_option()],
        help="open the workbench (the default command)",
        description="Open the terminal workbench on PATH (default: the current folder). "
        "Without a key it asks for one first.",
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=None,
        metavar="PATH",
        help="folder to browse (default: current folder)",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="start with watch mode on for PATH: new recordings are "
        "transcribed and written next to them",
    )
    parser.set_defaults(func=run_tui)

    demo = sub.add_parser(
        "demo",
        help="try the workbench without a key, against the built-in emulator",
        description="Start the built-in StepFun emulator, write sample recordings into a new "
        "folder and open the workbench there with watch mode on. Your own config file and job "
        "database are not touched.",
    )
    demo.add_argument(
        "--folder",
        type=Path,
        metavar="DIR",
        help="where to put the demo files (default: a new temporary folder)",
    )
    demo.add_argument(
        "--rtf",
        type=float,
        default=None,
        metavar="X",
        help="emulator seconds per audio second (default 0.1: a minute of "
        "audio streams in about 6 s)",
    )
    demo.set_defaults(func=run_demo)


def run_tui(args: argparse.Namespace) -> int:
    path = (args.path or Path.cwd()).expanduser()
    if not path.is_dir():
        return fail_usage(
            f"{path} is not a folder; give the folder to browse "
            "(files are picked inside the workbench)."
        )
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        return fail_usage(str(exc))
    import sqlite3

    from tui.app import heap

    heap.hold()  # no collector passes while the workbench starts (tui/app/heap.py)
    from tui.app.app import make_app
    from tui.store.schema import SchemaError

    try:
        app = make_app(settings, path, db_path=args.db, watch=args.watch)
    except (OSError, sqlite3.Error, SchemaError) as exc:
        return fail_usage(f"cannot open the job database: {exc}")
    from tui import logs
    from tui.app.running import run_app

    logs.start(getattr(args, "log_file", None), "workbench")
    return run_app(app)


def run_demo(args: argparse.Namespace) -> int:
    from tui import demo

    rtf = demo.DEFAULT_RTF if args.rtf is None else args.rtf
    if rtf < 0:
        return fail_usage("--rtf must be 0 or more")
    with demo.demo_session(args.folder, rtf=rtf) as session:
        print(session.describe(), flush=True)
        from tui.app import heap

        heap.hold()
        from tui.app.app import make_app

        app = make_app(
            session.settings,
            session.folder,
            db_path=session.db_path,
            watch=True,
            config_path=session.config_path,
            demo=True,
        )
        from tui.app.running import run_app

        run_app(app)
    print(
        f"\nThe demo files (recordings, transcripts, job database) are in {session.workdir}",
        file=sys.stderr,
    )
    return app.return_code or 0
