"""Transcoding real files to 16 kHz mono Ogg/Opus."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import write_tone_wav
from tui.audio.encoding import AudioFormat
from tui.audio.ffmpeg import find_ffmpeg
from tui.audio.headers import read_header_info
from tui.audio.transcode import to_opus
from tui.errors import AsrError, ErrorKind

FFMPEG = find_ffmpeg()


def ffmpeg(*args: str) -> None:
    assert FFMPEG is not None
    subprocess.run(
        [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def stereo_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of 44.1 kHz stereo: the transcode must make it 16 kHz mono."""
    d = tmp_path_factory.mktemp("tx")
    mono = write_tone_wav(d / "mono.wav", 4.0, rate=44100)
    out = d / "stereo.wav"
    ffmpeg("-i", str(mono), "-ac", "2", str(out))
    return out


def check_opus(path: Path, seconds: float, smaller_than: Path | None = None) -> None:
    info = read_header_info(path)
    assert info is not None
    assert (info.format, info.codec, info.channels) == ("ogg", "opus", 1)
    # Lossy sources (aac, wma) add up to ~0.1 s of encoder padding.
    assert info.duration_s == pytest.approx(seconds, abs=0.12)
    if smaller_than is not None:
        assert path.stat().st_size < smaller_than.stat().st_size / 20
    # The OpusHead records the input rate; ffprobe confirms 16 kHz went in.
    head = path.read_bytes()[:200]
    i = head.index(b"OpusHead")
    assert int.from_bytes(head[i + 12 : i + 16], "little") == 16000


@pytest.mark.parametrize("kind", ["m4a", "flac", "webm", "wma", "mkv"])
async def test_containers_to_opus(tmp_path: Path, stereo_wav: Path, kind: str) -> None:
    assert FFMPEG is not None
    src = tmp_path / f"in.{kind}"
    codec = {
        "webm": ["-c:a", "libopus"],
        "mkv": ["-c:a", "libvorbis"],
        "wma": ["-c:a", "wmav2"],
    }.get(kind, [])
    ffmpeg("-i", str(stereo_wav), *codec, str(src))
    out = await to_opus(FFMPEG, src, tmp_path / "out.ogg")
    # Far smaller than the 16-bit stereo source.
    check_opus(out, 4.0, smaller_than=stereo_wav)


async def test_video_keeps_only_audio(tmp_path: Path, stereo_wav: Path) -> None:
    assert FFMPEG is not None
    video = tmp_path / "clip.mov"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10:duration=4",
        "-i",
        str(stereo_wav),
        "-c:v",
        "mpeg4",
        "-c:a",
        "aac",
        "-shortest",
        str(video),
    )
    out = await to_opus(FFMPEG, video, tmp_path / "out.ogg")
    check_opus(out, 4.0)
    assert b"theora" not in out.read_bytes().lower()


async def test_raw_pcm_input(tmp_path: Path) -> None:
    assert FFMPEG is not None
    wav = write_tone_wav(tmp_path / "t.wav", 2.0, rate=8000)
    raw = tmp_path / "t.pcm"
    raw.write_bytes(wav.read_bytes()[44:])
    out = await to_opus(
        FFMPEG, raw, tmp_path / "out.ogg", pcm=AudioFormat("pcm", rate=8000, bits=16, channel=1)
    )
    check_opus(out, 2.0)


async def test_video_without_sound(tmp_path: Path) -> None:
    assert FFMPEG is not None
    video = tmp_path / "mute.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=5:duration=2", "-c:v", "mpeg4", str(video))
    with pytest.raises(AsrError) as info:
        await to_opus(FFMPEG, video, tmp_path / "out.ogg")
    assert info.value.kind == ErrorKind.BAD_INPUT
    assert str(info.value) == "mute.mp4: contains no audio stream."


async def test_garbage_input(tmp_path: Path) -> None:
    assert FFMPEG is not None
    junk = tmp_path / "junk.flac"
    junk.write_bytes(b"fLaC" + bytes(range(256)) * 20)
    with pytest.raises(AsrError) as info:
        await to_opus(FFMPEG, junk, tmp_path / "out.ogg")
    assert info.value.kind == ErrorKind.BAD_INPUT
    assert str(info.value).startswith("junk.flac: ffmpeg could not convert it (")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux /dev/full")
async def test_full_disk_is_not_blamed_on_the_file(tmp_path: Path, stereo_wav: Path) -> None:
    assert FFMPEG is not None
    with pytest.raises(AsrError) as info:
        await to_opus(FFMPEG, stereo_wav, Path("/dev/full"))  # every write: ENOSPC
    message = str(info.value)
    assert "disk holding the cache folder is full" in message
    assert "damaged" not in message
