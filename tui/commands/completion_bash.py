"""The bash completion script, rendered from the model of the real parser.

It walks the typed words as every renderer does (see ``completion_model``).
"""

from __future__ import annotations

from tui.commands.completion_model import (
    PROG,
    Command,
    case_functions,
    positional_patterns,
    setting_values,
    sh_single,
    shell_words,
    valued_options,
)


def _bash_values(kind: str, choices: tuple[str, ...]) -> str:
    if kind == "choice":
        return f'_stepfun_asr_words "{shell_words(choices)}"'
    if kind == "list":
        return f'_stepfun_asr_list "{shell_words(choices)}"'
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
        key = sh_single(cmd.name)
        if cmd.subcommands:
            names = [s.path[-1] for s in cmd.subcommands]
            subs.append(f'        {key}) echo "{shell_words(names)}" ;;')
        all_flags = [f for o in cmd.options for f in o.flags]
        flags.append(f'        {key}) echo "{shell_words(all_flags)}" ;;')
        valued = [f for o in valued_options(cmd) for f in o.flags]
        if valued:
            pattern = "|".join(sh_single(f"{cmd.name}|{f}") for f in valued)
            takes.append(f"        {pattern}) return 0 ;;")
        for opt in valued_options(cmd):
            pattern = "|".join(sh_single(f"{cmd.name}|{f}") for f in opt.flags)
            values.append(f"        {pattern}) {_bash_values(opt.kind, opt.choices)} ;;")
        for index, arg in positional_patterns(cmd):
            pat = sh_single(f"{cmd.name}|") + (index if index == "*" else sh_single(index))
            positionals.append(f"        {pat}) {_bash_values(arg.kind, arg.choices)} ;;")
    settings = [
        f"        {sh_single(name)}) {_bash_values(kind, choices)} ;;"
        for name, (kind, choices) in setting_values().items()
    ]
    return f"""# bash completion for {PROG}, generated from its parser by `{PROG} completion bash`.
# Install: {PROG} completion bash > ~/.local/share/bash-completion/completions/{PROG}

_stepfun_asr_words() {{ COMPREPLY+=($(compgen -W "$1" -- "$cur")); }}
# One name per line, so that "my talk.wav" stays one candidate.
_stepfun_asr_files() {{
    compopt -o filenames 2>/dev/null
    local IFS=$'\n'
    COMPREPLY+=($(compgen -f -- "$cur"))
}}
_stepfun_asr_dirs() {{
    compopt -o filenames 2>/dev/null
    local IFS=$'\n'
    COMPREPLY+=($(compgen -d -- "$cur"))
}}
_stepfun_asr_list() {{
    # A comma-separated list (txt,srt): complete the part after the last comma.
    local head="" last="$cur"
    if [[ "$cur" == *,* ]]; then head="${{cur%,*}},"; last="${{cur##*,}}"; fi
    compopt -o nospace 2>/dev/null
    COMPREPLY+=($(compgen -P "$head" -W "$1" -- "$last"))
}}
{case_functions(subs, flags, takes, values, positionals, settings)}
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
