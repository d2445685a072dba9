"""What a shell needs to complete `stepfun-asr`, read from the real argparse parser.

The parser is the single source: every subcommand, flag and ``choices=`` comes from it, so a new
flag completes without touching this file. What argparse cannot say (the models, the setting
names, that ``-o`` takes a comma-separated list, which arguments are files or folders) is looked
up by the argument's ``dest`` in the small tables below.

Every shell's script (completion_bash, completion_zsh, completion_fish) walks the words typed
so far the same way: options (and the value of an option that takes one) are skipped, a word
naming a subcommand of the current command descends into it, any other word counts as a
positional; what to offer follows from the command reached and either the option just typed or
the positional's index.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ValueKind = Literal["none", "choice", "list", "file", "dir", "other", "setting_value"]

# dest → what its value is when the parser has no `choices` to say it.
_DIR_DESTS = frozenset({"folders", "path", "out_dir", "folder"})
_FILE_DESTS = frozenset({"files", "db", "log_file"})
_LIST_DESTS = frozenset({"output_format", "formats"})  # comma-separated export formats


@dataclass(frozen=True)
class Argument:
    """One option (``flags`` non-empty) or positional (``flags`` empty) of a command."""

    dest: str
    flags: tuple[str, ...]
    help: str
    kind: ValueKind
    choices: tuple[str, ...] = ()
    repeat: bool = False  # nargs + / * : the positional keeps completing


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]  # () for the top level, ("config", "set") for a sub-subcommand
    help: str
    options: tuple[Argument, ...]
    positionals: tuple[Argument, ...]
    subcommands: tuple[Command, ...]

    @property
    def name(self) -> str:
        return " ".join(self.path)

    def walk(self) -> list[Command]:
        out = [self]
        for sub in self.subcommands:
            out += sub.walk()
        return out


def _hints() -> dict[str, tuple[str, ...]]:
    # Imported here: completion is generated rarely and these modules are not needed otherwise.
    import dataclasses

    from tui.config import Settings
    from tui.stepfun.options import SSE_MODELS
    from tui.transcript.formats import FORMATS

    settings = sorted(f.name for f in dataclasses.fields(Settings) if f.name != "api_key")
    return {
        "model": SSE_MODELS,
        "setting": tuple(settings),  # `config set NAME VALUE`
        "output_format": FORMATS,
        "formats": FORMATS,
        "language": ("zh", "en"),
    }


def setting_values() -> dict[str, tuple[ValueKind, tuple[str, ...]]]:
    """For `config set NAME VALUE`: what VALUE can be, per setting that has a fixed set."""
    import dataclasses

    from tui.config import REGIONS, Settings
    from tui.transcript.exports import POLICIES

    hints = _hints()
    out: dict[str, tuple[ValueKind, tuple[str, ...]]] = {
        "region": ("choice", tuple(REGIONS)),
        "model": ("choice", hints["model"]),
        "language": ("choice", hints["language"]),
        "existing_policy": ("choice", POLICIES),
        "formats": ("list", hints["formats"]),
        "out_dir": ("dir", ()),
        "ffmpeg_path": ("file", ()),
    }
    defaults = Settings()
    for f in dataclasses.fields(Settings):
        if isinstance(getattr(defaults, f.name), bool):
            out[f.name] = ("choice", ("true", "false"))
    return out


def _kind(
    action: argparse.Action, hints: dict[str, tuple[str, ...]]
) -> tuple[ValueKind, tuple[str, ...]]:
    if action.nargs == 0:
        return "none", ()
    if action.choices is not None:
        return "choice", tuple(str(c) for c in action.choices)
    if action.dest in _LIST_DESTS:
        return "list", hints[action.dest]
    if action.dest == "name" and not action.option_strings:
        return "choice", hints["setting"]
    if action.dest == "value" and not action.option_strings:
        return "setting_value", ()  # what fits depends on the NAME before it
    if action.dest in hints:
        return "choice", hints[action.dest]
    if action.dest in _DIR_DESTS:
        return "dir", ()
    if action.dest in _FILE_DESTS or action.type is Path:
        return "file", ()
    return "other", ()


def _help(action: argparse.Action) -> str:
    text = action.help if isinstance(action.help, str) and action.help != argparse.SUPPRESS else ""
    return " ".join(text.split())


def describe(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = (), help: str = ""
) -> Command:
    """The completion model of ``parser`` and every subcommand under it."""
    hints = _hints()
    options: list[Argument] = []
    positionals: list[Argument] = []
    subcommands: list[Command] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: _help(c) for c in action._choices_actions}
            for name, sub in action.choices.items():
                if name in helps:  # aliases share a parser; complete the real name only
                    subcommands.append(describe(sub, (*path, name), helps[name]))
            continue
        kind, choices = _kind(action, hints)
        repeat = action.nargs in ("+", "*", argparse.REMAINDER)
        arg = Argument(
            action.dest, tuple(action.option_strings), _help(action), kind, choices, repeat
        )
        (options if action.option_strings else positionals).append(arg)
    return Command(path, help, tuple(options), tuple(positionals), tuple(subcommands))


# ------------------------------------------------------------- shared by the script renderers

PROG = "stepfun-asr"
_WORD = re.compile(r"^[A-Za-z0-9_.:+-]+$")


def shell_words(values: tuple[str, ...] | list[str]) -> str:
    for value in values:
        if not _WORD.match(value):  # every choice is a plain word; anything else needs quoting
            raise ValueError(f"completion word {value!r} would need shell quoting")
    return " ".join(values)


def valued_options(cmd: Command) -> list[Argument]:
    return [o for o in cmd.options if o.kind != "none"]


def positional_patterns(cmd: Command) -> list[tuple[str, Argument]]:
    """(index pattern, argument): an exact index, or ``*`` for a repeated last positional."""
    out: list[tuple[str, Argument]] = []
    for i, arg in enumerate(cmd.positionals):
        out.append(("*" if arg.repeat else str(i), arg))
    return out


def sh_single(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def case_functions(
    subs: list[str],
    flags: list[str],
    takes: list[str],
    values: list[str],
    positionals: list[str],
    settings: list[str],
    *,
    no_match: str = "",
) -> str:
    """The lookup functions bash and zsh scripts share, each a ``case`` over the parser's
    tables; ``no_match`` is the fall-through line of the word-listing ones (zsh clears its
    array there)."""
    nl = "\n"
    tail = f"\n        *) {no_match} ;;" if no_match else ""
    return f"""_stepfun_asr_subs() {{
    case "$1" in
{nl.join(subs)}{tail}
    esac
}}
_stepfun_asr_flags() {{
    case "$1" in
{nl.join(flags)}{tail}
    esac
}}
_stepfun_asr_takes() {{
    case "$1|$2" in
{nl.join(takes)}
    esac
    return 1
}}
_stepfun_asr_values() {{
    case "$1|$2" in
{nl.join(values)}
    esac
}}
_stepfun_asr_positional() {{
    case "$1|$2" in
{nl.join(positionals)}
    esac
}}
_stepfun_asr_setting() {{
    case "$1" in
{nl.join(settings)}
    esac
}}"""
