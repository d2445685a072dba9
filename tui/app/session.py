"""Small pure helpers the app uses: session totals, folder listing, and
how the service is named in the header. No Textual here."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from tui.audio.sniff import is_audio_path
from tui.config import Settings
from tui.store.records import Totals
from tui.transcript.model import CostEstimate, TranscriptionResult


def add_to_totals(totals: Totals, result: TranscriptionResult) -> Totals:
    """This session's totals with one more finished transcript counted."""
    cost = dict(totals.cost)
    if result.cost is not None:
        cost[result.cost.currency] = cost.get(result.cost.currency, 0.0) + result.cost.amount
    return Totals(totals.jobs + 1, totals.audio_s + (result.duration_s or 0.0), cost)


def add_cost(totals: Totals, cost: CostEstimate | None) -> Totals:
    """This session's totals with a cost added that is not a new transcript (a cross-check)."""
    if cost is None:
        return totals
    amounts = dict(totals.cost)
    amounts[cost.currency] = amounts.get(cost.currency, 0.0) + cost.amount
    return Totals(totals.jobs, totals.audio_s, amounts)


def audio_files(folder: Path) -> list[Path]:
    """Audio/video files directly in ``folder`` (no dotfiles), sorted by name."""
    try:
        entries: Iterable[Path] = list(folder.iterdir())
    except OSError:
        return []
    return sorted(
        p for p in entries if p.is_file() and not p.name.startswith(".") and is_audio_path(p)
    )


def service_label(settings: Settings) -> str:
    """Region name, "local emulator" for a loopback base URL, else the base URL's host."""
    url = settings.base_url
    if not url:
        return settings.region
    host = urlsplit(url).hostname or url
    with contextlib.suppress(ValueError):
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            return "local emulator"
    return host
