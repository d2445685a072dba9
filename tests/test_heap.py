"""The workbench process's collector policy (tui/app/heap.py), each case in a fresh interpreter
(the collector's state is the whole process's): no passes until start-up is over, then one
collection and start-up's survivors frozen; without ``hold`` nothing changes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import PYTHON, run_python, subprocess_env

APP_SCRIPT = """
import gc, json, sys
from pathlib import Path
from tui.app import heap
if sys.argv[2] != "as-is":
    heap.hold()
from tui.app.app import WorkbenchApp, make_app
from tui.config import Settings
from tui.secrets import Secret

seen = {}
first_frame = WorkbenchApp._after_first_frame

def after_first_frame(app):
    seen["first_frame"] = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
    first_frame(app)
    app.set_interval(0.05, lambda: check(app))

def check(app):
    if sys.argv[2] == "no key":
        seen["ticks"] = seen.get("ticks", 0) + 1
        if seen["ticks"] == 6:  # 0.3 s after the first frame: start-up is long over
            seen["key dialog"] = {"held": heap.held(), "screen": type(app.screen).__name__}
            app.exit()
        return
    if not heap.held():
        seen["settled"] = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
        app.exit()

WorkbenchApp._after_first_frame = after_first_frame
settings = Settings()
settings.api_key = None if sys.argv[2] == "no key" else Secret("heap-test-not-a-key")
settings.base_url = "http://127.0.0.1:9/v1"
tmp = Path(sys.argv[1])
app = make_app(settings, tmp, db_path=tmp / "jobs.sqlite3", config_path=tmp / "c.toml")
app.run(headless=True, size=(100, 30))
print(json.dumps(seen))
"""


def run_app(tmp_path: Path, mode: str) -> dict[str, dict[str, object]]:
    done = run_python(APP_SCRIPT, str(tmp_path), mode)
    assert done.returncode == 0, done.stderr[-2000:]
    seen: dict[str, dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen


def test_the_workbench_collects_nothing_until_started_then_freezes_start_up(
    tmp_path: Path,
) -> None:
    seen = run_app(tmp_path, "hold")
    assert seen["first_frame"] == {"enabled": False, "frozen": 0}
    assert seen["settled"]["enabled"] is True
    # Modules, classes, widgets: tens of thousands of objects never scanned again.
    frozen = seen["settled"]["frozen"]
    assert isinstance(frozen, int) and frozen > 10_000


def test_start_up_is_not_settled_while_the_key_dialog_is_up(tmp_path: Path) -> None:
    """Frozen, the dialog would be kept after it closes: it settles once a key is entered."""
    seen = run_app(tmp_path, "no key")
    assert seen["key dialog"] == {"held": True, "screen": "KeyScreen"}


def test_without_hold_the_collector_is_left_as_it_is(tmp_path: Path) -> None:
    seen = run_app(tmp_path, "as-is")
    assert seen["first_frame"] == {"enabled": True, "frozen": 0}
    assert seen["settled"] == {"enabled": True, "frozen": 0}


def test_the_workbench_command_holds_collection_before_the_app_loads(tmp_path: Path) -> None:
    """`stepfun-asr DIR` itself: the hold comes before Textual is imported."""
    code = (
        "import gc, json, sys\n"
        "import tui.app.app as app_module, tui.cli\n"
        "seen = {}\n"
        "def make_app(*a, **kw):\n"
        "    seen['enabled'] = gc.isenabled()\n"
        "    raise OSError('not opened in this test')\n"
        "app_module.make_app = make_app\n"
        "tui.cli.main([sys.argv[1]])\n"
        "print(json.dumps(seen))\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        env=subprocess_env(STEPFUN_ASR_CONFIG=str(tmp_path / "c.toml")),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"enabled": False}
