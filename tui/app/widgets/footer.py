"""The key footer, recomposed once per refresh however often the bindings changed before it.

Textual's ``Footer`` queues a full recompose (every key widget mounted again) for each
bindings change; at start-up the screen stack and the focus change three times before the
first frame, so the footer was built three times over (tests/test_app_footer.py checks the sharing).
Here changes queued before a refresh share one recompose, which reads the bindings when it
runs, so it shows the last of them.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    _recompose_queued = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        # Textual 8.2.8's Footer.bindings_changed, with the queued recompose shared.
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._recompose_queued:
            self._recompose_queued = True
            self.call_after_refresh(self._recompose_once)

    async def _recompose_once(self) -> None:
        self._recompose_queued = False
        await self.recompose()
