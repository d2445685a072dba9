"""The config file as the user wrote it: edits keep their comments and layout, values are
escaped, a symlinked file is written through, and a broken file never locks anyone out.

The CLI runs as a real child process (`python -m tui`), on real files."""

from __future__ import annotations

import os
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import PYTHON, subprocess_env
from tui import config
from tui.config import ConfigError
from tui.config_file import BROKEN_MARK

HAND_WRITTEN = """\
# My StepFun settings -- written by hand, keep my notes!

region = "cn"   # mainland account

# Talks to the local emulator while I test.
base_url = "http://127.0.0.1:8765/v1"

hotwords = [
    "Kubernetes",  # k8s
    "gRPC",
]
concurrency   = 2    # aligned on purpose


quiet_period_s = 2.5

[prices]
# what my contract says
"stepaudio-2.5-asr" = [0.15, "CNY"]
"""


def cli(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=subprocess_env(**env),
        timeout=60,
        check=False,
    )


def config_path() -> Path:
    path = Path(os.environ["STEPFUN_ASR_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_config_set_keeps_comments_order_and_blank_lines() -> None:
    path = config_path()
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    done = cli("config", "set", "concurrency", "4")
    assert done.returncode == 0, done.stderr
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN.replace(
        "concurrency   = 2 ", "concurrency   = 4 "
    )
    # A new setting goes with the other top-level ones, before the first [table].
    assert cli("config", "set", "itn", "off").returncode == 0
    text = path.read_text(encoding="utf-8")
    assert text == HAND_WRITTEN.replace("concurrency   = 2 ", "concurrency   = 4 ").replace(
        "quiet_period_s = 2.5\n", "quiet_period_s = 2.5\nitn = false\n"
    )
    assert _mode(path) == 0o600
    loaded = config.load()
    assert (loaded.concurrency, loaded.itn, loaded.hotwords) == (4, False, ["Kubernetes", "gRPC"])
    assert loaded.prices == {"stepaudio-2.5-asr": [0.15, "CNY"]}
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_the_key_is_added_without_disturbing_the_rest(fake_key: str) -> None:
    path = config_path()
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    done = cli("config", "set-key", stdin=fake_key + "\n")
    assert done.returncode == 0, done.stderr
    text = path.read_text(encoding="utf-8")
    assert text.startswith(HAND_WRITTEN.split("[prices]")[0].rstrip("\n"))
    assert text.endswith('[prices]\n# what my contract says\n"stepaudio-2.5-asr" = [0.15, "CNY"]\n')
    assert config.load(env={}).api_key.reveal() == fake_key  # type: ignore[union-attr]
    assert fake_key not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "words",
    [
        ["ctrl\x01a", "del\x7fete", "tab\there"],
        ['quote " inside', "back\\slash", "ends with \\"],
        ['"]\nregion = "intl"\n[x]\n', "line\rbreak", "\u2028sep\u2029", "emoji 🎙️", "汉字"],
    ],
)
def test_any_text_in_hotwords_round_trips_and_cannot_corrupt_the_file(words: list[str]) -> None:
    path = config_path()
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    config.edit({"hotwords": words})
    text = path.read_text(encoding="utf-8")
    stored = [w.strip() for w in words]  # surrounding blanks are never meant
    assert tomllib.loads(text)["hotwords"] == stored  # a strict second reader agrees
    assert config.load().hotwords == stored
    loaded = config.load()
    assert loaded.region == "cn" and loaded.concurrency == 2  # nothing injected, nothing lost
    assert text.count("\n") == HAND_WRITTEN.count("\n") - 3  # the list now takes one line


def test_a_control_character_from_the_command_line_round_trips() -> None:
    done = cli("config", "set", "hotwords", "alpha\x01beta,\x7fgamma")
    assert done.returncode == 0, done.stderr
    assert config.load().hotwords == ["alpha\x01beta", "\x7fgamma"]
    assert "\x01" not in config_path().read_text(encoding="utf-8")  # escaped, not raw


def test_a_symlinked_config_is_written_through(tmp_path: Path, fake_key: str) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "stepfun.toml"
    target.write_text(HAND_WRITTEN, encoding="utf-8")
    link = config_path()
    link.symlink_to(target)
    assert cli("config", "set", "concurrency", "5").returncode == 0
    assert cli("config", "set-key", stdin=fake_key + "\n").returncode == 0
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert config.load().concurrency == 5 and config.load(env={}).api_key is not None
    assert "keep my notes" in target.read_text(encoding="utf-8")
    assert _mode(target) == 0o600
    assert sorted(p.name for p in dotfiles.iterdir()) == ["stepfun.toml"]
    assert [p.name for p in link.parent.iterdir()] == [link.name]


BROKEN = """\
# hand-written
region = "intl"
concurrency =
hotwords = ["a", "b"]
"""


def test_a_broken_file_is_named_with_its_line_and_other_commands_exit_2() -> None:
    config_path().write_text(BROKEN, encoding="utf-8")
    for args in (("config", "show"), ("transcribe", "x.wav"), ("watch", ".")):
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and str(config_path()) in lines[0]
        assert "line 3, column 14" in lines[0]
    # `config path` still answers (exit 0) and says what is wrong.
    shown = cli("config", "path")
    assert shown.returncode == 0 and str(config_path()) in shown.stdout
    assert "line 3" in shown.stderr


def test_a_broken_file_is_repaired_by_config_set() -> None:
    path = config_path()
    path.write_text(BROKEN, encoding="utf-8")
    done = cli("config", "set", "concurrency", "3")
    assert done.returncode == 0, done.stderr
    assert "line 3, column 14" in done.stdout and "commented out (line 3)" in done.stdout
    loaded = config.load()
    assert (loaded.region, loaded.concurrency, loaded.hotwords) == ("intl", 3, ["a", "b"])
    text = path.read_text(encoding="utf-8")
    assert text.startswith('# hand-written\nregion = "intl"\n' + BROKEN_MARK + "concurrency =\n")
    backups = list(path.parent.glob("config.toml.broken-*"))
    assert len(backups) == 1 and backups[0].read_text(encoding="utf-8") == BROKEN
    assert _mode(backups[0]) == 0o600 and _mode(path) == 0o600
    assert cli("config", "show").returncode == 0


def test_a_broken_file_is_repaired_by_set_key_from_stdin(fake_key: str) -> None:
    path = config_path()
    path.write_bytes(b'region = "intl"\nmodel = "caf\xe9"\n[prices\n')
    done = cli("config", "set-key", stdin=fake_key + "\n")
    assert done.returncode == 0, done.stderr
    assert "not UTF-8 text" in done.stdout and "line 2" in done.stdout
    loaded = config.load(env={})
    assert loaded.region == "intl" and loaded.api_key.reveal() == fake_key  # type: ignore[union-attr]
    assert loaded.model == config.DEFAULT_MODEL  # the unreadable line is out, not half-kept
    assert fake_key not in done.stdout + done.stderr


def test_an_unterminated_string_or_array_is_taken_out_whole() -> None:
    path = config_path()
    path.write_text('region = "intl"\nhotwords = ["a",\n  "b"\n\n# end\n', encoding="utf-8")
    saved = config.edit({"language": "en"})
    assert saved.repair is not None and saved.repair.backup is not None
    loaded = config.load()
    assert (loaded.region, loaded.language, loaded.hotwords) == ("intl", "en", [])
    assert "# end" in path.read_text(encoding="utf-8")


def test_a_bad_value_elsewhere_does_not_block_a_fix_and_is_reported() -> None:
    path = config_path()
    path.write_text("quiet_period_s = -5\nconcurrency = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="quiet_period_s"):
        config.load()
    done = cli("config", "set", "concurrency", "2")
    assert done.returncode == 0 and "quiet_period_s" in done.stdout  # still wrong: said so
    assert cli("config", "set", "quiet_period_s", "0").returncode == 0
    assert config.load().quiet_period_s == 0.0


def test_an_unknown_setting_in_the_file_can_be_unset() -> None:
    path = config_path()
    path.write_text('# mine\ncolour = "red"\nregion = "intl"\n', encoding="utf-8")
    done = cli("config", "show")
    assert done.returncode == 2 and "config unset colour" in done.stderr
    assert cli("config", "unset", "colour").returncode == 0
    assert path.read_text(encoding="utf-8") == '# mine\nregion = "intl"\n'
    assert cli("config", "unset", "colour").returncode == 2  # not there any more: said so


def test_setting_the_region_drops_a_stored_base_url() -> None:
    path = config_path()
    path.write_text(HAND_WRITTEN, encoding="utf-8")
    assert config.load().resolved_base_url == "http://127.0.0.1:8765/v1"
    done = cli("config", "set", "region", "intl")
    assert done.returncode == 0, done.stderr
    assert "base_url (http://127.0.0.1:8765/v1) was removed" in done.stdout
    assert "base_url" not in tomllib.loads(path.read_text(encoding="utf-8"))
    assert config.load().resolved_base_url == config.REGIONS["intl"]  # survives a restart
    assert "# mainland account" in path.read_text(encoding="utf-8")
    # Other settings leave a base_url alone.
    config.edit({"base_url": "http://127.0.0.1:9/v1"})
    config.edit({"concurrency": 3})
    assert config.load().resolved_base_url == "http://127.0.0.1:9/v1"
    # An empty value unsets it.
    assert cli("config", "set", "base_url", "").returncode == 0
    assert config.load().resolved_base_url == config.REGIONS["intl"]


async def test_a_region_change_on_the_settings_screen_survives_a_restart(tmp_path: Path) -> None:
    """The settings screen writes only what changed: a new region drops the stored base_url
    (else it would win again on the next start); saving other settings leaves it alone."""
    from textual.widgets import Input, Select

    from tui.app.app import make_app
    from tui.app.screens.settings_screen import SettingsScreen
    from tui.app.testing import screen_text, wait_until
    from tui.stepfun.emulator import Emulator

    cfg = tmp_path / "config.toml"
    with Emulator() as emu:
        cfg.write_text(
            f'# mine\nregion = "cn"\nbase_url = "{emu.base_url}"  # the emulator\n'
            f'api_key = "{emu.demo_key}"\n',
            encoding="utf-8",
        )
        app = make_app(
            config.load(cfg, env={}), tmp_path, db_path=tmp_path / "j.sqlite3", config_path=cfg
        )
        async with app.run_test(size=(120, 40), notifications=True) as pilot:

            async def save(change: str) -> None:
                await pilot.press("s")
                await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
                if change == "hotwords":
                    hot = app.screen.query_one("#set-hotwords", Input)
                    hot.focus()
                    await pilot.press(*"gRPC")
                else:
                    app.screen.query_one("#set-region", Select).value = change
                await pilot.press("ctrl+s")
                await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen))

            await save("hotwords")
            assert config.load(cfg, env={}).base_url == emu.base_url  # region untouched
            await save("intl")
            await wait_until(pilot, lambda: "was removed" in screen_text(app), what="the note")
    text = cfg.read_text(encoding="utf-8")
    assert "base_url" not in tomllib.loads(text) and text.startswith("# mine\n")
    after = config.load(cfg, env={})
    assert after.resolved_base_url == config.REGIONS["intl"] and after.hotwords == ["gRPC"]
