"""Options shared by every command that talks to StepFun, and how they become Settings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tui import config
from tui.config import REGIONS, ConfigError, Settings
from tui.stepfun.options import plan_model_problem


def client_options() -> argparse.ArgumentParser:
    """A parent parser: region, base URL, model and recognition options."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("service")
    group.add_argument(
        "--region",
        choices=sorted(REGIONS),
        help="cn (default), cn-plan, intl or intl-plan; a Step Plan key needs a -plan region",
    )
    group.add_argument(
        "--base-url",
        help="override the region's base URL (https, or http on loopback), e.g. for the emulator",
    )
    group.add_argument("--model", help="default stepaudio-2.5-asr")
    group.add_argument("--language", help="zh or en; omitted lets the service detect it")
    group.add_argument("--hotwords", help="comma-separated terms to favour")
    group.add_argument(
        "--no-itn",
        action="store_true",
        help="turn off inverse text normalisation (digits stay as words)",
    )
    group.add_argument(
        "--no-timestamps",
        action="store_true",
        help="do not ask for word timestamps (subtitles need them)",
    )
    return parent


def db_option() -> argparse.ArgumentParser:
    """A parent parser: ``--db FILE``, the job database (the commands that read or run jobs)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--db",
        type=Path,
        metavar="FILE",
        help="job database (default: the user data dir; `stepfun-asr config path` shows it)",
    )
    return parent


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Config file + environment, then the command line on top. Raises ConfigError."""
    settings = config.load()
    overrides: dict[str, Any] = {
        "region": getattr(args, "region", None),
        "base_url": getattr(args, "base_url", None),
        "model": getattr(args, "model", None),
        "language": getattr(args, "language", None),
        "hotwords": getattr(args, "hotwords", None),
    }
    for name, value in overrides.items():
        if value is not None:
            config.apply(settings, name, value)
    if getattr(args, "model", None) and (problem := plan_model_problem(settings)):
        raise ConfigError(problem)  # Step Plan has one model; say so before any upload
    if getattr(args, "region", None) and not getattr(args, "base_url", None):
        settings.base_url = None  # an explicit region beats a base URL from the environment
    if getattr(args, "no_itn", False):
        settings.itn = False
    if getattr(args, "no_timestamps", False):
        settings.timestamps = False
    settings.resolved_base_url  # noqa: B018 - validates the URL now, before any work
    return settings


def fail_usage(message: str) -> int:
    print(f"stepfun-asr: {message}", file=sys.stderr)
    return 2


def load_or_exit(args: argparse.Namespace, *, need_key: bool = True) -> Settings | int:
    """Settings, or exit code 2 after printing why (bad setting, missing key)."""
    try:
        settings = settings_from_args(args)
        if need_key:
            settings.require_key()
    except ConfigError as exc:
        return fail_usage(str(exc))
    return settings
