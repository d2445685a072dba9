"""`stepfun-asr completion bash|zsh|fish`: scripts from the real parser, loaded by real shells."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, subprocess_env
from tui.cli import build_parser
from tui.commands.completion_model import describe


def script(shell: str, tmp_path: Path) -> Path:
    done = subprocess.run(
        [PYTHON, "-m", "tui", "completion", shell],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    path = tmp_path / f"completion.{shell}"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def bash_complete(path: Path, words: list[str], cwd: Path | None = None) -> list[str]:
    """COMPREPLY after sourcing the script and calling its function as bash would on <TAB>."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    code = (
        f"source '{path}'; COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; "
        "_stepfun_asr; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_the_model_sees_every_subcommand_and_flag_of_the_parser():
    root = describe(build_parser())
    names = {c.name for c in root.walk()}
    assert {"transcribe", "watch", "jobs", "show", "retry", "config set", "completion"} <= names
    watch = next(c for c in root.walk() if c.name == "watch")
    flags = {f for o in watch.options for f in o.flags}
    assert {"--policy", "--poll", "--formats", "-q", "--verbose", "--log-file"} <= flags


def test_bash_script_parses(tmp_path):
    done = subprocess.run(
        ["bash", "-n", str(script("bash", tmp_path))], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_bash_completes_commands_flags_and_choices(tmp_path):
    path = script("bash", tmp_path)
    assert bash_complete(path, ["stepfun-asr", "tr"]) == ["transcribe"]
    assert bash_complete(path, ["stepfun-asr", "watch", "--po"]) == ["--policy", "--poll"]
    assert bash_complete(path, ["stepfun-asr", "watch", "--policy", ""]) == [
        "skip",
        "overwrite",
        "suffix",
    ]
    regions = bash_complete(path, ["stepfun-asr", "transcribe", "--region", ""])
    assert regions == ["cn", "cn-plan", "intl", "intl-plan"]
    models = bash_complete(path, ["stepfun-asr", "transcribe", "--model", "stepaudio-3"])
    assert models == ["stepaudio-3-asr-max"]
    # A comma-separated list completes its last item and keeps the ones before.
    assert bash_complete(path, ["stepfun-asr", "transcribe", "-o", "txt,s"]) == ["txt,srt"]
    # Setting names for `config set`, after walking through the nested subcommand.
    settings = bash_complete(path, ["stepfun-asr", "-v", "config", "set", "reg"])
    assert settings == ["region"]
    # ... and the values each setting takes.
    assert bash_complete(path, ["stepfun-asr", "config", "set", "region", "intl"]) == [
        "intl",
        "intl-plan",
    ]
    assert bash_complete(path, ["stepfun-asr", "config", "set", "itn", ""]) == ["true", "false"]


def test_bash_completes_files_and_folders_where_the_parser_takes_them(tmp_path):
    path = script("bash", tmp_path)
    work = tmp_path / "work"
    (work / "recordings").mkdir(parents=True)
    (work / "talk.wav").write_bytes(b"RIFF")
    (work / "my talk.m4a").write_bytes(b"....ftyp")
    # transcribe takes files (the value of --out-dir is skipped, not counted as a file).
    got = bash_complete(path, ["stepfun-asr", "transcribe", "--out-dir", "x", "ta"], cwd=work)
    assert got == ["talk.wav"]
    assert bash_complete(path, ["stepfun-asr", "transcribe", "my"], cwd=work) == ["my talk.m4a"]
    assert bash_complete(path, ["stepfun-asr", "watch", "rec"], cwd=work) == ["recordings"]
    # The top level offers commands and folders (`stepfun-asr DIR` opens the workbench).
    assert bash_complete(path, ["stepfun-asr", "re"], cwd=work) == ["retry", "recordings"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_parses_and_offers_the_choices(tmp_path):
    path = script("zsh", tmp_path)
    done = subprocess.run(["zsh", "-n", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # Outside a completion widget zsh has no compadd/_describe: stand-ins print what the
    # script offers, while the word walking and choice tables run for real.
    code = (
        "compdef() { :; }\n"
        f"source '{path}'\n"
        'compadd() { shift $(( ${@[(i)--]} )); print -l -- "$@"; }\n'
        '_describe() { print -l -- "${(@)described%%:*}"; }\n'
        "_files() { print FILES $@; }\n"
        "words=(stepfun-asr watch --policy ''); CURRENT=4; PREFIX=''; _stepfun_asr\n"
        "print -- --\n"
        "words=(stepfun-asr config set ''); CURRENT=4; PREFIX=''; _stepfun_asr\n"
        "print -- --\n"
        "words=(stepfun-asr ''); CURRENT=2; PREFIX=''; _stepfun_asr\n"
        "print -- --\n"
        "words=(stepfun-asr config set region ''); CURRENT=5; PREFIX=''; _stepfun_asr\n"
    )
    done = subprocess.run(["zsh", "-f", "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    policy, settings, top, regions = done.stdout.split("--\n")
    assert regions.split() == ["cn", "cn-plan", "intl", "intl-plan"]
    assert policy.split() == ["skip", "overwrite", "suffix"]
    assert "region" in settings.split() and "api_key" not in settings.split()
    assert "transcribe" in top.split() and "FILES -/" in top


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_loads_and_completes(tmp_path):
    path = script("fish", tmp_path)
    done = subprocess.run(["fish", "--no-execute", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    def fish_complete(line: str) -> list[str]:
        done = subprocess.run(
            ["fish", "--no-config", "-c", f"source '{path}'; complete -C '{line}'"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return [row.split("\t")[0] for row in done.stdout.splitlines() if row]

    assert fish_complete("stepfun-asr watch --policy ") == ["overwrite", "skip", "suffix"]
    assert fish_complete("stepfun-asr tr") == ["transcribe"]
    assert fish_complete("stepfun-asr config set reg") == ["region"]
    assert "--region" in fish_complete("stepfun-asr transcribe --reg")
    assert fish_complete("stepfun-asr config set existing_policy s") == ["skip", "suffix"]
