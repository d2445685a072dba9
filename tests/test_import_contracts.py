"""Import contracts, checked on every module of the package.

1. The core runs headless: importing any module outside ``tui.app`` never loads Textual
   (every module, recursively, in a fresh interpreter).
2. Layers: dependencies point one way. A module may import its own layer's packages and any
   lower layer, never a higher one; imports inside functions (lazy ones) count too. Every
   module must belong to a layer, so a new package has to be placed on purpose.
3. Start-up: `--help` loads no event loop, database, HTTP or UI library; the workbench's
   first frame is drawn before the screens above the main one, the cost estimates, the
   pipeline, the HTTP client and the watcher are loaded (they load when first used). The
   time itself is measured by benchmarks/bench_tui.py, not asserted here.
"""

from __future__ import annotations

import ast
import json
import pkgutil
from pathlib import Path

import tui
from tests.conftest import run_python

PACKAGE_DIR = Path(tui.__file__).parent

# Highest first. Packages on one line are one layer and may import each other only where
# INDEPENDENT below does not forbid it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "front ends",
        ("tui.app", "tui.commands", "tui.cli", "tui.cli_common", "tui.demo", "tui.__main__"),
    ),
    ("engine", ("tui.engine",)),
    ("pipeline and store", ("tui.pipeline", "tui.store")),
    # logs: the log file redacts the key it finds through the settings.
    (
        "settings",
        ("tui.config", "tui.config_file", "tui.config_values", "tui.logs", "tui.folder_settings"),
    ),
    # The service client, and local analysis (speaker labels) that sits beside it.
    ("service and analysis", ("tui.stepfun", "tui.speakers")),
    ("audio", ("tui.audio", "tui.playback")),
    ("transcript", ("tui.transcript",)),
    (
        "base",
        (
            "tui.errors",
            "tui.secrets",
            "tui.locations",
            "tui.fsutil",
            "tui.childenv",
            "tui.lazy_regex",
            "tui",
        ),
    ),
]
# Siblings that must not know each other: the pipeline transcribes one file and never sees
# the job store; the store keeps records and never runs anything.
INDEPENDENT = [("tui.pipeline", "tui.store")]


def all_modules() -> list[str]:
    names = ["tui"]
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="tui."):
        names.append(info.name)
    return sorted(names)


def module_path(name: str) -> Path:
    rel = Path(*name.split(".")[1:])
    package = PACKAGE_DIR / rel / "__init__.py"
    return package if package.exists() else (PACKAGE_DIR / rel).with_suffix(".py")


def owner(name: str) -> str:
    """The longest layer entry that ``name`` is or is inside."""
    best = ""
    for _layer, packages in LAYERS:
        for package in packages:
            if (name == package or name.startswith(package + ".")) and len(package) > len(best):
                best = package
    return best


def layer_of(name: str) -> int:
    package = owner(name)
    for index, (_layer, packages) in enumerate(LAYERS):
        if package in packages:
            return index
    raise LookupError(name)


def imported(name: str, source: str | None = None) -> set[str]:
    """Every ``tui`` module named by an import anywhere in the module (lazy ones too)."""
    path = module_path(name)
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    base = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "tui"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                module = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{module}.{node.module}" if node.module else module
            else:
                module = node.module or ""
            if module.split(".")[0] != "tui":
                continue
            # `from tui.engine import events` names the module tui.engine.events.
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if module_path_exists(sub) else module)
    return found


def module_path_exists(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (PACKAGE_DIR / rel / "__init__.py").exists() or (PACKAGE_DIR / rel).with_suffix(
        ".py"
    ).exists()


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in all_modules() if not owner(m)]
    assert not unplaced, f"place these in LAYERS: {unplaced}"


def upward(name: str, targets: set[str]) -> list[str]:
    mine = layer_of(name)
    return [
        f"{name} ({LAYERS[mine][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
        for t in sorted(targets)
        if layer_of(t) < mine
    ]


def test_no_module_imports_a_higher_layer() -> None:
    wrong = [line for name in all_modules() for line in upward(name, imported(name))]
    assert not wrong, "\n".join(wrong)


def test_independent_packages_do_not_import_each_other() -> None:
    wrong: list[str] = []
    for a, b in INDEPENDENT:
        for this, other in ((a, b), (b, a)):
            for name in all_modules():
                if owner(name) != this:
                    continue
                wrong += [f"{name} imports {t}" for t in imported(name) if owner(t) == other]
    assert not wrong, "\n".join(wrong)


def test_the_contract_catches_upward_imports() -> None:
    """The checker itself: lazy, relative and ``from package import module`` imports of a
    higher layer in an audio module are all reported; its own and lower layers are not."""
    source = (
        "from tui.audio.sniff import sniff_format\n"
        "from tui.errors import AsrError\n"
        "def later():\n"
        "    from tui.engine import events\n"
        "    import tui.app.app\n"
        "    from ..pipeline.transcription import transcribe_file\n"
    )
    found = upward("tui.audio.probe", imported("tui.audio.probe", source))
    assert [line.split(" imports ")[1].split(" ")[0] for line in found] == [
        "tui.app.app",
        "tui.engine.events",
        "tui.pipeline.transcription",
    ]


def test_no_core_module_loads_textual() -> None:
    # tui.__main__ runs the program when imported; it only calls tui.cli.main (imported below).
    core = [m for m in all_modules() if owner(m) not in ("tui.app", "tui.__main__")]
    assert "tui.engine.engine" in core and "tui.stepfun.emulator.handler" in core
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}: importlib.import_module(name)\n"
        "import tui.cli; tui.cli.build_parser()\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad); raise SystemExit(1 if bad else 0)\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stdout + done.stderr


# Not for `--help`: each costs milliseconds to import and none is needed to print it.
HELP_MUST_NOT_LOAD = (
    "asyncio",
    "ssl",
    "socket",
    "subprocess",
    "sqlite3",
    "datetime",
    "httpx",
    "textual",
    "rich",
    "tomlkit",
    "watchfiles",
    "numpy",
    "tui.app",
    "tui.engine",
    "tui.pipeline",
    "tui.store",
    "tui.stepfun",
    "tui.speakers",
    "tui.playback",
)


def loaded(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_help_loads_nothing_heavy() -> None:
    for argv in (["--help"], ["transcribe", "--help"]):
        code = (
            "import json, sys, tui.cli\n"
            "try:\n"
            f"    tui.cli.main({argv!r})\n"
            "except SystemExit:\n"
            "    pass\n"
            "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
        )
        done = run_python(code, check=True)
        assert "usage: stepfun-asr" in done.stdout
        modules = json.loads(done.stderr.strip().splitlines()[-1])
        assert loaded(modules, HELP_MUST_NOT_LOAD) == [], argv


# Loaded when first used, after the workbench's first frame.
FIRST_FRAME_MUST_NOT_LOAD = (
    "tui.app.screens",  # every screen above the main one (a key is set: no key screen)
    "tui.engine.estimates",
    # The engine's working parts: built when the first job, watch or edit needs them.
    "tui.engine.runner",
    "tui.engine.delivery",
    "tui.engine.hooks",
    "tui.engine.cross_checks",
    "tui.engine.review",
    "tui.engine.watcher",
    "tui.engine.watch_files",
    "tui.engine.watch_source",
    "tui.engine.speaker_editor",
    "tui.audio.probe",
    "tui.pipeline",
    "tui.stepfun.client",
    "httpx",
    "watchfiles",
    "numpy",
)

FIRST_FRAME_SCRIPT = """
import json, sys
from pathlib import Path
from tui.app.app import WorkbenchApp, make_app
from tui.config import Settings
from tui.secrets import Secret

seen = {}

def after_first_frame(app):
    seen["modules"] = sorted(sys.modules)
    seen["serving"] = app.engine.serving
    app.exit()

WorkbenchApp._after_first_frame = after_first_frame
settings = Settings()
settings.api_key = Secret("contract-test-not-a-key")
settings.base_url = "http://127.0.0.1:9/v1"
tmp = Path(sys.argv[1])
app = make_app(settings, tmp, db_path=tmp / "jobs.sqlite3", config_path=tmp / "c.toml", watch=True)
app.run(headless=True, size=(120, 36))
print(json.dumps(seen))
"""


def test_first_frame_comes_before_the_rest_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "talk.wav").write_bytes(b"RIFF")
    done = run_python(FIRST_FRAME_SCRIPT, str(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "tui.app.main_screen" in seen["modules"]  # the hook ran with the main screen up
    assert loaded(seen["modules"], FIRST_FRAME_MUST_NOT_LOAD) == []
    assert seen["serving"] is False  # the engine starts serving after the first frame


def test_each_command_builds_its_own_parser() -> None:
    """A command parses with only its module's parser (the others are not imported), so
    ``COMMAND_OWNERS`` must name every command's module."""
    from tui import cli

    every = cli._commands(cli.build_parser())
    assert every == set(cli.COMMAND_OWNERS)
    for command in sorted(every):
        assert command in cli._commands(cli.build_parser(command)), command
