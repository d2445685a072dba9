"""`stepfun-asr search` as a user runs it: a real process over a real job database."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, subprocess_env
from tests.test_store_search import finished
from tui.store.store import Store


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "tui", "search", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.sqlite3"
    with Store(path) as store:
        finished(store, tmp_path / "team" / "周会.m4a", "今天讨论预算。下周的会议改到周三。")
        finished(store, tmp_path / "calls" / "client.wav", "The budget is fine. Call me later.")
    return path


def test_json_lists_each_hit(db: Path, tmp_path: Path) -> None:
    done = run_cli("--db", str(db), "--json", "会议")
    assert done.returncode == 0, done.stderr
    hits = json.loads(done.stdout)
    assert len(hits) == 1
    hit = hits[0]
    assert set(hit) >= {"job_id", "file", "start_ms", "end_ms", "snippet"}
    assert hit["file"] == str(tmp_path / "team" / "周会.m4a")
    assert hit["snippet"] == "下周的«会议»改到周三。"
    assert hit["start_ms"] == 7 * 250 and hit["end_ms"] > hit["start_ms"]


def test_folder_filter_and_prefix(db: Path, tmp_path: Path) -> None:
    done = run_cli("--db", str(db), "--json", "--folder", str(tmp_path / "calls"), "budg*")
    assert done.returncode == 0, done.stderr
    assert [h["snippet"] for h in json.loads(done.stdout)] == ["The «budget» is fine."]
    done = run_cli("--db", str(db), "--json", "--folder", str(tmp_path / "team"), "budget")
    assert json.loads(done.stdout) == []


def test_no_match_is_an_empty_list_and_exit_0(db: Path) -> None:
    done = run_cli("--db", str(db), "--json", "--state", "failed", "budget")
    assert (done.returncode, json.loads(done.stdout)) == (0, [])
    done = run_cli("--db", str(db), "kangaroo")
    assert (done.returncode, done.stdout.strip()) == (0, "no matches")


def test_human_output_names_file_and_time(db: Path) -> None:
    done = run_cli("--db", str(db), "budget")
    assert done.returncode == 0, done.stderr
    assert "client.wav @ 0:00:00" in done.stdout
    assert "The «budget» is fine." in done.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (['"budget'], "no closing quote"),
        (["--since", "last tuesday", "budget"], "YYYY-MM-DD"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_2(db: Path, args: list[str], says: str) -> None:
    done = run_cli("--db", str(db), *args)
    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_since_filters_by_date(db: Path) -> None:
    assert (
        json.loads(run_cli("--db", str(db), "--json", "--since", "2999-01-01", "budget").stdout)
        == []
    )
    assert (
        len(
            json.loads(run_cli("--db", str(db), "--json", "--since", "2000-01-01", "budget").stdout)
        )
        == 1
    )
