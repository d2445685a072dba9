"""stepfun-asr: a terminal workbench for StepFun's stepaudio-2.5-asr.

The core (``tui.stepfun``, ``tui.audio``, ``tui.jobs``, ``tui.transcript``, ``tui.config``)
never imports Textual; only ``tui.app`` does.
"""

__version__ = "0.1.0"
APP_NAME = "stepfun-asr"
