"""Getting one file's audio ready to send: as it is, as Opus, or cut into parts at pauses.

Temporary files live in a private directory under the user cache directory (``WorkDir``),
created on first use and removed by the pipeline whatever happens.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from pathlib import Path

from tui import locations
from tui.audio import ffmpeg as ff
from tui.audio.encoding import AudioFormat
from tui.audio.probe import ProbeResult
from tui.audio.split import PartPlan, Silence, cut_part, detect_silences, plan_cuts, plan_parts
from tui.audio.transcode import encode_opus, to_opus
from tui.config import Settings
from tui.errors import AsrError, ErrorKind
from tui.pipeline.parts import Part
from tui.pipeline.sendable import (
    NATIVE,
    NATIVE_OGG_CODECS,
    SendPlan,
    probe_warnings,
    send_plan,
    sent_mismatch,
)
from tui.pipeline.stages import EventCallback, Preparing
from tui.pipeline.uplink import cores
from tui.stepfun.options import AudioInput
from tui.transcript.cues import format_clock
from tui.transcript.model import TrustWarning, WarningKind

__all__ = ["NATIVE", "NATIVE_OGG_CODECS", "Preparer", "WorkDir", "native_format"]

# What the legacy endpoint (the cross-check engine) takes.
LEGACY_FORMATS = frozenset({"mp3", "pcm", "ogg", "wav"})
LEGACY_MAX_BYTES = 100 * 1000 * 1000


# A process killed mid-job (SIGKILL, power loss) cannot clean up after itself; the next one
# removes work folders old enough that no live job can still be using them.
STALE_AFTER_S = 6 * 3600
_swept = False


def sweep_stale(root: Path, *, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove work folders under ``root`` untouched for ``older_than_s``; returns them."""
    removed: list[Path] = []
    cutoff = time.time() - older_than_s
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for entry in entries:
        try:
            if entry.is_dir() and not entry.is_symlink() and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        except OSError:
            continue
    return removed


class WorkDir:
    """A private temporary directory, made on first use."""

    def __init__(self) -> None:
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            global _swept
            if not _swept:
                _swept = True
                sweep_stale(locations.cache_dir() / "work")
            path = locations.cache_dir() / "work" / uuid.uuid4().hex
            try:
                path.mkdir(parents=True, mode=0o700)
            except OSError as exc:
                # An OSError would read as "cannot read <the audio file>" further up.
                raise AsrError(
                    ErrorKind.LOCAL,
                    f"Cannot create a temporary folder in "
                    f"{path.parent} ({exc.strerror or exc}); check that the cache "
                    "folder is writable and the disk not full.",
                ) from None
            self._path = path
        return self._path

    async def remove(self) -> None:
        if self._path is not None:
            await asyncio.to_thread(shutil.rmtree, self._path, True)


class Preparer:
    """Turns one input file into what is sent. ``warnings`` collects notes on the way."""

    def __init__(
        self,
        path: Path,
        settings: Settings,
        work: WorkDir,
        emit: EventCallback,
        cancel: asyncio.Event | None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.work = work
        self.emit = emit
        self.cancel = cancel
        self.ffmpeg = ff.find_ffmpeg(settings.ffmpeg_path)
        self.warnings: list[TrustWarning] = []
        self.silences: list[Silence] = []  # found while splitting
        self.info: ProbeResult | None = None
        self.plan: SendPlan | None = None
        # Parts being cut, by index: each is sent as soon as its own cut is done.
        self.cuts: dict[int, asyncio.Task[None]] = {}

    def probed(self, info: ProbeResult) -> None:
        """Keep what the probe found; a truncated file or an estimated length is a warning."""
        self.info = info
        self.warnings.extend(probe_warnings(info))

    @property
    def duration_estimated(self) -> bool:
        return self.info is not None and self.info.estimated

    def need_ffmpeg(self, why: str) -> str:
        return ff.require_ffmpeg(self.settings.ffmpeg_path, f"{self.path.name} ({why})")

    async def single(
        self,
        kind: str | None,
        info: ProbeResult,
        size: int,
        pcm: AudioFormat | None,
        worth: bool = True,
    ) -> AudioInput:
        """The whole file as one request: as it is when the API takes it, else as Opus.
        ``worth``: compressing would get the transcript sooner (``tui.pipeline.uplink``); a
        file under the compress threshold goes as it is anyway."""
        plan = self.plan = send_plan(kind, info, pcm)
        native = plan.native
        big = size > self.settings.compress_threshold_mb * 1_000_000
        compress = big and worth and self.settings.compress
        if native is not None and not plan.transcode and not compress:
            return AudioInput(str(self.path), native, info.duration_s)
        if native is not None and self.ffmpeg is None:
            # Compressing, or tidying a truncated/fragmented file, is an improvement: without
            # ffmpeg the file goes as it is (the probe's warnings already say what is off).
            if compress and not plan.transcode:
                self.warnings.append(
                    TrustWarning(
                        WarningKind.NOT_COMPRESSED,
                        f"Sent uncompressed ({size / 1e6:.1f} MB) because ffmpeg was "
                        f"not found. {ff.FFMPEG_HELP}",
                    )
                )
            return AudioInput(str(self.path), native, info.duration_s)
        exe = self.need_ffmpeg(f"{plan.reason}: it must be converted first")
        only_compress = native is not None and not plan.transcode
        self.emit(Preparing("compressing to Opus" if only_compress else "transcoding to Opus"))
        dst = self.work.path / "audio.ogg"
        done = await encode_opus(exe, self.path, dst, pcm=pcm, cancel=self.cancel)
        self._check_sent(done.sent_s, info.duration_s, None)
        return AudioInput(str(dst), AudioFormat("ogg"), info.duration_s)

    def _check_sent(self, sent_s: float | None, source_s: float, part: int | None) -> None:
        found = sent_mismatch(sent_s, source_s, part)
        if found is not None:
            self.warnings.append(found)

    async def split(
        self,
        duration: float,
        chunk_s: float,
        pcm: AudioFormat | None,
        *,
        compress: bool | None = None,
        limit_s: float | None = None,
    ) -> list[Part]:
        """Parts cut at pauses, each under ``chunk_s`` (Opus, or 16 kHz WAV uncompressed).

        The parts are cut in the background, as many at once as there are cores, earliest
        first; ``ready(index)`` waits for one, so a part is sent as soon as it exists.
        ``limit_s``: the per-request limit (for the message when ffmpeg is missing)."""
        limit = chunk_s if limit_s is None else limit_s
        exe = self.need_ffmpeg(
            f"{format_clock(int(duration * 1000))} is longer than the "
            f"{limit / 60:.0f}-minute limit and must be split"
            if duration > limit
            else "it is cut into parts sent at once"
        )
        self.emit(Preparing("finding pauses to split at"))
        self.silences = await detect_silences(
            exe, self.path, duration, pcm=pcm, cancel=self.cancel, jobs=cores()
        )
        plans = plan_parts(duration, plan_cuts(duration, self.silences, chunk_s))
        self.emit(Preparing(f"splitting into {len(plans)} parts"))
        compress = self.settings.compress if compress is None else compress
        fmt = AudioFormat("ogg" if compress else "wav")
        suffix = ".ogg" if compress else ".wav"
        slots = asyncio.Semaphore(cores())
        parts: list[Part] = []
        for plan in plans:
            dst = self.work.path / f"part_{plan.index:03d}{suffix}"
            cut = self._cut(exe, plan, dst, compress, pcm, duration, slots)
            self.cuts[plan.index] = asyncio.ensure_future(cut)
            parts.append(Part(plan, AudioInput(str(dst), fmt, plan.duration_s)))
        return parts

    async def _cut(
        self,
        exe: str,
        plan: PartPlan,
        dst: Path,
        compress: bool,
        pcm: AudioFormat | None,
        duration: float,
        slots: asyncio.Semaphore,
    ) -> None:
        async with slots:
            done = await cut_part(
                exe, self.path, plan, dst, compress=compress, pcm=pcm, cancel=self.cancel
            )
        # The last part runs to the end of the input, whatever its planned length.
        if plan.index < plan.count:
            self._check_sent(done.sent_s, plan.duration_s, plan.index)
        elif done.sent_s is not None:
            self._check_sent(plan.offset_s + done.sent_s, duration, None)

    async def ready(self, index: int) -> None:
        """Wait until part ``index`` is cut (at once for a part that was never cut)."""
        task = self.cuts.get(index)
        if task is not None:
            await task

    async def all_ready(self) -> None:
        for index in sorted(self.cuts):
            await self.ready(index)

    async def stop_cuts(self) -> None:
        """Cancel the cuts still running and wait for them (their files go with the work
        folder); a cut's failure nobody awaited is dropped here, the part's error said it."""
        for task in self.cuts.values():
            task.cancel()
        if self.cuts:
            await asyncio.gather(*self.cuts.values(), return_exceptions=True)

    async def for_legacy(self, part: Part) -> tuple[Path, str]:
        """(file, format type) of ``part`` as the legacy endpoint takes it: mp3/pcm/ogg/wav
        under 100 MB, raw PCM only as 16 kHz 16-bit mono; anything else becomes Opus."""
        src = Path(part.audio.path)
        fmt = part.audio.format
        odd_pcm = fmt.type == "pcm" and (fmt.rate, fmt.bits, fmt.channel) != (16000, 16, 1)
        size = (await asyncio.to_thread(src.stat)).st_size
        if fmt.type in LEGACY_FORMATS and not odd_pcm and size < LEGACY_MAX_BYTES:
            return src, fmt.type
        exe = self.need_ffmpeg("the cross-check engine takes only mp3/pcm/ogg/wav under 100 MB")
        self.emit(Preparing("transcoding to Opus for the cross-check"))
        dst = self.work.path / f"cross_{part.plan.index:03d}.ogg"
        await to_opus(exe, src, dst, pcm=fmt if fmt.type == "pcm" else None, cancel=self.cancel)
        return dst, "ogg"


def native_format(
    kind: str | None, info: ProbeResult, pcm: AudioFormat | None
) -> AudioFormat | None:
    """The format to declare when the file can go as it is, else None."""
    plan = send_plan(kind, info, pcm)
    return None if plan.transcode else plan.native
