"""A local StepFun ASR emulator (stdlib HTTP server) for the demo, the ``emulator`` command
and the loopback tests. See ``Emulator``, ``write_directive_wav`` and ``faults.ALL``."""

from __future__ import annotations

from tui.stepfun.emulator.directive import read_directive, write_directive_wav
from tui.stepfun.emulator.faults import ALL as FAULTS
from tui.stepfun.emulator.records import RequestRecord
from tui.stepfun.emulator.server import Emulator

__all__ = ["FAULTS", "Emulator", "RequestRecord", "read_directive", "write_directive_wav"]
