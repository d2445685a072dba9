"""The top line: where requests go, what is watched, how the queue stands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from tui.engine.events import PauseReason
from tui.engine.pause import Pause

if TYPE_CHECKING:  # estimates (audio probing, prices) load when first asked for
    from tui.engine.estimates import Spend

PAUSE_HINTS = {
    PauseReason.ACCOUNT: "Fix the key or region (s), or press p to try again.",
    PauseReason.OUTAGE: "It resumes by itself when the service answers (p: try now).",
    PauseReason.BUDGET: "Raise the budget in the settings (s), or press p to send one more.",
}


KEY_HINTS = {
    PauseReason.ACCOUNT: "s: settings · p: try again",
    PauseReason.OUTAGE: "p: try now",
    PauseReason.BUDGET: "s: settings · p: send one more",
}


def pause_hint(reason: PauseReason) -> str:
    return PAUSE_HINTS[reason]


def pause_headline(pause: Pause) -> str:
    """The pause in a few words: its first sentence (the errors panel has the rest)."""
    # "The API key was rejected", "Service unreachable since 14:02, retrying": the details
    # in brackets are in the errors panel.
    return pause.message.split(". ")[0].split(" (")[0].rstrip(".")


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; padding: 0 1; background: $primary-background; color: $text; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)

    def show(
        self,
        *,
        service: str,
        model: str,
        watching: list[tuple[Path, str]],
        counts: dict[str, int],
        demo: bool = False,
        display_root: Path | None = None,
        pause: Pause | None = None,
        spend: Spend | None = None,
    ) -> None:
        text = Text()
        text.append("stepfun-asr", style="bold")
        if demo:
            text.append(" DEMO", style="bold reverse")
        text.append(f"  {service} · {model}", style="")
        if watching:
            names = ", ".join(f"{shown_path(p, display_root)} ({fmts})" for p, fmts in watching)
            text.append("  watching ", style="bold green")
            text.append(names)
        else:
            text.append("  not watching", style="dim")
        running, queued = counts.get("running", 0), counts.get("queued", 0)
        if pause is not None:
            # First after the name: on a narrow terminal the rest is cut, never this.
            head = Text("stepfun-asr", style="bold")
            head.append("  PAUSED ", style="bold reverse red")
            head.append(f" {pause_headline(pause)}", style="bold red")
            head.append(f" · {KEY_HINTS[pause.reason]} · {queued} queued, unsent", style="bold")
            text = head
        else:
            text.append(
                f"  {running} running · {queued} queued", style="bold" if running else "dim"
            )
        if spend is not None:
            text.append(f"  {spend.describe()}", style="dim")
        text.no_wrap = True
        text.overflow = "ellipsis"
        self.update(text)


def shown_path(path: Path, root: Path | None) -> str:
    """The path relative to the browsed root when it is inside it (short and stable)."""
    if root is not None:
        try:
            rel = path.relative_to(root)
        except ValueError:
            return str(path)
        return f"./{rel}" if str(rel) != "." else "./"
    return str(path)
