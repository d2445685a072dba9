"""Options shared by every command that talks to StepFun, and how they become Settings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tui import config
from tui.config import REGIONS, ConfigError, Settings
from tui.config_values import LANGUAGES


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
    group.add_argument(
        "--language",
        help=f"{', '.join(LANGUAGES)} or auto; omitted: the config's (default auto, the service "
        "detects it)",
    )
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
            try:
                config.apply(settings, name, value)
            except ConfigError as exc:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag}: {exc}") from None
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
