"""What a transcription costs: list price per audio hour times the probed duration.

Billing is per audio hour, so the duration comes from the probe, never from ``usage`` (whose
token counts are opaque). Prices are the published ones (see docs/stepfun-api.md); users can
override them with ``prices = {"model" = [amount, "CNY"]}`` in the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tui.transcript.model import CostEstimate

# Per audio hour. step-asr-1.1 has no published USD price, so it is always quoted in CNY.
PRICES: dict[str, dict[str, float]] = {
    "stepaudio-2.5-asr": {"CNY": 0.15, "USD": 0.022},
    "stepaudio-3-asr-max": {"CNY": 2.8, "USD": 0.40},
    "step-asr-1.1": {"CNY": 2.2},
    "step-asr": {"CNY": 0.9, "USD": 0.13},  # the cross-check's fallback engine (price pages)
}
CURRENCIES = ("CNY", "USD")
BASIS = "per audio hour, from the probed duration"
# A Step Plan key is billed by its subscription, not per hour: the figure is only the
# pay-as-you-go equivalent, and must say so rather than pass for a charge.
PLAN_BASIS = BASIS + "; pay-as-you-go list price: a Step Plan subscription bills differently"


def region_currency(region: str) -> str:
    return "USD" if region.startswith("intl") else "CNY"


def price_for(
    model: str, region: str, overrides: Mapping[str, Any] | None = None
) -> tuple[float, str] | None:
    """(price per hour, currency) for ``model``, or None when unknown."""
    override = (overrides or {}).get(model)
    parsed = _parse_override(override, region)
    if parsed is not None:
        return parsed
    table = PRICES.get(model)
    if not table:
        return None
    currency = region_currency(region)
    if currency in table:
        return table[currency], currency
    fallback = next(iter(table))
    return table[fallback], fallback


def valid_override(value: Any) -> bool:
    """True for ``[amount, "CNY"|"USD"]`` or a bare non-negative amount."""
    return _parse_override(value, "cn") is not None


def _parse_override(value: Any, region: str) -> tuple[float, str] | None:
    """``[amount, "CNY"]`` or a bare amount (in the region's currency); anything else: None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value), region_currency(region)
    if isinstance(value, list | tuple) and len(value) == 2:
        amount, currency = value
        if (
            isinstance(amount, int | float)
            and not isinstance(amount, bool)
            and amount >= 0
            and isinstance(currency, str)
            and currency.upper() in CURRENCIES
        ):
            return float(amount), currency.upper()
    return None


def estimate(
    model: str, duration_s: float | None, region: str, overrides: Mapping[str, Any] | None = None
) -> CostEstimate | None:
    if duration_s is None or duration_s < 0:
        return None
    price = price_for(model, region, overrides)
    if price is None:
        return None
    per_hour, currency = price
    basis = PLAN_BASIS if region.endswith("-plan") else BASIS
    return CostEstimate(round(per_hour * duration_s / 3600.0, 6), currency, basis)


def combine(
    main: CostEstimate | None, extra: CostEstimate | None, what: str
) -> CostEstimate | None:
    """``main`` plus ``extra`` (e.g. the cross-check run); different currencies stay apart."""
    if extra is None:
        return main
    if main is None:
        return CostEstimate(extra.amount, extra.currency, f"{extra.basis}; {what} only")
    if main.currency == extra.currency:
        return CostEstimate(
            round(main.amount + extra.amount, 6),
            main.currency,
            f"{main.basis}; includes {what} {extra.amount:.4f} {extra.currency}",
        )
    return CostEstimate(
        main.amount,
        main.currency,
        f"{main.basis}; plus {what} {extra.amount:.4f} {extra.currency} "
        "(not included: other currency)",
    )


CURRENCY_SIGNS = {"CNY": "¥", "USD": "$"}


def format_amount(amount: float | None, currency: str | None, missing: str = "") -> str:
    """``¥0.0125``: the one way an estimate is shown (queue, panel, CLI)."""
    if amount is None or currency is None:
        return missing
    return f"{CURRENCY_SIGNS.get(currency, currency + ' ')}{amount:.4f}"


def format_cost(cost: CostEstimate | None) -> str:
    if cost is None:
        return "unknown"
    return f"{format_amount(cost.amount, cost.currency)} {cost.currency}"
