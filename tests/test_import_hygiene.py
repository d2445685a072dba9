"""The core runs headless: importing it (and the headless commands) never loads Textual."""

from __future__ import annotations

import pkgutil
import subprocess

import tui
from tests.conftest import PYTHON, subprocess_env

CORE_PACKAGES = (
    "tui.stepfun",
    "tui.audio",
    "tui.store",
    "tui.engine",
    "tui.pipeline",
    "tui.transcript",
    "tui.speakers",
)
HEADLESS_EXTRA = (
    "tui.config",
    "tui.locations",
    "tui.cli",
    "tui.commands.transcribe_cmd",
    "tui.commands.watch_cmd",
    "tui.commands.jobs_cmd",
    "tui.commands.config_cmd",
    "tui.commands.speakers_cmd",
)


def _core_modules() -> list[str]:
    names: list[str] = []
    for package in CORE_PACKAGES:
        module = __import__(package, fromlist=["__path__"])
        names.append(package)
        names += [f"{package}.{m.name}" for m in pkgutil.iter_modules(module.__path__)]
    return names


def test_core_and_headless_commands_do_not_import_textual():
    modules = _core_modules() + list(HEADLESS_EXTRA)
    assert "tui.stepfun.client" in modules and len(modules) > 10
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import tui.cli; tui.cli.build_parser()\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad); raise SystemExit(1 if bad else 0)\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_version_is_exposed():
    assert tui.__version__
