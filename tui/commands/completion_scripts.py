"""Completion scripts for bash, zsh and fish, rendered from the model of the real parser.

All three walk the words typed so far the same way: options (and the value of an option that
takes one) are skipped, a word naming a subcommand of the current command descends into it, any
other word counts as a positional. What to offer then follows from the command reached and
either the option just typed or the positional's index.
"""

from __future__ import annotations

import re

from tui.commands.completion_model import Argument, Command, setting_values

PROG = "stepfun-asr"
_WORD = re.compile(r"^[A-Za-z0-9_.:+-]+$")


def _words(values: tuple[str, ...] | list[str]) -> str:
    for value in values:
        if not _WORD.match(value):  # every choice is a plain word; anything else needs quoting
            raise ValueError(f"completion word {value!r} would need shell quoting")
    return " ".join(values)


def _takes_value(cmd: Command) -> list[Argument]:
    return [o for o in cmd.options if o.kind != "none"]


def _positional_patterns(cmd: Command) -> list[tuple[str, Argument]]:
    """(index pattern, argument): an exact index, or ``*`` for a repeated last positional."""
    out: list[tuple[str, Argument]] = []
    for i, arg in enumerate(cmd.positionals):
        out.append(("*" if arg.repeat else str(i), arg))
    return out


def _sh_single(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# ------------------------------------------------------------------------------------------ bash


def _bash_values(kind: str, choices: tuple[str, ...]) -> str:
    if kind == "choice":
        return f'_stepfun_asr_words "{_words(choices)}"'
    if kind == "list":
        return f'_stepfun_asr_list "{_words(choices)}"'
    if kind == "file":
        return "_stepfun_asr_files"
    if kind == "dir":
        return "_stepfun_asr_dirs"
    if kind == "setting_value":
        return '_stepfun_asr_setting "${COMP_WORDS[COMP_CWORD - 1]}"'
    return ":"


def bash(root: Command) -> str:
    commands = root.walk()
    subs, flags, takes, values, positionals = [], [], [], [], []
    for cmd in commands:
        key = _sh_single(cmd.name)
        if cmd.subcommands:
            names = [s.path[-1] for s in cmd.subcommands]
            subs.append(f'        {key}) echo "{_words(names)}" ;;')
        all_flags = [f for o in cmd.options for f in o.flags]
        flags.append(f'        {key}) echo "{_words(all_flags)}" ;;')
        valued = [f for o in _takes_value(cmd) for f in o.flags]
        if valued:
            pattern = "|".join(_sh_single(f"{cmd.name}|{f}") for f in valued)
            takes.append(f"        {pattern}) return 0 ;;")
        for opt in _takes_value(cmd):
            pattern = "|".join(_sh_single(f"{cmd.name}|{f}") for f in opt.flags)
            values.append(f"        {pattern}) {_bash_values(opt.kind, opt.choices)} ;;")
        for index, arg in _positional_patterns(cmd):
            pat = _sh_single(f"{cmd.name}|") + (index if index == "*" else _sh_single(index))
            positionals.append(f"        {pat}) {_bash_values(arg.kind, arg.choices)} ;;")
    settings = [
        f"        {_sh_single(name)}) {_bash_values(kind, choices)} ;;"
        for name, (kind, choices) in setting_values().items()
    ]
    nl = "\n"
    return f"""# bash completion for {PROG}, generated from its parser by `{PROG} completion bash`.
# Install: {PROG} completion bash > ~/.local/share/bash-completion/completions/{PROG}

_stepfun_asr_words() {{ COMPREPLY+=($(compgen -W "$1" -- "$cur")); }}
_stepfun_asr_files() {{ compopt -o filenames 2>/dev/null; COMPREPLY+=($(compgen -f -- "$cur")); }}
_stepfun_asr_dirs() {{ compopt -o filenames 2>/dev/null; COMPREPLY+=($(compgen -d -- "$cur")); }}
_stepfun_asr_list() {{
    # A comma-separated list (txt,srt): complete the part after the last comma.
    local head="" last="$cur"
    if [[ "$cur" == *,* ]]; then head="${{cur%,*}},"; last="${{cur##*,}}"; fi
    compopt -o nospace 2>/dev/null
    COMPREPLY+=($(compgen -P "$head" -W "$1" -- "$last"))
}}
_stepfun_asr_subs() {{
    case "$1" in
{nl.join(subs)}
    esac
}}
_stepfun_asr_flags() {{
    case "$1" in
{nl.join(flags)}
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
}}
_stepfun_asr() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" cmd="" npos=0 skip=0 i w subs
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        if ((skip)); then skip=0; continue; fi
        case "$w" in
            -) npos=$((npos + 1)) ;;
            -*) _stepfun_asr_takes "$cmd" "$w" && skip=1 ;;
            *)
                if [[ " $(_stepfun_asr_subs "$cmd") " == *" $w "* ]]; then
                    cmd="${{cmd:+$cmd }}$w"; npos=0
                else
                    npos=$((npos + 1))
                fi ;;
        esac
    done
    if ((skip)); then
        _stepfun_asr_values "$cmd" "${{COMP_WORDS[COMP_CWORD - 1]}}"
        return 0
    fi
    if [[ "$cur" == -* ]]; then
        _stepfun_asr_words "$(_stepfun_asr_flags "$cmd")"
        return 0
    fi
    subs="$(_stepfun_asr_subs "$cmd")"
    if [[ -n "$subs" && $npos -eq 0 ]]; then
        _stepfun_asr_words "$subs"
        # `{PROG} DIR` opens the workbench on DIR.
        [[ -z "$cmd" ]] && _stepfun_asr_dirs
        return 0
    fi
    _stepfun_asr_positional "$cmd" "$npos"
}}
complete -F _stepfun_asr {PROG}
"""


# ------------------------------------------------------------------------------------------- zsh


def _zsh_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:").replace("'", "'\\''")


def _zsh_values(kind: str, choices: tuple[str, ...], what: str) -> str:
    if kind == "choice":
        return f"compadd -- {_words(choices)}"
    if kind == "list":
        return f"_sequence compadd - {_words(choices)}"
    if kind == "file":
        return "_files"
    if kind == "dir":
        return "_files -/"
    if kind == "setting_value":
        return '_stepfun_asr_setting "${words[CURRENT - 1]}"'
    return f"_message {_sh_single(what)}"


def zsh(root: Command) -> str:
    commands = root.walk()
    subs, flags, takes, values, positionals = [], [], [], [], []
    for cmd in commands:
        key = _sh_single(cmd.name)
        if cmd.subcommands:
            items = " ".join(
                _sh_single(f"{s.path[-1]}:{_zsh_escape(s.help)}") for s in cmd.subcommands
            )
            subs.append(f"        {key}) described=({items}) ;;")
        items = " ".join(
            _sh_single(f"{f}:{_zsh_escape(o.help)}") for o in cmd.options for f in o.flags
        )
        flags.append(f"        {key}) described=({items}) ;;")
        valued = [f for o in _takes_value(cmd) for f in o.flags]
        if valued:
            pattern = "|".join(_sh_single(f"{cmd.name}|{f}") for f in valued)
            takes.append(f"        {pattern}) return 0 ;;")
        for opt in _takes_value(cmd):
            pattern = "|".join(_sh_single(f"{cmd.name}|{f}") for f in opt.flags)
            what = opt.dest.replace("_", " ")
            values.append(f"        {pattern}) {_zsh_values(opt.kind, opt.choices, what)} ;;")
        for index, arg in _positional_patterns(cmd):
            pat = _sh_single(f"{cmd.name}|") + (index if index == "*" else _sh_single(index))
            what = arg.dest.replace("_", " ")
            positionals.append(f"        {pat}) {_zsh_values(arg.kind, arg.choices, what)} ;;")
    settings = [
        f"        {_sh_single(name)}) {_zsh_values(kind, choices, name)} ;;"
        for name, (kind, choices) in setting_values().items()
    ]
    nl = "\n"
    return f"""#compdef {PROG}
# zsh completion for {PROG}, generated from its parser by `{PROG} completion zsh`.
# Install: {PROG} completion zsh > "${{fpath[1]}}/_{PROG}" (then restart zsh), or put the file
# in any folder listed in $fpath before `compinit` runs.

_stepfun_asr_subs() {{
    case "$1" in
{nl.join(subs)}
        *) described=() ;;
    esac
}}
_stepfun_asr_flags() {{
    case "$1" in
{nl.join(flags)}
        *) described=() ;;
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
}}
_stepfun_asr() {{
    local cmd="" w i
    local -i npos=0 skip=0
    local -a described names
    for ((i = 2; i < CURRENT; i++)); do
        w="${{words[i]}}"
        if ((skip)); then skip=0; continue; fi
        case "$w" in
            -) npos+=1 ;;
            -*) _stepfun_asr_takes "$cmd" "$w" && skip=1 ;;
            *)
                _stepfun_asr_subs "$cmd"
                names=(${{described%%:*}})
                if (( ${{names[(Ie)$w]}} )); then
                    cmd="${{cmd:+$cmd }}$w"; npos=0
                else
                    npos+=1
                fi ;;
        esac
    done
    if ((skip)); then
        _stepfun_asr_values "$cmd" "${{words[CURRENT - 1]}}"
        return
    fi
    if [[ "$PREFIX" == -* ]]; then
        _stepfun_asr_flags "$cmd"
        _describe -t options option described
        return
    fi
    _stepfun_asr_subs "$cmd"
    if (( ${{#described}} && npos == 0 )); then
        _describe -t commands command described
        # `{PROG} DIR` opens the workbench on DIR.
        [[ -z "$cmd" ]] && _files -/
        return
    fi
    _stepfun_asr_positional "$cmd" "$npos"
}}

if [[ "$funcstack[1]" == _stepfun_asr || "$funcstack[1]" == "_{PROG}" ]]; then
    _stepfun_asr "$@"
else
    compdef _stepfun_asr {PROG}
fi
"""


# ------------------------------------------------------------------------------------------ fish


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_value_args(kind: str, choices: tuple[str, ...]) -> str:
    if kind == "choice":
        return f"-f -a {_fish_quote(_words(choices))}"
    if kind == "list":
        return f"-f -a {_fish_quote('(__fish_complete_list , __stepfun_asr_formats)')}"
    if kind == "file":
        return "-F"
    if kind == "dir":
        return f"-f -a {_fish_quote('(__fish_complete_directories)')}"
    if kind == "setting_value":
        return f"-f -a {_fish_quote('(__stepfun_asr_setting (commandline -opc)[-1])')}"
    return "-f"


def _fish_setting(kind: str, choices: tuple[str, ...]) -> str:
    if kind in ("choice", "list"):
        return f"printf '%s\\n' {_words(choices)}"
    if kind == "dir":
        return "__fish_complete_directories"
    return "__fish_complete_path"


def fish(root: Command) -> str:
    commands = root.walk()
    formats: tuple[str, ...] = ()
    subs, takes, lines = [], [], []
    for cmd in commands:
        key = _fish_quote(cmd.name)
        if cmd.subcommands:
            names = " ".join(s.path[-1] for s in cmd.subcommands)
            subs.append(f"        case {key}\n            echo {names}")
        valued = [f for o in _takes_value(cmd) for f in o.flags]
        if valued:
            takes.append(
                f"        case {key}\n            contains -- $argv[2] {' '.join(valued)}; and return 0"
            )
        cond = f"-n {_fish_quote(f'__stepfun_asr_at {_fish_quote(cmd.name)}')}"
        for sub in cmd.subcommands:
            lines.append(
                f"complete -c {PROG} {cond} -f -a {sub.path[-1]} -d {_fish_quote(sub.help)}"
            )
        for opt in cmd.options:
            spec = []
            for flag in opt.flags:
                if flag.startswith("--"):
                    spec.append(f"-l {flag[2:]}")
                elif len(flag) == 2:
                    spec.append(f"-s {flag[1:]}")
                else:
                    spec.append(f"-o {flag[1:]}")
            value = "-r " + _fish_value_args(opt.kind, opt.choices) if opt.kind != "none" else ""
            if opt.kind == "list":
                formats = opt.choices
            lines.append(
                f"complete -c {PROG} {cond} {' '.join(spec)} {value} -d {_fish_quote(opt.help)}"
            )
        for index, arg in _positional_patterns(cmd):
            at = f"__stepfun_asr_at {_fish_quote(cmd.name)} " + ("any" if index == "*" else index)
            lines.append(
                f"complete -c {PROG} -n {_fish_quote(at)} {_fish_value_args(arg.kind, arg.choices)}"
            )
    lines.append(
        f"complete -c {PROG} -n {_fish_quote('__stepfun_asr_at ' + _fish_quote('') + ' 0')} "
        "-f -a '(__fish_complete_directories)'"
    )
    settings = [
        f"        case {_fish_quote(name)}\n            {_fish_setting(kind, choices)}"
        for name, (kind, choices) in setting_values().items()
    ]
    nl = "\n"
    return f"""# fish completion for {PROG}, generated from its parser by `{PROG} completion fish`.
# Install: {PROG} completion fish > ~/.config/fish/completions/{PROG}.fish

function __stepfun_asr_formats
    printf '%s\\n' {_words(formats)}
end

function __stepfun_asr_setting
    switch $argv[1]
{nl.join(settings)}
    end
end

function __stepfun_asr_subs
    switch $argv[1]
{nl.join(subs)}
    end
end

function __stepfun_asr_takes
    switch $argv[1]
{nl.join(takes)}
    end
    return 1
end

# True when the words before the cursor reach command $argv[1] (and, with $argv[2], that many
# positionals: a number, or `any`).
function __stepfun_asr_at
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l cmd ''
    set -l npos 0
    set -l skip 0
    for w in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $w
            case -
                set npos (math $npos + 1)
            case '-*'
                __stepfun_asr_takes "$cmd" $w; and set skip 1
            case '*'
                if contains -- $w (string split ' ' -- (__stepfun_asr_subs "$cmd"))
                    if test -z "$cmd"
                        set cmd $w
                    else
                        set cmd "$cmd $w"
                    end
                    set npos 0
                else
                    set npos (math $npos + 1)
                end
        end
    end
    test "$cmd" = "$argv[1]"; or return 1
    if set -q argv[2]
        # A positional, not the value of the option just typed.
        test $skip -eq 0; or return 1
        test "$argv[2]" = any; and return 0
        test "$npos" = "$argv[2]"; or return 1
    end
    return 0
end

complete -c {PROG} -f
{nl.join(lines)}
"""


RENDERERS = {"bash": bash, "zsh": zsh, "fish": fish}
