"""Who is running a job: ``host:pid:start[:runner]``, and whether that runner is still alive.

A job left ``running`` by a dead owner goes back to the queue; one whose owner lives is never
taken from it. The process start time tells a live pid from a reused one (Linux). Several
runners may serve one database from the same process (the workbench, a test): each has its own
``:runner`` suffix and is alive while it serves.
"""

from __future__ import annotations

import itertools
import os
import socket
from pathlib import Path

_runner_numbers = itertools.count(1)
_serving: set[str] = set()  # owners of the runners serving in this process right now


def process_owner() -> str:
    """host:pid:start — this process."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def new_runner_owner() -> str:
    """A fresh owner for one runner of this process."""
    return f"{process_owner()}:{next(_runner_numbers)}"


def serving(owner: str, active: bool) -> None:
    """Mark ``owner`` (a runner of this process) as serving or not."""
    if active:
        _serving.add(owner)
    else:
        _serving.discard(owner)


def _start_ticks(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"
    # Field 22 counts from after the ")" closing the command name (which may hold spaces).
    return stat.rsplit(")", 1)[1].split()[19]


def owner_alive(owner: str | None) -> bool:
    if not owner:
        return False
    parts = owner.split(":")
    if len(parts) not in (3, 4):
        return False
    host, pid_s, start = parts[:3]
    try:
        pid = int(pid_s)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True  # cannot tell; another machine's job is not ours to take
    if ":".join(parts[:3]) == process_owner():
        # This process: a runner that still serves keeps its jobs; any other is a leftover.
        return owner in _serving
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return start == "?" or _start_ticks(pid) == start
