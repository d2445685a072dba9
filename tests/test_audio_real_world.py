"""Real-world audio (issue 11): each class of file, made at test time by a real encoder (lame,
twolame, opusenc, oggenc, flac, sox, ffmpeg, mkvmerge), measured right and sent in a form the
service takes. Where no free encoder writes a variant, a real encoder's bytes are edited and the
test says so."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tui.audio import ffmpeg as ff
from tui.audio.ffmpeg import reason_from
from tui.audio.headers import read_header_info
from tui.audio.mpeg_headers import find_first_frame, read_vbr_tag
from tui.audio.probe import ProbeResult, probe
from tui.audio.sniff import sniff_format
from tui.audio.transcode import encode_opus, to_opus
from tui.errors import AsrError
from tui.pipeline.sendable import probe_warnings, send_plan, sent_mismatch
from tui.transcript.model import WarningKind

FFMPEG = ff.find_ffmpeg()
TOOLS = ("ffmpeg", "ffprobe", "sox", "lame", "twolame", "opusenc", "oggenc", "flac", "mkvmerge")


def test_encoders_present() -> None:
    # .ci/run installs these; a missing one fails loudly instead of skipping a class unseen.
    missing = [t for t in TOOLS if shutil.which(t) is None]
    assert not missing, f"install {missing} (see .ci/run)"


def run(*cmd: str | Path, stdout: Path | None = None) -> None:
    args = [str(c) for c in cmd]
    if args[0] == "ffmpeg":
        args[1:1] = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if stdout is None:
        subprocess.run(args, check=True, capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        return
    with stdout.open("wb") as fh:
        subprocess.run(args, check=True, stdout=fh, timeout=120, stdin=subprocess.DEVNULL)


def tone(path: Path, seconds: float, rate: int = 44100, freq: int = 440, **sox: str) -> Path:
    extra = [x for k, v in sox.items() for x in (f"-{k}", v)]
    run(
        "sox", "-n", "-r", rate, "-c", "1", "-b", "16", *extra, path, "synth", seconds, "sine", freq
    )
    return path


def loud_then_soft(d: Path, rate: int = 44100) -> Path:
    """4 s of noise then 16 s of a soft tone: VBR spends its bits at the start, so size over the
    first frame's bitrate is far off."""
    out = d / "loud_soft.wav"
    run("sox", "-n", "-r", rate, "-c", "1", "-b", "16", d / "loud.wav", "synth", "4", "whitenoise")
    run("sox", "-n", "-r", rate, "-c", "1", "-b", "16", d / "soft.wav", "synth", "16", "sine", "220",
        "vol", "0.2")  # fmt: skip
    run("sox", d / "loud.wav", d / "soft.wav", out)
    return out


def decoded_seconds(path: Path) -> float:
    """Samples a full decode yields, the reference every measurement is held to."""
    assert FFMPEG is not None
    res = subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "s16le",
         "-ac", "1", "-ar", "8000", "-"],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    return len(res.stdout) / 2 / 8000


def cut(src: Path, dst: Path, share: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * share)])
    return dst


def amr_frame_types(raw: bytes) -> list[int]:
    sizes = (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1)  # with the TOC byte
    pos, kinds = 6, []
    while pos < len(raw):
        kinds.append((raw[pos] >> 3) & 15)
        pos += sizes[kinds[-1]]
    return kinds


# ------------------------------------------------------------------ 1. fragmented MP4/M4A


async def test_fragmented_m4a_has_its_real_length(tmp_path: Path) -> None:
    src = tone(tmp_path / "src.wav", 6.0)
    frag = tmp_path / "browser.m4a"
    # Written to a pipe like a live recorder: no mfra index, mvhd duration 0, length in trun.
    run("ffmpeg", "-i", src, "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
        "-frag_duration", "500000", "-f", "mp4", "-", stdout=frag)  # fmt: skip
    head = read_header_info(frag)
    assert head is not None and head.variant == "fragmented"
    assert head.duration_s == pytest.approx(6.0, abs=0.1)
    got = await probe(frag, ffmpeg=FFMPEG)
    assert got.duration_s == pytest.approx(6.0, abs=0.1)
    plan = send_plan("m4a", got, None)
    assert plan.transcode and "fragmented" in plan.reason


def _insert_mehd(raw: bytes, movie_units: int) -> bytes:
    """Put an ``mehd`` (fragment duration) box first in ``mvex``, growing moov and mvex."""
    out = bytearray(raw)
    moov = out.index(b"moov") - 4
    mvex = out.index(b"mvex") - 4
    mehd = struct.pack(">I4sII", 16, b"mehd", 0, movie_units)
    out[mvex + 8 : mvex + 8] = mehd
    for box in (moov, mvex):
        size = struct.unpack(">I", out[box : box + 4])[0]
        out[box : box + 4] = struct.pack(">I", size + len(mehd))
    return bytes(out)


async def test_fragmented_mp4_length_from_mehd(tmp_path: Path) -> None:
    # ffmpeg writes no mehd; GPAC and some recorders do. Crafted into ffmpeg's own fragments
    # (default-base-is-moof, so moving moov's end shifts no data offset).
    src = tone(tmp_path / "src.wav", 4.0)
    frag = tmp_path / "frag.mp4"
    run("ffmpeg", "-i", src, "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
        "-frag_duration", "500000", "-f", "mp4", "-", stdout=frag)  # fmt: skip
    raw = frag.read_bytes()
    mvhd = raw.index(b"mvhd")
    movie_scale = struct.unpack(">I", raw[mvhd + 16 : mvhd + 20])[0]
    with_mehd = tmp_path / "mehd.mp4"
    with_mehd.write_bytes(_insert_mehd(raw, movie_scale * 4))
    head = read_header_info(with_mehd)
    assert head is not None and head.variant == "fragmented"
    assert head.duration_s == 4.0  # mehd, exactly (the fragments count AAC priming too)
    assert decoded_seconds(with_mehd) == pytest.approx(4.0, abs=0.05)


# ------------------------------------------------------------------ 2. truncated files


def _make(kind: str, src: Path, d: Path) -> Path:
    out = d / f"full.{kind}"
    if kind == "mp3":
        run("lame", "--quiet", "-V", "4", src, out)  # VBR with a Xing tag that counts bytes
    elif kind == "m4a":
        run("ffmpeg", "-i", src, "-c:a", "aac", "-movflags", "+faststart", out)
    elif kind == "flac":
        run("flac", "--silent", "-o", out, src)
    elif kind == "webm":
        run("ffmpeg", "-i", src, "-c:a", "libopus", out)
    elif kind == "aiff":
        run("sox", src, out)
    else:
        run("sox", src, out)
    return out


@pytest.mark.parametrize("kind", ["mp3", "m4a", "flac", "webm", "aiff", "wav"])
async def test_truncated_file_is_measured_and_warned(tmp_path: Path, kind: str) -> None:
    src = loud_then_soft(tmp_path) if kind == "mp3" else tone(tmp_path / "src.wav", 20.0)
    full = _make(kind, src, tmp_path)
    whole = await probe(full, ffmpeg=FFMPEG)
    assert not whole.truncated and whole.duration_s == pytest.approx(20.0, abs=0.1)
    assert probe_warnings(whole) == []

    half = cut(full, tmp_path / f"half.{kind}")
    got = await probe(half, ffmpeg=FFMPEG)
    assert got.claimed_s == pytest.approx(20.0, abs=0.1), got
    assert got.duration_s == pytest.approx(decoded_seconds(half), abs=0.1)
    assert got.duration_s < 15
    (warning,) = probe_warnings(got)
    assert warning.code == WarningKind.TRUNCATED_FILE and warning.serious
    assert "header says 20.0 s" in warning.message
    assert send_plan(kind, got, None).transcode


async def test_truncated_files_without_ffmpeg(tmp_path: Path) -> None:
    src = loud_then_soft(tmp_path)
    # MP3: the frames present are counted, so even without ffmpeg the length is measured.
    half = cut(_make("mp3", src, tmp_path), tmp_path / "half.mp3")
    got = await probe(half, ffmpeg=None)
    assert not got.estimated and got.claimed_s == pytest.approx(20.0, abs=0.1)
    assert got.duration_s == pytest.approx(decoded_seconds(half), abs=0.05)
    # M4A: only the share of media bytes present is known: an estimate, and said to be one.
    half = cut(_make("m4a", src, tmp_path), tmp_path / "half.m4a")
    got = await probe(half, ffmpeg=None)
    assert got.estimated and got.claimed_s == pytest.approx(20.0, abs=0.1)
    kinds = [w.code for w in probe_warnings(got)]
    assert kinds == [WarningKind.TRUNCATED_FILE, WarningKind.ESTIMATED_DURATION]
    assert "~" in probe_warnings(got)[0].message


# ------------------------------------------------------------------ 3. what follows an ID3 tag


def _id3_tag(d: Path) -> bytes:
    tagged = d / "tagged.mp3"
    run("ffmpeg", "-f", "lavfi", "-i", "anullsrc=d=0.5", "-c:a", "libmp3lame", "-id3v2_version", "3",
        "-metadata", "title=Voice memo", "-metadata", "artist=Phone", tagged)  # fmt: skip
    raw = tagged.read_bytes()
    size = 0
    for b in raw[6:10]:
        size = (size << 7) | b
    return raw[: 10 + size]


@pytest.mark.parametrize("inner", ["flac", "aac"])
async def test_id3_tag_in_front_of_flac_or_adts(tmp_path: Path, inner: str) -> None:
    src = tone(tmp_path / "src.wav", 3.0)
    body = tmp_path / f"body.{inner}"
    if inner == "flac":
        run("flac", "--silent", "-o", body, src)
    else:
        run("ffmpeg", "-i", src, "-c:a", "aac", "-f", "adts", body)
    # Taggers put ID3v2 in front of anything; the name still says .mp3.
    tagged = tmp_path / "memo.mp3"
    tagged.write_bytes(_id3_tag(tmp_path) + body.read_bytes())
    assert sniff_format(tagged) == inner
    got = await probe(tagged, ffmpeg=FFMPEG)
    assert got.duration_s == pytest.approx(3.0, abs=0.1)
    plan = send_plan(sniff_format(tagged), got, None)
    assert plan.native is None and plan.transcode


# ------------------------------------------------------------------ 4. MPEG Layer I/II


@pytest.mark.parametrize("name", ["broadcast.mp2", "misnamed.mp3"])
async def test_layer_ii_is_not_sent_as_mp3(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    run("twolame", "--quiet", tone(tmp_path / "src.wav", 3.0, rate=48000), out)
    assert sniff_format(out) == "mp2"
    got = await probe(out, ffmpeg=FFMPEG)
    assert (got.format, got.codec) == ("mp2", "mp2")
    assert got.duration_s == pytest.approx(3.0, abs=0.1)
    plan = send_plan(sniff_format(out), got, None)
    assert plan.native is None and "Layer II" in plan.reason
    mp3 = tmp_path / "real.mp3"
    run("lame", "--quiet", tmp_path / "src.wav", mp3)
    assert send_plan(sniff_format(mp3), await probe(mp3, ffmpeg=FFMPEG), None).native is not None


# ------------------------------------------------------------------ 5. video: the audio track


async def test_video_uses_the_audio_tracks_length(tmp_path: Path) -> None:
    audio = tone(tmp_path / "voice.wav", 3.0)
    mp4 = tmp_path / "screen.mp4"
    # 5 s of video, 3 s of sound (no -shortest): mvhd says 5 s.
    run("ffmpeg", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=5:duration=5", "-i", audio,
        "-c:v", "mpeg4", "-c:a", "aac", mp4)  # fmt: skip
    got = await probe(mp4, ffmpeg=FFMPEG)
    assert got.duration_s == pytest.approx(3.0, abs=0.05)
    assert got.format == "mp4" and send_plan("mp4", got, None).native is None
    # The same from mkvmerge (Matroska keeps per-track DURATION tags).
    video = tmp_path / "video.mp4"
    run("ffmpeg", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=5:duration=5", "-c:v", "mpeg4",
        video)  # fmt: skip
    opus = tmp_path / "voice.opus"
    run("opusenc", "--quiet", audio, opus)
    mkv = tmp_path / "screen.mkv"
    run("mkvmerge", "--quiet", "-o", mkv, video, opus)
    got = await probe(mkv, ffmpeg=FFMPEG)
    assert got.duration_s == pytest.approx(3.0, abs=0.05)


# ------------------------------------------------------------------ 6. Xing without a frame count


def xing_without_frame_count(vbr: Path, out: Path) -> Path:
    """No free encoder writes a Xing tag without the frames field: clear that flag and drop the
    field in lame's own tag (padding the tag frame back to its length)."""
    data = bytearray(vbr.read_bytes())
    at = data.index(b"Xing")
    flags = struct.unpack(">I", data[at + 4 : at + 8])[0]
    assert flags & 1
    data[at + 4 : at + 8] = struct.pack(">I", flags & ~1)
    del data[at + 8 : at + 12]
    data[at + 160 : at + 160] = b"\0\0\0\0"  # after the LAME tag, inside the same frame
    out.write_bytes(bytes(data))
    return out


async def test_xing_without_frame_count_is_not_taken_for_cbr(tmp_path: Path) -> None:
    vbr = tmp_path / "vbr.mp3"
    run("lame", "--quiet", "-V", "4", loud_then_soft(tmp_path), vbr)
    crafted = xing_without_frame_count(vbr, tmp_path / "xing_no_frames.mp3")
    raw = crafted.read_bytes()
    found = find_first_frame(lambda o, n: raw[o : o + n], len(raw), 0)
    assert found is not None and found[0] == 0
    tag = read_vbr_tag(raw[:400], found[1])
    assert tag is not None and tag.frames is None and tag.delay > 0  # the tag is still read
    truth = decoded_seconds(crafted)
    assert truth == pytest.approx(20.0, abs=0.05)
    # One parse decides: no frame count, so the frames are counted (not size / first bitrate,
    # which says ~11 s here), with or without ffmpeg.
    # (ffmpeg, not knowing where the stream ends, keeps the 11 ms of end padding LAME's tag
    # lists; the header subtracts it.)
    head = read_header_info(crafted)
    assert head is not None and not head.estimated
    assert head.duration_s == pytest.approx(20.0, abs=0.005)
    got = await probe(crafted, ffmpeg=FFMPEG)
    assert got.source == "header" and got.duration_s == pytest.approx(truth, abs=0.02)


# ------------------------------------------------------------------ 7. chained Ogg


@pytest.mark.parametrize("encoder", ["opusenc", "oggenc"])
async def test_chained_ogg_is_summed_and_transcoded(tmp_path: Path, encoder: str) -> None:
    links = []
    for i, seconds in enumerate((3.0, 2.0)):
        wav = tone(tmp_path / f"l{i}.wav", seconds, rate=16000, freq=300 + 200 * i)
        out = tmp_path / f"l{i}.ogg"
        if encoder == "opusenc":
            run("opusenc", "--quiet", wav, out)
        else:
            run("oggenc", "-Q", "-o", out, wav)
        links.append(out.read_bytes())
    chained = tmp_path / "restarted.ogg"
    chained.write_bytes(b"".join(links))  # a recorder that restarted: two links
    got = await probe(chained, ffmpeg=FFMPEG)
    assert got.streams == 2 and got.variant == "chained"
    assert got.duration_s == pytest.approx(5.0, abs=0.05)
    plan = send_plan("ogg", got, None)
    assert plan.native is None
    assert FFMPEG is not None
    done = await encode_opus(FFMPEG, chained, tmp_path / "sent.ogg")
    # Both links are sent (many decoders would stop after the first).
    assert done.sent_s == pytest.approx(5.0, abs=0.1)
    assert decoded_seconds(done.path) == pytest.approx(5.0, abs=0.1)
    assert sent_mismatch(done.sent_s, got.duration_s) is None


async def test_ogg_with_video_is_not_sent_as_audio(tmp_path: Path) -> None:
    ogv = tmp_path / "clip.ogv"
    run("ffmpeg", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=5:duration=3", "-i",
        tone(tmp_path / "a.wav", 3.0), "-c:v", "libtheora", "-c:a", "libvorbis", "-f", "ogg", ogv)  # fmt: skip
    got = await probe(ogv, ffmpeg=FFMPEG)
    assert (got.streams, got.variant) == (2, "multiplexed")
    assert got.duration_s == pytest.approx(3.0, abs=0.05)
    assert send_plan(sniff_format(ogv), got, None).native is None


# ------------------------------------------------------------------ 8. AMR with DTX


async def test_amr_dtx_pauses_keep_the_timeline(tmp_path: Path) -> None:
    call = tmp_path / "call.wav"
    run("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", call, "synth", "2", "sine", "300", ":",
        "synth", "5", "sine", "300", "vol", "0", ":", "synth", "2", "sine", "500")  # fmt: skip
    amr = tmp_path / "call.amr"
    run("sox", call, "-t", "amr-nb", "-C", "7", amr)  # sox's AMR encoder runs with DTX on
    kinds = amr_frame_types(amr.read_bytes())
    assert kinds.count(15) > 100 and kinds.count(8) > 5  # NO_DATA and SID frames: DTX is on
    got = await probe(amr, ffmpeg=FFMPEG)
    assert got.duration_s == pytest.approx(9.0, abs=0.05)
    assert FFMPEG is not None
    done = await encode_opus(FFMPEG, amr, tmp_path / "sent.ogg")
    assert decoded_seconds(done.path) == pytest.approx(9.0, abs=0.05)
    assert done.sent_s == pytest.approx(9.0, abs=0.05)
    assert sent_mismatch(done.sent_s, got.duration_s) is None
    # The second tone still starts 7 s in: find the pause in what is sent.
    res = await ff.run(
        FFMPEG, ["-i", str(done.path), "-af", "silencedetect=d=1", "-f", "null", "-"]
    )
    assert "silence_end: 7.0" in res.stderr or "silence_end: 6.9" in res.stderr, res.stderr
    # Without keeping the timeline ffmpeg closes the pauses up: that is what the check catches.
    plain = tmp_path / "plain.wav"
    run("ffmpeg", "-i", amr, "-ar", "16000", plain)
    short = decoded_seconds(plain)
    assert short < 8.5
    warning = sent_mismatch(short, got.duration_s)
    assert warning is not None and warning.code == WarningKind.DURATION_MISMATCH
    assert warning.serious


# ------------------------------------------------------------------ 9. estimated, without ffmpeg


async def test_vbr_without_xing_is_counted_and_a_damaged_one_flagged(tmp_path: Path) -> None:
    vbr = tmp_path / "noxing.mp3"
    run("lame", "--quiet", "-V", "4", "-t", loud_then_soft(tmp_path), vbr)  # -t: no tag at all
    truth = decoded_seconds(vbr)
    got = await probe(vbr, ffmpeg=None)  # no ffmpeg: the frame headers are walked and counted
    assert not got.estimated and got.duration_s == pytest.approx(truth, abs=0.005)
    assert probe_warnings(got) == []
    # 8 KB of something else in the middle (a damaged download): the walk breaks off, and all
    # that is left is size / first bitrate, an estimate that must say so.
    raw = vbr.read_bytes()
    damaged = tmp_path / "damaged.mp3"
    damaged.write_bytes(raw[: len(raw) // 2] + b"\x00\x11" * 4096 + raw[len(raw) // 2 :])
    got = await probe(damaged, ffmpeg=None)
    assert got.estimated and abs(got.duration_s - truth) > 2
    (warning,) = probe_warnings(got)
    assert warning.code == WarningKind.ESTIMATED_DURATION and "~" in warning.message
    measured = await probe(damaged, ffmpeg=FFMPEG)
    assert not measured.estimated
    assert measured.duration_s == pytest.approx(decoded_seconds(damaged), abs=0.05)


# ------------------------------------------------------------------ 10. WAV the service takes


@pytest.mark.parametrize(
    ("name", "sox_args", "native"),
    [
        ("s16_stereo.wav", ["-b", "16", "-c", "2"], True),
        ("u8.wav", ["-b", "8"], False),
        ("s24.wav", ["-b", "24"], False),
        ("s32.wav", ["-b", "32"], False),
        ("float.wav", ["-e", "floating-point", "-b", "32"], False),
        ("six.wav", ["-b", "16", "-c", "6"], False),
        ("alaw.wav", ["-e", "a-law"], False),
    ],
)
async def test_wav_variants(tmp_path: Path, name: str, sox_args: list[str], native: bool) -> None:
    out = tmp_path / name
    run("sox", tone(tmp_path / "src.wav", 2.0, rate=16000), *sox_args, out)
    got = await probe(out, ffmpeg=FFMPEG)
    assert got.duration_s == pytest.approx(2.0, abs=0.01)
    plan = send_plan(sniff_format(out), got, None)
    assert (plan.native is not None and not plan.transcode) == native, plan


async def test_rf64_is_transcoded(tmp_path: Path) -> None:
    out = tmp_path / "long_recorder.wav"
    run("ffmpeg", "-i", tone(tmp_path / "src.wav", 2.0, rate=16000), "-rf64", "always", out)
    got = await probe(out, ffmpeg=FFMPEG)
    assert got.variant == "rf64"
    assert send_plan("wav", got, None).native is None


# ------------------------------------------------------------------ 11. LAME delay, messages


async def test_lame_delay_and_padding_are_subtracted(tmp_path: Path) -> None:
    src = tone(tmp_path / "src.wav", 1.2)
    for args in (["-V", "4"], ["-b", "128"]):
        out = tmp_path / f"lame{args[0]}.mp3"
        run("lame", "--quiet", *args, src, out)
        got = await probe(out, ffmpeg=FFMPEG)
        assert got.source == "header"
        assert got.duration_s == pytest.approx(1.2, abs=0.002)
        assert got.duration_s == pytest.approx(decoded_seconds(out), abs=0.002)


async def test_unreadable_file_shows_the_decoders_reason_naming_the_file_once(
    tmp_path: Path,
) -> None:
    full = tmp_path / "full.m4a"
    run("ffmpeg", "-i", tone(tmp_path / "src.wav", 3.0), "-c:a", "aac", full)  # moov at the end
    broken = cut(full, tmp_path / "interview.m4a", 0.5)
    with pytest.raises(AsrError) as info:
        await probe(broken, ffmpeg=FFMPEG)
    message = str(info.value)
    assert message.count("interview.m4a") == 1 and "moov atom not found" in message
    assert FFMPEG is not None
    with pytest.raises(AsrError) as info:
        await to_opus(FFMPEG, broken, tmp_path / "out.ogg")
    assert str(info.value).count("interview.m4a") == 1
    assert "moov atom not found" in str(info.value)
    assert "filter graph" not in str(info.value)


def test_reason_prefers_the_decoders_words() -> None:
    stderr = (
        "[aac @ 0x55d0c8a1e2c0] Sample rate index in program config element does not match\n"
        "Error while decoding stream #0:0: Invalid data found when processing input\n"
        "[aac @ 0x55d0c8a1e2c0] Sample rate index in program config element does not match\n"
        "Error configuring filter graph\n"
        "Conversion failed!\n"
    )
    assert reason_from(stderr) == ("Sample rate index in program config element does not match")
    assert reason_from("Error configuring filter graph\nConversion failed!\n") == (
        "Error configuring filter graph; Conversion failed!"
    )


def test_probe_result_defaults_are_a_measurement() -> None:
    assert not ProbeResult(1.0, "header").estimated


def test_streaming_wav_placeholder_sizes_are_not_truncation(tmp_path: Path) -> None:
    # ffmpeg writing to a pipe leaves 0xFFFFFFFF; arecord-style writers leave 0x7FFFFFFF.
    piped = tmp_path / "piped.wav"
    run("ffmpeg", "-f", "lavfi", "-i", "sine=d=2", "-f", "wav", "-", stdout=piped)
    head = read_header_info(piped)
    assert head is not None and not head.truncated
    assert head.duration_s == pytest.approx(2.0, abs=0.01)
    data = bytearray(piped.read_bytes())
    at = data.index(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 0x7FFFFFFF)
    (tmp_path / "arecord.wav").write_bytes(bytes(data))
    head = read_header_info(tmp_path / "arecord.wav")
    assert head is not None and not head.truncated


async def test_wav_cut_inside_its_header_says_so(tmp_path: Path) -> None:
    full = tone(tmp_path / "full.wav", 3.0, rate=16000)
    stub = tmp_path / "stub.wav"
    stub.write_bytes(full.read_bytes()[:44])  # the header arrived, no sample did
    with pytest.raises(AsrError) as info:
        await probe(stub, ffmpeg=FFMPEG)
    assert str(info.value).startswith("stub.wav: contains no audio samples, though its header")
    assert "promises 3.0 s" in str(info.value)


async def test_joined_mp3s_are_counted_whole(tmp_path: Path) -> None:
    parts = []
    for i, seconds in enumerate((3.0, 5.0)):
        mp3 = tmp_path / f"p{i}.mp3"
        run("lame", "--quiet", "-V", "4", tone(tmp_path / f"p{i}.wav", seconds, freq=300 + i), mp3)
        parts.append(mp3.read_bytes())
    joined = tmp_path / "episode.mp3"
    joined.write_bytes(b"".join(parts))  # `cat`: the first file's Info tag says 3 s
    got = await probe(joined, ffmpeg=None)
    assert got.variant == "concatenated" and not got.estimated
    assert got.duration_s == pytest.approx(decoded_seconds(joined), abs=0.05)
    assert got.duration_s == pytest.approx(8.0, abs=0.1)
    assert send_plan("mp3", got, None).transcode


async def test_sound_starting_late_in_a_video_keeps_its_offset(tmp_path: Path) -> None:
    late = tmp_path / "late.mp4"
    run("ffmpeg", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=5:duration=5", "-itsoffset", "1.0",
        "-i", tone(tmp_path / "a.wav", 3.0), "-c:v", "mpeg4", "-c:a", "aac", late)  # fmt: skip
    got = await probe(late, ffmpeg=FFMPEG)
    assert got.duration_s == pytest.approx(4.0, abs=0.05)  # the edit list: 1 s empty, 3 s sound
    assert FFMPEG is not None
    done = await encode_opus(FFMPEG, late, tmp_path / "sent.ogg")
    assert done.sent_s == pytest.approx(4.0, abs=0.05)  # padded at the start, not shifted
    assert sent_mismatch(done.sent_s, got.duration_s) is None
