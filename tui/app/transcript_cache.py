"""Finished transcripts laid out for the pane, kept for the last few jobs viewed. No Textual.

Laying out a long transcript (tens of thousands of segments) takes a noticeable fraction of a
second, so the screen asks here first and lays out in a worker only what is missing.
"""

from __future__ import annotations

from tui.app.live_text import PaneLine, result_lines
from tui.store.store import Store
from tui.transcript.model import TranscriptionResult

# Up to this much audio a finished transcript is laid out at once (~30 ms); longer ones in a
# thread, so selecting a 100k-character transcript never freezes the keyboard.
INLINE_RENDER_MAX_S = 1800.0
CACHE_SIZE = 8

Layout = tuple[TranscriptionResult | None, list[PaneLine]]


def layout_transcript(store: Store, job_id: int) -> Layout:
    """The stored result, corrected, and its lines as the pane shows them (may be slow: 20k
    segments ≈ 0.2 s)."""
    result = store.corrections.result(job_id)
    return result, result_lines(result) if result is not None else []


class TranscriptCache:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._layouts: dict[int, Layout] = {}
        self.laying_out: int | None = None  # the job a worker is laying out now

    def get(self, job_id: int, duration_s: float | None) -> Layout | None:
        """The layout, computed here when it is short; None when it must be laid out in a
        worker (``laying_out`` then names the job the caller should start one for)."""
        if job_id in self._layouts:
            return self._layouts[job_id]
        if duration_s is None or duration_s > INLINE_RENDER_MAX_S:
            return None
        return self.put(job_id, layout_transcript(self.store, job_id))

    def put(self, job_id: int, layout: Layout) -> Layout:
        while len(self._layouts) >= CACHE_SIZE:
            self._layouts.pop(next(iter(self._layouts)))
        self._layouts[job_id] = layout
        return layout

    def forget(self, job_id: int) -> None:
        self._layouts.pop(job_id, None)
        if self.laying_out == job_id:
            self.laying_out = None  # the next request lays it out again (it changed)

    def __contains__(self, job_id: int) -> bool:
        return job_id in self._layouts
