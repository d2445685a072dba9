"""Per-folder settings: a ``.stepfun-asr.toml`` in a watched folder, or in any folder between
it and the watch root, sets language, model, hotwords, glossary, output formats, out dir and
speaker labels for the recordings there (a file transcribed by hand, outside a watch, takes
its own folder's file). The nearest file wins, setting by setting, over the global settings.

    # meetings/shanghai/.stepfun-asr.toml
    language = "zh"
    hotwords = ["阶跃星辰", "StepFun"]
    formats = ["txt", "srt"]
    out_dir = "../transcripts"     # relative to this folder
    speakers = "auto"              # off | auto | a count | a range such as 2-4

A broken file (bad TOML, an unknown or invalid setting) raises FolderSettingsError naming its
folder, so only the recordings under it fail; every other folder keeps running.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui import config, locations
from tui.config import ConfigError, Settings
from tui.errors import AsrError, ErrorKind

FOLDER_FILE = ".stepfun-asr.toml"
FOLDER_KEYS = ("language", "model", "hotwords", "glossary", "formats", "out_dir", "speakers")


class FolderSettingsError(AsrError):
    """A folder's settings file cannot be used; ``reason`` is one sentence naming the file."""

    def __init__(self, folder: Path, reason: str) -> None:
        super().__init__(ErrorKind.LOCAL, reason, retryable=False)
        self.folder = folder
        self.reason = reason


@dataclass(frozen=True)
class Origin:
    """Where one effective setting came from: a folder's file, or a global ``source``
    ("default", "config file", an environment variable)."""

    source: str
    folder_file: Path | None = None

    @property
    def folder(self) -> Path | None:
        return self.folder_file.parent if self.folder_file else None

    def __str__(self) -> str:
        return str(self.folder_file) if self.folder_file else self.source


GLOBAL = Origin("settings")


def folder_files(path: Path, root: Path | None = None) -> list[Path]:
    """The folder files that apply to ``path`` (a recording or a folder), outermost first:
    from ``root`` down to the path's folder (only its own folder without a root it is under)."""
    folder = path if path.is_dir() else path.parent
    folder = Path(os.path.abspath(folder))
    chain = [folder]
    if root is not None:
        top = Path(os.path.abspath(root))
        if folder == top or top in folder.parents:
            chain = [folder, *(p for p in folder.parents if p == top or top in p.parents)]
    return [d / FOLDER_FILE for d in reversed(chain) if (d / FOLDER_FILE).is_file()]


def read_folder_file(file: Path) -> dict[str, Any]:
    """The settings in one folder file, checked and with out_dir made absolute."""
    folder = file.parent
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FolderSettingsError(folder, f"{file} is not valid TOML ({exc}).") from None
    except OSError as exc:
        raise FolderSettingsError(folder, f"Cannot read {file}: {exc.strerror or exc}.") from None
    if "api_key" in raw:
        raise FolderSettingsError(
            folder,
            f"{file} holds an API key; keys belong in `stepfun-asr config set-key`, not in "
            "a folder.",
        )
    unknown = sorted(set(raw) - set(FOLDER_KEYS))
    if unknown:
        raise FolderSettingsError(
            folder,
            f"{file} sets {', '.join(unknown)}, which a folder cannot set "
            f"(it can set {', '.join(FOLDER_KEYS)}).",
        )
    probe = Settings()
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "glossary":
            out[name] = _glossary(file, value)
            continue
        try:
            config.apply(probe, name, value)
        except ConfigError as exc:
            raise FolderSettingsError(folder, f"{file}: {exc}") from None
        out[name] = getattr(probe, name)
    if out.get("out_dir"):
        out["out_dir"] = str(Path(os.path.abspath(folder / Path(out["out_dir"]).expanduser())))
    return out


def write_folder_setting(folder: Path, name: str, value: str) -> Path:
    """Set one setting in ``folder``'s file (created if missing), keeping everything else it
    holds, comments and order included; returns the file. FolderSettingsError names the file
    when the value is invalid or the file cannot be read, parsed or written (nothing changes)."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    from tui.fsutil import atomic_write_text

    if name not in FOLDER_KEYS or name == "glossary":
        raise ValueError(f"a folder file cannot set {name} this way")
    file = folder / FOLDER_FILE
    try:
        config.apply(Settings(), name, value)
    except ConfigError as exc:
        raise FolderSettingsError(folder, f"{file}: {exc}") from None
    try:
        text = file.read_text(encoding="utf-8")
        mode = file.stat().st_mode & 0o777
    except FileNotFoundError:
        text, mode = "", 0o644
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise FolderSettingsError(folder, f"Cannot read {file}: {reason}.") from None
    try:
        doc = tomlkit.parse(text)
    except (TOMLKitError, ValueError) as exc:
        raise FolderSettingsError(folder, f"{file} is not valid TOML ({exc}).") from None
    doc[name] = value
    if not folder.is_dir():
        raise FolderSettingsError(folder, f"Cannot write {file}: the folder is gone.")
    try:
        atomic_write_text(file, tomlkit.dumps(doc), mode=mode)
    except OSError as exc:
        raise FolderSettingsError(folder, f"Cannot write {file}: {exc.strerror or exc}.") from None
    return file


def _glossary(file: Path, value: Any) -> list[str]:
    # Passed through as given, for the glossary work to use.
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FolderSettingsError(
            file.parent, f'{file}: glossary must be a list of strings, e.g. ["StepFun"].'
        )
    return list(value)


def effective_settings(
    settings: Settings, path: Path, root: Path | None = None
) -> tuple[Settings, dict[str, Origin]]:
    """The settings for ``path`` under the watch ``root``, and where each folder-settable one
    came from (GLOBAL unless a folder file set it). Raises FolderSettingsError."""
    values: dict[str, Any] = {}
    sources: dict[str, Origin] = dict.fromkeys(FOLDER_KEYS, GLOBAL)
    for file in folder_files(path, root):
        for name, value in read_folder_file(file).items():
            values[name] = value
            sources[name] = Origin("folder", file)
    return dataclasses.replace(settings, **values), sources


def global_sources(env: dict[str, str] | None = None) -> dict[str, Origin]:
    """Where each global setting comes from: the config file, the environment or the default."""
    env = dict(os.environ) if env is None else env
    path = locations.config_file()
    try:
        in_file = set(config.read_file(path))
    except ConfigError:
        in_file = set()
    names = [f.name for f in dataclasses.fields(Settings)]
    out = {
        name: Origin(f"config file {path}") if name in in_file else Origin("default")
        for name in names
    }
    for name, var in (
        ("region", "STEPFUN_REGION"),
        ("base_url", "STEPFUN_BASE_URL"),
        ("api_key", "STEPFUN_API_KEY"),
    ):
        if env.get(var):
            out[name] = Origin(f"environment {var}")
    return out
