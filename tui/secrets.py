"""Keeping the API key out of every output: masking for display, redaction for error text."""

from __future__ import annotations

import functools
import re

_REDACTED = "[REDACTED]"


@functools.cache
def _bearer() -> re.Pattern[str]:
    """Bearer tokens in echoed headers are redacted even when we do not know the key itself.
    Compiled on first use: a case-blind pattern costs start-up time `--help` should not pay."""
    return re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/=]{6,}")


def mask_key(key: str | None) -> str:
    if not key:
        return "(not set)"
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}…{key[-4:]}"


def redact(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _REDACTED)
    return _bearer().sub(lambda m: m.group(1) + _REDACTED, text)


class Secret:
    """A string that will not print itself: repr/str show a mask, `.reveal()` the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({mask_key(self._value)!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)
