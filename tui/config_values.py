"""What each setting may hold: the known languages, numeric ranges and the word lists, and one
checker per kind of value. Checkers raise ValueError with a sentence naming the setting;
``tui.config`` turns that into a ConfigError."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# The API documents zh and en; the others are languages the step-audio models are described as
# recognising, sent as given. "auto" (or empty) leaves the field out: the service detects it.
LANGUAGES: dict[str, str] = {
    "zh": "Chinese",
    "en": "English",
    "ja": "Japanese",
    "ko": "Korean",
    "yue": "Cantonese",
}
AUTO_LANGUAGE = ("auto", "")
EXISTING_POLICIES = ("skip", "overwrite", "suffix")
# Equal to tui.audio.split.HARD_CEILING_MIN (a test keeps them equal; config sits below audio).
CHUNK_MINUTES_MAX = 30.0
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")


@dataclass(frozen=True)
class Range:
    """An allowed numeric range; ``what`` says what the number means, for the error."""

    whole: bool
    low: float
    high: float | None
    what: str


RANGES: dict[str, Range] = {
    "compress_threshold_mb": Range(False, 0, None, "MB above which WAV/PCM is compressed"),
    "chunk_minutes": Range(False, 0.25, CHUNK_MINUTES_MAX, "minutes per part of a recording"),
    "chunk_parallelism": Range(True, 1, 8, "parts of one recording sent at once"),
    "concurrency": Range(True, 1, 16, "files transcribed at once"),
    "requests_per_minute": Range(True, 0, None, "requests per minute, 0 for no limit"),
    "quiet_period_s": Range(False, 0, None, "seconds a file must stand still"),
    "hook_concurrency": Range(True, 1, 64, "on-done hooks running at once"),
    # Money: 0 turns a cap or a confirmation threshold off.
    "budget_daily": Range(False, 0, None, "spending cap per day, 0 for none"),
    "budget_monthly": Range(False, 0, None, "spending cap per month, 0 for none"),
    "confirm_above_cny": Range(False, 0, None, "batch cost in CNY that asks first"),
    "confirm_above_usd": Range(False, 0, None, "batch cost in USD that asks first"),
}


def text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, not {value!r}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} holds bytes that are not UTF-8 text.") from None
    return value


def boolean(name: str, value: Any) -> bool:
    """true/false/yes/no/on/off/1/0 (any case), a TOML boolean, or the integers 1 and 0."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, str | int) else None
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ValueError(f"{name} must be true or false (or yes/no, on/off, 1/0), not {value!r}.")


def number(name: str, value: Any, rng: Range) -> float | int:
    span = f"from {rng.low:g} to {rng.high:g}" if rng.high is not None else f"{rng.low:g} or more"
    kind = "a whole number" if rng.whole else "a number"
    bad = ValueError(f"{name} ({rng.what}) must be {kind} {span}, not {value!r}.")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise bad
    try:
        raw = value.strip() if isinstance(value, str) else value
        out: float | int = int(raw) if rng.whole else float(raw)
    except (TypeError, ValueError, OverflowError):
        raise bad from None
    if rng.whole and isinstance(value, float) and value != out:
        raise bad
    if not math.isfinite(out) or out < rng.low or (rng.high is not None and out > rng.high):
        raise bad
    return out


def words(name: str, value: Any) -> list[str]:
    """A list of text, or comma-separated text; blanks dropped."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = [text(f"{name} entry", v) for v in value]
    else:
        raise ValueError(f"{name} must be a list of text or comma-separated text.")
    return [text(name, v).strip() for v in items if v.strip()]


def language(value: Any) -> str | None:
    """A code from LANGUAGES, or None for auto-detection."""
    code = text("language", value).strip().lower()
    if code in AUTO_LANGUAGE:
        return None
    if code not in LANGUAGES:
        known = ", ".join(f"{c} ({n})" for c, n in LANGUAGES.items())
        raise ValueError(
            f"language must be one of {known}, or auto (the service detects it), not {value!r}."
        )
    return code


def table(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"Setting {name!r} must be a table ([{name}] in the config file).")
    return dict(value)
