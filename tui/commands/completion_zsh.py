"""The zsh completion script, rendered from the model of the real parser.

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


def _zsh_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(":", "\\:").replace("'", "'\\''")


def _zsh_values(kind: str, choices: tuple[str, ...], what: str) -> str:
    if kind == "choice":
        return f"compadd -- {shell_words(choices)}"
    if kind == "list":
        return f"_sequence compadd - {shell_words(choices)}"
    if kind == "file":
        return "_files"
    if kind == "dir":
        return "_files -/"
    if kind == "setting_value":
        return '_stepfun_asr_setting "${words[CURRENT - 1]}"'
    return f"_message {sh_single(what)}"


def zsh(root: Command) -> str:
    commands = root.walk()
    subs, flags, takes, values, positionals = [], [], [], [], []
    for cmd in commands:
        key = sh_single(cmd.name)
        if cmd.subcommands:
            items = " ".join(
                sh_single(f"{s.path[-1]}:{_zsh_escape(s.help)}") for s in cmd.subcommands
            )
            subs.append(f"        {key}) described=({items}) ;;")
        items = " ".join(
            sh_single(f"{f}:{_zsh_escape(o.help)}") for o in cmd.options for f in o.flags
        )
        flags.append(f"        {key}) described=({items}) ;;")
        valued = [f for o in valued_options(cmd) for f in o.flags]
        if valued:
            pattern = "|".join(sh_single(f"{cmd.name}|{f}") for f in valued)
            takes.append(f"        {pattern}) return 0 ;;")
        for opt in valued_options(cmd):
            pattern = "|".join(sh_single(f"{cmd.name}|{f}") for f in opt.flags)
            what = opt.dest.replace("_", " ")
            values.append(f"        {pattern}) {_zsh_values(opt.kind, opt.choices, what)} ;;")
        for index, arg in positional_patterns(cmd):
            pat = sh_single(f"{cmd.name}|") + (index if index == "*" else sh_single(index))
            what = arg.dest.replace("_", " ")
            positionals.append(f"        {pat}) {_zsh_values(arg.kind, arg.choices, what)} ;;")
    settings = [
        f"        {sh_single(name)}) {_zsh_values(kind, choices, name)} ;;"
        for name, (kind, choices) in setting_values().items()
    ]
    return f"""#compdef {PROG}
# zsh completion for {PROG}, generated from its parser by `{PROG} completion zsh`.
# Install: {PROG} completion zsh > "${{fpath[1]}}/_{PROG}" (then restart zsh), or put the file
# in any folder listed in $fpath before `compinit` runs.

{case_functions(subs, flags, takes, values, positionals, settings, no_match="described=()")}
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
