"""Two recordings with one stem never share, overwrite or skip each other's transcript."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from tests.conftest import until, write_tone_wav
from tui.config import Settings
from tui.engine.engine import Engine
from tui.engine.watch_files import WatchConfig
from tui.secrets import Secret
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import FINISHED
from tui.transcript.exports import ExportSpec, planned_paths, write_exports
from tui.transcript.model import TranscriptionResult


def mp3_of(wav: Path, target: Path) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-codec:a", "libmp3lame", str(target)],
        check=True,
        timeout=60,
    )
    return target


def test_the_second_recording_of_a_stem_is_named_after_its_full_name(tmp_path: Path) -> None:
    wav = write_tone_wav(tmp_path / "talk.wav", 1.0)
    mp3 = mp3_of(wav, tmp_path / "talk.mp3")
    first = write_exports(TranscriptionResult(file=str(wav), text="one"), wav, ("txt", "srt"))
    assert first == [tmp_path / "talk.txt", tmp_path / "talk.srt"]
    # skip, overwrite or suffix: the mp3 gets its own files, the wav's are untouched.
    for policy in ("skip", "overwrite"):
        assert planned_paths(mp3, ("txt",)) == [tmp_path / "talk.mp3.txt"]
        second = write_exports(
            TranscriptionResult(file=str(mp3), text="two"), mp3, ("txt",), None, policy
        )
        assert second == [tmp_path / "talk.mp3.txt"]
    assert (tmp_path / "talk.txt").read_text() == "one\n"
    assert (tmp_path / "talk.mp3.txt").read_text() == "two\n"


def test_a_lone_recording_keeps_the_plain_name_and_the_skip_policy(tmp_path: Path) -> None:
    wav = write_tone_wav(tmp_path / "notes.wav", 1.0)
    (tmp_path / "notes.txt").write_text("the user's own notes\n")
    assert planned_paths(wav, ("txt",)) == [tmp_path / "notes.txt"]
    assert write_exports(TranscriptionResult(file=str(wav), text="x"), wav, ("txt",)) == []
    assert (tmp_path / "notes.txt").read_text() == "the user's own notes\n"


async def test_talk_wav_and_talk_mp3_in_one_watched_folder_get_two_transcripts(
    tmp_path: Path, emu: Emulator
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    write_directive_wav(folder / "talk.wav", 3.0, text="Spoken into the wave file.")
    mp3_of(write_tone_wav(tmp_path / "other.wav", 3.0, freq=330.0), folder / "talk.mp3")
    settings = Settings(base_url=emu.base_url, api_key=Secret(emu.demo_key))
    engine = Engine(settings, db_path=tmp_path / "jobs.sqlite3", requests_per_minute=0)
    engine.watch(
        WatchConfig(folders=(folder,), quiet_period_s=0.2, export=ExportSpec(formats=("txt",)))
    )
    stop = asyncio.Event()
    with engine:
        serving = asyncio.create_task(engine.serve(stop))

        def finished() -> list:
            jobs = engine.store.list_jobs()
            return [j for j in jobs if j.state in FINISHED and j.outputs]

        await until(lambda: len(finished()) == 2, 60, "two finished jobs with files")
        stop.set()
        assert await serving == []
        jobs = {j.source.name: j for j in finished()}
    txts = sorted(p.name for p in folder.glob("*.txt"))
    assert len(txts) == 2 and "talk.txt" in txts
    assert set(txts) - {"talk.txt"} <= {"talk.wav.txt", "talk.mp3.txt"}
    for job in jobs.values():
        (out,) = job.outputs
        assert out.exists() and out.name in txts
    assert jobs["talk.wav"].outputs != jobs["talk.mp3"].outputs
    wav_text = jobs["talk.wav"].outputs[0].read_text()
    assert wav_text == "Spoken into the wave file.\n"
