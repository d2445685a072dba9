"""What sending some audio would cost, what has been spent, and whether a budget allows more.

Used before anything paid happens: the workbench's confirmation dialog, the CLI, and the
runner's budget check. Durations come from the probe (container headers first, as the
pipeline does) or from a finished job's stored duration; the price from
``tui.transcript.cost`` in the region's currency. A file whose length cannot be read is
counted as such, never as free.
"""

from __future__ import annotations

import asyncio
import calendar
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tui.audio.ffmpeg import find_ffmpeg
from tui.audio.probe import probe
from tui.config import Settings
from tui.errors import AsrError
from tui.store.records import FINISHED, Job
from tui.store.store import Store
from tui.transcript.cost import estimate, format_amount, region_currency

CROSS_CHECK_MODEL = "step-asr-1.1"


@dataclass(frozen=True)
class SendEstimate:
    """``files``: what would be sent; ``seconds``: their known audio length; ``unknown``: files
    whose length could not be read (not in ``seconds`` nor ``amount``); ``transcribed``: of
    ``files``, those that already have a finished transcript."""

    files: tuple[Path, ...]
    seconds: float
    amount: float
    currency: str
    unknown: tuple[Path, ...] = ()
    transcribed: tuple[Path, ...] = ()
    durations: dict[Path, float] = field(default_factory=dict, compare=False)

    @property
    def minutes(self) -> float:
        return self.seconds / 60.0

    def without(self, skipped: Iterable[Path]) -> SendEstimate:
        """The same estimate with ``skipped`` files left out (the dialog's default)."""
        drop = set(skipped)
        keep = tuple(p for p in self.files if p not in drop)
        known = {p: s for p, s in self.durations.items() if p in keep}
        share = self.amount / self.seconds if self.seconds else 0.0
        seconds = sum(known.values())
        return SendEstimate(
            keep,
            seconds,
            round(share * seconds, 6),
            self.currency,
            tuple(p for p in self.unknown if p in keep),
            tuple(p for p in self.transcribed if p in keep),
            known,
        )

    def describe(self) -> str:
        """``3 files · 12.5 min of audio · about ¥0.0313`` (one line, for dialogs and the CLI)."""
        n = len(self.files)
        parts = [f"{n} file{'s' if n != 1 else ''}", f"{self.minutes:.1f} min of audio"]
        parts.append(f"about {format_amount(self.amount, self.currency)}")
        if self.unknown:
            parts.append(f"{len(self.unknown)} of unknown length not counted")
        return " · ".join(parts)


async def duration_of(path: Path, settings: Settings) -> float | None:
    """The probed length of ``path`` in seconds; None when it cannot be read."""
    try:
        found = await probe(path, ffmpeg=find_ffmpeg(settings.ffmpeg_path))
    except (AsrError, OSError):
        return None
    return found.duration_s


def price_of(seconds: float, settings: Settings, *, model: str | None = None) -> float:
    cost = estimate(model or settings.model, seconds, settings.region, settings.prices)
    if cost is None or cost.currency != region_currency(settings.region):
        return 0.0
    return cost.amount


async def estimate_files(
    paths: Iterable[Path],
    settings: Settings,
    *,
    store: Store | None = None,
    cross_check: bool = False,
    known: dict[Path, float] | None = None,
) -> SendEstimate:
    """Files, minutes and cost of sending ``paths`` with ``settings``' model. ``known``:
    durations already measured (a finished job's); ``store`` marks already-transcribed files.
    With ``cross_check`` only the step-asr-1.1 run is priced (the main model does not run)."""
    files = tuple(dict.fromkeys(paths))
    known = dict(known or {})
    missing = [p for p in files if p not in known]
    found = await asyncio.gather(*(duration_of(p, settings) for p in missing))
    durations = {**known, **{p: s for p, s in zip(missing, found, strict=True) if s is not None}}
    durations = {p: s for p, s in durations.items() if p in files}
    seconds = sum(durations.values())
    model = CROSS_CHECK_MODEL if cross_check else settings.model
    amount = sum(price_of(s, settings, model=model) for s in durations.values())
    transcribed = tuple(finished_sources(store, files)) if store is not None else ()
    return SendEstimate(
        files,
        seconds,
        round(amount, 6),
        region_currency(settings.region),
        tuple(p for p in files if p not in durations),
        transcribed,
        durations,
    )


async def estimate_jobs(
    store: Store, job_ids: Iterable[int], settings: Settings, *, cross_check: bool = False
) -> SendEstimate:
    """The same for jobs (a re-run or a cross-check): a finished job's stored length is used."""
    jobs = [j for i in job_ids if (j := store.get_job(i)) is not None]
    known = {j.source: j.duration_s for j in jobs if j.duration_s is not None}
    return await estimate_files(
        [j.source for j in jobs], settings, store=store, cross_check=cross_check, known=known
    )


def finished_sources(store: Store, paths: Iterable[Path]) -> list[Path]:
    """Of ``paths``, those with a finished (done / needs-review) job in the store."""
    wanted = set(paths)
    done = {j.source for j in store.list_jobs([s.value for s in FINISHED]) if j.source in wanted}
    return [p for p in paths if p in done]


def finished_job_for(store: Store, path: Path) -> Job | None:
    return next((j for j in store.list_jobs([s.value for s in FINISHED]) if j.source == path), None)


# --- spend and budget ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spend:
    today: float
    month: float
    currency: str

    def describe(self) -> str:
        return (
            f"spent {format_amount(self.today, self.currency)} today · "
            f"{format_amount(self.month, self.currency)} this month"
        )


def day_start(now: float) -> float:
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))


def month_start(now: float) -> float:
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, 1, 0, 0, 0, 0, 0, -1))


def days_in_month(now: float) -> int:
    t = time.localtime(now)
    return calendar.monthrange(t.tm_year, t.tm_mon)[1]


def spend(store: Store, settings: Settings, now: float | None = None) -> Spend:
    """Estimated spend (finished jobs' costs, in the region's currency) today and this month."""
    now = time.time() if now is None else now
    currency = region_currency(settings.region)
    today = store.spent_since(day_start(now)).get(currency, 0.0)
    month = store.spent_since(month_start(now)).get(currency, 0.0)
    return Spend(round(today, 6), round(month, 6), currency)


def over_budget(
    settings: Settings, spent: Spend, reserved: float, needed: float, name: str
) -> str | None:
    """The sentence saying which cap ``needed`` more would pass, or None when it fits.
    ``reserved``: what jobs already running are estimated to cost."""
    caps = (
        ("daily", settings.budget_daily, spent.today),
        ("monthly", settings.budget_monthly, spent.month),
    )
    for label, cap, used in caps:
        if cap > 0 and used + reserved + needed > cap:
            fmt = spent.currency
            return (
                f"Budget: {name} (about {format_amount(needed, fmt)}) would pass the {label} "
                f"cap of {format_amount(cap, fmt)} ({format_amount(used + reserved, fmt)} "
                f"spent or running). Raise budget_{label} in the settings, or it resumes "
                f"{'tomorrow' if label == 'daily' else 'next month'}."
            )
    return None
