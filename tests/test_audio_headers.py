"""Header-only durations against ffprobe, on real files made with sox/ffmpeg at test time."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tui.audio.headers import (
    header_info_from_bytes,
    iter_wav_pcm16,
    read_header_info,
)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("sox", "ffmpeg", "ffprobe")), reason="needs sox+ffmpeg"
)

SECONDS = 3.3
FF = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]

# name -> (expected format, how to make it from the source wav, duration tolerance)
RECIPES: dict[str, tuple[str, list[str], float]] = {
    "plain.wav": ("wav", [], 0.002),
    "s24_stereo.wav": ("wav", ["-ac", "2", "-c:a", "pcm_s24le"], 0.002),  # WAVE_FORMAT_EXTENSIBLE
    "f32.rf64.wav": ("wav", ["-c:a", "pcm_f32le", "-rf64", "always"], 0.002),
    "a.flac": ("flac", [], 0.002),
    "opus.ogg": ("ogg", ["-c:a", "libopus", "-b:a", "24k"], 0.03),
    "vorbis.ogg": ("ogg", ["-c:a", "libvorbis"], 0.03),
    "moov_end.m4a": ("m4a", ["-c:a", "aac", "-b:a", "48k"], 0.03),
    "faststart.m4a": ("m4a", ["-c:a", "aac", "-movflags", "+faststart"], 0.03),
    "cbr.mp3": ("mp3", ["-c:a", "libmp3lame", "-b:a", "64k", "-write_xing", "0"], 0.1),
    "vbr_xing.mp3": ("mp3", ["-c:a", "libmp3lame", "-q:a", "5"], 0.1),
    "id3.mp3": (
        "mp3",
        [
            "-c:a",
            "libmp3lame",
            "-b:a",
            "32k",
            "-id3v2_version",
            "3",
            "-metadata",
            "title=" + "x" * 3000,
        ],
        0.1,
    ),
}


def ffprobe(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=sample_rate,channels",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out)
    stream = data["streams"][0]
    return {
        "duration": float(data["format"]["duration"]),
        "rate": float(stream["sample_rate"]),
        "channels": float(stream["channels"]),
    }


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    src = root / "src.wav"
    # A chirp with some noise so the lossy encoders have something to chew on.
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
            str(src),
            "synth",
            str(SECONDS),
            "sine",
            "200-2000",
            "synth",
            "pinknoise",
            "mix",
        ],
        check=True,
    )
    files = {}
    for name, (_fmt, args, _tol) in RECIPES.items():
        out = root / name
        if name == "plain.wav":
            shutil.copy(src, out)
        else:
            subprocess.run([*FF, "-i", str(src), *args, str(out)], check=True)
        files[name] = out
    # A streaming writer (ffmpeg to a pipe) leaves the RIFF and data sizes at 0xFFFFFFFF.
    piped = subprocess.run(
        [*FF, "-i", str(src), "-f", "wav", "-"], check=True, capture_output=True
    ).stdout
    files["piped.wav"] = root / "piped.wav"
    files["piped.wav"].write_bytes(piped)
    return files


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_duration_matches_ffprobe(media: dict[str, Path], name: str) -> None:
    fmt, _args, tol = RECIPES[name]
    info = read_header_info(media[name])
    probe = ffprobe(media[name])
    assert info is not None
    assert info.format == fmt
    assert info.duration_s is not None
    assert abs(info.duration_s - probe["duration"]) <= tol, (info, probe)
    assert info.sample_rate == (48000 if name == "opus.ogg" else probe["rate"])
    if info.channels is not None:
        assert info.channels == probe["channels"]


def test_streaming_wav_uses_file_size(media: dict[str, Path]) -> None:
    raw = media["piped.wav"].read_bytes()
    assert raw[4:8] == b"\xff\xff\xff\xff"  # the premise: sizes were never filled in
    info = read_header_info(media["piped.wav"])
    assert info is not None and info.duration_s is not None
    assert abs(info.duration_s - SECONDS) < 0.002


def test_wav_with_zero_data_size_uses_file_size(media: dict[str, Path], tmp_path: Path) -> None:
    raw = bytearray(media["plain.wav"].read_bytes())
    pos = raw.index(b"data")
    raw[pos + 4 : pos + 8] = struct.pack("<I", 0)
    path = tmp_path / "zero.wav"
    path.write_bytes(bytes(raw))
    info = read_header_info(path)
    assert info is not None and info.duration_s is not None
    assert abs(info.duration_s - SECONDS) < 0.002
    assert info.codec == "pcm_s16le" and info.bits == 16


@pytest.mark.parametrize(
    "name", ["opus.ogg", "moov_end.m4a", "faststart.m4a", "cbr.mp3", "a.flac", "s24_stereo.wav"]
)
def test_head_and_tail_buffers_agree_with_file(media: dict[str, Path], name: str) -> None:
    data = media[name].read_bytes()
    whole = header_info_from_bytes(data, len(data))
    partial = header_info_from_bytes(data[:4096], len(data), data[-150_000:])
    assert whole == read_header_info(media[name])
    assert partial == whole


def test_corrupt_and_empty_files_give_none(media: dict[str, Path], tmp_path: Path) -> None:
    cases = {
        "empty.wav": b"",
        "text.mp3": b"this is not audio at all\n" * 50,
        "random.bin": os.urandom(20_000).replace(b"\xff", b"\x00"),
        "riff_no_fmt.wav": b"RIFF\x24\x00\x00\x00WAVEdata\x00\x00\x00\x00",
        "short.wav": media["plain.wav"].read_bytes()[:20],
        "oggs_garbage.ogg": b"OggS" + b"\x07" * 100,
        "flac_short.flac": b"fLaC\x00\x00",
        "ftyp_only.m4a": b"\x00\x00\x00\x14ftypM4A \x00\x00\x00\x00isom",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert read_header_info(path) is None, name
        assert header_info_from_bytes(data, len(data)) is None, name
    assert read_header_info(tmp_path / "missing.wav") is None


def test_truncated_flac_and_ogg_are_not_trusted(media: dict[str, Path], tmp_path: Path) -> None:
    # Cut inside the first header: no STREAMINFO / no identification packet.
    for name in ("a.flac", "opus.ogg"):
        path = tmp_path / name
        path.write_bytes(media[name].read_bytes()[:30])
        assert read_header_info(path) is None, name


def test_iter_wav_pcm16_yields_every_first_channel_sample(media: dict[str, Path]) -> None:
    blocks = list(iter_wav_pcm16(media["plain.wav"], block_frames=5000))
    assert sum(len(b) for b in blocks) == round(SECONDS * 16000)
    assert max(abs(x) for b in blocks for x in b) > 1000  # the chirp, not silence
    assert list(iter_wav_pcm16(media["s24_stereo.wav"])) == []  # not 16-bit: nothing
