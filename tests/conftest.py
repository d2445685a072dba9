"""Shared fixtures: an isolated user environment, a loopback emulator, generated audio."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import struct
import sys
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tui.stepfun.client import AsrClient
    from tui.stepfun.emulator import Emulator

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test gets its own config/data/cache dirs and no key from the real environment."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("STEPFUN_ASR_CONFIG", str(home / "config" / "stepfun-asr" / "config.toml"))
    for var in ("STEPFUN_API_KEY", "STEPFUN_BASE_URL", "STEPFUN_REGION"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """The project's StepFun emulator on 127.0.0.1 (a random port), stopped afterwards."""
    from tui.stepfun.emulator import Emulator

    with Emulator() as running:
        yield running


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[AsrClient]:
    """A real client pointed at ``emu``, with quick backoff so retries do not slow tests."""
    from tui.stepfun.client import AsrClient

    async with AsrClient(emu.demo_key, emu.base_url, backoff_s=0.01) as c:
        yield c


async def until(pred: Callable[[], object], limit_s: float = 30.0, what: str = "") -> None:
    """Wait for a condition, with a deadline (a failure, never a timing assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what or pred}")
        await asyncio.sleep(0.02)


@pytest.fixture
def fake_key() -> str:
    return "test-" + secrets.token_hex(12)


def write_tone_wav(
    path: Path,
    seconds: float,
    *,
    rate: int = 16000,
    freq: float = 220.0,
    gaps: tuple[tuple[float, float], ...] = (),
) -> Path:
    """A 16-bit mono WAV: a tone with optional silent (start, end) gaps, made with stdlib."""
    frames = int(seconds * rate)
    silent = [(int(a * rate), int(b * rate)) for a, b in gaps]
    buf = bytearray()
    for i in range(frames):
        quiet = any(a <= i < b for a, b in silent)
        value = 0 if quiet else int(9000 * math.sin(2 * math.pi * freq * i / rate))
        buf += struct.pack("<h", value)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(buf))
    return path


def subprocess_env(**extra: str) -> dict[str, str]:
    """The current (isolated) environment for a child `python -m tui` process."""
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = str(REPO)
    return env


PYTHON = sys.executable


def fake_transcriber(transcribe: Any, cross_check: Any = None) -> Any:
    """A TranscriberFactory around scripted functions: each call waits on the rate limiter
    first, as a real request does in the transport, so the runner takes its production path."""
    import contextlib

    from tui.engine.transcriber import Transcriber

    @contextlib.asynccontextmanager
    async def factory(settings: Any, limiter: Any) -> AsyncIterator[Any]:
        async def fn(path: Path, **kw: Any) -> Any:
            await limiter.acquire()
            kw.pop("format_override", None)
            return await transcribe(path, **kw)

        async def check(path: Path, **kw: Any) -> Any:
            if cross_check is None:
                raise AssertionError("this test's transcriber has no cross-check")
            await limiter.acquire()
            return await cross_check(path, **kw)

        yield Transcriber(fn, check)

    return factory
