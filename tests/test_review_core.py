"""Corrections and the glossary through the engine, on real jobs against the emulator:
watch-mode files rewritten after an edit, the model's text kept, `show --json` with both
texts, and a rule learnt from an edit changing the next job's request and transcript."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
from pathlib import Path

from tests.conftest import PYTHON, subprocess_env, until
from tui.app.testing import emulator_settings
from tui.engine.engine import Engine
from tui.engine.events import TranscriptCorrected
from tui.engine.watch_files import WatchConfig
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import FINISHED, JobOptions
from tui.transcript.exports import ExportSpec

TEXT = "Hello there everyone. We met Jon Smith at the lab today. The end is near now."


async def test_an_edit_rewrites_the_files_watch_mode_wrote(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with Emulator() as emu:
        engine = Engine(emulator_settings(emu), db_path=tmp_path / "jobs.sqlite3")
        seen: list[object] = []
        engine.bus.subscribe(seen.append)
        engine.watch(
            WatchConfig(
                folders=(inbox,), quiet_period_s=0.3, export=ExportSpec(("txt", "srt", "json"))
            )
        )
        stop = asyncio.Event()
        serving = asyncio.ensure_future(engine.serve(stop))
        try:
            write_directive_wav(inbox / "talk.wav", 8, text=TEXT)
            txt, srt, js = (inbox / f"talk.{ext}" for ext in ("txt", "srt", "json"))
            await until(lambda: txt.exists() and srt.exists() and js.exists(), what="outputs")
            job = engine.store.list_jobs()[0]
            assert job.state in FINISHED and set(job.outputs) == {txt, srt, js}
            cue = next(c for c in engine.review.cues(job.id) if "Jon Smith" in c.text)
            engine.review.edit(job.id, cue.index, cue.text.replace("Jon Smith", "John Smyth"))
        finally:
            stop.set()
            await serving
    assert "John Smyth" in txt.read_text() and "Jon Smith" not in txt.read_text()
    assert "John Smyth" in srt.read_text()
    assert "John Smyth" in json.loads(js.read_text())["text"]
    assert not list(inbox.glob("*.tmp*")) and not list(inbox.glob(".*"))  # atomic: no leftovers
    assert any(isinstance(e, TranscriptCorrected) and e.job_id == job.id for e in seen)
    # The model's words are still in the store, beside the correction.
    assert "Jon Smith" in engine.store.get_result(job.id).text  # type: ignore[union-attr]

    # `show --json`: text (corrected) and model_text, and per segment both.
    out = await asyncio.to_thread(
        functools.partial(
            subprocess.run,
            [
                PYTHON,
                "-m",
                "tui",
                "show",
                str(job.id),
                "--json",
                "--db",
                str(tmp_path / "jobs.sqlite3"),
            ],
            capture_output=True,
            text=True,
            env=subprocess_env(),
            check=True,
        )
    )
    result = json.loads(out.stdout)["result"]
    assert "John Smyth" in result["text"] and "Jon Smith" in result["model_text"]
    changed = [s for s in result["segments"] if s["text"] != s["model_text"]]
    assert len(changed) == 1 and "John Smyth" in changed[0]["text"]
    assert "Jon Smith" in changed[0]["model_text"]
    assert all(s["text"] == s["model_text"] for s in result["segments"] if s not in changed)
    assert result["corrections"][0]["origin"] == "user"
    human = await asyncio.to_thread(
        functools.partial(
            subprocess.run,
            [PYTHON, "-m", "tui", "show", str(job.id), "--db", str(tmp_path / "jobs.sqlite3")],
            capture_output=True,
            text=True,
            env=subprocess_env(),
            check=True,
        )
    )
    assert "corrected: 1 cue(s)" in human.stdout and "John Smyth" in human.stdout
    engine.close()


async def test_a_rule_learnt_from_an_edit_changes_the_next_job(tmp_path: Path) -> None:
    with Emulator() as emu:
        engine = Engine(emulator_settings(emu, hotwords=["Quarkus"]), db_path=tmp_path / "j.db")
        first = engine.submit(write_directive_wav(tmp_path / "a.wav", 8, text=TEXT))
        await engine.drain()
        assert emu.requests[-1].hotwords == ["Quarkus"]
        cue = next(c for c in engine.review.cues(first.id) if "Jon" in c.text)
        before = engine.review.edit(first.id, cue.index, cue.text.replace("Jon", "Juni"))
        assert before is not None
        # What the review screen offers after that edit, accepted.
        from tui.transcript.glossary_rules import replaced_phrase

        change = replaced_phrase(before.text, cue.text.replace("Jon", "Juni"))
        assert change == ("Jon", "Juni")
        engine.review.learn(*change)

        text2 = "Jon called. Jonathan and Jon were late, said jon."
        second = engine.submit(
            write_directive_wav(tmp_path / "b.wav", 6, text=text2, tone_hz=300),
            JobOptions(export=ExportSpec(("txt",))),
        )
        await engine.drain()
        request = emu.requests[-1]
        assert request.hotwords == ["Quarkus", "Juni"]  # the setting's first, then the glossary
        model = engine.store.get_result(second.id)
        fixed = engine.store.corrections.result(second.id)
        assert model is not None and fixed is not None
        assert model.text == text2  # the model's words, kept
        assert fixed.text == "Juni called. Jonathan and Juni were late, said Juni."
        assert (tmp_path / "b.txt").read_text().strip() == fixed.text  # exports use it
        # Shown as corrections, each naming its rule, and revertible.
        cues = engine.review.cues(second.id)
        marked = [c for c in cues if c.correction is not None]
        assert marked and all(c.correction.origin == "glossary" for c in marked)  # type: ignore[union-attr]
        assert all(c.correction.rule == "Jon → Juni" for c in marked)  # type: ignore[union-attr]
        engine.review.revert_cue(second.id, marked[0].index)
        assert engine.store.corrections.result(second.id).text != fixed.text  # type: ignore[union-attr]
        # A job outside the rule's folder is untouched by a folder rule.
        engine.store.glossary.remove("Jon")
        engine.store.glossary.add("Jon", "Johann", str(tmp_path / "elsewhere"))
        assert engine.review.rules_for(tmp_path / "b.wav") == []
        engine.close()


def test_glossary_cli(tmp_path: Path) -> None:
    db = str(tmp_path / "j.db")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-m", "tui", "glossary", *args, "--db", db],
            capture_output=True,
            text=True,
            env=subprocess_env(),
        )

    assert cli("add", "step fun", "StepFun").returncode == 0
    assert cli("add", "阶跃", "阶跃星辰", "--folder", str(tmp_path)).returncode == 0
    listed = [json.loads(line) for line in cli("list", "--json").stdout.splitlines()]
    assert listed == [
        {"from": "step fun", "to": "StepFun", "folder": None},
        {"from": "阶跃", "to": "阶跃星辰", "folder": str(tmp_path)},
    ]
    bad = cli("add", "same", "same")
    assert bad.returncode == 2 and "replaced by itself" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = cli("remove", "nothing")
    assert missing.returncode == 1 and "no glossary rule" in missing.stderr
    assert cli("remove", "step fun").returncode == 0
    assert "step fun" not in cli("list").stdout


async def test_a_rerun_keeps_edits_that_still_fit_and_drops_stale_ones(tmp_path: Path) -> None:
    with Emulator() as emu:
        engine = Engine(emulator_settings(emu), db_path=tmp_path / "j.db")
        audio = write_directive_wav(tmp_path / "a.wav", 8, text=TEXT)
        job = engine.submit(audio, JobOptions(export=ExportSpec(("txt",))))
        await engine.drain()
        cue = next(c for c in engine.review.cues(job.id) if "Jon Smith" in c.text)
        engine.review.edit(job.id, cue.index, cue.text.replace("Jon Smith", "John Smyth"))
        txt = tmp_path / "a.txt"
        assert "John Smyth" in txt.read_text()
        engine.rerun(job.id)  # the same words come back: the edit still applies
        await engine.drain()
        assert "John Smyth" in txt.read_text()
        assert "Jon Smith" in engine.store.get_result(job.id).text  # type: ignore[union-attr]
        # The recording now says something else: the old edit does not land on new words.
        write_directive_wav(audio, 8, text=TEXT.replace("Jon Smith", "Ann Lee"))
        engine.rerun(job.id)
        await engine.drain()
        assert "Ann Lee" in txt.read_text() and "Smyth" not in txt.read_text()
        assert not any(c.edited for c in engine.review.cues(job.id))
        engine.close()
