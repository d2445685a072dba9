"""The spending caps (``budget_daily`` / ``budget_monthly``), checked before a file is sent.

A job's estimate (probed length × list price, plus the cross-check when asked for) is compared
with what finished jobs cost today / this month plus what running jobs are estimated to cost.
A job that would pass a cap is not sent: the runner puts it back and pauses the queue, and the
pause lifts by itself once the next file fits (a new day or month, a raised cap).
"""

from __future__ import annotations

from tui.config import Settings
from tui.store.records import Job
from tui.store.store import Store


class BudgetGuard:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings  # the engine's, changed in place by apply_settings
        self._reserved: dict[int, float] = {}
        self._allow_one = False  # the user resumed a budget pause by hand: one file may pass

    def allow_one(self) -> None:
        """Let the next file through whatever the caps say (asked for explicitly)."""
        self._allow_one = True

    @property
    def on(self) -> bool:
        return self.settings.budget_daily > 0 or self.settings.budget_monthly > 0

    async def admit(self, job: Job, settings: Settings) -> tuple[str | None, float]:
        """(None, estimate) when ``job`` fits (its estimate is then reserved until
        ``release``), else (the sentence saying which cap it would pass, estimate)."""
        if not self.on:
            return None, 0.0
        # Imported only with a budget set: estimates bring audio probing (start-up time).
        from tui.engine import estimates

        found = job.duration_s or await estimates.duration_of(job.source, settings)
        if found is None:
            return None, 0.0  # unreadable: it fails on its own, costing nothing
        needed = estimates.price_of(found, settings)
        if job.options.cross_check:
            needed += estimates.price_of(found, settings, model=estimates.CROSS_CHECK_MODEL)
        blocked = self.blocked(needed, job.name)
        if blocked is not None and self._allow_one:
            self._allow_one, blocked = False, None
        if blocked is None:
            self._reserved[job.id] = needed
        return blocked, needed

    def blocked(self, needed: float, name: str) -> str | None:
        if not self.on:
            return None
        from tui.engine import estimates

        spent = estimates.spend(self.store, self.settings)
        reserved = sum(self._reserved.values())
        return estimates.over_budget(self.settings, spent, reserved, needed, name)

    def release(self, job_id: int) -> None:
        self._reserved.pop(job_id, None)
