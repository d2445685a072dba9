"""The transcript's text on screen: lines drawn with Textual's Line API, wrapped and cached.

Each logical line (a cue, or a streamed sentence) is wrapped once per width into rows
(:func:`~tui.app.line_wrap.wrap_starts`) and drawn into strips only when a row is on screen;
the strips are kept until the line, the width, the styles or an overlay (search matches, the
cursor line, a mouse selection) change. While a job streams only the last line changes: a flush
re-wraps that line, repaints the rows that changed, and — unlike a TextArea or ``Log`` — a
growing text never lays out the screen again (``virtual_size`` here neither lays out nor
repaints; only the scrollbar follows it). Text is never read as markup: segments are built
from the plain text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import Reactive
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from tui.app.line_wrap import wrap_starts
from tui.app.live_text import PaneLine

# One colour per speaker id, for dark and for light themes: the same hue in both, each at
# least 4.6:1 against every built-in theme's background of that kind (tests check it).
SPEAKER_COLOURS_DARK = (
    "#8ABAEA",
    "#E6AB70",
    "#26D962",
    "#EEA0C7",
    "#C6A8F0",
    "#D9BB26",
    "#26D9D9",
    "#EFA4A4",
)
SPEAKER_COLOURS_LIGHT = (
    "#1C5EA0",
    "#864F18",
    "#12682F",
    "#AD1F66",
    "#762FDA",
    "#685A12",
    "#126464",
    "#B21F1F",
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
STRIP_CACHE_LINES = 256  # a few screens: strips are many small objects (the GC walks them)


def speaker_colour(speaker_id: int, *, dark: bool) -> str:
    palette = SPEAKER_COLOURS_DARK if dark else SPEAKER_COLOURS_LIGHT
    return palette[(speaker_id - 1) % len(palette)]


class TranscriptView(ScrollView, can_focus=True):
    """Read-only wrapped lines: follows the end while anchored, keeps a search and a cursor
    line, and lets the mouse select text (Textual's screen selection)."""

    ALLOW_SELECT = True
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "transcript-view--stamp",
        "transcript-view--match",
        "transcript-view--current-match",
        "transcript-view--cursor",
    }
    DEFAULT_CSS = """
    TranscriptView {
        overflow-x: hidden; overflow-y: auto; scrollbar-gutter: stable;
        background: $surface; color: $foreground;
        &:focus { background-tint: $foreground 3%; }
    }
    TranscriptView > .transcript-view--stamp { color: $text-muted; }
    TranscriptView > .transcript-view--match { background: $warning 35%; }
    TranscriptView > .transcript-view--current-match { background: $accent; color: $text; }
    TranscriptView > .transcript-view--cursor { background: $primary 25%; }
    """

    # A growing transcript neither lays out the screen nor repaints the whole view: the rows
    # that changed are repainted by hand (see ``_grew``).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False, repaint=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[PaneLine] = []
        self._plain: list[str] = []  # each line as drawn (control characters as spaces)
        self._starts: list[list[int]] = []  # row starts per line at ``_width``
        self._row_of: list[int] = [0]  # first row of each line; the last item: rows in all
        self._width = 80
        self._strips: LRUCache[int, list[Strip]] = LRUCache(STRIP_CACHE_LINES)
        self._text: str | None = None
        self._blank_to = 0  # blank rows below the text, up to this row (see ``_grew``)
        self.matches: list[tuple[int, int, int]] = []  # (line, start, end) of each match
        self._matches_on: dict[int, list[int]] = {}  # line -> indices into ``matches``
        self.match_index = -1
        self.cursor_line: int | None = None

    # --- content -------------------------------------------------------------------------------

    @property
    def lines(self) -> Sequence[PaneLine]:
        return self._lines

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "\n".join(line.plain for line in self._lines)
        return self._text

    @property
    def row_count(self) -> int:
        return self._row_of[-1]

    def set_lines(self, lines: Sequence[PaneLine]) -> None:
        """Show ``lines`` in place of everything (the scroll position is the caller's)."""
        self._lines = []
        self._plain = []
        self._starts = []
        self._row_of = [0]
        self._blank_to = 0
        self._strips.clear()
        self.matches, self._matches_on, self.match_index = [], {}, -1
        self.cursor_line = None
        self._append(lines)
        self._set_rows()
        self.refresh()

    def replace_tail(self, start: int, lines: Sequence[PaneLine]) -> None:
        """Lines ``start`` on become ``lines`` (a flush: the growing last line, and new ones)."""
        start = min(start, len(self._lines))
        # Greedy wrapping keeps the rows of a line's beginning: a line that grows changes from
        # its last row on.
        first_row = self._row_of[start + 1] - 1 if start < len(self._lines) else self._row_of[start]
        rows_before = self.row_count
        del self._lines[start:], self._plain[start:], self._starts[start:]
        del self._row_of[start + 1 :]
        for index in [i for i in list(self._strips.keys()) if i >= start]:
            self._strips.discard(index)
        if self.matches and self.matches[-1][0] >= start:
            self.matches = [m for m in self.matches if m[0] < start]
            self._matches_on = {k: v for k, v in self._matches_on.items() if k < start}
            self.match_index = min(self.match_index, len(self.matches) - 1)
        if self.cursor_line is not None and self.cursor_line >= start:
            self.cursor_line = None
        self._append(lines)
        self._grew(first_row, max(rows_before, self.row_count))

    def _append(self, lines: Sequence[PaneLine]) -> None:
        self._text = None
        width = self._width
        row = self._row_of[-1]
        for line in lines:
            plain = line.plain
            if _CONTROL.search(plain):
                plain = _CONTROL.sub(" ", plain)  # one for one: offsets stay the text's
            starts = wrap_starts(plain, width)
            self._lines.append(line)
            self._plain.append(plain)
            self._starts.append(starts)
            row += len(starts)
            self._row_of.append(row)

    def _set_rows(self) -> None:
        size = Size(self._width, max(self.row_count, self._blank_to))
        if size != self.virtual_size:
            self.virtual_size = size

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)

    def _grew(self, first_row: int, end_row: int) -> None:
        """Rows ``first_row``..``end_row`` changed: follow the end, repaint what is visible.

        Following, once the text reaches the bottom the view jumps so that the newest row sits a
        third of the way down (blank rows below the text make room): a scroll repaints every
        row (~5-8 ms in Textual), so scrolling a row or two at every flush would cost most of
        the budget; between jumps a flush repaints only the rows that changed."""
        height = max(1, self.scrollable_content_region.height)
        top = self.scroll_offset.y
        if self.is_following and self.row_count > top + height:
            top = max(0, self.row_count - height // 3)
            self._blank_to = top + height
            self._set_rows()
            self.scroll_target_y = self.scroll_y = top  # repaints the view
            return
        self._set_rows()
        first = max(first_row, top)
        last = min(end_row, top + height)
        if last > first:
            self.refresh_lines(first, last - first)

    @property
    def is_following(self) -> bool:
        return self._anchored and not self._anchor_released

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        # ScrollView's own watcher skips the check that re-anchors at the end.
        super().watch_scroll_y(old_value, new_value)
        if self._anchored and self._anchor_released:
            self._check_anchor()

    # --- width and styles ---------------------------------------------------------------------

    def on_resize(self, _event: events.Resize) -> None:
        self._rewrap()

    def _rewrap(self) -> None:
        width = max(1, self.scrollable_content_region.width)
        if width == self._width:
            return
        top_line = self.line_at_row(self.scroll_offset.y) if self._lines else 0
        self._width = width
        self._strips.clear()
        lines = self._lines
        self._lines, self._plain, self._starts, self._row_of = [], [], [], [0]
        self._append(lines)
        self._blank_to = 0
        self._set_rows()
        if self.is_following:
            self.scroll_target_y = self.scroll_y = self.max_scroll_y
        elif lines:
            self.scroll_target_y = self.scroll_y = min(self._row_of[top_line], self.max_scroll_y)
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    # --- drawing ------------------------------------------------------------------------------

    def line_at_row(self, row: int) -> int:
        return max(0, min(len(self._lines) - 1, bisect_right(self._row_of, row) - 1))

    def row_of(self, line: int, offset: int = 0) -> int:
        """The row that shows character ``offset`` of ``line``."""
        return self._row_of[line] + bisect_right(self._starts[line], offset) - 1

    def refresh_line_rows(self, line: int) -> None:
        """Draw ``line`` again (an overlay on it changed)."""
        if 0 <= line < len(self._lines):
            self._strips.discard(line)
            self.refresh_lines(self._row_of[line], len(self._starts[line]))

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        if row >= self.row_count:
            return Strip.blank(self._width, self.rich_style)
        line = self.line_at_row(row)
        strips = self._strips.get(line)
        if strips is None or self.text_selection is not None:
            strips = self._draw(line)
            self._strips[line] = strips
        return strips[row - self._row_of[line]]

    def _draw(self, index: int) -> list[Strip]:
        line = self._lines[index]
        plain = self._plain[index]
        base = self.rich_style
        if index == self.cursor_line:  # the whole row, to the edge
            base = base + self.get_component_rich_style("transcript-view--cursor")
        spans = self._spans(index, line, base)
        starts = self._starts[index]
        width = self._width
        strips: list[Strip] = []
        for row, start in enumerate(starts):
            end = starts[row + 1] if row + 1 < len(starts) else len(plain)
            segments = [
                Segment(plain[a:b], style) for a, b, style in _cut(spans, start, end) if b > a
            ]
            strip = Strip(segments).crop_extend(0, width, base)
            strips.append(strip.apply_offsets(start, index))
        return strips

    def _spans(self, index: int, line: PaneLine, base: Style) -> list[tuple[int, int, Style]]:
        """Styled ranges covering the line, later ones drawn over earlier ones."""
        length = len(line.plain)
        spans = [(0, length, base)]
        stamp = len(line.stamp)
        if stamp:
            # Its colour only: the row's background (the cursor line's) shows through.
            muted = self.get_component_rich_style("transcript-view--stamp").color
            spans.append((0, stamp, base + Style(color=muted)))
        if line.speaker:
            style = Style(bold=True)
            if line.speaker_id is not None:
                style += Style(
                    color=speaker_colour(line.speaker_id, dark=self.app.current_theme.dark)
                )
            spans.append((stamp, stamp + len(line.label), base + style))
        for i in self._matches_on.get(index, ()):
            _line, start, end = self.matches[i]
            name = "match" if i != self.match_index else "current-match"
            spans.append((start, end, self.get_component_rich_style(f"transcript-view--{name}")))
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(index)) is not None:
            start, end = span
            style = self.screen.get_component_rich_style("screen--selection")
            spans.append((start, length if end == -1 else end, style))
        return spans

    # --- search and the cursor line -----------------------------------------------------------

    def find(self, query: str, limit: int = 100_000) -> int:
        """Mark every case-insensitive match of ``query`` (none is current yet)."""
        self.matches, self._matches_on, self.match_index = [], {}, -1
        if query:
            pattern = re.compile(re.escape(query), re.IGNORECASE)
            for index, line in enumerate(self._lines):
                for match in pattern.finditer(line.plain):
                    self._matches_on.setdefault(index, []).append(len(self.matches))
                    self.matches.append((index, match.start(), match.end()))
                    if len(self.matches) >= limit:
                        break
                if len(self.matches) >= limit:
                    break
        self._strips.clear()
        self.refresh()
        return len(self.matches)

    def step_match(self, step: int) -> tuple[int, int, int] | None:
        """Make the next (``step`` 1) or previous (-1) match current and bring it into view."""
        if not self.matches:
            return None
        before = self.matches[self.match_index][0] if self.match_index >= 0 else None
        self.match_index = (self.match_index + step) % len(self.matches)
        line, start, _end = match = self.matches[self.match_index]
        if before is not None:
            self.refresh_line_rows(before)
        self.refresh_line_rows(line)
        self._bring_into_view(self.row_of(line, start))
        return match

    def _bring_into_view(self, row: int) -> None:
        top = self.scroll_offset.y
        height = max(1, self.scrollable_content_region.height)
        if not top <= row < top + height:
            self.scroll_to(y=max(0, row - height // 3), animate=False)
        else:
            self.release_anchor()

    def line_at_time(self, ms: int) -> int:
        """The last line stamped at or before ``ms`` (to the second, as the stamps show it)."""
        if not self._lines or self._lines[-1].start_ms is None:
            return 0  # no timestamps
        second = ms // 1000
        return max(
            0,
            bisect_right(
                self._lines,
                second,
                key=lambda line: -1 if line.start_ms is None else line.start_ms // 1000,
            )
            - 1,
        )

    def show_line(self, index: int) -> None:
        """Mark line ``index`` as the cursor line and put it at the top of the view."""
        if not self._lines:
            return
        if index != self.cursor_line:
            before, self.cursor_line = self.cursor_line, index
            if before is not None:
                self.refresh_line_rows(before)
            self.refresh_line_rows(index)
        self.scroll_to(y=self._row_of[index], animate=False)

    # --- mouse selection (Textual's screen selection reads these) ------------------------------

    @property
    def allow_select(self) -> bool:
        return True

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract(self.text), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self._strips.clear()
        self.refresh()


def _cut(spans: list[tuple[int, int, Style]], start: int, end: int) -> list[tuple[int, int, Style]]:
    """``start``..``end`` cut where the spans begin and end, each piece in the styles of the
    spans over it combined (the first span covers the whole line)."""
    points = {start, end}
    for a, b, _style in spans:
        if start < a < end:
            points.add(a)
        if start < b < end:
            points.add(b)
    edges = sorted(points)
    out: list[tuple[int, int, Style]] = []
    for a, b in pairwise(edges):
        style = Style()
        for s_a, s_b, s_style in spans:
            if s_a <= a and b <= s_b:
                style += s_style
        out.append((a, b, style))
    return out
