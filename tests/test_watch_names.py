"""Names at the file system's limit get shortened transcript names; temp files a crash left
are swept when the watch starts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import until
from tests.test_watch_survival import sent
from tests.test_watcher import watching, wav
from tui.fsutil import TEMP_SUFFIX, atomic_write_text
from tui.stepfun.emulator import Emulator
from tui.transcript.exports import ExportSpec, output_stem

pytestmark = pytest.mark.slow


def test_output_stems_fit_and_stay_distinct() -> None:
    short = Path("/x/talk.wav")
    assert output_stem(short) == "talk"
    a = Path("/x/" + "é" * 120 + "-a.wav")  # 240 bytes of é alone
    b = Path("/x/" + "é" * 120 + "-b.wav")
    sa, sb = output_stem(a), output_stem(b)
    assert sa != sb and len(os.fsencode(sa)) <= 240 and "~" in sa
    assert sa.startswith("é" * 100)  # cut on a character, never inside one


def test_a_temp_name_fits_even_for_a_255_byte_target(tmp_path: Path) -> None:
    target = tmp_path / ("n" * 251 + ".txt")
    atomic_write_text(target, "hello\n")
    assert target.read_text() == "hello\n"


async def test_names_at_the_limit_are_exported_under_short_names(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = inbox / ("x" * 246 + "1.wav")  # 251 bytes: the longest a name may be here
    second = inbox / ("x" * 246 + "2.wav")
    with Emulator() as emu:
        spec = ExportSpec(formats=("txt", "json"), policy="suffix")
        async with watching([inbox], tmp_path / "jobs.sqlite3", emu, export=spec) as h:
            first.write_bytes(wav("first long one"))
            second.write_bytes(wav("second long one"))
            await h.settled(2)
        txts = sorted(p for p in inbox.iterdir() if p.suffix == ".txt")
        assert len(txts) == 2 and all(len(os.fsencode(p.name)) <= 255 for p in txts)
        assert {p.read_text() for p in txts} == {"first long one\n", "second long one\n"}
        assert len([p for p in inbox.iterdir() if p.suffix == ".json"]) == 2
        assert not [p for p in inbox.iterdir() if p.name.endswith(TEMP_SUFFIX)]
        assert sent(emu) == 2


async def test_temp_files_left_by_a_crash_are_swept_at_start(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    old = inbox / "sub" / f".talk.txt.a1b2c3d4{TEMP_SUFFIX}"
    fresh = inbox / f".other.txt.e5f6g7h8{TEMP_SUFFIX}"
    mine = inbox / ".notes.tmp"  # not ours: never touched
    for path in (old, fresh, mine):
        path.write_text("half a transcript")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    os.utime(mine, (an_hour_ago, an_hour_ago))
    with Emulator() as emu:
        async with watching([inbox], tmp_path / "jobs.sqlite3", emu, recursive=True):
            await until(lambda: not old.exists(), 10, "the old temp file swept")
        assert fresh.exists() and mine.exists()
