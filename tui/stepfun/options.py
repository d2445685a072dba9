"""What to ask of the model, how the audio is encoded, and what each region offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from tui.audio.encoding import AudioFormat

SSE_MODELS = ("stepaudio-2.5-asr", "stepaudio-3-asr-max", "stepaudio-2-asr-pro")
LEGACY_MODELS = ("step-asr", "step-asr-1.1")
# What the legacy /audio/transcriptions endpoint accepts: its docs fix the model to step-asr;
# step-asr-1.1 was seen working in April 2026; stepaudio-2.5-asr was seen accepted there from
# July 2026 (docs/stepfun-api.md §1, §8).
LEGACY_ACCEPTS = ("step-asr", "step-asr-1.1", "stepaudio-2.5-asr")


@dataclass(frozen=True)
class RegionOffer:
    """The engines one region serves: SSE models (the first is the default) and whether the
    legacy multipart endpoint (the cross-check engine) exists there."""

    models: tuple[str, ...]
    legacy: bool


# Step Plan audio (docs, Step Plan audio integration page): stepaudio-2.5-asr only, on
# /step_plan/v1/audio/asr/sse, and no /step_plan/v1/audio/transcriptions (a June 2026 PR saw
# audio 404s under /step_plan/v1). The pay-as-you-go lists follow the asr-sse reference pages
# and the price pages (stepaudio-3-asr-max is on the international page; kept for cn too, as
# the notes quote a CNY price for it).
REGION_OFFERS: dict[str, RegionOffer] = {
    "cn": RegionOffer(SSE_MODELS, legacy=True),
    "intl": RegionOffer(SSE_MODELS, legacy=True),
    "cn-plan": RegionOffer(("stepaudio-2.5-asr",), legacy=False),
    "intl-plan": RegionOffer(("stepaudio-2.5-asr",), legacy=False),
}


def _offer(region: str) -> RegionOffer:
    # An unknown region (a newer config) is treated like pay-as-you-go China: widest offer.
    return REGION_OFFERS.get(region, REGION_OFFERS["cn"])


def models_for(region: str) -> tuple[str, ...]:
    """The SSE models ``region`` offers, the default first."""
    return _offer(region).models


def has_legacy_endpoint(region: str) -> bool:
    """Whether ``region`` has /audio/transcriptions (step-asr: the cross-check engine)."""
    return _offer(region).legacy


def is_plan_region(region: str) -> bool:
    return region.endswith("-plan")


def model_problem(model: str, region: str) -> str | None:
    """Why ``model`` cannot be used in ``region`` (one sentence), or None when it can."""
    offered = models_for(region)
    if model in offered:
        return None
    if is_plan_region(region):
        return (
            f"Step Plan (region {region}) offers only {', '.join(offered)}; {model} needs a "
            "pay-as-you-go key with region cn or intl."
        )
    return f"Unknown model {model!r} for region {region}; choose from {', '.join(offered)}."


def plan_model_problem(settings: HasModelAndRegion) -> str | None:
    """``model_problem`` where the region's list is documented as complete (Step Plan); a
    pay-as-you-go region may have models newer than this table, so there the server decides.
    """
    if not is_plan_region(settings.region):
        return None
    return model_problem(settings.model, settings.region)


class HasModelAndRegion(Protocol):
    model: str
    region: str


@dataclass(frozen=True)
class TranscriptionOptions:
    model: str = "stepaudio-2.5-asr"
    language: str | None = None  # None: not sent (no source shows that the service detects it)
    hotwords: tuple[str, ...] = ()
    enable_itn: bool = True
    enable_timestamp: bool = True


@dataclass(frozen=True)
class AudioInput:
    """A file on disk to send as-is, and the format to declare for it."""

    path: str
    format: AudioFormat
    duration_s: float | None = field(default=None, compare=False)
