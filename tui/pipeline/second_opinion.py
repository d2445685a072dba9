"""The cross-check engine: the legacy /audio/transcriptions endpoint's step-asr-1.1, falling
back once to step-asr (the model the legacy docs fix) when it is refused, and recording which
engine answered. Step Plan has no legacy endpoint: there the check is unavailable, said so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tui.config import Settings
from tui.errors import AsrError, ErrorKind
from tui.pipeline.parts import Part
from tui.pipeline.prepare import Preparer
from tui.pipeline.stages import EventCallback, Preparing
from tui.stepfun.client import AsrClient
from tui.stepfun.failures import region_of
from tui.stepfun.options import has_legacy_endpoint, is_plan_region
from tui.transcript.model import CrossCheck, TrustWarning, WarningKind
from tui.transcript.similarity import similarity
from tui.transcript.text import join_texts

CROSS_CHECK_MODEL = "step-asr-1.1"
FALLBACK_CHECK_MODEL = "step-asr"
_REFUSED = (ErrorKind.MODEL_UNAVAILABLE, ErrorKind.WRONG_ENDPOINT)


def unavailable_here(settings: Settings, base_url: str) -> bool:
    """A Step Plan region or base URL: no legacy endpoint, so no cross-check."""
    region = settings.region
    return is_plan_region(region) or not has_legacy_endpoint(region) or region_of(base_url)[1]


def plan_no_cross_check() -> str:
    return (
        f"The cross-check is unavailable on Step Plan: its engine ({CROSS_CHECK_MODEL} on "
        "/audio/transcriptions) is not offered there, only stepaudio-2.5-asr on "
        "/step_plan/v1/audio/asr/sse. To cross-check, use a pay-as-you-go key with region cn "
        "or intl."
    )


class SecondOpinion:
    """One job's cross-check runs. ``model`` is the engine that answered (after a fallback,
    step-asr); ``notes`` say when it fell back."""

    def __init__(
        self, client: AsrClient, prep: Preparer, hotwords: tuple[str, ...], emit: EventCallback
    ) -> None:
        self.client = client
        self.prep = prep
        self.hotwords = hotwords
        self.emit = emit
        self.model = CROSS_CHECK_MODEL
        self.notes: list[TrustWarning] = []

    async def check(self, parts: list[Part], main_text: str) -> CrossCheck:
        texts: list[str] = []
        for part in parts:
            src, fmt = await self.prep.for_legacy(part)
            self.emit(Preparing(f"cross-checking with {self.model}"))
            other = await self._legacy(src, fmt)
            texts.append(other)
            if len(parts) > 1:  # a part's own second opinion, for its own checks
                score = await asyncio.to_thread(similarity, part.text, other)
                part.cross_check = CrossCheck(self.model, other, score)
        other = join_texts(texts)
        # difflib over a long transcript takes about a second: not on the event loop.
        score = await asyncio.to_thread(similarity, main_text, other)
        return CrossCheck(self.model, other, score)

    async def _legacy(self, src: Path, fmt: str) -> str:
        try:
            return await self._legacy_once(src, fmt)
        except AsrError as err:
            if err.kind not in _REFUSED or self.model == FALLBACK_CHECK_MODEL:
                raise
            self.model = FALLBACK_CHECK_MODEL
            self.notes.append(
                TrustWarning(
                    WarningKind.ENGINE_FALLBACK,
                    f"The cross-check engine {CROSS_CHECK_MODEL} was refused ({err.message}); "
                    f"{FALLBACK_CHECK_MODEL}, the legacy endpoint's documented model, answered "
                    "instead.",
                )
            )
            return await self._legacy_once(src, fmt)

    async def _legacy_once(self, src: Path, fmt: str) -> str:
        try:
            return await self.client.legacy_transcribe(
                src, model=self.model, hotwords=self.hotwords, fmt=fmt
            )
        except AsrError as err:
            # step-asr answers a silent stretch with 400 "no speech found": that is an empty
            # text (a second opinion that agrees with an empty part), not a failed check.
            if err.kind == ErrorKind.BAD_REQUEST and "no speech found" in err.message.lower():
                return ""
            raise
