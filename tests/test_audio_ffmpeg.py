"""Locating ffmpeg, running it, and killing it on cancel."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from tui.audio import ffmpeg as ff
from tui.errors import AsrError, ErrorKind


@pytest.fixture
def no_ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PATH points at an empty dir and the optional bundled build is not importable."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)


def test_finds_system_ffmpeg() -> None:
    exe = ff.find_ffmpeg()
    assert exe is not None and os.access(exe, os.X_OK)
    assert ff.find_ffprobe(exe) is not None


def test_configured_path_wins_and_a_bad_one_is_not_replaced(tmp_path: Path) -> None:
    system = ff.find_ffmpeg()
    assert system is not None
    link = tmp_path / "my-ffmpeg"
    link.symlink_to(system)
    assert ff.find_ffmpeg(str(link)) == str(link)
    assert ff.find_ffmpeg(str(tmp_path / "nope")) is None
    with pytest.raises(AsrError, match="ffmpeg_path is set to") as info:
        ff.require_ffmpeg(str(tmp_path / "nope"))
    assert info.value.kind == ErrorKind.BAD_INPUT


@pytest.mark.usefixtures("no_ffmpeg")
def test_missing_ffmpeg_says_how_to_get_it() -> None:
    assert ff.find_ffmpeg() is None
    with pytest.raises(AsrError) as info:
        ff.require_ffmpeg(None, "talk.flac (flac must be converted first)")
    err = info.value
    assert err.kind == ErrorKind.BAD_INPUT
    for hint in ("apt install ffmpeg", "brew install ffmpeg", "stepfun-asr[ffmpeg]", "talk.flac"):
        assert hint in str(err)


async def test_run_reports_failure_without_raising(tmp_path: Path) -> None:
    exe = ff.find_ffmpeg()
    assert exe is not None
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 20)
    res = await ff.run(exe, ["-i", str(junk), "-f", "null", "-"])
    assert res.returncode != 0
    assert "Invalid data" in res.reason()
    assert str(tmp_path) not in res.reason()  # the path prefix is stripped


def test_reason_from_strips_prefixes() -> None:
    stderr = (
        "[mp3 @ 0x55e2] Failed to read frame size: Could not seek to 6023.\n"
        "/tmp/x/junk.mp3: Invalid argument\n"
    )
    assert ff.reason_from(stderr) == (
        "Failed to read frame size: Could not seek to 6023.; Invalid argument"
    )


def _children_named(name: str) -> list[int]:
    """PIDs of our own child processes running ``name`` (Linux /proc)."""
    me = os.getpid()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == me and comm == name and state != "Z":
            out.append(int(entry.name))
    return out


async def _wait_until(predicate: object, deadline_s: float = 10.0) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


# An endless input: ffmpeg runs until it is killed.
ENDLESS = ["-re", "-f", "lavfi", "-i", "sine=frequency=440", "-f", "null", "-"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
async def test_cancel_event_kills_the_process() -> None:
    exe = ff.find_ffmpeg()
    assert exe is not None
    cancel = asyncio.Event()
    task = asyncio.ensure_future(ff.run(exe, ENDLESS, cancel=cancel))
    assert await _wait_until(lambda: _children_named("ffmpeg"))
    cancel.set()
    with pytest.raises(AsrError) as info:
        await task
    assert info.value.kind == ErrorKind.CANCELED
    assert _children_named("ffmpeg") == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
async def test_task_cancellation_kills_the_process() -> None:
    exe = ff.find_ffmpeg()
    assert exe is not None
    task = asyncio.ensure_future(ff.run(exe, ENDLESS))
    assert await _wait_until(lambda: _children_named("ffmpeg"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _children_named("ffmpeg") == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
async def test_killing_a_child_that_just_ended_keeps_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Leaving early kills ffmpeg; on a loaded machine it may have ended already, with
    asyncio's child watcher not yet awake to reap it. The kill must not reap it instead:
    the watcher then reported exit code 255 and logged "Unknown child process" (it reached
    the daemon's console)."""
    real_waitpid = os.waitpid
    watcher_may_go = threading.Event()

    def late_watcher(pid: int, options: int) -> tuple[int, int]:
        if options == 0:  # the watcher's blocking wait, held back like a thread starved of CPU
            watcher_may_go.wait(30)
        return real_waitpid(pid, options)

    monkeypatch.setattr(os, "waitpid", late_watcher)
    proc = await asyncio.create_subprocess_exec("true")
    stat = f"/proc/{proc.pid}/stat"
    for _ in range(3000):  # until it has ended (a zombie nobody reaped yet)
        if _state_of(stat) == "Z":
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the child never ended")
    ff.kill(proc)  # what run() and the silence check do when they leave early
    watcher_may_go.set()
    assert await asyncio.wait_for(proc.wait(), 30) == 0  # its own exit code, not 255


def _state_of(stat: str) -> str:
    with open(stat, encoding="ascii") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]
