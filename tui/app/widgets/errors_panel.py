"""Errors & usage: the selected job as one block (its failure, warnings, cross-check, usage
and cost), the session's totals, and below them the session log (every failure's sentence
verbatim, every warning; a message that comes again is counted, not repeated). The log is laid
out again at the panel's width when it is resized."""

from __future__ import annotations

import json
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import RichLog, Static

from tui.app.widgets.queue_table import clock, money
from tui.store.records import Job, JobState, Totals
from tui.transcript.model import TranscriptionResult

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
SEVERITY_MARK = {"error": "✗", "warning": "!", "info": "·"}


@dataclass(frozen=True)
class Problem:
    severity: str  # "error" | "warning" | "info"
    where: str  # e.g. "job 3 talk.wav", "watch"
    message: str


class ErrorsPanel(Vertical):
    DEFAULT_CSS = """
    ErrorsPanel { height: 1fr; }
    ErrorsPanel #job-block { height: auto; max-height: 60%; }
    ErrorsPanel #job-usage { height: auto; padding: 0 1; }
    ErrorsPanel #session-usage { height: auto; padding: 0 1; background: $boost; }
    ErrorsPanel #problems { height: 1fr; min-height: 3; padding: 0 1; }
    """

    def __init__(self, *, show_elapsed: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_elapsed = show_elapsed
        self.problems: list[Problem] = []
        self.repeats: dict[Problem, int] = {}
        self._width = 0

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="job-block"):
            yield Static("", id="job-usage", markup=False)
        yield Static(
            Text("Session: nothing transcribed yet.", style="dim"), id="session-usage", markup=False
        )
        yield RichLog(
            id="problems", markup=False, wrap=True, highlight=False, auto_scroll=True, min_width=20
        )

    def on_mount(self) -> None:
        # Kept at its end through layout changes too (the job block above grows when a job's
        # details arrive after the last line was written), until the user scrolls it up.
        self.query_one("#problems", RichLog).anchor()

    def add(self, severity: str, where: str, message: str) -> None:
        problem = Problem(severity, where, message)
        if problem in self.repeats:  # the same sentence again: counted, not repeated
            self.repeats[problem] += 1
            self._rewrite()
            return
        self.repeats[problem] = 1
        self.problems.append(problem)
        self.query_one("#problems", RichLog).write(self._line(problem))

    def _line(self, problem: Problem) -> Text:
        line = Text()
        mark = SEVERITY_MARK.get(problem.severity, "·")
        line.append(f"{mark} ", style=SEVERITY_STYLE.get(problem.severity, ""))
        line.append(f"{problem.where}: ", style="bold")
        line.append(problem.message, style="red" if problem.severity == "error" else "")
        if (n := self.repeats.get(problem, 1)) > 1:
            line.append(f" (×{n})", style="bold")
        return line

    def _rewrite(self) -> None:
        log = self.query_one("#problems", RichLog)
        log.clear()
        for problem in self.problems:
            log.write(self._line(problem))

    def on_resize(self) -> None:
        # RichLog wraps a line once, when written: lay the log out again at the new width.
        width = self.size.width
        if width != self._width:
            self._width = width
            if self.problems:
                self.call_after_refresh(self._rewrite)

    def show_totals(self, totals: Totals, counts: dict[str, int]) -> None:
        text = Text("Session: ", style="bold")
        if totals.jobs:
            cost = " + ".join(money(amount, cur) for cur, amount in sorted(totals.cost.items()))
            text.append(f"{totals.jobs} transcribed · {clock(totals.audio_s)} of audio")
            text.append(f" · est. {cost}" if cost else "")
        else:
            text.append("nothing transcribed yet", style="dim")
        failed = counts.get("failed", 0)
        review = counts.get("to_review", counts.get("needs_review", 0))
        if failed:
            text.append(f" · {failed} failed", style="red")
        if review:
            text.append(f" · {review} to review", style="yellow")
        self.query_one("#session-usage", Static).update(text)

    def show_job(self, job: Job | None, result: TranscriptionResult | None) -> None:
        self.query_one("#job-usage", Static).update(job_usage_text(job, result, self.show_elapsed))


def job_usage_text(
    job: Job | None, result: TranscriptionResult | None, show_elapsed: bool = True
) -> Text:
    if job is None:
        return Text("")
    text = Text(f"Job {job.id} ", style="bold")
    text.append(job.name, style="bold")
    text.append("\n")
    if job.state is JobState.FAILED and job.error_message:
        text.append(job.error_message, style="red")
        text.append("\n")
    if result is not None:
        for warning in result.warnings:
            text.append(
                "review: " if warning.serious else "warning: ",
                style="bold yellow" if warning.serious else "yellow",
            )
            text.append(warning.message + "\n")
        if result.cross_check is not None:
            cc = result.cross_check
            text.append(
                f"cross-check with {cc.model}: {cc.similarity:.0%} similar (d: side by side)\n",
                style="yellow" if cc.similarity < 0.85 else "green",
            )
    figures: list[str] = []
    if job.duration_s is not None:
        figures.append(f"audio {clock(job.duration_s)}")
    if job.cost_amount is not None:
        figures.append(f"est. {money(job.cost_amount, job.cost_currency)}")
    if job.attempts > 1:
        figures.append(f"{job.attempts} attempts")
    if show_elapsed and result is not None and result.elapsed_s:
        figures.append(f"took {result.elapsed_s:.1f} s")
    if figures:
        text.append(" · ".join(figures) + "\n", style="dim")
    if job.usage:
        text.append("usage " + _usage_summary(job.usage), style="dim")
    text.rstrip()
    return text


def _usage_summary(usage: dict[str, object]) -> str:
    """The service's opaque usage dict, shortened (tokens are shown, not billed by)."""
    keys = [k for k in ("input_tokens", "output_tokens", "total_tokens") if k in usage]
    if keys:
        return " · ".join(f"{k.replace('_tokens', '')} {usage[k]} tok" for k in keys)
    return json.dumps(usage, ensure_ascii=False)[:120]
