"""The probe over a folder of recordings: measured length against a full decode, the format
that would be sent and why, and how long probing took.

Without a folder it makes the real-world set of issue 11 first (lame, twolame, opusenc, oggenc,
flac, sox, ffmpeg, mkvmerge: VBR/CBR/LAME-tagged MP3, MP2, fragmented and truncated M4A,
chained Ogg, AMR with DTX, WAV variants, FLAC/ADTS behind ID3, a video whose audio is shorter).
For each file it prints:

- ``measured``: what ``tui.audio.probe.probe`` says (``~`` = an estimate) and where from;
- ``ffprobe``: the container's stated length (``format=duration``), what a naive probe reports;
- ``decoded``: the samples a full ffmpeg decode of the first audio stream yields, gaps in its
  timestamps filled with silence as the pipeline sends it (the truth; a plain decode of AMR with
  DTX closes its pauses up);
- ``sent as``: the format declared, or ``ogg`` when transcoded, and why;
- ``probe ms``: wall time of the probe.

    .venv/bin/python benchmarks/bench_probe.py [FOLDER] [--no-ffmpeg] [--full]

``--no-ffmpeg`` probes as a machine without ffmpeg would (headers only); ``--full`` makes the
generated recordings 10 minutes long instead of 20 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from tui.audio import ffmpeg as ff
from tui.audio.probe import probe
from tui.audio.sniff import is_audio_path, sniff_format
from tui.errors import AsrError
from tui.pipeline.sendable import send_plan


def sh(*cmd: str | Path, stdout: Path | None = None) -> None:
    args = [str(c) for c in cmd]
    if args[0] == "ffmpeg":
        args[1:1] = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if stdout is None:
        subprocess.run(args, check=True, capture_output=True, timeout=600)
        return
    with stdout.open("wb") as fh:
        subprocess.run(args, check=True, stdout=fh, timeout=600)


def make_set(d: Path, seconds: float) -> None:
    """One file per class of issue 11, from independent encoders."""
    speechy = d / "_src.wav"  # tone with pauses, then noise: VBR encoders vary their bitrate
    sh("sox", "-n", "-r", "44100", "-c", "1", "-b", "16", d / "_a.wav", "synth", str(seconds * 0.2),
       "whitenoise")  # fmt: skip
    sh("sox", "-n", "-r", "44100", "-c", "1", "-b", "16", d / "_b.wav", "synth",
       str(seconds * 0.8), "sine", "220", "vol", "0.2")  # fmt: skip
    sh("sox", d / "_a.wav", d / "_b.wav", speechy)
    sh("lame", "--quiet", "-V", "4", speechy, d / "lame_vbr.mp3")
    sh("lame", "--quiet", "-b", "64", speechy, d / "lame_cbr.mp3")
    sh("lame", "--quiet", "-V", "4", "-t", speechy, d / "vbr_no_xing.mp3")
    data = bytearray((d / "lame_vbr.mp3").read_bytes())
    at = data.index(b"Xing")
    data[at + 4 : at + 8] = struct.pack(">I", struct.unpack(">I", data[at + 4 : at + 8])[0] & ~1)
    del data[at + 8 : at + 12]
    data[at + 160 : at + 160] = b"\0\0\0\0"
    (d / "xing_no_frames.mp3").write_bytes(bytes(data))
    full = (d / "lame_vbr.mp3").read_bytes()
    (d / "truncated.mp3").write_bytes(full[: len(full) // 2])
    # A damaged download: 8 KB of something else in the middle of a tagless VBR file.
    notag = (d / "vbr_no_xing.mp3").read_bytes()
    (d / "damaged_no_xing.mp3").write_bytes(
        notag[: len(notag) // 2] + b"\x00\x11" * 4096 + notag[len(notag) // 2 :]
    )
    sh("twolame", "--quiet", speechy, d / "layer2_named.mp3")
    sh("ffmpeg", "-i", speechy, "-c:a", "aac", "-movflags", "+faststart", d / "aac.m4a")
    m4a = (d / "aac.m4a").read_bytes()
    (d / "truncated.m4a").write_bytes(m4a[: len(m4a) // 2])
    sh("ffmpeg", "-i", speechy, "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov",
       "-frag_duration", "500000", "-f", "mp4", "-", stdout=d / "fragmented.m4a")  # fmt: skip
    sh("flac", "--silent", "-o", d / "a.flac", speechy)
    flac = (d / "a.flac").read_bytes()
    (d / "truncated.flac").write_bytes(flac[: len(flac) // 2])
    sh("ffmpeg", "-i", speechy, "-c:a", "libopus", d / "a.webm")
    webm = (d / "a.webm").read_bytes()
    (d / "truncated.webm").write_bytes(webm[: len(webm) // 2])
    sh("sox", speechy, d / "a.aiff")
    aiff = (d / "a.aiff").read_bytes()
    (d / "truncated.aiff").write_bytes(aiff[: len(aiff) // 2])
    wav16 = d / "_16k.wav"
    sh("sox", speechy, "-r", "16000", wav16)
    wav = wav16.read_bytes()
    (d / "truncated.wav").write_bytes(wav[: len(wav) // 2])
    sh("sox", wav16, "-b", "24", d / "pcm24.wav")
    sh("sox", wav16, "-e", "floating-point", "-b", "32", d / "float.wav")
    sh("sox", wav16, "-c", "6", d / "six_channels.wav")
    sh("ffmpeg", "-i", wav16, "-rf64", "always", d / "rf64.wav")
    sh("cp", wav16, d / "plain16.wav")
    half = d / "_half.wav"
    sh("sox", wav16, half, "trim", "0", str(seconds / 2))
    sh("opusenc", "--quiet", wav16, d / "_l1.opus")
    sh("opusenc", "--quiet", half, d / "_l2.opus")
    (d / "chained.opus").write_bytes((d / "_l1.opus").read_bytes() + (d / "_l2.opus").read_bytes())
    sh("oggenc", "-Q", "-o", d / "vorbis.ogg", wav16)
    call = d / "_call.wav"
    sh("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", call, "synth", str(seconds * 0.3), "sine",
       "300", ":", "synth", str(seconds * 0.4), "sine", "300", "vol", "0", ":", "synth",
       str(seconds * 0.3), "sine", "500")  # fmt: skip
    sh("sox", call, "-t", "amr-nb", "-C", "7", d / "call_dtx.amr")
    sh("ffmpeg", "-f", "lavfi", "-i", "anullsrc=d=0.5", "-c:a", "libmp3lame", "-id3v2_version", "3",
       "-metadata", "title=memo", d / "_tag.mp3")  # fmt: skip
    tag = (d / "_tag.mp3").read_bytes()
    size = 0
    for b in tag[6:10]:
        size = (size << 7) | b
    (d / "id3_flac.mp3").write_bytes(tag[: 10 + size] + flac)
    sh("ffmpeg", "-i", speechy, "-c:a", "aac", "-f", "adts", d / "_a.aac")
    (d / "id3_adts.mp3").write_bytes(tag[: 10 + size] + (d / "_a.aac").read_bytes())
    sh("ffmpeg", "-f", "lavfi", "-i", f"testsrc=size=96x64:rate=5:duration={seconds * 1.2}", "-i",
       speechy, "-c:v", "mpeg4", "-c:a", "aac", d / "screen_video.mp4")  # fmt: skip
    sh("ffmpeg", "-f", "lavfi", "-i", f"testsrc=size=96x64:rate=5:duration={seconds * 1.2}",
       "-c:v", "mpeg4", d / "_video.mp4")  # fmt: skip
    sh("mkvmerge", "--quiet", "-o", d / "screen_video.mkv", d / "_video.mp4", d / "_l1.opus")


def ffprobe_says(path: Path) -> float | None:
    exe = shutil.which("ffprobe")
    if exe is None:
        return None
    res = subprocess.run(
        [exe, "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    try:
        return float(json.loads(res.stdout or "{}").get("format", {}).get("duration"))
    except (TypeError, ValueError):
        return None


def decoded(ffmpeg: str, path: Path) -> float | None:
    res = subprocess.run(
        [ffmpeg, "-nostdin", "-v", "quiet", "-i", str(path), "-map", "0:a:0",
         "-af", "aresample=async=1", "-f", "s16le", "-ac", "1", "-ar", "8000", "-"],
        capture_output=True, timeout=600, check=False,
    )  # fmt: skip
    return len(res.stdout) / 16000 if res.stdout else None


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:8.3f}"


async def main(folder: Path | None, no_ffmpeg: bool, full: bool) -> None:
    ffmpeg = ff.require_ffmpeg(None, "the benchmark decodes every file to check the probe")
    with tempfile.TemporaryDirectory() as tmp:
        if folder is None:
            folder = Path(tmp)
            make_set(folder, 600.0 if full else 20.0)
        files = sorted(p for p in folder.iterdir() if is_audio_path(p) and p.name[0] not in "._")
        print(f"{len(files)} files in {folder}; probe {'without' if no_ffmpeg else 'with'} ffmpeg")
        head = f"{'file':22} {'measured':>10} {'from':7} {'ffprobe':>8} {'decoded':>8} "
        print(head + f"{'off %':>6} {'ms':>6}  sent as / why")
        for path in files:
            start = time.perf_counter()
            try:
                got = await probe(path, ffmpeg=None if no_ffmpeg else ffmpeg)
            except AsrError as err:
                took = (time.perf_counter() - start) * 1000
                print(f"{path.name:22} {'error':>10} {'':7} {'':>8} {'':>8} {'':>6} {took:6.1f}  "
                      f"{err.message}")  # fmt: skip
                continue
            took = (time.perf_counter() - start) * 1000
            truth = decoded(ffmpeg, path)
            off = f"{(got.duration_s - truth) / truth * 100:+6.1f}" if truth else "     -"
            plan = send_plan(sniff_format(path), got, None)
            as_is = plan.native is not None and (not plan.transcode or no_ffmpeg)
            sent = plan.native.type if as_is and plan.native else "ogg"
            if no_ffmpeg and not as_is:
                sent = "refused (needs ffmpeg)"
            elif no_ffmpeg and plan.transcode:
                sent += " as it is, though ffmpeg would re-encode it"
            measured = ("~" if got.estimated else " ") + f"{got.duration_s:9.3f}"
            note = f" [truncated: header says {got.claimed_s:.1f} s]" if got.claimed_s else ""
            print(
                f"{path.name:22} {measured} {got.source:7} {fmt(ffprobe_says(path))} "
                f"{fmt(truth)} {off} {took:6.1f}  {sent}: {plan.reason}{note}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--no-ffmpeg", action="store_true")
    parser.add_argument("--full", action="store_true")
    ns = parser.parse_args()
    asyncio.run(main(ns.folder, ns.no_ffmpeg, ns.full))
