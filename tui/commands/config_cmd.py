"""`stepfun-asr config`: set the key (never echoed), show settings (key masked), paths."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from tui import config
from tui.cli_common import quiet
from tui.config import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("config", help="show or change settings and the API key")
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    set_key = actions.add_parser(
        "set-key",
        help="store the API key (prompted without echo, "
        "or read from stdin) in the config file, mode 0600",
    )
    set_key.set_defaults(func=run_set_key)
    show = actions.add_parser("show", help="print the settings, key masked")
    show.add_argument("--json", action="store_true")
    _add_for_options(show)
    show.set_defaults(func=run_show)
    path = actions.add_parser("path", help="print where the config, jobs DB, cache and log live")
    path.set_defaults(func=run_path)
    setter = actions.add_parser("set", help="change one setting, e.g. `config set region cn-plan`")
    setter.add_argument("name")
    setter.add_argument("value", help='the new value; "" unsets text settings')
    setter.set_defaults(func=run_set)
    unset = actions.add_parser(
        "unset", help="remove a setting from the config file (its default applies again)"
    )
    unset.add_argument("name")
    unset.set_defaults(func=run_unset)


def run_set_key(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        import getpass

        key = getpass.getpass("StepFun API key (input hidden): ")
    else:
        key = sys.stdin.readline()
    try:
        saved = config.edit({"api_key": config.check_key(key)})
    except ConfigError as exc:
        print(f"stepfun-asr: {exc}", file=sys.stderr)
        return 2
    if not quiet():
        print(f"Key saved to {saved.path} (mode 0600).")
    _print_notes(saved)
    if os.environ.get("STEPFUN_API_KEY"):
        print("Note: STEPFUN_API_KEY is set in this environment and takes precedence.")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from tui import locations

    if getattr(args, "for_path", None) is not None:
        return run_show_for(args)
    try:
        settings = config.load()
    except ConfigError as exc:
        print(f"stepfun-asr: {exc}", file=sys.stderr)
        return 2
    data = settings.public_dict()
    path = locations.config_file()
    data["api_key_source"] = (
        "STEPFUN_API_KEY"
        if os.environ.get("STEPFUN_API_KEY")
        else str(path)
        if settings.api_key
        else "none"
    )
    data["base_url_in_use"] = settings.resolved_base_url
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for name, value in data.items():
            print(f"{name:24} {value}")
    if settings.api_key and config.insecure_mode(path):
        print(f"warning: {path} is readable by other users; run chmod 600 on it.", file=sys.stderr)
    return 0


def run_path(args: argparse.Namespace) -> int:
    from tui import locations

    print(f"config  {locations.config_file()}")
    print(f"jobs    {locations.default_db_path()}")
    print(f"cache   {locations.cache_dir()}")
    print(f"log     {locations.log_file()}")
    try:
        config.load()
    except ConfigError as exc:  # still exit 0: this command is how users find the file
        print(f"stepfun-asr: {exc}", file=sys.stderr)
    return 0


def run_set(args: argparse.Namespace) -> int:
    if args.name == "api_key":
        print(
            "stepfun-asr: use `stepfun-asr config set-key` so the key is not in your shell "
            "history.",
            file=sys.stderr,
        )
        return 2
    try:
        saved = config.edit({args.name: args.value})
    except ConfigError as exc:
        print(f"stepfun-asr: {exc}", file=sys.stderr)
        return 2
    if not quiet():
        print(f"{args.name} saved to {saved.path}.")
    _print_notes(saved)
    if args.name == "region" and os.environ.get("STEPFUN_BASE_URL"):
        print("Note: STEPFUN_BASE_URL is set in this environment and overrides the region.")
    return 0


def run_unset(args: argparse.Namespace) -> int:
    try:
        saved = config.edit({}, unset=(args.name,))
    except ConfigError as exc:
        print(f"stepfun-asr: {exc}", file=sys.stderr)
        return 2
    print(f"{args.name} removed from {saved.path}.")
    _print_notes(saved)
    return 0


def _print_notes(saved: config.Saved) -> None:
    for note in saved.notes():
        print(f"Note: {note}")


# --- config show --for PATH: the settings a recording there gets, and where each came from --


def _add_for_options(show: argparse.ArgumentParser) -> None:
    show.add_argument(
        "--for",
        dest="for_path",
        type=Path,
        metavar="PATH",
        help="the settings for a recording (or folder) at PATH, with .stepfun-asr.toml "
        "folder files applied, and where each setting came from",
    )
    show.add_argument(
        "--root",
        type=Path,
        metavar="DIR",
        help="with --for: the watched folder, where the search for folder files stops "
        "(default: the current directory when PATH is inside it)",
    )


def run_show_for(args: argparse.Namespace) -> int:
    from tui.folder_settings import (
        FOLDER_KEYS,
        FolderSettingsError,
        effective_settings,
        global_sources,
    )

    target = args.for_path.expanduser().absolute()
    if not target.exists():
        print(f"stepfun-asr: {target} does not exist.", file=sys.stderr)
        return 2
    cwd = Path.cwd()
    root = args.root.expanduser().absolute() if args.root else None
    if root is None and (target == cwd or cwd in target.parents):
        root = cwd
    try:
        settings, folder = effective_settings(config.load(), target, root)
    except (ConfigError, FolderSettingsError) as exc:
        print(f"stepfun-asr: {exc}", file=sys.stderr)
        return 2
    origins = {name: str(origin) for name, origin in global_sources().items()}
    origins.update({n: str(folder[n]) for n in FOLDER_KEYS if folder[n].folder_file})
    data = settings.public_dict()
    if args.json:
        print(
            json.dumps(
                {"for": str(target), "settings": data, "sources": origins},
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    print(f"settings for {target}")
    for name, value in data.items():
        print(f"{name:24} {value!s:32} {origins.get(name, 'default')}")
    return 0
