"""The export formats' names and file extensions, apart from their (heavier) renderers, so a
command's ``--help`` can list them cheaply."""

from __future__ import annotations

FORMATS = ("txt", "srt", "vtt", "json", "md")
EXTENSIONS = {"txt": ".txt", "srt": ".srt", "vtt": ".vtt", "json": ".json", "md": ".md"}
