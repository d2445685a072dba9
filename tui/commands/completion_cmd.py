"""`stepfun-asr completion bash|zsh|fish`: print a completion script made from the real parser."""

from __future__ import annotations

import argparse
import sys

SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": "stepfun-asr completion bash > ~/.local/share/bash-completion/completions/stepfun-asr",
    "zsh": 'stepfun-asr completion zsh > "${fpath[1]}/_stepfun-asr"',
    "fish": "stepfun-asr completion fish > ~/.config/fish/completions/stepfun-asr.fish",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description="Print the completion script for SHELL: subcommands, flags, regions, "
        "formats, models and setting names. Install it once:\n  " + "\n  ".join(INSTALL.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The whole parser is built here, from the same code as the command line itself.
    from tui.cli import build_parser
    from tui.commands import completion_bash, completion_fish, completion_zsh
    from tui.commands.completion_model import describe

    render = {
        "bash": completion_bash.bash,
        "zsh": completion_zsh.zsh,
        "fish": completion_fish.fish,
    }[args.shell]
    script = render(describe(build_parser()))
    sys.stdout.write(script)
    return 0
