"""Probing real files made at test time: durations, bad files, no-ffmpeg behaviour."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_tone_wav
from tui.audio import ffmpeg as ff
from tui.audio.encoding import AudioFormat
from tui.audio.probe import ffmpeg_probe, probe
from tui.errors import AsrError, ErrorKind

FFMPEG = ff.find_ffmpeg()


def run_ffmpeg(*args: str) -> None:
    assert FFMPEG is not None
    subprocess.run(
        [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 3 s tone in several containers, a video with and without sound, bad files."""
    d = tmp_path_factory.mktemp("media")
    wav = write_tone_wav(d / "tone.wav", 3.0)
    files = {"wav": wav}
    for name, codec in (
        ("m4a", ["-c:a", "aac"]),
        ("flac", []),
        ("webm", ["-c:a", "libopus"]),
        ("mp3", ["-c:a", "libmp3lame"]),
    ):
        out = d / f"tone.{name}"
        run_ffmpeg("-i", str(wav), *codec, str(out))
        files[name] = out
    video = d / "clip.mp4"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=96x64:rate=5:duration=3",
        "-i",
        str(wav),
        "-c:v",
        "mpeg4",
        "-c:a",
        "aac",
        "-shortest",
        str(video),
    )
    files["video"] = video
    silent_video = d / "silent.mp4"
    run_ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=96x64:rate=5:duration=2",
        "-c:v",
        "mpeg4",
        str(silent_video),
    )
    files["silent_video"] = silent_video
    (d / "empty.wav").write_bytes(b"")
    files["empty"] = d / "empty.wav"
    (d / "notes.mp3").write_text("meeting notes, not audio\n" * 50)
    files["text"] = d / "notes.mp3"
    truncated = d / "cut.m4a"
    truncated.write_bytes(files["m4a"].read_bytes()[:2000])  # moov atom lost
    files["truncated"] = truncated
    no_samples = d / "nothing.wav"
    write_tone_wav(no_samples, 0.0)
    files["no_samples"] = no_samples
    return files


@pytest.mark.parametrize("name", ["wav", "m4a", "flac", "webm", "mp3", "video"])
async def test_durations(media: dict[str, Path], name: str) -> None:
    result = await probe(media[name], ffmpeg=FFMPEG)
    # mp3/aac add encoder padding; the video is cut to its shortest stream.
    assert result.duration_s == pytest.approx(3.0, abs=0.15)


async def test_wav_header_is_exact(media: dict[str, Path]) -> None:
    result = await probe(media["wav"], ffmpeg=FFMPEG)
    assert result.source == "header"
    assert result.duration_s == 3.0
    assert (result.sample_rate, result.channels, result.bits) == (16000, 1, 16)


async def test_webm_needs_ffprobe_or_ffmpeg(media: dict[str, Path]) -> None:
    result = await probe(media["webm"], ffmpeg=FFMPEG)
    assert result.source in ("ffprobe", "ffmpeg")


async def test_ffmpeg_only_probe(media: dict[str, Path]) -> None:
    """The bundled imageio-ffmpeg has no ffprobe: parse ffmpeg's own output."""
    assert FFMPEG is not None
    got = await ffmpeg_probe(FFMPEG, media["webm"])
    assert got.duration_s == pytest.approx(3.0, abs=0.1)
    with pytest.raises(AsrError, match="no audio stream"):
        await ffmpeg_probe(FFMPEG, media["silent_video"])
    with pytest.raises(AsrError, match=r"notes\.mp3: not readable as audio"):
        await ffmpeg_probe(FFMPEG, media["text"])


def write_live_webm(src: Path, out: Path) -> Path:
    """Like a browser recording: written to a pipe, so the container records no duration."""
    assert FFMPEG is not None
    with out.open("wb") as fh:
        subprocess.run(
            [
                FFMPEG,
                "-nostdin",
                "-loglevel",
                "error",
                "-i",
                str(src),
                "-c:a",
                "libopus",
                "-f",
                "webm",
                "-",
            ],
            stdout=fh,
            stdin=subprocess.DEVNULL,
            check=True,
            timeout=60,
        )
    return out


async def test_webm_without_duration_is_decoded(tmp_path: Path, media: dict[str, Path]) -> None:
    assert FFMPEG is not None
    out = write_live_webm(media["wav"], tmp_path / "live.webm")
    got = await ffmpeg_probe(FFMPEG, out)
    assert got.source == "decode"
    assert got.duration_s == pytest.approx(3.0, abs=0.1)
    via_probe = await probe(out, ffmpeg=FFMPEG)  # ffprobe finds no duration either
    assert via_probe.duration_s == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty", "empty.wav: the file is empty (0 bytes)"),
        ("text", "notes.mp3: not readable as audio"),
        ("truncated", "cut.m4a: not readable as audio"),
        ("silent_video", "silent.mp4: contains no audio stream"),
        ("no_samples", "nothing.wav: contains no audio samples"),
    ],
)
async def test_bad_files(media: dict[str, Path], name: str, message: str) -> None:
    with pytest.raises(AsrError) as info:
        await probe(media[name], ffmpeg=FFMPEG)
    assert info.value.kind == ErrorKind.BAD_INPUT
    assert str(info.value).startswith(message)


async def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AsrError, match=r"gone\.wav: file not found"):
        await probe(tmp_path / "gone.wav", ffmpeg=FFMPEG)


async def test_raw_pcm_duration_from_layout(tmp_path: Path) -> None:
    raw = tmp_path / "x.pcm"
    raw.write_bytes(b"\0\0" * 16000 * 2)  # 2 s of 16 kHz 16-bit mono
    got = await probe(raw, ffmpeg=None, pcm=AudioFormat("pcm", rate=16000, bits=16, channel=1))
    assert got.duration_s == 2.0
    with pytest.raises(AsrError, match="sample rate"):
        await probe(raw, ffmpeg=None, pcm=AudioFormat("pcm"))


async def test_without_ffmpeg_native_headers_still_work(
    media: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    exe = ff.find_ffmpeg()
    assert exe is None
    assert (await probe(media["wav"], ffmpeg=exe)).duration_s == 3.0
    with pytest.raises(AsrError) as info:
        await probe(media["webm"], ffmpeg=exe)
    assert "apt install ffmpeg" in str(info.value)
    assert str(info.value).startswith("tone.webm: ")


def test_tools_present() -> None:
    # The suite's real-audio tests need these; fail loudly rather than skip silently.
    assert FFMPEG is not None
    assert shutil.which("ffprobe") is not None


def loud_then_soft(d: Path) -> Path:
    """4 s of loud noise then 26 s of a soft tone: a VBR encoder spends most bits at the start,
    so size divided by the starting bitrate underestimates the length."""
    loud = d / "loud.wav"
    soft = d / "soft.wav"
    both = d / "both.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(loud),
            "synth",
            "4",
            "whitenoise",
            "vol",
            "0.8",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            str(soft),
            "synth",
            "26",
            "sine",
            "220",
            "vol",
            "0.3",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    subprocess.run(
        ["sox", str(loud), str(soft), str(both)], check=True, capture_output=True, timeout=60
    )
    return both


async def test_vbr_mp3_without_frame_count_is_counted(
    tmp_path: Path, media: dict[str, Path]
) -> None:
    from tui.audio.headers import read_header_info

    vbr = tmp_path / "vbr.mp3"
    run_ffmpeg(
        "-i",
        str(loud_then_soft(tmp_path)),
        "-c:a",
        "libmp3lame",
        "-q:a",
        "4",
        "-write_xing",
        "0",
        str(vbr),
    )
    # No Xing/Info/VBRI frame: the frame headers are walked and counted, not size / bitrate.
    counted = read_header_info(vbr)
    assert counted is not None and not counted.estimated
    assert counted.duration_s == pytest.approx(30.0, abs=0.15)
    got = await probe(vbr, ffmpeg=FFMPEG)
    assert got.duration_s == pytest.approx(30.0, abs=0.15)
    assert got.source == "header"
    # An MP3 that records its frame count (LAME's Info tag) is read from the header too.
    assert (await probe(media["mp3"], ffmpeg=FFMPEG)).source == "header"


async def test_duration_estimated_from_bitrate_is_decoded(tmp_path: Path) -> None:
    # ADTS AAC (phone voice memos) has no length field: ffprobe and ffmpeg both guess.
    assert FFMPEG is not None
    adts = tmp_path / "memo.aac"
    run_ffmpeg("-i", str(loud_then_soft(tmp_path)), "-c:a", "aac", "-f", "adts", str(adts))
    got = await probe(adts, ffmpeg=FFMPEG)
    assert got.duration_s == pytest.approx(30.0, abs=0.15)
    only_ffmpeg = await ffmpeg_probe(FFMPEG, adts)  # the bundled build has no ffprobe
    assert only_ffmpeg.duration_s == pytest.approx(30.0, abs=0.15)
