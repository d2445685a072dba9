"""Settings: the config file (TOML) plus environment overrides, validation, and the API key.

Resolution order for the key: ``STEPFUN_API_KEY``, then the config file. Nothing here ever
prints the key; ``Settings.api_key`` is a :class:`Secret`. Every value is checked the same way
whether it comes from the file, the environment, the command line or the settings screen; the
file itself is read and written by ``tui.config_file``.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tui import config_values as values
from tui.secrets import Secret, mask_key

if TYPE_CHECKING:
    from tui.config_file import Repair
# The config file's reader/writer (tomlkit), ipaddress and difflib are imported where used:
# `stepfun-asr --help` reads no file and must start quickly.

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
    glossary: list[str] = field(default_factory=list)  # terms to keep as written (passed through)
    itn: bool = True
    timestamps: bool = True
    # Audio pipeline.
    compress: bool = True
    compress_threshold_mb: float = 5.0
    chunk_minutes: float = 25.0
    chunk_parallelism: int = 4
    ffmpeg_path: str | None = None
    # Review playback: None/"default" the system's output, "null" a silent sink at real-time
    # pace (headless machines, tests), else a device name (STEPFUN_ASR_AUDIO_DEVICE overrides).
    audio_device: str | None = None
    cross_check_auto: bool = False
    # Speaker labels computed locally: off | auto | N | MIN-MAX (tui.speakers.setting).
    speakers: str = "off"
    # Jobs and watching.
    concurrency: int = 2
    requests_per_minute: int = 10
    formats: list[str] = field(default_factory=lambda: ["txt"])
    out_dir: str | None = None
    existing_policy: str = "skip"
    skip_duplicate_content: bool = True
    quiet_period_s: float = 2.0
    # Money: spending caps in the region's currency (0: off), and the batch size over which
    # new files are confirmed before they are sent.
    budget_daily: float = 0.0
    budget_monthly: float = 0.0
    confirm_above_cny: float = 1.0
    confirm_above_usd: float = 0.15
    # The workbench announces a watched folder's finished or needs-review job (toast, bell).
    notifications: bool = True
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
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- one setting --------------------------------------------------------------------------


_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "api_key"}
_DEFAULTS = Settings()


def known_setting(name: str) -> None:
    """ConfigError naming the close matches when ``name`` is not a setting."""
    if name in _FIELDS:
        return
    import difflib

    close = difflib.get_close_matches(name, _FIELDS, n=3, cutoff=0.6)
    close += [f for f in _FIELDS if len(name) >= 3 and name in f and f not in close]
    if close:
        raise ConfigError(f"Unknown setting {name!r}; did you mean {' or '.join(close)}?")
    raise ConfigError(f"Unknown setting {name!r}; the settings are {', '.join(_FIELDS)}.")


def coerce(name: str, value: Any) -> Any:
    """The checked, typed value of one setting (None: unset, the default applies).

    Text from the command line and typed values from the file go through the same checks.
    """
    known_setting(name)
    try:
        return _coerce(name, value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _coerce(name: str, value: Any) -> Any:
    if name in values.RANGES:
        return values.number(name, value, values.RANGES[name])
    if isinstance(getattr(_DEFAULTS, name), bool):
        return values.boolean(name, value)
    if name == "language":
        return values.language(value)
    if name == "hotwords":
        return values.words(name, value)
    if name == "speakers":
        from tui.speakers.setting import parse_speakers

        try:
            return str(parse_speakers(values.text(name, value)) or "off")
        except ValueError as exc:
            raise ValueError(str(exc)[0].upper() + str(exc)[1:]) from None
    if name == "formats":
        from tui.transcript.exports import check_formats

        try:
            return list(check_formats(values.words(name, value)))
        except ValueError as exc:
            raise ValueError(f"Setting 'formats': {exc}") from None
    if name == "prices":
        from tui.transcript.cost import valid_override

        prices = values.table(name, value)
        bad = sorted(model for model, price in prices.items() if not valid_override(price))
        stray = [name for name in prices if name in _FIELDS]
        if stray:  # a setting written below the [prices] header lands inside the table
            raise ValueError(
                f"{', '.join(stray)} is inside the [prices] table; move it above the [prices] "
                "line (settings come before any [table])."
            )
        if bad:
            raise ValueError(
                f"[prices] entries for {', '.join(bad)} must look like "
                '"model" = [0.15, "CNY"] (amount per audio hour, CNY or USD).'
            )
        return prices
    if name == "keymap":
        keymap = values.table(name, value)
        for binding, keys in keymap.items():
            values.text(f"keymap entry {binding!r}", keys)
        return keymap
    text = values.text(name, value).strip()
    if name == "region":
        if text.lower() not in REGIONS:
            raise ValueError(f"Region must be one of {', '.join(REGIONS)}, not {text!r}.")
        return text.lower()
    if name == "existing_policy" and text not in values.EXISTING_POLICIES:
        raise ValueError(f"existing_policy must be skip, overwrite or suffix, not {text!r}.")
    if name == "model" and (not text or any(c.isspace() for c in text)):
        raise ValueError(f"model must be a model name such as {DEFAULT_MODEL}, not {value!r}.")
    if name == "base_url" and text:
        return validate_base_url(text)
    return text or None


def apply(settings: Settings, name: str, value: Any) -> None:
    """Set one setting by name, checked and typed (ConfigError says what is wrong)."""
    coerced = coerce(name, value)
    if coerced is None and name in ("region", "model", "existing_policy"):
        coerced = getattr(_DEFAULTS, name)
    setattr(settings, name, coerced)


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not key.strip() or any(c.isspace() for c in key.strip()):
        raise ConfigError("That does not look like an API key (empty or contains spaces).")
    return key.strip()


# --- the file -----------------------------------------------------------------------------


def insecure_mode(path: Path) -> bool:
    """True when a config file holding a key is readable by others (warn, like ssh)."""
    try:
        return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)
    except OSError:
        return False


def read_file(path: Path) -> dict[str, Any]:
    """The file's values, untyped ({} when absent); ConfigError in one sentence when unreadable."""
    # A sound file is read with the standard library's parser; tomlkit (~10 ms to import, a
    # start-up cost of every command) only names the problem in a broken one.
    import tomllib

    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        pass  # read again below, for the sentence that says what is wrong
    from tui import config_file

    try:
        return config_file.read_values(path)
    except config_file.UnreadableConfig as exc:
        raise ConfigError(
            f"The config file {path} is not valid TOML ({exc.problem.describe()}); fix it in "
            "an editor, or run `stepfun-asr config set NAME VALUE`, which comments out the "
            "lines it cannot read and keeps a copy of the original."
        ) from None
    except OSError as exc:
        raise ConfigError(f"The config file {path} cannot be read: {exc.strerror}.") from None


def check_values(raw: dict[str, Any], settings: Settings, path: Path) -> Secret | None:
    """Apply the file's values to ``settings``; the file's key, if any. ConfigError names the
    file and the setting."""
    key: Secret | None = None
    for name, value in raw.items():
        try:
            if name == "api_key":
                key = Secret(check_key(value))
            else:
                apply(settings, name, value)
        except ConfigError as exc:
            hint = (
                f"remove it with `stepfun-asr config unset {name}`"
                if name not in _FIELDS and name != "api_key"
                else "set it again with `stepfun-asr config set-key`"
                if name == "api_key"
                else f"edit the [{name}] table in an editor"
                if isinstance(getattr(_DEFAULTS, name), dict)
                else f"change it with `stepfun-asr config set {name} VALUE` or in an editor"
            )
            raise ConfigError(
                f"In the config file {path}: {str(exc).rstrip('.')} ({hint})."
            ) from None
    return key


def load(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    from tui import locations

    path = path or locations.config_file()
    env = dict(os.environ) if env is None else env
    settings = Settings()
    file_key = check_values(read_file(path), settings, path)
    for var, name in (("STEPFUN_REGION", "region"), ("STEPFUN_BASE_URL", "base_url")):
        if env.get(var):
            try:
                apply(settings, name, env[var])
            except ConfigError as exc:
                raise ConfigError(f"{var}: {exc}") from None
    key = env.get("STEPFUN_API_KEY", "").strip()
    settings.api_key = Secret(key) if key else file_key
    return settings


@dataclass(frozen=True)
class Saved:
    """What a change to the config file did, for the user to read."""

    path: Path
    removed: dict[str, Any] = field(default_factory=dict)
    repair: Repair | None = None
    still_wrong: str | None = None

    def notes(self) -> list[str]:
        out: list[str] = []
        if self.repair is not None:
            numbers = self.repair.commented_lines
            lines = ("line " if len(numbers) == 1 else "lines ") + ", ".join(map(str, numbers))
            out.append(
                f"The file was not valid TOML ({self.repair.problem.describe()}); what could "
                f"not be read is commented out ({lines}) and the original is kept in "
                f"{self.repair.backup}."
            )
        if "base_url" in self.removed:
            out.append(
                f"base_url ({self.removed['base_url']}) was removed from the file so that the "
                "region takes effect."
            )
        if self.still_wrong:
            out.append(f"The file still has a problem: {self.still_wrong}")
        return out


def edit(
    updates: dict[str, Any], path: Path | None = None, *, unset: tuple[str, ...] = ()
) -> Saved:
    """Change settings in the config file in place (comments, order and layout kept).

    Every value is checked before the file is touched; a value that means "unset" removes the
    line. Setting the region removes a stored base_url (which would otherwise override it). A
    file that does not parse is repaired as described in ``tui.config_file``.
    """
    from tui import locations

    path = path or locations.config_file()
    typed: dict[str, Any] = {}
    for name, value in updates.items():
        typed[name] = check_key(value) if name == "api_key" else coerce(name, value)
    from tui import config_file

    try:
        doc, repair = config_file.open_for_edit(path)
    except OSError as exc:
        raise ConfigError(f"The config file {path} cannot be read: {exc.strerror}.") from None
    removed: dict[str, Any] = {}
    for name, value in typed.items():
        if value is None:
            doc.pop(name, None)
        else:
            doc[name] = value
    before = doc.unwrap()
    if "region" in typed and "base_url" not in typed and "base_url" in doc:
        removed["base_url"] = before["base_url"]
        doc.pop("base_url")
    for name in unset:
        if name not in doc:
            raise ConfigError(f"{name} is not set in {path}.")
        removed[name] = before.get(name)
        doc.pop(name)
    try:
        repair = config_file.write_document(path, doc, repair)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(f"The config file {path} could not be written: {reason}.") from None
    still_wrong = None
    try:
        check_values(doc.unwrap(), Settings(), path)
    except ConfigError as exc:
        still_wrong = str(exc)
    return Saved(path, {k: v for k, v in removed.items() if k != "api_key"}, repair, still_wrong)


def save_values(updates: dict[str, Any], path: Path | None = None) -> Path:
    """Merge ``updates`` into the config file, atomically, mode 0600 (it may hold the key)."""
    return edit(updates, path).path


def save_key(key: str, path: Path | None = None) -> Path:
    return edit({"api_key": check_key(key)}, path).path
