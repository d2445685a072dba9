"""The result model's JSON form: complete, and a faithful round trip."""

from __future__ import annotations

import dataclasses

from tui.transcript.model import (
    CostEstimate,
    CrossCheck,
    Segment,
    TranscriptionResult,
    TrustWarning,
)


def _sample() -> TranscriptionResult:
    return TranscriptionResult(
        file="talk.wav",
        text="Hello there.",
        model="stepaudio-2.5-asr",
        language="en",
        segments=[Segment(0, 400, "Hello"), Segment(400, 900, " there.")],
        usage={"type": "tokens", "input_token_details": {"audio_tokens": 0}},
        elapsed_s=1.5,
        duration_s=2.0,
        attempts=2,
        warnings=[TrustWarning("repetition", "looped", serious=True)],
        cost=CostEstimate(0.0001, "CNY"),
        cross_check=CrossCheck("step-asr-1.1", "Hi.", 0.5),
    )


def test_to_json_matches_every_dataclass_field():
    result = _sample()
    # The hand-built form must stay what asdict() would give, so a new field is never lost.
    assert result.to_json() == dataclasses.asdict(result)
    assert list(result.to_json()) == [f.name for f in dataclasses.fields(result)]


def test_round_trip_and_independent_copies():
    result = _sample()
    data = result.to_json()
    data["usage"]["input_token_details"]["audio_tokens"] = 99
    assert result.usage["input_token_details"]["audio_tokens"] == 0
    again = TranscriptionResult.from_json(result.to_json())
    assert again == result and again.needs_review
