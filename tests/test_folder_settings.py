"""Per-folder settings: real folder files, the real runner against the loopback emulator, and
`config show --for` as a user runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTHON, subprocess_env
from tui.config import Settings
from tui.engine.engine import Engine
from tui.folder_settings import FOLDER_FILE, GLOBAL, FolderSettingsError, effective_settings
from tui.secrets import Secret
from tui.store.records import JobOptions, JobState
from tui.store.store import Store
from tui.transcript.exports import ExportSpec


def folder_file(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FOLDER_FILE).write_text(text, encoding="utf-8")
    return folder / FOLDER_FILE


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "watched"
    folder_file(root, 'language = "en"\nformats = ["txt", "srt"]\nmodel = "m-root"\n')
    folder_file(
        root / "china" / "shanghai",
        'language = "zh"\nhotwords = ["阶跃星辰"]\nglossary = ["StepFun"]\nout_dir = "../out"\n',
    )
    (root / "china" / "shanghai" / "a.wav").write_bytes(b"")
    return root


def test_nearest_folder_file_wins_setting_by_setting(tree: Path) -> None:
    base = Settings(language=None, hotwords=["global"], model="m-global")
    target = tree / "china" / "shanghai" / "a.wav"
    settings, sources = effective_settings(base, target, tree)
    assert settings.language == "zh"
    assert settings.hotwords == ["阶跃星辰"]
    assert settings.glossary == ["StepFun"]
    assert settings.model == "m-root"  # from the root's file, not overridden below
    assert settings.formats == ["txt", "srt"]
    assert settings.out_dir == str(tree / "china" / "out")  # relative to its own folder
    assert sources["language"].folder_file == tree / "china" / "shanghai" / FOLDER_FILE
    assert sources["model"].folder_file == tree / FOLDER_FILE
    assert base.language is None and base.model == "m-global"  # the global ones untouched
    # Outside the watch root, only the file's own folder counts.
    _, sources = effective_settings(base, tree / "china" / "b.wav", tree / "elsewhere")
    assert all(origin is GLOBAL for origin in sources.values())
    # Without a folder file anywhere: the global settings, as they are.
    settings, sources = effective_settings(base, tree.parent / "x.wav", tree.parent)
    assert settings == base and set(sources.values()) == {GLOBAL}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("language = ", "not valid TOML"),
        ('region = "intl"', "which a folder cannot set"),
        ('api_key = "sk-1"', "holds an API key"),
        ('formats = ["docx"]', "formats"),
        ("glossary = 3", "glossary must be a list"),
    ],
)
def test_broken_folder_file_names_its_folder(tmp_path: Path, text: str, says: str) -> None:
    bad = tmp_path / "bad"
    file = folder_file(bad, text)
    with pytest.raises(FolderSettingsError) as info:
        effective_settings(Settings(), bad / "a.wav", tmp_path)
    assert info.value.folder == bad
    assert says in info.value.reason and str(file) in info.value.reason
    assert "\n" not in info.value.reason and "sk-1" not in info.value.reason


async def test_per_folder_language_reaches_the_request(tmp_path: Path, emu: Any) -> None:
    from tui.stepfun.emulator import write_directive_wav

    root = tmp_path / "watched"
    folder_file(root / "zh", 'language = "zh"\nhotwords = ["阶跃星辰"]\nformats = ["srt"]\n')
    folder_file(root / "broken", "language = [")
    plain = write_directive_wav(root / "plain.wav", 1.5, text="Plain words.")
    chinese = write_directive_wav(root / "zh" / "talk.wav", 1.5, text="Some words.")
    broken = write_directive_wav(root / "broken" / "x.wav", 1.5, text="Never sent.")
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key), language="en")
    store = Store(tmp_path / "jobs.sqlite3")
    runner = Engine(settings, store=store, concurrency=1, requests_per_minute=0).runner
    export = JobOptions(export=ExportSpec(formats=("txt",), root=str(root)))
    jobs = [
        runner.enqueue(p, export, "watch", watch_id=str(root)) for p in (plain, chinese, broken)
    ]
    await runner.drain()

    sse = [r for r in emu.requests if r.endpoint == "sse"]
    assert [(r.language, r.hotwords or []) for r in sse] == [("en", []), ("zh", ["阶跃星辰"])]
    # The folder's formats replaced the watch's: srt only for the file under zh/.
    assert (root / "plain.txt").exists() and not (root / "plain.srt").exists()
    assert (root / "zh" / "talk.srt").exists() and not (root / "zh" / "talk.txt").exists()
    # The broken folder's file failed, saying which file; nothing was sent for it.
    failed = store.require_job(jobs[2].id)
    assert failed.state is JobState.FAILED
    assert str(root / "broken" / FOLDER_FILE) in (failed.error_message or "")
    assert store.require_job(jobs[0].id).state in (JobState.DONE, JobState.NEEDS_REVIEW)
    store.close()


def test_transcribe_honours_folder_files_unless_a_flag_says_otherwise(
    tmp_path: Path, emu: Any
) -> None:
    """`stepfun-asr transcribe` as a user runs it: the folder's language and hotwords reach
    the request; a flag given on the command line is this run's choice and wins."""
    from tests.test_cli_transcribe import run_cli
    from tui.stepfun.emulator import write_directive_wav

    folder_file(tmp_path / "zh", 'language = "zh"\nhotwords = ["阶跃星辰"]\n')
    wav = write_directive_wav(tmp_path / "zh" / "talk.wav", 1.5, text="Some words.")
    for flags in ((), ("--language", "en", "--hotwords", "StepFun")):
        done = run_cli(str(wav), *flags, emu=emu)
        assert done.returncode == 0, done.stderr
    sse = [r for r in emu.requests if r.endpoint == "sse"]
    assert [(r.language, r.hotwords or []) for r in sse] == [
        ("zh", ["阶跃星辰"]),
        ("en", ["StepFun"]),
    ]


def run_config(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "tui", "config", "show", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(**env),
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_config_show_for_prints_where_each_setting_came_from(tree: Path) -> None:
    target = tree / "china" / "shanghai" / "a.wav"
    done = run_config("--for", str(target), "--root", str(tree), "--json", cwd=tree)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["settings"]["language"] == "zh" and data["settings"]["model"] == "m-root"
    assert data["sources"]["language"] == str(tree / "china" / "shanghai" / FOLDER_FILE)
    assert data["sources"]["model"] == str(tree / FOLDER_FILE)
    assert data["sources"]["region"] == "default"
    assert data["sources"]["base_url"] == "environment STEPFUN_BASE_URL" or (
        data["sources"]["base_url"] == "default"
    )
    # The root defaults to the current directory; the table names each origin.
    done = run_config("--for", str(target), cwd=tree, STEPFUN_REGION="intl")
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert lines["language"].split()[1] == "zh"
    assert lines["language"].endswith(str(tree / "china" / "shanghai" / FOLDER_FILE))
    assert lines["region"].endswith("environment STEPFUN_REGION")


def test_config_show_for_a_broken_folder_says_so(tree: Path) -> None:
    folder_file(tree / "china", "formats = 7")
    done = run_config("--for", str(tree / "china" / "shanghai" / "a.wav"), cwd=tree)
    assert done.returncode == 2
    assert str(tree / "china" / FOLDER_FILE) in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
