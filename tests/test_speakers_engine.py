"""The engine's speaker verbs (rename, merge, separate, undo): stored in a real SQLite store,
the job's own transcript files rewritten, SpeakersEdited published, the folder roster kept
right; and the per-folder ``speakers`` setting reaching a job's pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fake_transcriber
from tests.test_speaker_labels import labelled
from tui.config import Settings
from tui.engine.engine import Engine
from tui.engine.events import Event, ExportWritten, SpeakersEdited
from tui.engine.speaker_editor import NoSpeakerLabels
from tui.folder_settings import FOLDER_FILE, FolderSettingsError, effective_settings
from tui.store.records import FINISHED, JobOptions
from tui.store.speaker_edits import SpeakerEditError
from tui.store.store import Store
from tui.transcript.exports import write_exports
from tui.transcript.model import TranscriptionResult


def finished(store: Store, audio: Path, result: TranscriptionResult) -> int:
    audio.parent.mkdir(parents=True, exist_ok=True)
    audio.write_bytes(b"")
    job = store.add_job(audio, JobOptions())
    store.claim_one(job.id, "me")
    store.finish_job(job.id, result, owner="me")
    store.set_outputs(job.id, write_exports(result, audio, ("txt", "srt")))
    return job.id


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return Engine(Settings(), store=Store(tmp_path / "jobs.sqlite3"), concurrency=1)


def voiced() -> TranscriptionResult:
    return labelled(voices={1: [1.0, 0.0], 2: [0.0, 1.0], 3: [0.6, 0.8]})


def test_rename_merge_and_undo_rewrite_the_files_and_publish(engine: Engine, tmp_path: Path):
    job_id = finished(engine.store, tmp_path / "talk.wav", voiced())
    txt, srt = tmp_path / "talk.txt", tmp_path / "talk.srt"
    original = txt.read_text()
    seen: list[Event] = []
    engine.bus.subscribe(seen.append)

    assert engine.rename_speaker(job_id, 1, "  Li   Wei ") == [txt, srt]
    assert txt.read_text().startswith("Li Wei: Hello there.")
    assert "[Li Wei] Hello there." in srt.read_text()
    assert [type(e) for e in seen] == [ExportWritten, SpeakersEdited]
    assert seen[-1] == SpeakersEdited(job_id, "rename")

    engine.merge_speakers(job_id, 3, 1)
    assert txt.read_text().splitlines()[-1] == "Li Wei: Fine, thanks. Good."
    lines = engine.speakers(job_id).lines
    assert [(ln.label, ln.merged_into) for ln in lines] == [
        ("Li Wei", None),
        ("Speaker 2", None),
        ("Speaker 3", "Li Wei"),
    ]
    assert [ln.words for ln in lines] == [2, 3, 3]  # each speaker's own words, before merges
    assert lines[1].first_words == "How are you?" and lines[0].talk_s == pytest.approx(0.85)

    # The model's labels are never rewritten: undo walks the layers back, last first.
    assert engine.undo_speaker_edit(job_id) == "merge"
    assert "Speaker 3: Fine, thanks. Good." in txt.read_text()
    assert engine.undo_speaker_edit(job_id) == "rename"
    assert txt.read_text() == original
    assert engine.store.speakers.roster(str(tmp_path), "test") == []  # the name left the roster
    assert engine.undo_speaker_edit(job_id) is None and not engine.can_undo_speaker_edit(job_id)
    stored = engine.store.get_result(job_id)
    assert stored is not None and stored.speakers is not None
    assert stored.speakers.names == {} and stored.speakers.merged == {}
    assert seen[-1] == SpeakersEdited(job_id, "undo rename")


def test_separate_takes_a_merge_apart(engine: Engine, tmp_path: Path):
    job_id = finished(engine.store, tmp_path / "talk.wav", voiced())
    engine.merge_speakers(job_id, 2, 1)
    assert "Speaker 2" not in (tmp_path / "talk.txt").read_text()
    engine.separate_speaker(job_id, 2)
    assert "Speaker 2: How are you?" in (tmp_path / "talk.txt").read_text()
    with pytest.raises(SpeakerEditError, match="is not merged"):
        engine.separate_speaker(job_id, 2)


def test_a_corrected_name_replaces_the_typo_in_the_folder_roster(engine: Engine, tmp_path: Path):
    job_id = finished(engine.store, tmp_path / "talk.wav", voiced())
    engine.rename_speaker(job_id, 2, "Li Wie")
    engine.rename_speaker(job_id, 2, "Li Wei")
    roster = engine.store.speakers.roster(str(tmp_path), "test")
    assert [(v.name, v.voice) for v in roster] == [("Li Wei", (0.0, 1.0))]
    # Next week, same folder, a matching voice: named again (once, not with the typo).
    later = labelled(voices={1: [0.8, 0.6], 2: [0.05, 0.999], 3: [0.7071, 0.7071]})
    other = finished(engine.store, tmp_path / "next-week.wav", later)
    assert engine.speakers(other).turns.names == {2: "Li Wei"}
    engine.undo_speaker_edit(job_id)  # back to the typo, in the roster too
    roster = engine.store.speakers.roster(str(tmp_path), "test")
    assert [v.name for v in roster] == ["Li Wie"]


def test_edits_keep_the_users_text_corrections(engine: Engine, tmp_path: Path):
    job_id = finished(engine.store, tmp_path / "talk.wav", voiced())
    cue = next(c for c in engine.review.cues(job_id) if "How are you?" in c.text)
    engine.review.edit(job_id, cue.index, cue.text.replace("How are you?", "How do you do?"))
    engine.rename_speaker(job_id, 2, "Ana")
    assert "Ana: How do you do?" in (tmp_path / "talk.txt").read_text()


def test_edits_refused_in_one_sentence(engine: Engine, tmp_path: Path):
    plain = TranscriptionResult("/x/a.wav", "Hello.", [])
    no_labels = finished(engine.store, tmp_path / "plain.wav", plain)
    with pytest.raises(NoSpeakerLabels, match="has no speaker labels: set speakers"):
        engine.rename_speaker(no_labels, 1, "Ana")
    job_id = finished(engine.store, tmp_path / "talk.wav", voiced())
    for verb, sentence in (
        (lambda: engine.rename_speaker(job_id, 7, "X"), "There is no speaker 7"),
        (lambda: engine.rename_speaker(job_id, 1, "   "), "cannot be empty"),
        (lambda: engine.merge_speakers(job_id, 2, 2), "cannot be merged into itself"),
        (lambda: engine.speakers(999), "Job 999 has no transcript"),
    ):
        with pytest.raises(SpeakerEditError, match=sentence):
            verb()
    assert not engine.can_undo_speaker_edit(job_id)  # nothing refused was recorded


# --- the per-folder setting -------------------------------------------------------------------


def test_folder_file_sets_speakers_and_is_checked(tmp_path: Path):
    folder = tmp_path / "meetings"
    folder.mkdir()
    (folder / FOLDER_FILE).write_text('speakers = "2-4"\n', encoding="utf-8")
    settings, sources = effective_settings(Settings(), folder / "a.wav")
    assert settings.speakers == "2-4" and sources["speakers"].folder_file == folder / FOLDER_FILE
    (folder / FOLDER_FILE).write_text('speakers = "lots"\n', encoding="utf-8")
    with pytest.raises(FolderSettingsError, match="Speakers must be off, auto"):
        effective_settings(Settings(), folder / "a.wav")


async def test_the_effective_speakers_value_reaches_each_job(tmp_path: Path):
    """Global < the folder's file < the job's own option (the workbench's answer, --speakers)."""
    asked: dict[str, str] = {}

    async def transcribe(path: Path, **kw: object) -> TranscriptionResult:
        settings = kw["settings"]
        asked[path.name] = settings.speakers  # type: ignore[attr-defined]
        return TranscriptionResult(str(path), "Words.", [])

    meetings = tmp_path / "meetings"
    meetings.mkdir()
    (meetings / FOLDER_FILE).write_text('# ours\nspeakers = "3"\n', encoding="utf-8")
    files = {
        "plain": tmp_path / "plain.wav",
        "folder": meetings / "a.wav",
        "option": meetings / "b.wav",
    }
    for path in files.values():
        path.write_bytes(b"RIFF")
    engine = Engine(
        Settings(speakers="off"),
        store=Store(tmp_path / "jobs.sqlite3"),
        transcriber=fake_transcriber(transcribe),
        concurrency=1,
        requests_per_minute=0,
    )
    ids = [
        engine.submit(files["plain"]).id,
        engine.submit(files["folder"], origin="tui").id,
        engine.submit(files["option"], JobOptions(speakers="auto"), origin="tui").id,
    ]
    # A watched folder's job takes its folder's file the same way.
    watched = engine.runner.enqueue(
        meetings / "c.wav", JobOptions(), "watch", watch_id=str(tmp_path)
    )
    (meetings / "c.wav").write_bytes(b"RIFF")
    await engine.drain()
    assert asked == {"plain.wav": "off", "a.wav": "3", "b.wav": "auto", "c.wav": "3"}
    for job_id in [*ids, watched.id]:
        assert engine.store.require_job(job_id).state in FINISHED
    stored = engine.store.require_job(ids[2]).options
    assert stored.speakers == "auto"  # kept with the job (a retry runs the same way)


def test_the_command_line_flag_beats_the_folder_file(tmp_path: Path, emu: Any):
    """A folder asks for 3 speakers (the model is not installed here): `--speakers off` on
    the command line is this run's choice, so the file is transcribed without labels; without
    the flag the folder's setting applies and the job fails before sending, saying why."""
    from tests.test_cli_transcribe import run_cli
    from tui.stepfun.emulator import write_directive_wav

    (tmp_path / FOLDER_FILE).write_text('speakers = "3"\n', encoding="utf-8")
    wav = write_directive_wav(tmp_path / "talk.wav", 2.0, text="Hello there.")
    done = run_cli(str(wav), "--speakers", "off", emu=emu)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Hello there."
    sent = len(emu.requests)
    done = run_cli(str(wav), emu=emu)
    assert done.returncode != 0 and "stepfun-asr speakers install" in done.stderr
    assert len(emu.requests) == sent  # nothing sent for it


def test_writing_a_folder_setting_keeps_the_file(tmp_path: Path):
    from tui.folder_settings import write_folder_setting

    folder = tmp_path / "calls"
    folder.mkdir()
    file = folder / FOLDER_FILE
    file.write_text('# shared with the team\nlanguage = "zh"  # Mandarin\n', encoding="utf-8")
    file.chmod(0o664)
    assert write_folder_setting(folder, "speakers", "4") == file
    assert file.read_text(encoding="utf-8") == (
        '# shared with the team\nlanguage = "zh"  # Mandarin\nspeakers = "4"\n'
    )
    assert file.stat().st_mode & 0o777 == 0o664
    write_folder_setting(folder, "speakers", "auto")  # replaced in place, not added twice
    assert file.read_text(encoding="utf-8").count("speakers") == 1
    assert effective_settings(Settings(), folder / "a.wav")[0].speakers == "auto"
    with pytest.raises(FolderSettingsError, match="Speakers must be"):
        write_folder_setting(folder, "speakers", "many")
    file.write_text("language = [\n", encoding="utf-8")  # broken: left alone, said so
    with pytest.raises(FolderSettingsError, match="is not valid TOML"):
        write_folder_setting(folder, "speakers", "2")
    assert file.read_text(encoding="utf-8") == "language = [\n"
    fresh = tmp_path / "new"
    fresh.mkdir()
    write_folder_setting(fresh, "speakers", "off")
    assert (fresh / FOLDER_FILE).read_text(encoding="utf-8") == 'speakers = "off"\n'


def test_cli_says_when_the_edit_is_saved_but_a_file_could_not_be_rewritten(tmp_path: Path):
    from tests.test_speaker_labels import _cli

    with Store(tmp_path / "jobs.sqlite3") as store:
        job_id = finished(store, tmp_path / "talk.wav", voiced())
    (tmp_path / "talk.srt").unlink()
    (tmp_path / "talk.srt").mkdir()  # where the subtitles were, something that cannot be written
    done = _cli("--db", str(tmp_path / "jobs.sqlite3"), str(job_id), "rename", "2", "Ana")
    assert done.returncode == 1
    assert "edit saved, but could not rewrite the transcripts of" in done.stderr
    assert "Traceback" not in done.stderr and "\n" not in done.stderr.strip()
    assert "2  Ana" in done.stdout  # the list shows the stored edit
    with Store(tmp_path / "jobs.sqlite3") as store:
        stored = store.get_result(job_id)
        assert stored is not None and stored.speakers is not None
        assert stored.speakers.names == {2: "Ana"}
