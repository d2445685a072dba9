"""Driving the workbench headless: wait on a condition, capture the screen as text.

Used by the Pilot tests, the benchmark and the README capture. Waiting polls a predicate with
``pilot.pause()`` until a deadline (never a fixed sleep).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from tui.config import Settings
from tui.secrets import Secret


class WaitTimeout(AssertionError):
    pass


async def wait_until(
    pilot: Pilot[object],
    predicate: Callable[[], object],
    *,
    deadline_s: float = 30.0,
    what: str = "condition",
    step: float | None = 0.05,
    state: Callable[[], object] | None = None,
) -> None:
    """Pause until ``predicate()`` is truthy; fail after ``deadline_s`` seconds (the message
    includes ``state()`` when given, to tell why)."""
    deadline = time.monotonic() + deadline_s
    for _ in range(1_000_000):
        if predicate():
            return
        if time.monotonic() > deadline:
            seen = f"; state: {state()}" if state is not None else ""
            raise WaitTimeout(f"timed out after {deadline_s:g} s waiting for {what}{seen}")
        await pilot.pause(step)
    raise WaitTimeout(f"gave up waiting for {what}")


def screen_text(app: App[object]) -> str:
    """The current screen as plain text (what a user sees, without colours)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def emulator_settings(emulator: object, **overrides: object) -> Settings:
    """Settings aimed at a running emulator (its base URL and demo key), fast to react."""
    settings = Settings()
    settings.base_url = emulator.base_url  # type: ignore[attr-defined]
    settings.api_key = Secret(emulator.demo_key)  # type: ignore[attr-defined]
    settings.requests_per_minute = 0
    settings.quiet_period_s = 0.3
    for name, value in overrides.items():
        setattr(settings, name, value)
    return settings
