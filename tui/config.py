"""Settings: the config file (TOML) plus environment overrides, and API-key resolution.

Resolution order for the key: ``STEPFUN_API_KEY``, then the config file. Nothing here ever
prints the key; ``Settings.api_key`` is a :class:`Secret`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tui import locations
from tui.fsutil import atomic_write_text
from tui.secrets import Secret, mask_key

REGIONS: dict[str, str] = {
    "cn": "https://api.stepfun.com/v1",
    "cn-plan": "https://api.stepfun.com/step_plan/v1",
    "intl": "https://api.stepfun.ai/v1",
    "intl-plan": "https://api.stepfun.ai/step_plan/v1",
}
DEFAULT_MODEL = "stepaudio-2.5-asr"
KEY_HELP = (
    "No StepFun API key found. Set one with `stepfun-asr config set-key` "
    "(or export STEPFUN_API_KEY=...). Get a pay-as-you-go key at platform.stepfun.com "
    "(region cn) / platform.stepfun.ai (region intl); a Step Plan key needs region "
    "cn-plan or intl-plan."
)


class ConfigError(Exception):
    """A setting is missing or invalid; the message says how to fix it (exit code 2)."""


@dataclass
class Settings:
    region: str = "cn"
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    language: str | None = None
    hotwords: list[str] = field(default_factory=list)
    itn: bool = True
    timestamps: bool = True
    # Audio pipeline.
    compress: bool = True
    compress_threshold_mb: float = 5.0
    chunk_minutes: float = 25.0
    chunk_parallelism: int = 2
    ffmpeg_path: str | None = None
    cross_check_auto: bool = False
    # Jobs and watching.
    concurrency: int = 2
    requests_per_minute: int = 10
    formats: list[str] = field(default_factory=lambda: ["txt"])
    out_dir: str | None = None
    existing_policy: str = "skip"
    skip_duplicate_content: bool = True
    quiet_period_s: float = 2.0
    hook_concurrency: int = 2  # on-done hooks running at once (the rest wait their turn)
    # Per-model price per audio hour, overriding the built-in table: {"model": [amount, "CNY"]}.
    prices: dict[str, Any] = field(default_factory=dict)
    keymap: dict[str, str] = field(default_factory=dict)
    api_key: Secret | None = field(default=None, repr=False)

    @property
    def resolved_base_url(self) -> str:
        url = self.base_url or REGIONS[self.region]
        return validate_base_url(url)

    def require_key(self) -> str:
        if not self.api_key:
            raise ConfigError(KEY_HELP)
        return self.api_key.reveal()

    def public_dict(self) -> dict[str, Any]:
        """Everything but the key, which appears only masked."""
        data = dataclasses.asdict(self)
        data.pop("api_key", None)
        data["api_key"] = mask_key(self.api_key.reveal() if self.api_key else None)
        return data


def validate_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Base URL {url!r} is not an http(s) URL.")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"Base URL {url!r} uses plain http; that is allowed only for loopback hosts "
            "(127.0.0.1, ::1, localhost). Use https."
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "api_key"}


def _coerce(name: str, value: Any) -> Any:
    default = Settings().__getattribute__(name)
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, list):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return [str(v) for v in value]
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"Setting {name!r} must be a table.")
        return dict(value)
    return None if value in (None, "") else str(value)


def apply(settings: Settings, name: str, value: Any) -> None:
    """Set one setting by name with type coercion and validation."""
    if name not in _FIELDS:
        raise ConfigError(f"Unknown setting {name!r}. Known: {', '.join(sorted(_FIELDS))}.")
    try:
        coerced = _coerce(name, value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Setting {name!r}: {exc}") from None
    if name == "region" and coerced not in REGIONS:
        raise ConfigError(f"Region must be one of {', '.join(REGIONS)}, not {coerced!r}.")
    if name == "base_url" and coerced:
        coerced = validate_base_url(coerced)
    if name == "existing_policy" and coerced not in ("skip", "overwrite", "suffix"):
        raise ConfigError("existing_policy must be skip, overwrite or suffix.")
    if name == "concurrency" and coerced < 1:
        raise ConfigError("concurrency (files transcribed at once) must be 1 or more.")
    if name == "hook_concurrency" and not 1 <= coerced <= 64:
        raise ConfigError("hook_concurrency (on-done hooks at once) must be from 1 to 64.")
    if name == "formats":
        from tui.transcript.exports import check_formats

        try:
            coerced = list(check_formats(coerced))
        except ValueError as exc:
            raise ConfigError(f"Setting 'formats': {exc}") from None
    if name == "prices":
        from tui.transcript.cost import valid_override

        bad = sorted(model for model, price in coerced.items() if not valid_override(price))
        if bad:
            raise ConfigError(
                f"[prices] entries for {', '.join(bad)} must look like "
                '"model" = [0.15, "CNY"] (amount per audio hour, CNY or USD).'
            )
    setattr(settings, name, coerced)


def read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}") from None


def insecure_mode(path: Path) -> bool:
    """True when a config file holding a key is readable by others (warn, like ssh)."""
    try:
        return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)
    except OSError:
        return False


def load(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    path = path or locations.config_file()
    env = dict(os.environ) if env is None else env
    settings = Settings()
    raw = read_file(path)
    file_key = raw.pop("api_key", None)
    for name, value in raw.items():
        apply(settings, name, value)
    if env.get("STEPFUN_REGION"):
        apply(settings, "region", env["STEPFUN_REGION"])
    if env.get("STEPFUN_BASE_URL"):
        apply(settings, "base_url", env["STEPFUN_BASE_URL"])
    key = env.get("STEPFUN_API_KEY") or file_key
    if key:
        settings.api_key = Secret(str(key).strip())
    return settings


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def dumps(raw: dict[str, Any]) -> str:
    scalars = {k: v for k, v in raw.items() if not isinstance(v, dict) and v is not None}
    tables = {k: v for k, v in raw.items() if isinstance(v, dict)}
    lines = [f"{k} = {_toml_value(v)}" for k, v in scalars.items()]
    for name, table in tables.items():
        lines += ["", f"[{name}]"]
        lines += [f'"{k}" = {_toml_value(v)}' for k, v in table.items()]
    return "\n".join(lines) + "\n"


def save_values(updates: dict[str, Any], path: Path | None = None) -> Path:
    """Merge ``updates`` into the config file, atomically, mode 0600 (it may hold the key)."""
    path = path or locations.config_file()
    raw = read_file(path)
    probe = Settings()
    for name, value in updates.items():
        if name == "api_key":
            raw[name] = str(value)
            continue
        apply(probe, name, value)
        raw[name] = getattr(probe, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_text(path, dumps(raw), mode=0o600)
    return path


def save_key(key: str, path: Path | None = None) -> Path:
    key = key.strip()
    if not key or any(c.isspace() for c in key):
        raise ConfigError("That does not look like an API key (empty or contains spaces).")
    return save_values({"api_key": key}, path)
