"""The top line: where requests go, what is watched, how the queue stands."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static


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
        text.append(f"  {running} running · {queued} queued", style="bold" if running else "dim")
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
