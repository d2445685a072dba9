"""`stepfun-asr watch … --print-service systemd|launchd`: the same watch as a user service.

The unit runs the exact command that printed it — the absolute path of this executable, the
folders and every path made absolute, each flag given — restarts it when it fails, and gives
running jobs their grace period on stop. The API key is never written into it: the service
reads it from the config file like any other run (a warning says so when only the environment
holds the key). Settings that came from the environment (region, base URL, config file) are
carried over as flags or, for the config file's location, as an environment variable.
"""

from __future__ import annotations

import argparse
import os
import plistlib
import shlex
import sys
from pathlib import Path
from typing import Any

from tui import locations

KINDS = ("systemd", "launchd")
UNIT_NAME = "stepfun-asr-watch"
LAUNCHD_LABEL = "local.stepfun-asr.watch"
RESTART_DELAY_S = 10
# Flags that would make no sense inside a service (or that are this very request).
_LEFT_OUT = frozenset({"help", "print_service", "func", "command"})


def executable() -> list[str]:
    """How to start this program again from anywhere: the console script, else python -m tui."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "stepfun-asr" and script.exists():
        return [str(script.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "tui"]


def _absolute(value: Any) -> str:
    if isinstance(value, Path):
        return str(value.expanduser().absolute())
    return str(value)


def watch_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
    """The argv that repeats this `watch`: flags from the parsed values, then ``--`` folders."""
    argv = [*executable(), "watch"]
    folders: list[str] = []
    for action in parser._actions:
        if action.dest in _LEFT_OUT or isinstance(action, argparse._SubParsersAction):
            continue
        value = getattr(args, action.dest, None)
        if not action.option_strings:
            folders += [_absolute(v) for v in (value or [])]
            continue
        if value is None or value is False or value == action.default:
            continue
        # The first long spelling is the canonical one (--formats, not its --output-format alias).
        flag = next(
            (f for f in action.option_strings if f.startswith("--")), action.option_strings[0]
        )
        if isinstance(action, argparse._CountAction):
            argv += [flag] * int(value)
        elif action.nargs == 0:
            argv.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                argv += [flag, _absolute(item)]
        else:
            argv += [flag, _absolute(value)]
    # What the environment decided for this run, the service would not see.
    for env, flag in (("STEPFUN_REGION", "--region"), ("STEPFUN_BASE_URL", "--base-url")):
        if os.environ.get(env) and flag not in argv:
            argv += [flag, os.environ[env]]
    return [*argv, "--", *folders]


def _environment() -> dict[str, str]:
    env = {"PYTHONUNBUFFERED": "1"}
    if os.environ.get("STEPFUN_ASR_CONFIG"):
        env["STEPFUN_ASR_CONFIG"] = str(Path(os.environ["STEPFUN_ASR_CONFIG"]).absolute())
    return env


def _systemd_quote(arg: str) -> str:
    # systemd expands % specifiers and $VARIABLES in ExecStart; doubling turns them off.
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not any(c in arg for c in " \t\n\"'\\;"):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit(argv: list[str], folders: list[str], grace_s: float) -> str:
    env_lines = "".join(
        f"Environment={_systemd_quote(f'{k}={v}')}\n" for k, v in _environment().items()
    )
    return (
        "# A systemd user service, printed by `stepfun-asr watch --print-service systemd`.\n"
        f"# Install: save as ~/.config/systemd/user/{UNIT_NAME}.service, then\n"
        f"#   systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}\n"
        "# The API key is read from the config file (`stepfun-asr config set-key`), never here.\n"
        "[Unit]\n"
        f"Description=stepfun-asr: transcribe new recordings in {', '.join(folders)}\n"
        "\n"
        "[Service]\n"
        "Type=exec\n"
        f"ExecStart={' '.join(_systemd_quote(a) for a in argv)}\n"
        f"{env_lines}"
        "Restart=on-failure\n"
        f"RestartSec={RESTART_DELAY_S}\n"
        "# Exit 2 is a usage error or a missing key: restarting would not fix it.\n"
        "RestartPreventExitStatus=2\n"
        "# SIGTERM lets running jobs finish within --grace; the queue is kept either way.\n"
        "KillSignal=SIGTERM\n"
        f"TimeoutStopSec={int(grace_s) + 15}\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def launchd_plist(argv: list[str], grace_s: float) -> str:
    logs = locations.log_dir()
    plist = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": argv,
        "EnvironmentVariables": _environment(),
        "RunAtLoad": True,
        # Restart when it fails, not after a clean stop.
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": RESTART_DELAY_S,
        "ExitTimeOut": int(grace_s) + 15,
        "StandardOutPath": str(logs / "watch.out.log"),
        "StandardErrorPath": str(logs / "watch.err.log"),
        "ProcessType": "Background",
    }
    # No "--" inside an XML comment, so the command line itself is not quoted here.
    header = (
        "<!-- A launchd agent printed by stepfun-asr (watch, print-service launchd).\n"
        f"     Install: save as ~/Library/LaunchAgents/{LAUNCHD_LABEL}.plist, then\n"
        f"       launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/{LAUNCHD_LABEL}.plist\n"
        "     The API key is read from the config file, never from here. -->\n"
    )
    body = plistlib.dumps(plist, sort_keys=False).decode("utf-8")
    first, rest = body.split("\n", 1)  # the XML declaration must stay the first line
    return f"{first}\n{header}{rest}"


def _key_in_config_file() -> bool:
    from tui import config

    try:
        return bool(config.load(env={}).api_key)
    except config.ConfigError:
        return False


def print_service(args: argparse.Namespace) -> int:
    """Print the unit for ``args.print_service`` on stdout; notes go to stderr."""
    from tui.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    argv = watch_command(args, sub.choices["watch"])
    folders = argv[argv.index("--") + 1 :]
    grace = float(getattr(args, "grace", 30.0) or 0.0)
    if args.print_service == "systemd":
        sys.stdout.write(systemd_unit(argv, folders, grace))
    else:
        # launchd opens StandardOutPath but does not make its folder.
        locations.log_dir().mkdir(parents=True, exist_ok=True)
        sys.stdout.write(launchd_plist(argv, grace))
    if not _key_in_config_file():
        print(
            "stepfun-asr: note: the config file holds no API key and the service does not see "
            "STEPFUN_API_KEY; store the key with `stepfun-asr config set-key` first.",
            file=sys.stderr,
        )
    print(f"stepfun-asr: the service will run: {shlex.join(argv)}", file=sys.stderr)
    return 0
