"""The workbench's keys. Every binding has an id, so ``keymap = {"retry" = "R"}`` in the config
file remaps it (``App.set_keymap``); the help screen and the command palette list them all."""

from __future__ import annotations

from textual.binding import Binding

MAIN_BINDINGS: list[Binding] = [
    Binding(
        "t",
        "transcribe",
        "Transcribe",
        id="transcribe",
        tooltip="Queue the highlighted file, or every audio file in the highlighted folder",
    ),
    Binding(
        "w",
        "toggle_watch",
        "Watch",
        id="watch",
        tooltip="Watch the highlighted folder: new recordings are transcribed and written "
        "next to them (output formats from the settings)",
    ),
    Binding(
        "j",
        "next_job",
        "Next job",
        id="next-job",
        show=False,
        tooltip="Select the next job in the queue",
    ),
    Binding(
        "k",
        "previous_job",
        "Previous job",
        id="previous-job",
        show=False,
        tooltip="Select the previous job in the queue",
    ),
    Binding(
        "F",
        "queue_filter",
        "Filter",
        id="queue-filter",
        show=False,
        tooltip="Show in the queue: all jobs, to review / failed, running / queued, done",
    ),
    Binding(
        "f",
        "follow",
        "Follow",
        id="follow",
        show=False,
        tooltip="Follow the running job: show each job as it starts streaming",
    ),
    Binding(
        "r",
        "retry",
        "Retry",
        id="retry",
        tooltip="Run the selected job again (failed, canceled or finished)",
    ),
    Binding("x", "cancel_job", "Cancel", id="cancel", tooltip="Cancel the selected job"),
    Binding(
        "v",
        "cross_check",
        "Cross-check",
        id="cross-check",
        show=False,
        tooltip="Compare the selected finished transcript with step-asr-1.1 (the main "
        "model is not run again; costs extra)",
    ),
    Binding(
        "d",
        "compare",
        "Compare",
        id="compare",
        show=False,
        tooltip="Show the selected transcript beside its cross-check, differences marked",
    ),
    Binding(
        "e",
        "export",
        "Export",
        id="export",
        tooltip="Write the selected transcript as TXT/SRT/VTT/JSON/Markdown",
    ),
    Binding(
        "c",
        "copy_transcript",
        "Copy",
        id="copy",
        show=False,
        tooltip="Copy the selected transcript to the clipboard",
    ),
    Binding("slash", "search", "Search", id="search", tooltip="Search within the transcript"),
    Binding(
        "right_square_bracket",
        "next_match",
        "Next match",
        id="next-match",
        show=False,
        tooltip="Go to the next search match",
    ),
    Binding(
        "left_square_bracket",
        "previous_match",
        "Previous match",
        id="previous-match",
        show=False,
        tooltip="Go to the previous search match",
    ),
    Binding(
        "l",
        "library",
        "Library",
        id="library",
        tooltip="Every transcript by folder or date, and a search across all of them",
    ),
    Binding(
        "o",
        "review",
        "Review",
        id="review",
        tooltip="Open the selected finished transcript to listen, correct and teach the glossary",
    ),
    Binding(
        "m",
        "mark_reviewed",
        "Reviewed",
        id="mark-reviewed",
        tooltip="Mark the selected transcript reviewed (again: unmark)",
    ),
    Binding(
        "p",
        "resume",
        "Resume",
        id="resume",
        show=False,
        tooltip="Resume a paused queue now (it pauses on a refused key, an outage or a budget "
        "cap; a new key or settings resume it too)",
    ),
    Binding(
        "s",
        "settings",
        "Settings",
        id="settings",
        tooltip="Region, model, language, hotwords, formats, concurrency, API key",
    ),
    Binding("question_mark,f1", "help", "Help", id="help", tooltip="Show every key"),
    Binding(
        "q",
        "quit",
        "Quit",
        id="quit",
        tooltip="Quit; a running job goes back to the queue for next time",
    ),
]
