"""Settings and the key: the settings screen saves (key 0600, masked), the first-run modal
asks for a key (or quits), and the keymap remaps bindings."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import Input, Select

from tui import config
from tui.app.app import make_app
from tui.app.screens.help_screen import HelpScreen
from tui.app.screens.key_screen import KeyScreen
from tui.app.screens.settings_screen import SettingsScreen
from tui.app.testing import emulator_settings, screen_text, wait_until
from tui.config import Settings
from tui.secrets import Secret, mask_key
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import JobState

SIZE = (120, 40)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_settings_screen_saves_values_and_a_masked_key(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    new_key = "test-" + secrets.token_hex(12)
    with Emulator() as emu:
        settings = emulator_settings(emu)
        app = make_app(settings, tmp_path, db_path=tmp_path / "jobs.sqlite3", config_path=cfg)
        emu.add_key(new_key)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await wait_until(
                pilot, lambda: isinstance(app.screen, SettingsScreen), what="settings screen"
            )
            screen = app.screen
            assert mask_key(emu.demo_key) in screen_text(app)
            assert emu.demo_key not in screen_text(app)
            screen.query_one("#set-language", Select).value = "en"
            hot = screen.query_one("#set-hotwords", Input)
            hot.focus()
            await pilot.press(*"Kubernetes, gRPC")
            conc = screen.query_one("#set-concurrency", Input)
            conc.focus()
            await pilot.press("backspace", "backspace", "3")
            key_input = screen.query_one("#set-key", Input)
            assert key_input.password
            key_input.focus()
            await pilot.press(*new_key)
            await pilot.pause()
            assert new_key not in screen_text(app)  # masked while typed
            await pilot.press("ctrl+s")
            await wait_until(
                pilot, lambda: not isinstance(app.screen, SettingsScreen), what="settings closed"
            )
            assert cfg.exists() and _mode(cfg) == 0o600
            saved = config.load(cfg, env={})
            assert saved.api_key == Secret(new_key)
            assert (saved.language, saved.hotwords, saved.concurrency) == (
                "en",
                ["Kubernetes", "gRPC"],
                3,
            )
            # The running app uses the new values; the runner restarted with the new key.
            assert app.settings.api_key == Secret(new_key) and app.engine.runner.concurrency == 3
            folder = tmp_path
            write_directive_wav(folder / "after.wav", 2, text="Saved and working.")
            app.engine.submit(folder / "after.wav", origin="tui")
            await wait_until(
                pilot,
                lambda: app.engine.store.list_jobs()[0].state is JobState.DONE,
                what="job with the new key",
            )
            assert emu.requests[-1].key_kind == "normal"


async def test_settings_screen_refuses_bad_values(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    with Emulator() as emu:
        app = make_app(
            emulator_settings(emu), tmp_path, db_path=tmp_path / "j.sqlite3", config_path=cfg
        )
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await wait_until(
                pilot, lambda: isinstance(app.screen, SettingsScreen), what="settings screen"
            )
            conc = app.screen.query_one("#set-concurrency", Input)
            conc.focus()
            await pilot.press("backspace", "backspace", "0", "ctrl+s")
            await pilot.pause()
            assert isinstance(app.screen, SettingsScreen)
            assert "1 to 16" in screen_text(app)
            assert not cfg.exists()
            await pilot.press("escape")
            await wait_until(
                pilot,
                lambda: not isinstance(app.screen, SettingsScreen),
                what="closed without saving",
            )


async def test_first_run_asks_for_a_key_and_saves_it(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    key = "test-" + secrets.token_hex(12)
    app = make_app(Settings(), tmp_path, db_path=tmp_path / "j.sqlite3", config_path=cfg)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, KeyScreen) and "platform" in screen_text(app),
            what="key modal",
        )
        shown = screen_text(app)
        for hint in ("platform.stepfun.com", "platform.stepfun.ai", "cn-plan", "intl-plan"):
            assert hint in shown
        app.screen.query_one("#key-region", Select).value = "intl-plan"
        await pilot.press(*key)
        assert key not in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, KeyScreen), what="modal closed")
        assert _mode(cfg) == 0o600
        saved = config.load(cfg, env={})
        assert saved.api_key == Secret(key) and saved.region == "intl-plan"
        assert app.settings.region == "intl-plan"
        assert "intl-plan" in screen_text(app)


async def test_first_run_rejects_an_empty_key_and_can_quit(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    app = make_app(Settings(), tmp_path, db_path=tmp_path / "j.sqlite3", config_path=cfg)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, KeyScreen) and app.screen.query("#key-input"),
            what="key modal",
        )
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, KeyScreen)
        assert "does not look like an API key" in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.is_running, what="app quit")
    assert not cfg.exists()


async def test_keymap_remaps_a_binding_and_help_lists_it(tmp_path: Path) -> None:
    with Emulator() as emu:
        settings = emulator_settings(emu, keymap={"help": "f2", "mark-reviewed": "ctrl+r"})
        app = make_app(
            settings, tmp_path, db_path=tmp_path / "j.sqlite3", config_path=tmp_path / "c.toml"
        )
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen)  # ? is no longer help
            await pilot.press("f2")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
            help_screen = app.screen
            assert isinstance(help_screen, HelpScreen)
            keys = {binding_id: keys for keys, _does, binding_id in help_screen.rows}
            assert keys["help"] == "f2" and keys["mark-reviewed"] == "^r"
            # The list is longer than the screen: what is shown scrolls to its end.
            help_screen.query_one(VerticalScroll).scroll_end(animate=False)
            await pilot.pause()
            shown = screen_text(app)
            assert "f2" in shown and "mark-reviewed" in shown and "^r" in shown
            await pilot.press("escape")
            await wait_until(
                pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed"
            )
