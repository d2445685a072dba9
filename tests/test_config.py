"""Settings, key resolution and the `config` command, on real files."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, subprocess_env
from tui import config, config_values, locations
from tui.config import ConfigError, Settings


def test_key_from_env_beats_file(fake_key):
    config.save_key("test-from-file")
    assert config.load().api_key.reveal() == "test-from-file"
    assert config.load(env={"STEPFUN_API_KEY": fake_key}).api_key.reveal() == fake_key


def test_missing_key_says_how_to_set_it():
    with pytest.raises(ConfigError, match="config set-key"):
        config.load().require_key()


def test_set_key_writes_0600_atomically(fake_key):
    os.umask(0o022)
    path = config.save_key(fake_key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not config.insecure_mode(path)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    # Other settings survive a key change and vice versa.
    config.save_values({"region": "intl"})
    config.save_key(fake_key + "x")
    loaded = config.load()
    assert loaded.region == "intl" and loaded.api_key.reveal() == fake_key + "x"


def test_settings_repr_and_public_dict_never_show_the_key(fake_key):
    settings = config.load(env={"STEPFUN_API_KEY": fake_key})
    assert fake_key not in repr(settings) and fake_key not in str(settings.public_dict())
    assert fake_key not in repr(settings.api_key)


@pytest.mark.parametrize(("region", "url"), sorted(config.REGIONS.items()))
def test_regions_map_to_documented_base_urls(region, url):
    settings = Settings(region=region)
    assert settings.resolved_base_url == url


@pytest.mark.parametrize(
    "url", ["http://api.stepfun.com/v1", "http://10.0.0.5/v1", "ftp://127.0.0.1/v1"]
)
def test_plain_http_only_for_loopback(url):
    with pytest.raises(ConfigError):
        config.validate_base_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8765/v1",
        "http://[::1]:9/v1",
        "http://localhost/v1/",
        "https://example.org/v1",
    ],
)
def test_loopback_http_and_any_https_are_fine(url):
    assert config.validate_base_url(url) == url.rstrip("/")


def test_env_base_url_and_bad_values(monkeypatch):
    monkeypatch.setenv("STEPFUN_BASE_URL", "http://127.0.0.1:1/v1")
    assert config.load().resolved_base_url == "http://127.0.0.1:1/v1"
    with pytest.raises(ConfigError, match="Region"):
        config.save_values({"region": "mars"})
    with pytest.raises(ConfigError, match="Unknown setting"):
        config.save_values({"colour": "red"})


def test_config_file_in_xdg_config_home(monkeypatch, tmp_path):
    monkeypatch.delenv("STEPFUN_ASR_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert locations.config_file() == tmp_path / "xdg" / "stepfun-asr" / "config.toml"


def _cli(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=subprocess_env(**env),
        timeout=60,
        check=False,
    )


def test_config_commands_end_to_end(fake_key):
    done = _cli("config", "set-key", stdin=fake_key + "\n")
    assert done.returncode == 0, done.stderr
    path = Path(os.environ["STEPFUN_ASR_CONFIG"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shown = _cli("config", "show")
    assert shown.returncode == 0
    assert fake_key not in shown.stdout + shown.stderr
    assert fake_key[-4:] in shown.stdout  # masked form, recognisable
    assert _cli("config", "set", "region", "cn-plan").returncode == 0
    assert "step_plan" in _cli("config", "show").stdout
    assert _cli("config", "set", "region", "moon").returncode == 2
    assert str(path) in _cli("config", "path").stdout


def test_price_overrides_are_validated_when_loaded():
    path = config.save_values({"prices": {"stepaudio-2.5-asr": [0.2, "CNY"]}})
    assert config.load().prices == {"stepaudio-2.5-asr": [0.2, "CNY"]}
    path.write_text('[prices]\n"stepaudio-2.5-asr" = ["cheap", "EUR"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"stepaudio-2\.5-asr"):
        config.load()


def test_settings_the_engine_cannot_run_with_are_refused_when_loaded():
    """A bad value fails as a setting (exit 2, says which), not later inside the watch daemon
    or the workbench (a traceback, or a crash on `w`)."""
    with pytest.raises(ConfigError, match="concurrency"):
        config.save_values({"concurrency": 0})
    with pytest.raises(ConfigError, match="'foo'"):
        config.save_values({"formats": "txt,foo"})
    path = config.save_values({"formats": "TXT, srt"})
    assert config.load().formats == ["txt", "srt"]
    path.write_text("concurrency = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="concurrency"):
        config.load()
    path.write_text('formats = ["txt", "docx"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="docx"):
        config.load()
    done = _cli("config", "set", "concurrency", "0")
    assert done.returncode == 2 and "concurrency" in done.stderr


BAD_VALUES = [
    ("itn", "maybe", "itn must be true or false"),
    ("timestamps", "2", "timestamps must be true or false"),
    ("compress", "", "compress must be true or false"),
    ("concurrency", "0", r"concurrency \(files transcribed at once\) .* from 1 to 16"),
    ("concurrency", "17", "from 1 to 16"),
    ("concurrency", "2.5", "whole number"),
    ("concurrency", "two", "whole number"),
    ("requests_per_minute", "-1", "0 or more"),
    ("quiet_period_s", "-5", r"quiet_period_s .* 0 or more, not '-5'"),
    ("quiet_period_s", "nan", "quiet_period_s"),
    ("quiet_period_s", "inf", "quiet_period_s"),
    ("chunk_minutes", "31", "from 0.25 to 30"),
    ("chunk_minutes", "0.1", "from 0.25 to 30"),
    ("chunk_parallelism", "0", "chunk_parallelism"),
    ("compress_threshold_mb", "-1", "compress_threshold_mb"),
    ("language", "fr", r"language must be one of zh \(Chinese\), en .* or auto"),
    ("language", "zh-CN", "language must be one of"),
    ("region", "mars", "Region must be one of cn, cn-plan, intl, intl-plan"),
    ("formats", "txt,docx", "docx"),
    ("existing_policy", "delete", "skip, overwrite or suffix"),
    ("model", "", "model must be a model name"),
    ("model", "stepaudio 2", "model must be a model name"),
    ("base_url", "http://10.0.0.5/v1", "plain http"),
    ("prices", "0.2", r"must be a table"),
    ("keymap", "retry=R", r"must be a table"),
]


@pytest.mark.parametrize(("name", "value", "match"), BAD_VALUES)
def test_each_setting_is_checked_when_set(name: str, value: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        config.save_values({name: value})
    assert not locations.config_file().exists()  # refused before the file was touched


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("itn = 2", "itn must be true or false"),
        ('itn = "maybe"', "itn must be true or false"),
        ("concurrency = true", "concurrency"),
        ("concurrency = 2.5", "whole number"),
        ("quiet_period_s = -5", "quiet_period_s"),
        ("quiet_period_s = nan", "quiet_period_s"),
        ("chunk_minutes = 45", "chunk_minutes"),
        ('language = "fr"', "language"),
        ("hotwords = [1, 2]", "hotwords entry must be text"),
        ("model = 5", "model must be text"),
        ("keymap = { retry = 5 }", "keymap entry 'retry'"),
        ('api_key = "two words"', "does not look like an API key"),
        ("[prices]\nquiet_period_s = 3", r"inside the \[prices\] table"),
        ("concurency = 3", "did you mean concurrency"),
    ],
)
def test_each_setting_is_checked_when_loaded(line: str, match: str) -> None:
    path = locations.config_file()
    path.parent.mkdir(parents=True)
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as caught:
        config.load()
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *((w, True) for w in config_values.TRUE_WORDS),
        *((w, False) for w in config_values.FALSE_WORDS),
        ("YES", True),
        (" Off ", False),
        (True, True),
        (0, False),
    ],
)
def test_booleans_take_the_usual_words_only(value: object, expected: bool) -> None:
    settings = Settings()
    config.apply(settings, "cross_check_auto", value)
    assert settings.cross_check_auto is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("auto", None),
        ("", None),
        ("ZH", "zh"),
        ("en", "en"),
        ("ja", "ja"),
        ("ko", "ko"),
        ("yue", "yue"),
    ],
)
def test_languages_come_from_the_known_list(value: str, expected: str | None) -> None:
    config.save_values({"language": "en"})
    path = config.save_values({"language": value})
    assert config.load().language == expected
    assert ("language" in path.read_text(encoding="utf-8")) == (expected is not None)


def test_unknown_settings_name_the_close_matches() -> None:
    with pytest.raises(
        ConfigError, match=r"'concurency'; did you mean concurrency( or hook_concurrency)?\?"
    ):
        config.save_values({"concurency": 3})
    with pytest.raises(ConfigError, match="did you mean quiet_period_s"):
        config.save_values({"quiet": 3})
    with pytest.raises(ConfigError, match="the settings are region, base_url, model"):
        config.save_values({"colour": "red"})


def test_the_chunk_ceiling_matches_the_splitter() -> None:
    from tui.audio.split import HARD_CEILING_MIN

    assert config_values.CHUNK_MINUTES_MAX == HARD_CEILING_MIN


def test_bad_settings_exit_2_with_a_sentence_from_every_command(tmp_path: Path) -> None:
    done = _cli("config", "set", "quiet_period_s", "-5")
    assert done.returncode == 2 and "quiet_period_s" in done.stderr
    path = Path(os.environ["STEPFUN_ASR_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("quiet_period_s = -5\n", encoding="utf-8")
    for args in (("watch", str(tmp_path)), ("transcribe", "x.wav"), ("config", "show")):
        done = _cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert str(path) in done.stderr and "quiet_period_s" in done.stderr
    path.write_text("", encoding="utf-8")
    done = _cli("transcribe", "--language", "fr", "x.wav", STEPFUN_API_KEY="test-k")
    assert done.returncode == 2 and "--language: language must be one of" in done.stderr
