"""Speaker labels in every output format, renames and merges through the store and the CLI,
and the pipeline computing labels alongside the upload."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON, subprocess_env
from tui.config import Settings
from tui.errors import AsrError, ErrorKind
from tui.store.records import JobOptions
from tui.store.store import Store
from tui.transcript.exports import write_exports
from tui.transcript.formats import render
from tui.transcript.model import Segment, SpeakerTurn, SpeakerTurns, TranscriptionResult
from tui.transcript.speaker_labels import speaker_runs, word_speakers

WORDS = [
    Segment(0, 400, "Hello"),
    Segment(400, 800, " there."),
    Segment(900, 1300, " How"),
    Segment(1300, 1700, " are"),
    Segment(1700, 2100, " you?"),
    Segment(2600, 3000, " Fine,"),
    Segment(3000, 3400, " thanks."),
    Segment(4000, 4400, " Good."),
]
TURNS = [SpeakerTurn(0, 850, 1), SpeakerTurn(880, 2150, 2), SpeakerTurn(2500, 3500, 3)]


def labelled(**edits: object) -> TranscriptionResult:
    turns = SpeakerTurns(turns=list(TURNS), count=3, requested="auto", model="test")
    for key, value in edits.items():
        setattr(turns, key, value)
    return TranscriptionResult(
        "/x/talk.wav", "".join(w.text for w in WORDS), list(WORDS), speakers=turns
    )


def test_words_take_the_speaker_at_their_midpoint():
    result = labelled()
    assert result.speakers is not None
    # "Good." (4000–4400) lies after every turn: the nearest one (speaker 3).
    assert word_speakers(WORDS, result.speakers) == [1, 1, 2, 2, 2, 3, 3, 3]
    assert [r.speaker for r in speaker_runs(WORDS, result.speakers)] == [1, 2, 3]


def test_txt_srt_vtt_md_json_carry_labels():
    result = labelled()
    assert render(result, "txt") == (
        "Speaker 1: Hello there.\n\nSpeaker 2: How are you?\n\nSpeaker 3: Fine, thanks. Good.\n"
    )
    srt = render(result, "srt")
    assert "[Speaker 1] Hello there." in srt and "[Speaker 2] How are you?" in srt
    # A cue never spans a speaker change.
    assert "there. How" not in srt
    vtt = render(result, "vtt")
    assert "<v Speaker 2>How are you?" in vtt
    md = render(result, "md")
    assert "Speaker 1: Hello there." in md and "Speaker 3: Fine, thanks. Good." in md
    data = json.loads(render(result, "json"))
    assert [s["speaker"] for s in data["segments"]][:3] == ["Speaker 1", "Speaker 1", "Speaker 2"]
    assert data["speakers"]["turns"][0] == [0, 850, 1]
    assert data["speakers"]["labelled_turns"][1]["speaker"] == "Speaker 2"


def test_names_and_merges_apply_when_rendering():
    result = labelled(names={1: "Li Wei", 2: "<Ana & Bo>"}, merged={3: 1})
    assert render(result, "txt").splitlines()[-1] == "Li Wei: Fine, thanks. Good."
    assert "<v &lt;Ana &amp; Bo&gt;>How are you?" in render(result, "vtt")
    assert "[Li Wei] Hello there." in render(result, "srt")


def test_without_labels_nothing_changes():
    plain = TranscriptionResult("/x/talk.wav", "Hello there.", list(WORDS[:2]))
    assert render(plain, "txt") == "Hello there.\n"
    assert "[Speaker" not in render(plain, "srt")
    # Untimed words cannot be placed: labels are left out rather than guessed.
    untimed = labelled()
    untimed.segments = [Segment(0, 0, w.text) for w in WORDS]
    assert "Speaker" not in render(untimed, "txt")


def test_turns_round_trip_through_json_and_the_store(tmp_path: Path):
    result = labelled(names={2: "Ana"}, voices={1: [0.5, 0.5]}, unsure=True, suggested=2)
    again = TranscriptionResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.speakers == result.speakers
    old = TranscriptionResult.from_json({"file": "a", "text": "t"})  # written before speakers
    assert old.speakers is None
    with Store(tmp_path / "jobs.db") as store:
        job = store.add_job(Path("/x/talk.wav"), JobOptions())
        store.claim_one(job.id, "me")
        store.finish_job(job.id, result, owner="me")
        stored = store.get_result(job.id)
        assert stored is not None and stored.speakers == result.speakers


def _finished_job(tmp_path: Path) -> tuple[Path, int, list[Path]]:
    db = tmp_path / "jobs.db"
    audio = tmp_path / "talk.wav"
    audio.write_bytes(b"")
    result = labelled(voices={1: [1.0, 0.0], 2: [0.0, 1.0], 3: [0.6, 0.8]})
    with Store(db) as store:
        job = store.add_job(audio, JobOptions())
        store.claim_one(job.id, "me")
        store.finish_job(job.id, result, owner="me")
        paths = write_exports(result, audio, ("txt", "srt"))
        store.set_outputs(job.id, paths)
    return db, job.id, paths


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "tui", "speakers", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )


def test_rename_and_merge_from_the_cli_rewrite_outputs(tmp_path: Path):
    db, job_id, (txt, srt) = _finished_job(tmp_path)
    done = _cli("--db", str(db), str(job_id), "rename", "1", "Li Wei")
    assert done.returncode == 0, done.stderr
    assert f"rewrote {txt}" in done.stdout
    assert txt.read_text().startswith("Li Wei: Hello there.")
    assert "[Li Wei] Hello there." in srt.read_text()
    done = _cli("--db", str(db), str(job_id), "merge", "3", "1")
    assert done.returncode == 0, done.stderr
    assert txt.read_text().splitlines()[-1] == "Li Wei: Fine, thanks. Good."
    assert "3  Speaker 3 (merged into Li Wei)" in done.stdout
    # Stored, not just written: a fresh read of the job carries the edits.
    with Store(db) as store:
        result = store.get_result(job_id)
        assert result is not None and result.speakers is not None
        assert result.speakers.names == {1: "Li Wei"} and result.speakers.merged == {3: 1}
        # The name joined the folder's roster with that speaker's voice.
        (voice,) = store.speakers.roster(str(tmp_path), "test")
        assert voice.name == "Li Wei" and voice.voice == (1.0, 0.0)


def test_cli_edit_errors_are_one_sentence(tmp_path: Path):
    db, job_id, _ = _finished_job(tmp_path)
    for args, expected in (
        ((str(job_id), "rename", "7", "X"), "There is no speaker 7 in this job"),
        ((str(job_id), "merge", "2", "2"), "cannot be merged into itself"),
        (("999", "list"), "job 999 has no transcript"),
        (("frobnicate",), "usage: stepfun-asr speakers"),
    ):
        done = _cli("--db", str(db), *args)
        assert done.returncode == 2 and expected in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert _cli("--db", str(db), str(job_id), "merge", "1", "2").returncode == 0
    cycle = _cli("--db", str(db), str(job_id), "merge", "2", "1")
    assert cycle.returncode == 2 and "merge the other way" in cycle.stderr


async def test_pipeline_without_the_model_fails_before_sending(tmp_path: Path, emu, client):
    from tui.pipeline.transcription import transcribe_file
    from tui.stepfun.emulator import write_directive_wav

    wav = write_directive_wav(tmp_path / "talk.wav", 3.0, text="Hello there.")
    with pytest.raises(AsrError) as err:
        await transcribe_file(wav, Settings(speakers="2"), client)
    assert err.value.kind is ErrorKind.LOCAL
    assert "stepfun-asr speakers install" in err.value.message
    assert emu.requests == []


@pytest.mark.slow
async def test_pipeline_labels_speakers_alongside_the_upload(
    tmp_path: Path, emu, client, speaker_model: Path
):
    from tests.speaker_audio import synthetic_conversation
    from tui.pipeline.transcription import transcribe_file

    conv = synthetic_conversation(tmp_path, turns=8)
    result = await transcribe_file(conv.path, Settings(speakers="3"), client)
    assert len(emu.requests) == 1
    assert result.speakers is not None and result.speakers.count == 3
    assert result.speakers.requested == "3" and len(result.speakers.voices[1]) == 256
    assert render(result, "srt").split("\n")[2].startswith("[Speaker 1] ")


def test_folder_roster_names_a_matching_voice_in_the_next_job(tmp_path: Path):
    db, job_id, _ = _finished_job(tmp_path)
    assert _cli("--db", str(db), str(job_id), "rename", "2", "Ana").returncode == 0
    later = labelled(voices={1: [0.8, 0.6], 2: [0.05, 0.999], 3: [0.7071, 0.7071]})
    with Store(db) as store:
        job = store.add_job(tmp_path / "next-week.wav", JobOptions())
        store.claim_one(job.id, "me")
        store.finish_job(job.id, later, owner="me")
        result = store.get_result(job.id)
        assert result is not None and result.speakers is not None
        # Speaker 2's voice is Ana's (cosine 0.999); 1 and 3 are below the threshold.
        assert result.speakers.names == {2: "Ana"}
        other = store.add_job(tmp_path / "sub" / "elsewhere.wav", JobOptions())
        store.claim_one(other.id, "me")
        store.finish_job(other.id, later, owner="me")
        elsewhere = store.get_result(other.id)
        assert elsewhere is not None and elsewhere.speakers is not None
        assert elsewhere.speakers.names == {}  # another folder has its own roster


def test_the_workbench_pane_names_the_speaker_of_each_cue():
    from tui.app.live_text import format_result

    assert format_result(labelled()).splitlines() == [
        "[00:00:00] Speaker 1: Hello there.",
        "[00:00:00] Speaker 2: How are you?",
        "[00:00:02] Speaker 3: Fine, thanks.",
        "[00:00:04] Speaker 3: Good.",
    ]
