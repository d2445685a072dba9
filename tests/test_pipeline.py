"""transcribe_file end to end against the loopback emulator, with real audio files."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tui import locations
from tui.audio.encoding import AudioFormat
from tui.audio.ffmpeg import find_ffmpeg
from tui.config import Settings
from tui.errors import AsrError, ErrorKind
from tui.pipeline.transcription import PartStarted, Preparing, Probed, transcribe_file
from tui.stepfun.client import AsrClient
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.stepfun.events import AttemptRestarted, DeltaReceived, TranscriptDone

FFMPEG = find_ffmpeg()
TEXT = (
    "Good morning everyone. Today we review the audio pipeline, the subtitles and the "
    "cost report. Questions come at the end."
)


def ffmpeg(*args: str) -> None:
    assert FFMPEG is not None
    subprocess.run(
        [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture
def settings() -> Settings:
    return Settings(region="cn")


class Events(list[Any]):
    def of(self, kind: type) -> list[Any]:
        return [e for e in self if isinstance(e, kind)]


def work_dirs() -> list[Path]:
    root = locations.cache_dir() / "work"
    return list(root.iterdir()) if root.exists() else []


async def test_native_wav_sent_as_is(
    tmp_path: Path, emu: Emulator, client: AsrClient, settings: Settings
) -> None:
    wav = write_directive_wav(tmp_path / "talk.wav", 8.0, text=TEXT)
    events = Events()
    result = await transcribe_file(wav, settings, client, on_event=events.append)
    assert result.text == TEXT
    assert result.duration_s == 8.0
    assert result.model == "stepaudio-2.5-asr"
    assert result.segments and result.segments[-1].end_ms <= 8000
    assert "".join(s.text for s in result.segments) == TEXT
    assert result.warnings == []
    assert result.cost is not None and result.cost.currency == "CNY"
    assert result.cost.amount == pytest.approx(0.15 * 8 / 3600, rel=1e-3)
    assert events.of(Probed) == [Probed(8.0)]
    assert events.of(Preparing) == []
    assert "".join(d.text for d in events.of(DeltaReceived)) == TEXT
    assert len(events.of(TranscriptDone)) == 1
    (req,) = emu.requests
    assert req.format_type == "wav" and req.directive
    assert req.enable_timestamp is True
    assert work_dirs() == []


async def test_options_come_from_settings(tmp_path: Path, emu: Emulator, client: AsrClient) -> None:
    wav = write_directive_wav(tmp_path / "a.wav", 2.0, text="你好，世界。")
    s = Settings(
        model="stepaudio-3-asr-max",
        language="zh",
        hotwords=["蕾格"],
        timestamps=False,
        region="intl",
    )
    result = await transcribe_file(wav, s, client)
    (req,) = emu.requests
    assert (req.model, req.language, req.hotwords, req.enable_timestamp) == (
        "stepaudio-3-asr-max",
        "zh",
        ["蕾格"],
        False,
    )
    assert all(seg.start_ms == seg.end_ms == 0 for seg in result.segments)
    assert result.cost is not None
    assert (result.cost.currency, result.cost.amount) == ("USD", round(0.40 * 2 / 3600, 6))


@pytest.mark.parametrize("kind", ["m4a", "flac", "webm", "mp4"])
async def test_other_formats_are_transcoded_to_opus(
    tmp_path: Path, emu: Emulator, client: AsrClient, settings: Settings, kind: str
) -> None:
    wav = write_directive_wav(tmp_path / "src.wav", 4.0)
    src = tmp_path / f"in.{kind}"
    if kind == "mp4":  # a video: only its audio stream is sent
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=96x64:rate=5:duration=4",
            "-i",
            str(wav),
            "-c:v",
            "mpeg4",
            "-c:a",
            "aac",
            "-shortest",
            str(src),
        )
    else:
        ffmpeg("-i", str(wav), *(["-c:a", "libopus"] if kind == "webm" else []), str(src))
    events = Events()
    result = await transcribe_file(src, settings, client, on_event=events.append)
    assert events.of(Preparing) == [Preparing("transcoding to Opus")]
    (req,) = emu.requests
    assert req.format_type == "ogg"
    assert result.duration_s == pytest.approx(4.0, abs=0.1)
    assert result.text  # the emulator decodes the Ogg header and emits words
    assert work_dirs() == []  # the temporary Opus file is gone


async def test_big_wav_compressed_unless_disabled(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    wav = write_directive_wav(tmp_path / "big.wav", 6.0)  # 192 kB
    s = Settings(compress_threshold_mb=0.1)
    events = Events()
    await transcribe_file(wav, s, client, on_event=events.append)
    assert events.of(Preparing) == [Preparing("compressing to Opus")]
    await transcribe_file(wav, Settings(compress_threshold_mb=0.1, compress=False), client)
    await transcribe_file(wav, Settings(compress_threshold_mb=1.0), client)
    first, second, third = emu.requests
    assert first.format_type == "ogg"
    assert first.audio_bytes < wav.stat().st_size / 5
    assert (second.format_type, second.audio_bytes) == ("wav", wav.stat().st_size)
    assert third.format_type == "wav"


async def test_raw_pcm_needs_and_uses_override(
    tmp_path: Path, emu: Emulator, client: AsrClient, settings: Settings
) -> None:
    wav = write_directive_wav(tmp_path / "x.wav", 3.0)
    raw = tmp_path / "x.pcm"
    raw.write_bytes(wav.read_bytes()[44:])
    with pytest.raises(AsrError, match="raw PCM") as info:
        await transcribe_file(raw, settings, client)
    assert info.value.kind == ErrorKind.BAD_INPUT
    fmt = AudioFormat("pcm", rate=16000, bits=16, channel=1)
    result = await transcribe_file(raw, settings, client, format_override=fmt)
    assert result.duration_s == pytest.approx(3.0, abs=0.01)
    (req,) = emu.requests
    assert req.format_type == "pcm"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty.wav: the file is empty (0 bytes)"),
        (b"RIFF\x10\x00\x00\x00WAVEjunkjunk", "empty.wav: not readable as audio"),
        (b"just some text\n" * 100, "empty.wav: not readable as audio"),
    ],
)
async def test_bad_files_fail_before_any_request(
    tmp_path: Path,
    emu: Emulator,
    client: AsrClient,
    settings: Settings,
    content: bytes,
    message: str,
) -> None:
    bad = tmp_path / "empty.wav"
    bad.write_bytes(content)
    with pytest.raises(AsrError) as info:
        await transcribe_file(bad, settings, client)
    assert info.value.kind == ErrorKind.BAD_INPUT
    assert str(info.value).startswith(message)
    assert emu.requests == []


@pytest.fixture
def without_ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "no-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)


@pytest.mark.usefixtures("without_ffmpeg")
async def test_without_ffmpeg_native_works_rest_fails_helpfully(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    assert find_ffmpeg() is None
    wav = write_directive_wav(tmp_path / "ok.wav", 3.0, text="Still works.")
    result = await transcribe_file(wav, Settings(), client)
    assert result.text == "Still works."
    # A big WAV is sent uncompressed, with a note saying why.
    big = await transcribe_file(wav, Settings(compress_threshold_mb=0.01), client)
    assert [w.code for w in big.warnings] == ["not_compressed"]
    assert not big.needs_review
    assert [r.format_type for r in emu.requests] == ["wav", "wav"]
    flac = tmp_path / "song.flac"
    ffmpeg("-i", str(wav), str(flac))  # our helper runs the real binary by its full path
    with pytest.raises(AsrError) as info:
        await transcribe_file(flac, Settings(), client)
    assert info.value.kind == ErrorKind.BAD_INPUT
    text = str(info.value)
    assert text.startswith("song.flac")
    assert "apt install ffmpeg" in text and "stepfun-asr[ffmpeg]" in text
    assert len(emu.requests) == 2


async def test_empty_and_short_audio_warn(
    tmp_path: Path, client: AsrClient, settings: Settings
) -> None:
    silent = write_directive_wav(tmp_path / "silent.wav", 3.0, amplitude=0.0)
    result = await transcribe_file(silent, settings, client)
    assert result.text == ""
    assert [w.code for w in result.warnings] == ["silence"]  # digital silence: not sent
    assert result.needs_review and result.cost is None
    mumble = write_directive_wav(tmp_path / "mumble.wav", 3.0, text="")
    result = await transcribe_file(mumble, settings, client)
    assert result.text == ""
    # Sound but no text and no language set: the language hint comes with it.
    assert {w.code for w in result.warnings} == {"empty", "language_hint"}
    assert result.needs_review
    short = write_directive_wav(tmp_path / "short.wav", 0.5)
    result = await transcribe_file(short, settings, client)
    assert [w.code for w in result.warnings] == ["short_audio", "empty"]


def long_wav(path: Path, seconds: float) -> Path:
    """Voiced 9 s, then 1 s of silence, repeated: pauses to split at."""
    gaps = tuple((t + 9.0, t + 10.0) for t in range(0, int(seconds), 10))
    return write_directive_wav(path, seconds, silence_gaps=gaps)


async def test_long_file_split_into_ordered_parts(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    wav = long_wav(tmp_path / "lecture.wav", 75.0)
    s = Settings(chunk_minutes=0.5, chunk_parallelism=2)  # 30 s parts: 3 of them
    events = Events()
    result = await transcribe_file(wav, s, client, on_event=events.append)
    starts = events.of(PartStarted)
    assert sorted(p.index for p in starts) == [1, 2, 3]
    assert all(p.count == 3 for p in starts)
    offsets = sorted(p.offset_s for p in starts)
    assert offsets[0] == 0.0
    # Cuts sit inside the 1 s pauses (9–10, 19–20, ...).
    assert all(o % 10 > 9.0 for o in offsets[1:])
    reqs = emu.requests
    assert len(reqs) == 3 and all(r.format_type == "ogg" for r in reqs)
    # Timestamps are in file time and in order; the last word ends near the end of the file.
    ends = [seg.end_ms for seg in result.segments]
    assert ends == sorted(ends)
    assert 60_000 < ends[-1] <= 75_000
    # Live deltas arrive in file order too, already shifted.
    delta_starts = [d.start_ms for d in events.of(DeltaReceived)]
    assert delta_starts == sorted(delta_starts)
    assert delta_starts[-1] > 60_000
    assert "".join(d.text for d in events.of(DeltaReceived)).split() == result.text.split()
    # Usage is summed over the parts (the emulator counts one output token per word).
    assert result.usage["output_tokens"] == len(result.segments)
    assert result.usage["input_token_details"]["audio_tokens"] == 0
    (done,) = events.of(TranscriptDone)
    assert done.text == result.text
    assert result.duration_s == 75.0
    assert work_dirs() == []


async def test_part_retried_once(tmp_path: Path, emu: Emulator) -> None:
    wav = long_wav(tmp_path / "a.wav", 45.0)
    s = Settings(chunk_minutes=0.5, chunk_parallelism=1)
    emu.inject("status", count=1, code=503)
    events = Events()
    async with AsrClient(emu.demo_key, emu.base_url, max_retries=0) as c:
        result = await transcribe_file(wav, s, c, on_event=events.append)
    assert result.text
    assert len(emu.requests) == 3  # two parts, one of them twice
    assert len(events.of(AttemptRestarted)) == 1
    assert result.attempts == 2


async def test_failed_part_named_in_the_error(tmp_path: Path, emu: Emulator) -> None:
    wav = long_wav(tmp_path / "a.wav", 45.0)
    s = Settings(chunk_minutes=0.5, chunk_parallelism=1)
    emu.inject("status", count=100, code=500)
    async with AsrClient(emu.demo_key, emu.base_url, max_retries=0) as c:
        with pytest.raises(AsrError) as info:
            await transcribe_file(wav, s, c)
    err = info.value
    assert err.kind == ErrorKind.SERVER_ERROR
    assert str(err).startswith("part 1 of 2 (00:00:00–00:00:")
    assert work_dirs() == []


async def test_cross_check_catches_repetition(
    tmp_path: Path, emu: Emulator, client: AsrClient, settings: Settings
) -> None:
    wav = write_directive_wav(tmp_path / "chorus.wav", 30.0, text=TEXT)
    emu.inject("repeat", count=1, factor=3.5)
    result = await transcribe_file(wav, settings, client, cross_check=True)
    assert result.cross_check is not None
    assert result.cross_check.model == "step-asr-1.1"
    assert result.cross_check.text == TEXT
    assert result.cross_check.similarity < 0.5
    codes = {w.code: w.serious for w in result.warnings}
    assert codes == {"repetition": True, "cross_check_differs": True}
    assert [r.endpoint for r in emu.requests] == ["sse", "legacy"]
    assert result.cost is not None
    assert result.cost.amount == pytest.approx((0.15 + 2.2) * 30 / 3600, rel=1e-3)


async def test_cross_check_agrees(tmp_path: Path, emu: Emulator, client: AsrClient) -> None:
    wav = write_directive_wav(tmp_path / "m.wav", 5.0, text=TEXT)
    result = await transcribe_file(wav, Settings(cross_check_auto=True), client)
    assert result.cross_check is not None and result.cross_check.similarity == 1.0
    assert result.warnings == []


async def test_cancel_mid_stream_cleans_up(tmp_path: Path) -> None:
    wav = write_directive_wav(tmp_path / "slow.wav", 20.0)
    src = tmp_path / "slow.m4a"  # transcoded, so a temporary file exists while streaming
    ffmpeg("-i", str(wav), "-c:a", "aac", str(src))
    cancel = asyncio.Event()
    events = Events()

    def on_event(event: object) -> None:
        events.append(event)
        if isinstance(event, DeltaReceived):
            cancel.set()

    with Emulator(rtf=1.0) as emu:  # real time: 20 s of deltas unless cancelled
        async with AsrClient(emu.demo_key, emu.base_url) as c:
            with pytest.raises(AsrError) as info:
                await transcribe_file(src, Settings(), c, on_event=on_event, cancel=cancel)
    assert info.value.kind == ErrorKind.CANCELED
    assert len(events.of(DeltaReceived)) >= 1
    assert work_dirs() == []


def make_long_file(path: Path) -> Path:
    """50 s tone + 10 s pause, 31 times, at 8 kHz: generated in well under a second."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            "50",
            "sine",
            "300",
            "vol",
            "0.5",
            "pad",
            "0",
            "10",
            "repeat",
            "30",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


async def test_cancel_while_transcoding_kills_ffmpeg(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    wav = write_directive_wav(tmp_path / "long.wav", 60.0)
    src = tmp_path / "long.flac"
    ffmpeg("-i", str(wav), str(src))
    cancel = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, Preparing):
            cancel.set()  # the transcode is about to start

    with pytest.raises(AsrError) as info:
        await transcribe_file(src, Settings(), client, on_event=on_event, cancel=cancel)
    assert info.value.kind == ErrorKind.CANCELED
    assert emu.requests == []
    assert work_dirs() == []
    from tests.test_audio_ffmpeg import _children_named

    assert _children_named("ffmpeg") == []


@pytest.mark.slow
async def test_31_minute_recording(tmp_path: Path, emu: Emulator, client: AsrClient) -> None:
    src = make_long_file(tmp_path / "long.wav")
    events = Events()
    result = await transcribe_file(src, Settings(), client, on_event=events.append)
    assert result.duration_s == pytest.approx(1860.0, abs=0.5)
    starts = sorted(events.of(PartStarted), key=lambda p: p.index)
    # Over the 25-minute limit, and long enough to go as 2 x chunk_parallelism parts (at most
    # 8: within 10 requests a minute).
    count = min(8, 2 * Settings().chunk_parallelism)
    assert [(p.index, p.count) for p in starts] == [(i, count) for i in range(1, count + 1)]
    cuts = [p.offset_s for p in starts[1:]]
    assert all(c % 60 > 50 for c in cuts)  # inside pauses
    bounds = [0.0, *cuts, 1860.0]
    assert all(0 < b - a <= 25 * 60 for a, b in itertools.pairwise(bounds))
    assert len(emu.requests) == count
    assert result.segments[-1].end_ms > 1800_000
    assert work_dirs() == []


# ---------------------------------------------------------------- pure helpers (no server)


def test_usage_numeric_leaves_are_summed() -> None:
    from tui.pipeline.parts import sum_usage as _sum_usage

    a = {
        "type": "tokens",
        "input_tokens": 10,
        "output_tokens": 3,
        "input_token_details": {"text_tokens": 10, "audio_tokens": 0},
    }
    b = {
        "type": "tokens",
        "input_tokens": 7,
        "output_tokens": 2,
        "extra": 1.5,
        "input_token_details": {"text_tokens": 7, "audio_tokens": 1},
    }
    assert _sum_usage([a, b]) == {
        "type": "tokens",
        "input_tokens": 17,
        "output_tokens": 5,
        "extra": 1.5,
        "input_token_details": {"text_tokens": 17, "audio_tokens": 1},
    }
    assert _sum_usage([a]) == a


def test_join_texts() -> None:
    from tui.transcript.text import join_texts as _join_texts

    assert _join_texts(["Hello there.", " And more.", ""]) == "Hello there. And more."
    assert _join_texts(["你好，世界。", "我们继续。"]) == "你好，世界。我们继续。"
    assert _join_texts(["第一部分", "第二部分"]) == "第一部分第二部分"


def test_ordered_events_hold_later_parts_and_replay_on_restart() -> None:
    from tui.pipeline.parts import OrderedEvents as _OrderedEvents

    out: list[Any] = []
    order = _OrderedEvents(out.append, 3)
    order.feed(2, DeltaReceived("Second", 30_000, 30_400))
    order.feed(1, DeltaReceived("First", 0, 400))
    assert [e.text for e in out if isinstance(e, DeltaReceived)] == ["First"]
    order.finished(1)
    # Part 2 becomes live: its held word follows, with the space the joined text has.
    assert [e.text for e in out if isinstance(e, DeltaReceived)] == ["First", " Second"]
    out.clear()
    order.feed(2, AttemptRestarted(2, 1.0, "server error"))
    # The restart discards only part 2: part 1's text is sent again at once.
    assert isinstance(out[0], AttemptRestarted)
    assert [e.text for e in out[1:]] == ["First"]
    out.clear()
    order.feed(3, DeltaReceived("Third", 60_000, 60_300))
    order.feed(3, AttemptRestarted(2, 1.0, "x"))  # a held part restarting: nothing to show
    order.feed(3, DeltaReceived("Third!", 60_000, 60_300))
    assert out == []
    order.feed(2, DeltaReceived("Again", 30_000, 30_400))
    order.finished(2)
    order.finished(3)
    assert [e.text for e in out] == [" Again", " Third!"]


async def test_silent_part_is_expected_and_cross_check_still_runs(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    # 80 s in three parts; the middle one falls inside 30 s of silence. The emulator (like the
    # service) returns nothing for it, and step-asr answers it with 400 "no speech found".
    wav = write_directive_wav(tmp_path / "gap.wav", 80.0, silence_gaps=((25.0, 55.0),))
    s = Settings(chunk_minutes=0.5, compress=False)
    result = await transcribe_file(wav, s, client, cross_check=True)
    assert sum(r.endpoint == "sse" for r in emu.requests) == 3
    assert result.text
    assert result.cross_check is not None and result.cross_check.similarity == 1.0
    codes = {w.code: w.serious for w in result.warnings}
    assert codes == {"empty_part": False}
    assert "Part 2 of 3" in result.warnings[0].message
    assert not result.needs_review


async def test_loop_in_one_part_of_a_long_file_is_flagged(
    tmp_path: Path, emu: Emulator, client: AsrClient
) -> None:
    # Six parts, one of them looped 3.5 times: the whole transcript is only ~1.4x too long,
    # within what fast speech can be, so only the part's own rate gives the loop away.
    wav = long_wav(tmp_path / "a.wav", 165.0)
    s = Settings(chunk_minutes=0.5, chunk_parallelism=1)  # part 1 gets the injected fault
    emu.inject("repeat", count=1, factor=3.5)
    result = await transcribe_file(wav, s, client)
    (warning,) = result.warnings
    assert (warning.code, warning.serious) == ("repetition", True)
    assert warning.message.startswith("Part 1 of 6 (00:00:00–00:00:")
    assert result.needs_review


async def test_similarity_runs_off_the_event_loop(
    tmp_path: Path, emu: Emulator, client: AsrClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from tui.transcript.similarity import similarity

    threads: list[threading.Thread] = []

    def recording(a: str, b: str) -> float:
        threads.append(threading.current_thread())
        return similarity(a, b)

    monkeypatch.setattr("tui.pipeline.second_opinion.similarity", recording)
    wav = write_directive_wav(tmp_path / "m.wav", 5.0, text=TEXT)
    result = await transcribe_file(wav, Settings(), client, cross_check=True)
    assert result.cross_check is not None and result.cross_check.similarity == 1.0
    assert threads and threading.main_thread() not in threads


def test_part_warnings_name_a_hole() -> None:
    from tui.audio.split import PartPlan, Silence
    from tui.pipeline.parts import Part, part_warnings
    from tui.stepfun.options import AudioInput

    audio = AudioInput("x.ogg", AudioFormat("ogg"), 30.0)
    parts = [
        Part(PartPlan(1, 3, 0.0, 600.0), audio, text="Hello there."),
        Part(PartPlan(2, 3, 600.0, 600.0), audio, text=""),
        Part(PartPlan(3, 3, 1200.0, 600.0), audio, text="Goodbye."),
    ]
    (hole,) = part_warnings(parts, [Silence(0.0, 5.0)], "en")
    assert (hole.code, hole.serious) == ("empty_part", True)
    assert hole.message.startswith("Part 2 of 3 (00:10:00–00:20:00) came back empty")
    # All empty: the whole-file "empty" warning says it; one part: nothing to add.
    assert part_warnings([Part(p.plan, audio) for p in parts], [], "en") == []
    assert part_warnings(parts[:1], [], "en") == []


def test_part_segments_shift_all_or_nothing() -> None:
    from tui.pipeline.parts import shift_segments
    from tui.transcript.model import Segment

    timed = [Segment(0, 0, "So,"), Segment(0, 400, " we"), Segment(400, 900, " go.")]
    assert shift_segments(timed, 60_000) == [
        Segment(60_000, 60_000, "So,"),
        Segment(60_000, 60_400, " we"),
        Segment(60_400, 60_900, " go."),
    ]
    untimed = [Segment(0, 0, "So,"), Segment(0, 0, " we")]
    assert shift_segments(untimed, 60_000) == untimed


async def test_unwritable_cache_is_a_clear_error(
    tmp_path: Path, emu: Emulator, client: AsrClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    wav = write_directive_wav(tmp_path / "a.wav", 3.0)
    src = tmp_path / "a.flac"  # needs a transcode, so a temporary file
    ffmpeg("-i", str(wav), str(src))
    with pytest.raises(AsrError) as info:
        await transcribe_file(src, Settings(), client)
    assert "Cannot create a temporary folder in" in str(info.value)
    assert str(blocker) in str(info.value)
    assert emu.requests == []


def test_stale_work_folders_from_a_killed_process_are_swept(tmp_path: Path) -> None:
    import os
    import time

    from tui.pipeline.prepare import STALE_AFTER_S, sweep_stale

    old = tmp_path / "old-job"
    (old / "nested").mkdir(parents=True)
    (old / "nested" / "part.ogg").write_bytes(b"x")
    fresh = tmp_path / "running-job"
    fresh.mkdir()
    past = time.time() - STALE_AFTER_S - 60
    os.utime(old, (past, past))
    assert sweep_stale(tmp_path) == [old]
    assert not old.exists() and fresh.exists()
