"""Regular expressions compiled on first use.

A character class over Unicode ranges (``[^\\W_…]``, the CJK blocks) takes milliseconds to
compile; a module-level table of them is paid by every process that imports the module, the
workbench's first screen and ``--help`` included, though most never match anything.
"""

from __future__ import annotations

import re
from typing import Any, cast


class _LazyPattern:
    """Stands in for a compiled pattern: compiles at the first attribute asked for and keeps
    each attribute it hands out, so a call costs what it costs on the pattern itself."""

    def __init__(self, pattern: str, flags: int) -> None:
        self._source = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not yet kept (and never for the two set in __init__).
        value = getattr(re.compile(*self._source), name)
        setattr(self, name, value)
        return value


def lazy_compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)``, done the first time a method of the result is used.
    Only for patterns used through their methods (``.search``, ``.sub``…), not passed to
    ``re.*`` functions."""
    return cast("re.Pattern[str]", _LazyPattern(pattern, flags))
