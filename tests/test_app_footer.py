"""The main screen's key footer (tui/app/widgets/footer.py): bindings changes queued before a
refresh share one recompose, and the footer still shows the keys of the last change."""

from __future__ import annotations

from pathlib import Path

from textual.widgets._footer import FooterKey

from tui.app.app import make_app
from tui.app.testing import wait_until
from tui.app.widgets.footer import KeyFooter
from tui.config import Settings
from tui.secrets import Secret


def _keys(footer: KeyFooter) -> set[str]:
    return {key.description for key in footer.query(FooterKey) if key.description}


async def test_changes_before_a_refresh_share_one_recompose(tmp_path: Path) -> None:
    settings = Settings()
    settings.api_key = Secret("footer-test-not-a-key")
    settings.base_url = "http://127.0.0.1:9/v1"
    app = make_app(
        settings, tmp_path, db_path=tmp_path / "jobs.sqlite3", config_path=tmp_path / "c.toml"
    )
    async with app.run_test(size=(120, 36)) as pilot:
        footer = app.main.query_one(KeyFooter)
        await wait_until(pilot, lambda: bool(_keys(footer)), what="footer keys")
        shown = _keys(footer)
        assert "Quit" in shown or len(shown) >= 5, shown
        recomposed = 0
        original = footer.recompose

        async def counting() -> None:
            nonlocal recomposed
            recomposed += 1
            await original()

        footer.recompose = counting  # type: ignore[method-assign]
        for _ in range(3):
            app.main.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert recomposed == 1
        # A change after that recompose queues another.
        app.main.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert recomposed == 2
        assert _keys(footer) == shown
