"""A directory tree showing folders and audio/video files only, with no dotfiles; each
recording marked with its newest job's outcome and each folder with counts, once the app
hands it marks from the store (``update_marks``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Self

from rich.style import Style
from rich.text import Text
from textual.widgets import DirectoryTree
from textual.widgets.directory_tree import DirEntry
from textual.widgets.tree import TreeNode

from tui.audio.sniff import is_audio_path
from tui.store.library import FileMark

# One glyph per mark (with its style); the order the folder counts are shown in.
MARK_GLYPHS: dict[FileMark, tuple[str, str]] = {
    FileMark.TRANSCRIBED: ("✓", "green"),
    FileMark.NEEDS_REVIEW: ("!", "yellow"),
    FileMark.FAILED: ("✗", "red"),
    FileMark.RUNNING: ("▶", "cyan"),
    FileMark.QUEUED: ("…", "dim"),
}


class AudioTree(DirectoryTree):
    """File browser. Labels are plain text: a file called ``[b]x.wav`` is shown as it is."""

    DEFAULT_CSS = """
    AudioTree { background: $surface; }
    """

    def __init__(self, path: Path, *, root_label: str | None = None, id: str | None = None) -> None:
        self.root_label = root_label
        self._marks: dict[Path, FileMark] = {}
        self._counts: dict[Path, dict[FileMark, int]] = {}
        super().__init__(path, id=id)
        if root_label:
            self.root.set_label(root_label)

    def reset_node(
        self, node: TreeNode[DirEntry], label: str | Text, data: DirEntry | None = None
    ) -> Self:
        # The root shows a short name, not the absolute path (stable snapshots, less noise).
        if node is self.root and self.root_label:
            label = self.root_label
        return super().reset_node(node, label, data)

    def update_marks(self, marks: Mapping[Path, FileMark]) -> None:
        """Show these marks (absolute paths → mark); folders count the marks below them.
        Only the lines whose mark or counts changed are repainted."""
        top = _abs(Path(self.path))
        new_marks = {_abs(p): m for p, m in marks.items()}
        counts: dict[Path, dict[FileMark, int]] = {}
        for path, mark in new_marks.items():
            for folder in path.parents:
                if folder != top and top not in folder.parents:
                    break
                bucket = counts.setdefault(folder, {})
                bucket[mark] = bucket.get(mark, 0) + 1
        old_marks, old_counts = self._marks, self._counts
        self._marks, self._counts = new_marks, counts
        stack: list[TreeNode[DirEntry]] = [self.root]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            if node.data is None:
                continue
            path = _abs(node.data.path)
            if old_marks.get(path) != new_marks.get(path) or old_counts.get(path) != counts.get(
                path
            ):
                node.refresh()

    def mark_of(self, path: Path) -> FileMark | None:
        return self._marks.get(_abs(path))

    def counts_of(self, folder: Path) -> dict[FileMark, int]:
        return dict(self._counts.get(_abs(folder), {}))

    def render_label(self, node: TreeNode[DirEntry], base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        if node.data is None or not (self._marks or self._counts):
            return label
        path = _abs(node.data.path)
        if node.allow_expand:
            counts = self._counts.get(path, {})
            for mark, (glyph, colour) in MARK_GLYPHS.items():
                if counts.get(mark):
                    label.append(f" {glyph}{counts[mark]}", style=colour)
        elif (own := self._marks.get(path)) is not None:
            glyph, colour = MARK_GLYPHS[own]
            label.append(f" {glyph}", style=colour)
        return label

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            p
            for p in paths
            if not p.name.startswith(".") and (is_audio_path(p) or self._safe_is_dir(p))
        ]

    def highlighted_path(self) -> Path | None:
        node = self.cursor_node
        if node is None or node.data is None:
            return None
        return node.data.path

    def reload_folder(self, folder: Path) -> None:
        """Refresh the listing of ``folder`` if it is shown (the root or an expanded node)."""
        node = self._find_node(folder)
        if node is not None:
            self.reload_node(node)

    def _find_node(self, folder: Path) -> TreeNode[DirEntry] | None:
        folder = folder.resolve()
        stack: list[TreeNode[DirEntry]] = [self.root]
        while stack:
            node = stack.pop()
            data = node.data
            path = getattr(data, "path", None)
            if path is not None and Path(path).resolve() == folder:
                return node if node.is_expanded or node is self.root else None
            stack.extend(node.children)
        return None


def _abs(path: Path) -> Path:
    # Not resolve(): a symlinked folder stays where the user sees it (jobs store it so).
    return Path(os.path.abspath(path))
