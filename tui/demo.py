"""`stepfun-asr demo`: everything the workbench does, without a key.

Starts the built-in emulator in this process (paced so streaming is visible), writes a few
sample recordings (plain WAV: no ffmpeg needed) into a fresh folder, and builds settings that
point at the emulator with its demo key, a private job database and a private config file. The
user's own config file and job database are never read or written. No Textual import here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.config import Settings
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator, write_directive_wav

DEFAULT_RTF = 0.1  # 60 s of audio streams in about 6 s: slow enough to watch, quick to finish


@dataclass(frozen=True)
class Sample:
    name: str
    seconds: float
    directive: dict[str, Any]
    shows: str


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "01 welcome.wav",
        5,
        {
            "text": (
                "Welcome to stepfun-asr. This clip was transcribed by the built-in emulator, so the "
                "demo needs no key."
            )
        },
        "a short clip",
    ),
    Sample(
        "02 standup meeting.wav",
        20,
        {
            "text": (
                "Good morning everyone. Yesterday we finished the export dialog and fixed the watch "
                "folder bug. Today I will review the subtitle timings. The only blocker is the test "
                "machine, which is still offline. Let us meet again on Thursday to plan the release."
            )
        },
        "a longer meeting with cue timestamps",
    ),
    Sample("03 lecture.wav", 60, {}, "a minute of generated words, streamed live"),
    Sample(
        "04 chorus.wav",
        30,
        {"text": "Sing it again, sing it loud.", "fault": "repeat", "factor": 4.0},
        "a hallucination (repeated text) that needs review",
    ),
    Sample("05 silence.wav", 4, {"amplitude": 0.0}, "silence: an empty transcript warning"),
    Sample(
        "06 [draft] phone memo.wav",
        8,
        {"fault": "error_event"},
        "a failure, reported with the service's message",
    ),
)


def make_samples(folder: Path) -> list[Path]:
    """Write the sample recordings into ``folder`` (created if needed); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for i, sample in enumerate(SAMPLES):
        params = dict(sample.directive)
        text = params.pop("text", None)
        fault = params.pop("fault", None)
        amplitude = float(params.pop("amplitude", 0.3))
        # Distinct tones give distinct audio bytes (and distinct generated words).
        paths.append(
            write_directive_wav(
                folder / sample.name,
                sample.seconds,
                text=text,
                fault=fault,
                amplitude=amplitude,
                tone_hz=200.0 + 20 * i,
                **params,
            )
        )
    return paths


def demo_settings(emulator: Emulator) -> Settings:
    """Settings aimed at ``emulator``: its demo key, every output format the demo shows."""
    settings = Settings()
    settings.base_url = emulator.base_url
    settings.api_key = Secret(emulator.demo_key)
    settings.formats = ["txt", "srt"]
    settings.quiet_period_s = 1.0
    settings.concurrency = 2
    settings.requests_per_minute = 60
    return settings


@dataclass(frozen=True)
class DemoSession:
    emulator: Emulator
    workdir: Path
    folder: Path
    db_path: Path
    config_path: Path
    settings: Settings
    samples: tuple[Path, ...]

    def describe(self) -> str:
        lines = [
            f"Demo recordings: {self.folder}",
            "Drop more audio files there while the demo runs: watch mode picks them up.",
            f"Emulator: {self.emulator.base_url} (no real key, nothing leaves this machine)",
            "",
        ]
        for sample in SAMPLES:
            lines.append(f"  {sample.name:30} {sample.shows}")
        return "\n".join(lines)


@contextmanager
def demo_session(workdir: Path | None = None, *, rtf: float = DEFAULT_RTF) -> Iterator[DemoSession]:
    """Emulator running, samples written, settings ready; the emulator stops on exit.

    The files stay in ``workdir`` (a new temporary folder by default) so the user can look
    at the transcripts afterwards.
    """
    workdir = Path(tempfile.mkdtemp(prefix="stepfun-asr-demo-")) if workdir is None else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    folder = workdir / "recordings"
    samples = tuple(make_samples(folder))
    with Emulator(rtf=rtf) as emulator:
        yield DemoSession(
            emulator,
            workdir,
            folder,
            workdir / "jobs.sqlite3",
            workdir / "config.toml",
            demo_settings(emulator),
            samples,
        )
