"""The fish completion script, rendered from the model of the real parser.

It walks the typed words as every renderer does (see ``completion_model``).
"""

from __future__ import annotations

from tui.commands.completion_model import (
    PROG,
    Command,
    positional_patterns,
    setting_values,
    shell_words,
    valued_options,
)


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_value_args(kind: str, choices: tuple[str, ...]) -> str:
    if kind == "choice":
        return f"-f -a {_fish_quote(shell_words(choices))}"
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
        return f"printf '%s\\n' {shell_words(choices)}"
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
        valued = [f for o in valued_options(cmd) for f in o.flags]
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
        for index, arg in positional_patterns(cmd):
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
    printf '%s\\n' {shell_words(formats)}
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
