"""Where the app keeps its files (platformdirs; XDG variables are honoured on Linux)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from tui import APP_NAME


def config_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def config_file() -> Path:
    # An explicit override keeps tests and multi-profile users away from the real file.
    override = os.environ.get("STEPFUN_ASR_CONFIG")
    return Path(override) if override else config_dir() / "config.toml"


def data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def default_db_path() -> Path:
    # macOS shares config/data dirs, so file names stay distinct.
    return data_dir() / "jobs.sqlite3"


def cache_dir() -> Path:
    return platformdirs.user_cache_path(APP_NAME, appauthor=False)


def log_dir() -> Path:
    # ~/.local/state/stepfun-asr/log on Linux (XDG_STATE_HOME honoured), ~/Library/Logs on macOS.
    return platformdirs.user_log_path(APP_NAME, appauthor=False)


def log_file() -> Path:
    return log_dir() / "stepfun-asr.log"
