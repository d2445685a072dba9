"""Whether a file can go to the service as it is, and what the probe found worth a warning.

Sent as they are only when the service is known to take them: WAV as RIFF ``pcm_s16le`` with at
most two channels; MP3 (Layer III only); Ogg with a single Opus or Vorbis stream; raw PCM as
declared; M4A/AAC only when there is no ffmpeg to make Opus (the English docs do not list m4a).
Everything else is transcoded: 8/24/32-bit, float or multichannel WAV, RF64, MPEG Layer I/II,
chained Ogg, FLAC, ADTS, WebM, AMR, video. A file whose structure is off (truncated, fragmented)
is transcoded too when ffmpeg is there, so the service gets a well-formed file of the real length.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.audio.encoding import AudioFormat
from tui.audio.probe import ProbeResult
from tui.transcript.model import TrustWarning, WarningKind

NATIVE = frozenset({"wav", "mp3", "ogg"})
NATIVE_OGG_CODECS = frozenset({"opus", "vorbis"})
# Above this share of difference, a sent length that does not match the source's is serious.
SERIOUS_MISMATCH = 0.05
MISMATCH_FLOOR_S = 0.1


@dataclass(frozen=True)
class SendPlan:
    """``native``: the format to declare when sent as it is (None: it must be transcoded).
    ``transcode``: transcode anyway when ffmpeg is there. ``reason``: why, for people."""

    native: AudioFormat | None
    transcode: bool
    reason: str


def _sent(kind: str) -> SendPlan:
    return SendPlan(AudioFormat(kind), False, f"{kind} the service takes as it is")


def send_plan(kind: str | None, info: ProbeResult, pcm: AudioFormat | None) -> SendPlan:
    if pcm is not None:
        return SendPlan(pcm, False, "raw PCM, sent with its declared layout")
    # What the header found beats the sniffed kind (an MP2 named .mp3, FLAC behind an ID3 tag).
    kind = info.format or kind
    codec = info.codec
    if kind == "ogg" and info.streams > 1:
        return SendPlan(None, True, f"Ogg with {info.streams} logical streams ({info.variant})")
    plan = _codec_plan(kind, codec, info)
    if plan.native is not None and info.truncated:
        return SendPlan(plan.native, True, "truncated: re-encoded so the file is well-formed")
    if plan.native is not None and info.variant == "fragmented":
        return SendPlan(plan.native, True, "fragmented MP4 (a live recorder's layout)")
    if plan.native is not None and info.variant == "concatenated":
        # A decoder that trusts the first file's frame count would stop there.
        return SendPlan(
            plan.native, True, "MP3 files joined together, the first one's tag in front"
        )
    return plan


def _codec_plan(kind: str | None, codec: str | None, info: ProbeResult) -> SendPlan:
    if kind == "wav":
        if info.variant == "rf64":
            return SendPlan(None, True, "RF64 WAV (64-bit sizes), not plain RIFF")
        if codec != "pcm_s16le":
            return SendPlan(
                None, True, f"WAV holding {codec or 'an unknown codec'}, not 16-bit PCM"
            )
        if (info.channels or 1) > 2:
            return SendPlan(None, True, f"WAV with {info.channels} channels")
        return _sent("wav")
    if kind in ("mp3", "mp2"):
        if codec not in (None, "mp3"):
            layer = {"mp1": "I", "mp2": "II"}.get(codec, "?")
            return SendPlan(None, True, f"MPEG Layer {layer} audio, which is not MP3")
        return _sent("mp3")
    if kind == "ogg":
        if codec and codec not in NATIVE_OGG_CODECS:
            return SendPlan(None, True, f"Ogg holding {codec}, not Opus or Vorbis")
        return _sent("ogg")
    if kind == "m4a" and codec in (None, "aac"):
        return SendPlan(AudioFormat("m4a"), True, "M4A/AAC, made Opus when ffmpeg is there")
    what = f"{kind} ({codec})" if codec and codec != kind else (kind or "unknown format")
    return SendPlan(None, True, f"{what} is not a format the service takes")


def clock(seconds: float) -> str:
    """12.3 s under a minute, else 3:05, or 1:02:03 from an hour up."""
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def probe_warnings(info: ProbeResult) -> list[TrustWarning]:
    """A truncated file, a length that is only an estimate."""
    out: list[TrustWarning] = []
    approx = "~" if info.estimated else ""
    if info.claimed_s is not None:
        out.append(
            TrustWarning(
                WarningKind.TRUNCATED_FILE,
                f"The file appears truncated: its header says {clock(info.claimed_s)}, "
                f"{approx}{clock(info.duration_s)} is present. Was the copy, download or "
                "recording interrupted? Only what is present was transcribed.",
                serious=True,
            )
        )
    if info.estimated:
        out.append(
            TrustWarning(
                WarningKind.ESTIMATED_DURATION,
                f"The length ~{clock(info.duration_s)} is an estimate (the file does not "
                "record it and ffmpeg was not there to measure it): cost, progress and the "
                "length checks are approximate.",
            )
        )
    return out


def sent_mismatch(
    sent_s: float | None, source_s: float, part: int | None = None
) -> TrustWarning | None:
    """A warning when the audio sent is not as long as the source (over 1 % and 0.1 s)."""
    if sent_s is None or source_s <= 0:
        return None
    gap = abs(sent_s - source_s)
    # Under a tenth of a second nothing a person reads drifts (a chained Ogg's link boundary
    # alone can add 60 ms of silence).
    if gap <= max(MISMATCH_FLOOR_S, source_s * 0.01):
        return None
    what = "The audio sent" if part is None else f"Part {part} as sent"
    return TrustWarning(
        WarningKind.DURATION_MISMATCH,
        f"{what} is {clock(sent_s)} long but the source is {clock(source_s)} "
        f"({gap:.1f} s apart): timestamps may drift by up to that much.",
        serious=gap > source_s * SERIOUS_MISMATCH,
        part=part,
    )
