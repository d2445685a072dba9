"""Cost estimates: price table, region currency, overrides, cross-check addition."""

from __future__ import annotations

import pytest

from tui.transcript.cost import combine, estimate, format_cost, price_for
from tui.transcript.model import CostEstimate


def test_price_table_by_region() -> None:
    assert price_for("stepaudio-2.5-asr", "cn") == (0.15, "CNY")
    assert price_for("stepaudio-2.5-asr", "cn-plan") == (0.15, "CNY")
    assert price_for("stepaudio-2.5-asr", "intl") == (0.022, "USD")
    assert price_for("stepaudio-3-asr-max", "intl-plan") == (0.40, "USD")
    assert price_for("stepaudio-3-asr-max", "cn") == (2.8, "CNY")
    # No published USD price for step-asr-1.1: quoted in CNY everywhere.
    assert price_for("step-asr-1.1", "intl") == (2.2, "CNY")
    assert price_for("no-such-model", "cn") is None


def test_estimate_from_duration() -> None:
    one_hour = estimate("stepaudio-2.5-asr", 3600.0, "cn")
    assert one_hour == CostEstimate(0.15, "CNY", one_hour.basis if one_hour else "")
    half = estimate("stepaudio-3-asr-max", 1800.0, "intl")
    assert half is not None and (half.amount, half.currency) == (0.2, "USD")
    assert estimate("stepaudio-2.5-asr", None, "cn") is None
    assert estimate("unknown", 60.0, "cn") is None


def test_overrides() -> None:
    prices = {"stepaudio-2.5-asr": [0.3, "usd"], "custom-model": 1.0, "bad": ["x", "CNY"]}
    got = estimate("stepaudio-2.5-asr", 3600.0, "cn", prices)
    assert got is not None and (got.amount, got.currency) == (0.3, "USD")
    custom = estimate("custom-model", 7200.0, "intl", prices)
    assert custom is not None and (custom.amount, custom.currency) == (2.0, "USD")
    # An unusable override falls back to the table (or None for unknown models).
    assert estimate("bad", 60.0, "cn", prices) is None


def test_combine() -> None:
    main = CostEstimate(0.15, "CNY", "per audio hour")
    extra = CostEstimate(2.2, "CNY", "per audio hour")
    both = combine(main, extra, "cross-check")
    assert both is not None and both.amount == pytest.approx(2.35)
    assert "cross-check" in both.basis
    usd = CostEstimate(0.022, "USD", "per audio hour")
    mixed = combine(usd, extra, "cross-check")
    assert mixed is not None and (mixed.amount, mixed.currency) == (0.022, "USD")
    assert "2.2000 CNY" in mixed.basis
    assert combine(main, None, "x") is main


def test_format_cost() -> None:
    assert format_cost(CostEstimate(0.0125, "CNY")) == "¥0.0125 CNY"
    assert format_cost(None) == "unknown"


def test_step_plan_estimate_says_it_is_not_the_charge() -> None:
    plan = estimate("stepaudio-2.5-asr", 3600.0, "cn-plan")
    payg = estimate("stepaudio-2.5-asr", 3600.0, "cn")
    assert plan is not None and payg is not None
    assert (plan.amount, plan.currency) == (payg.amount, payg.currency)
    assert "Step Plan" in plan.basis and "Step Plan" not in payg.basis
