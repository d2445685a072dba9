"""What each region offers (models, the legacy endpoint), and --model checked against it."""

from __future__ import annotations

import argparse

import pytest

from tui.cli_common import settings_from_args
from tui.config import REGIONS, ConfigError
from tui.stepfun.options import (
    REGION_OFFERS,
    SSE_MODELS,
    has_legacy_endpoint,
    model_problem,
    models_for,
)


def test_every_region_has_an_offer_with_the_default_model_first():
    assert set(REGION_OFFERS) == set(REGIONS)
    for region in REGIONS:
        assert models_for(region)[0] == "stepaudio-2.5-asr"


def test_step_plan_offers_one_model_and_no_legacy_endpoint():
    for region in ("cn-plan", "intl-plan"):
        assert models_for(region) == ("stepaudio-2.5-asr",)
        assert not has_legacy_endpoint(region)
        assert "pay-as-you-go" in (model_problem("stepaudio-3-asr-max", region) or "")
    for region in ("cn", "intl"):
        assert models_for(region) == SSE_MODELS and has_legacy_endpoint(region)
        assert model_problem("stepaudio-3-asr-max", region) is None


def args(region: str, model: str) -> argparse.Namespace:
    return argparse.Namespace(
        region=region, model=model, base_url=None, language=None, hotwords=None
    )


def test_model_flag_is_checked_against_step_plan():
    with pytest.raises(ConfigError, match=r"offers only stepaudio-2\.5-asr"):
        settings_from_args(args("cn-plan", "stepaudio-3-asr-max"))
    assert settings_from_args(args("intl-plan", "stepaudio-2.5-asr")).model == "stepaudio-2.5-asr"
    # Pay-as-you-go may have models newer than the table: the server decides there.
    assert settings_from_args(args("cn", "stepaudio-9-asr")).model == "stepaudio-9-asr"
