"""Running the workbench so that a crash is a log entry and one line, not a traceback on screen.

Textual prints an unhandled exception as a rich traceback with local variables when the app
exits — locals that can include the key or a user's text. Here that printing is turned off and
the exception is raised again after the terminal is restored, so `stepfun-asr`'s main writes it
(redacted) to the log file and prints one sentence with the log's path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App


def run_app(app: App[Any], **run_kwargs: Any) -> int:
    """``app.run()``; the app's unhandled exception is re-raised once the terminal is back."""
    # Textual 8.2 keeps the traceback in _exit_renderables and prints it on exit; the pinned
    # version is tested (tests/test_cli_errors.py) so a rename is caught.
    app._print_error_renderables = app._exit_renderables.clear  # type: ignore[method-assign]
    app.run(**run_kwargs)
    error = app._exception
    if error is not None:
        raise error
    return app.return_code or 0
