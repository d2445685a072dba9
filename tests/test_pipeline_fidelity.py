"""What the real service does that a trusting pipeline would miss, end to end through the real
client and the loopback emulator: text that stops early or skips a stretch, a missing language,
a body too large, a refused cross-check engine, and Step Plan's missing legacy endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.audio import ffmpeg as ff
from tui.audio.transcode import to_opus
from tui.config import Settings
from tui.errors import AsrError, ErrorKind
from tui.pipeline.transcription import cross_check_file, transcribe_file
from tui.stepfun.client import AsrClient
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.transcript.model import TranscriptionResult, WarningKind

needs_ffmpeg = pytest.mark.skipif(ff.find_ffmpeg(None) is None, reason="needs ffmpeg")


def warning(result: TranscriptionResult, kind: WarningKind):
    found = [w for w in result.warnings if w.code == kind]
    return found[0] if found else None


# ------------------------------------------------------------------------------ coverage


@needs_ffmpeg
async def test_text_that_stops_early_is_flagged_with_the_uncovered_range(
    tmp_path: Path, client: AsrClient
) -> None:
    wav = write_directive_wav(tmp_path / "talk.wav", 60.0, fault="stop_early", at=25)
    result = await transcribe_file(wav, Settings(), client)
    assert result.text  # a clean `done`, yet the last 35 s have no text
    found = warning(result, WarningKind.UNCOVERED_AUDIO)
    assert found is not None and found.serious and result.needs_review
    ((start, end),) = found.spans
    assert 25 <= start <= 29 and end == pytest.approx(60.0, abs=0.5)
    assert "stopped early" in found.message


@needs_ffmpeg
async def test_a_cross_check_keeps_the_coverage_warning_once(
    tmp_path: Path, client: AsrClient
) -> None:
    wav = write_directive_wav(tmp_path / "talk.wav", 60.0, fault="stop_early", at=25)
    first = await transcribe_file(wav, Settings(), client)
    checked = await cross_check_file(wav, Settings(), client, first)
    assert checked.cross_check is not None
    found = [w for w in checked.warnings if w.code == WarningKind.UNCOVERED_AUDIO]
    assert found == [warning(first, WarningKind.UNCOVERED_AUDIO)]


@needs_ffmpeg
async def test_a_skipped_stretch_in_the_middle_is_flagged(
    tmp_path: Path, client: AsrClient
) -> None:
    wav = write_directive_wav(tmp_path / "talk.wav", 60.0, fault="skip", start=15, end=45)
    result = await transcribe_file(wav, Settings(), client)
    found = warning(result, WarningKind.UNCOVERED_AUDIO)
    assert found is not None and found.serious
    ((start, end),) = found.spans
    assert 15 <= start <= 18 and 42 <= end <= 45


@needs_ffmpeg
async def test_a_transcript_that_covers_its_audio_is_not_flagged(
    tmp_path: Path, client: AsrClient
) -> None:
    gaps = ((20.0, 26.0),)  # a pause is not a hole
    wav = write_directive_wav(tmp_path / "talk.wav", 60.0, silence_gaps=gaps)
    result = await transcribe_file(wav, Settings(), client)
    assert result.text and warning(result, WarningKind.UNCOVERED_AUDIO) is None
    assert not result.needs_review


# ------------------------------------------------------------------------------ language


@needs_ffmpeg
async def test_far_too_short_text_without_a_language_suggests_one(
    tmp_path: Path, client: AsrClient
) -> None:
    wav = write_directive_wav(tmp_path / "talk.wav", 30.0, text="Hi.")
    result = await transcribe_file(wav, Settings(), client)
    hint = warning(result, WarningKind.LANGUAGE_HINT)
    assert hint is not None and hint.serious
    assert "--language en" in hint.message and "workbench" in hint.message
    # With the language set, the same text is not blamed on it.
    result = await transcribe_file(wav, Settings(language="en"), client)
    assert warning(result, WarningKind.LANGUAGE_HINT) is None


async def test_empty_text_without_a_language_says_so(tmp_path: Path, client: AsrClient) -> None:
    wav = write_directive_wav(tmp_path / "talk.wav", 8.0, text="")
    result = await transcribe_file(wav, Settings(), client)
    assert result.text == "" and warning(result, WarningKind.EMPTY) is not None
    hint = warning(result, WarningKind.LANGUAGE_HINT)
    assert hint is not None and "--language" in hint.message


# ---------------------------------------------------------------------------- too large


@needs_ffmpeg
@pytest.mark.parametrize("action", ["413", "reset"])
async def test_audio_refused_as_too_large_is_sent_once_more_compressed(
    tmp_path: Path, action: str
) -> None:
    wav = write_directive_wav(tmp_path / "talk.wav", 60.0)  # 1.9 MB: sent as it is
    with Emulator(max_body_bytes=1_000_000, body_limit=action) as emu:
        async with AsrClient(
            emu.demo_key, emu.base_url, backoff_s=0.01, large_body_bytes=1_000_000
        ) as client:
            result = await transcribe_file(wav, Settings(), client)
        records = emu.wait_for_requests(2)
    assert result.text and len(records) == 2
    refused, resent = records
    assert refused.reset if action == "reset" else refused.status == 413
    assert (resent.status, resent.format_type) == (200, "ogg")
    assert resent.body_bytes < refused.body_bytes / 4 or refused.reset
    note = warning(result, WarningKind.PAYLOAD_REDUCED)
    assert note is not None and not note.serious and "compressed to Opus" in note.message


@needs_ffmpeg
async def test_compressed_audio_still_too_large_is_split_and_put_back_in_order(
    tmp_path: Path,
) -> None:
    wav = write_directive_wav(tmp_path / "talk.wav", 60.0)
    opus = await to_opus(ff.require_ffmpeg(None, "test"), wav, tmp_path / "talk.ogg")
    limit = int(opus.stat().st_size * 4 / 3 * 0.8)  # the Opus file itself is refused
    with Emulator(max_body_bytes=limit) as emu:
        async with AsrClient(emu.demo_key, emu.base_url, backoff_s=0.01) as client:
            result = await transcribe_file(opus, Settings(), client)
        statuses = [r.status for r in emu.wait_for_requests(3)]
    assert statuses == [413, 200, 200]
    note = warning(result, WarningKind.PAYLOAD_REDUCED)
    assert note is not None and "split in 2" in note.message
    starts = [s.start_ms for s in result.segments]
    assert starts == sorted(starts) and max(starts) > 30_000  # second half in file time


# ---------------------------------------------------------------------- cross-check engines


async def test_a_refused_step_asr_1_1_falls_back_to_step_asr_once(tmp_path: Path) -> None:
    wav = write_directive_wav(tmp_path / "talk.wav", 6.0, text="Good morning everyone.")
    with Emulator(legacy_models=("step-asr", "stepaudio-2.5-asr")) as emu:
        async with AsrClient(emu.demo_key, emu.base_url, backoff_s=0.01) as client:
            result = await transcribe_file(wav, Settings(), client, cross_check=True)
        models = [(r.endpoint, r.model, r.status) for r in emu.wait_for_requests(3)]
    assert models == [
        ("sse", "stepaudio-2.5-asr", 200),
        ("legacy", "step-asr-1.1", 404),
        ("legacy", "step-asr", 200),
    ]
    cc = result.cross_check
    assert cc is not None and cc.model == "step-asr" and cc.text == "Good morning everyone."
    note = warning(result, WarningKind.ENGINE_FALLBACK)
    assert note is not None and "step-asr-1.1" in note.message
    assert result.cost is not None and "cross-check" in result.cost.basis


async def test_cross_check_on_step_plan_explains_instead_of_failing(
    tmp_path: Path, emu: Emulator
) -> None:
    wav = write_directive_wav(tmp_path / "talk.wav", 6.0, text="Good morning everyone.")
    settings = Settings(region="cn-plan")
    async with AsrClient(emu.plan_key, emu.plan_base_url, backoff_s=0.01) as client:
        result = await transcribe_file(wav, settings, client, cross_check=True)
        assert result.text == "Good morning everyone." and result.cross_check is None
        note = warning(result, WarningKind.CROSS_CHECK_FAILED)
        assert note is not None and "unavailable on Step Plan" in note.message
        assert [r.endpoint for r in emu.requests] == ["sse"]
        with pytest.raises(AsrError) as info:
            await cross_check_file(wav, settings, client, result)
    assert info.value.kind is ErrorKind.MODEL_UNAVAILABLE
    assert "unavailable on Step Plan" in str(info.value) and "region cn or intl" in str(info.value)
    assert [r.endpoint for r in emu.requests] == ["sse"]  # nothing sent for the check


# ------------------------------------------------------------------------- drifting deltas


@pytest.mark.parametrize("language", ["en", "zh"])
async def test_drifting_deltas_every_export_holds_exactly_the_final_text(
    tmp_path: Path, emu: Emulator, client: AsrClient, language: str
) -> None:
    from tui.transcript.formats import render

    wav = write_directive_wav(tmp_path / "talk.wav", 20.0, fault="drift")
    result = await transcribe_file(wav, Settings(language=language), client)
    assert emu.wait_for_requests(1)[0].drifted
    raw = "".join(s.text for s in result.segments)
    assert raw != result.text  # the deltas really drifted
    squeeze = "".join(result.text.split())
    for fmt in ("txt", "srt", "vtt", "md"):
        out = render(result, fmt)
        lines = [
            line
            for line in out.splitlines()
            if line.strip()
            and "-->" not in line
            and not line.isdigit()
            and line != "WEBVTT"
            and not line.startswith(("# ", "- **", ">"))
        ]
        if fmt == "md":
            lines = [line.split("** ", 1)[1].replace("\\", "") for line in lines]
        assert "".join("".join(lines).split()) == squeeze, fmt
