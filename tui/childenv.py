"""The environment a child process (ffmpeg, ffprobe, an on-done hook) gets: ours, minus the key.

A child needs PATH, HOME, locale and the like, but never the API key: not ``STEPFUN_API_KEY``,
and not any other variable whose value holds the key (a wrapper script may have exported it
under another name). Bottom layer: imports nothing from ``tui``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

KEY_VARIABLE = "STEPFUN_API_KEY"
# Shorter values are not matched inside other variables: "abc" would also hit PATH.
_MIN_SECRET = 8
_known: set[str] = set()


def remember_secret(secret: str | None) -> None:
    """Register a key resolved from anywhere (config file, keyring) so that every later child
    environment leaves out variables holding it, even where the caller does not know the key."""
    if secret and len(secret) >= _MIN_SECRET:
        _known.add(secret)


def clean_child_env(
    secret: str | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A copy of ``base`` (default: this process's environment) for a child process: without
    ``STEPFUN_API_KEY`` and without any variable whose value contains ``secret``, the value of
    ``STEPFUN_API_KEY`` itself, or a key given to ``remember_secret``."""
    env = dict(os.environ if base is None else base)
    secrets = {s for s in (secret, env.get(KEY_VARIABLE), *_known) if s and len(s) >= _MIN_SECRET}
    env.pop(KEY_VARIABLE, None)
    return {
        name: value
        for name, value in env.items()
        if not any(s in value or s in name for s in secrets)
    }
