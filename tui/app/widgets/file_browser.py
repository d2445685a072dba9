"""A directory tree showing folders and audio/video files only, with no dotfiles."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Self

from rich.text import Text
from textual.widgets import DirectoryTree
from textual.widgets.directory_tree import DirEntry
from textual.widgets.tree import TreeNode

from tui.audio.sniff import is_audio_path


class AudioTree(DirectoryTree):
    """File browser. Labels are plain text: a file called ``[b]x.wav`` is shown as it is."""

    DEFAULT_CSS = """
    AudioTree { background: $surface; }
    """

    def __init__(self, path: Path, *, root_label: str | None = None, id: str | None = None) -> None:
        self.root_label = root_label
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
