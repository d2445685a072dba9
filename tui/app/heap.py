"""The workbench process's garbage collector: no passes while it starts, and none over the
start-up's objects afterwards.

Measured (benchmarks/bench_tui.py, tests/test_heap.py for the behaviour): start-up builds a
heap of ~80k objects (modules, classes, functions, styles, widgets) that live as long as the
process, and the collector runs ~200 passes over it before the first frame (~60 ms of CPU).
While a transcript streams at 4,000 deltas/s a full pass walks all of it again, tens of
milliseconds with the event loop blocked: the worst key-press delays. So the workbench
process (`stepfun-asr [DIR]`, the demo) holds collection while it starts, collects once when
start-up is done and freezes the survivors (``gc.freeze``: never scanned again); later passes
walk only what was made since. Reference counting frees objects throughout; only cycles wait.

Tests and benchmarks that build the app without ``hold`` keep their process's collector
as it is (``settle`` does nothing then).
"""

from __future__ import annotations

import gc

_held = False


def hold() -> None:
    """No collector passes until ``settle`` (call it before the app is imported)."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def settle() -> None:
    """Start-up is over: collect its cycles once, freeze what survived, collect as usual from
    now on. Does nothing unless ``hold`` held collection."""
    global _held
    if not _held:
        return
    _held = False
    gc.collect()
    gc.freeze()
    gc.enable()


def held() -> bool:
    return _held
