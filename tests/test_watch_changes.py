"""A file that changes while it is being sent, and transcripts we wrote ourselves.

The emulator paces its answer (``rtf``) so the file can be rewritten, or replaced by a rename,
mid-request. The answer for the old bytes must never become the file's transcript; the new
content is transcribed once; nothing else is sent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import until
from tests.test_watch_survival import sent
from tests.test_watcher import watching, wav
from tui.engine import events as ev
from tui.stepfun.emulator import Emulator, write_directive_wav
from tui.store.records import JobState
from tui.transcript.exports import ExportSpec

pytestmark = pytest.mark.slow


def mid_flight(emu: Emulator) -> bool:
    return any(r.endpoint == "sse" and r.deltas_sent > 0 and not r.finished for r in emu.requests)


@pytest.mark.parametrize("how", ["rewritten in place", "replaced by a rename"])
async def test_a_file_changed_while_it_is_sent_gets_the_new_transcript(
    tmp_path: Path, how: str
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    talk = inbox / "talk.wav"
    with Emulator(rtf=0.5) as emu:
        async with watching([inbox], tmp_path / "jobs.sqlite3", emu) as h:
            write_directive_wav(talk, 4.0, text="The old take.")
            await until(lambda: mid_flight(emu), 30, "the old take mid-request")
            if how == "rewritten in place":
                write_directive_wav(talk, 1.0, text="The new take.")
            else:
                write_directive_wav(tmp_path / "new.wav", 1.0, text="The new take.")
                os.replace(tmp_path / "new.wav", talk)
            await until(
                lambda: (
                    any(r.endpoint == "sse" and r.done_sent for r in emu.requests)
                    and (inbox / "talk.txt").exists()
                    and not h.engine.settling
                    and not h.runner.running_ids
                    and not h.store.has_queued()
                ),
                60,
                "the new take transcribed",
            )
        assert (inbox / "talk.txt").read_text() == "The new take.\n"
        done = h.finished()
        assert len(done) == 1
        result = h.store.get_result(done[0].id)
        assert result is not None and result.text == "The new take."
        kept = [r for j in h.jobs() for _reason, r in h.store.revisions.superseded_results(j.id)]
        assert [r.text for r in kept] == ["The old take."]  # paid for, kept, never current
        assert sent(emu) == 2  # the old take (already paid) and the new one: nothing more
        written = [e for e in h.of(ev.ExportWritten) if e.source == talk]
        assert len(written) == 1  # the old take's text was never written as the transcript


async def test_our_own_transcript_is_replaced_but_a_users_is_kept(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    ours, theirs = inbox / "ours.wav", inbox / "theirs.wav"
    with Emulator() as emu:
        async with watching(
            [inbox], tmp_path / "jobs.sqlite3", emu, export=ExportSpec(policy="skip")
        ) as h:
            ours.write_bytes(wav("first take of ours"))
            theirs.write_bytes(wav("first take of theirs"))
            await h.settled(2)
            (inbox / "theirs.txt").write_text("corrected by hand\n")
            ours.write_bytes(wav("second take of ours"))
            theirs.write_bytes(wav("second take of theirs"))
            await h.settled(3)
            await until(
                lambda: any(e.path == theirs for e in h.of(ev.FileSkipped)),
                10,
                "the hand-made transcript protected",
            )
        assert (inbox / "ours.txt").read_text() == "second take of ours\n"
        assert (inbox / "theirs.txt").read_text() == "corrected by hand\n"
        assert sent(emu) == 3  # theirs' second take is not sent: its transcript is the user's
        skipped = [e for e in h.of(ev.FileSkipped) if e.path == theirs]
        assert "already exists" in skipped[0].reason
        assert [j.state for j in h.jobs()] == [JobState.DONE] * 3
