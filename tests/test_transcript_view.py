"""The workbench's transcript pane on its own, in a real (headless) Textual app: streaming and
following, letting go and taking hold again, search across wrapped lines, the cue under the
playhead, speaker colours in the drawn strips, re-wrapping on resize, text never read as
markup, and the wrapping itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.color import Color as RichColor
from textual.app import App, ComposeResult
from textual.color import Color
from textual.geometry import Offset
from textual.selection import Selection
from textual.strip import Strip
from textual.theme import BUILTIN_THEMES

from tui.app.line_wrap import wrap_starts
from tui.app.live_text import PaneLine, result_lines, stamp
from tui.app.testing import screen_text, wait_until
from tui.app.widgets.transcript_pane import TranscriptPane
from tui.app.widgets.transcript_view import (
    SPEAKER_COLOURS_DARK,
    SPEAKER_COLOURS_LIGHT,
    TranscriptView,
    speaker_colour,
)
from tui.store.records import Job, JobState
from tui.transcript.model import Segment, SpeakerTurn, SpeakerTurns, TranscriptionResult

WORDS = [
    "river",
    "stones",
    "morning",
    "light",
    "people",
    "gather",
    "markets",
    "bread",
    "tea",
    "stories",
]


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield TranscriptPane(show_elapsed=False, id="transcript")

    @property
    def pane(self) -> TranscriptPane:
        return self.query_one(TranscriptPane)


def _job(state: JobState, job_id: int = 1) -> Job:
    return Job(job_id, Path(f"/rec/talk{job_id}.wav"), state)


def _stream(pane: TranscriptPane, job_id: int, sentences: range, *, words: int = 12) -> None:
    """Deltas as the service sends them: word by word, a sentence end every ``words``."""
    for s in sentences:
        for w in range(words):
            word = WORDS[(s + w) % len(WORDS)]
            ms = (s * words + w) * 300
            pane.add_delta(job_id, f" {word}{'.' if w == words - 1 else ''}", ms, ms + 300)


def _last_row_visible(view: TranscriptView) -> bool:
    top = view.scroll_offset.y
    return top <= view.row_count - 1 < top + view.scrollable_content_region.height


def _timed_result(cues: int) -> TranscriptionResult:
    segments = []
    for c in range(cues):
        for w in range(8):
            ms = c * 4000 + w * 400
            text = f" {WORDS[(c + w) % len(WORDS)]}{'.' if w == 7 else ''}"
            segments.append(Segment(ms, ms + 400, text))
    text = "".join(s.text for s in segments).strip()
    return TranscriptionResult("/rec/talk1.wav", text, segments, duration_s=cues * 4.0)


async def test_streamed_text_appears_and_the_view_follows_the_end() -> None:
    app = PaneApp()
    async with app.run_test(size=(60, 14)) as pilot:
        pane = app.pane
        view = pane.view
        pane.show_job(_job(JobState.RUNNING), None)
        _stream(pane, 1, range(3))
        pane.flush()
        await pilot.pause()
        lines = pane.text.splitlines()
        assert len(lines) == 3 and lines[0].startswith("[00:00:00] river stones")
        assert lines[1].startswith("[00:00:03] ")  # each sentence stamped at its first word
        # Half a sentence: the last line grows in place, flush by flush.
        pane.add_delta(1, " unfinished", 40_000, 40_300)
        pane.flush()
        assert pane.text.endswith("[00:00:40] unfinished")
        pane.add_delta(1, " thought.", 40_300, 40_600)
        pane.flush()
        assert pane.text.endswith("[00:00:40] unfinished thought.")
        # Far past the view's height: it keeps the newest text in sight.
        for batch in range(10):
            _stream(pane, 1, range(10 + batch * 4, 14 + batch * 4))
            pane.flush()
            await pilot.pause()
            assert view.is_following and _last_row_visible(view)
        assert view.row_count > 3 * view.scrollable_content_region.height
        newest = pane.text.splitlines()[-1]
        assert newest[-30:] in screen_text(app)


async def test_scrolling_up_lets_go_and_the_end_takes_hold_again() -> None:
    app = PaneApp()
    async with app.run_test(size=(60, 14)) as pilot:
        pane = app.pane
        view = pane.view
        pane.show_job(_job(JobState.RUNNING), None)
        _stream(pane, 1, range(30))
        pane.flush()
        await pilot.pause()
        assert view.is_following and view.scroll_offset.y > 0
        view.focus()
        await pilot.press("pageup", "up")
        top = view.scroll_offset.y
        assert not view.is_following
        _stream(pane, 1, range(30, 60))
        pane.flush()
        await pilot.pause()
        assert view.scroll_offset.y == top  # left where the user put it
        assert not _last_row_visible(view)
        await pilot.press("end")
        await pilot.pause()
        assert view.is_following  # back at the end: following again
        _stream(pane, 1, range(60, 90))
        pane.flush()
        await pilot.pause()
        assert _last_row_visible(view)


async def test_a_reloaded_transcript_keeps_the_scroll_position() -> None:
    app = PaneApp()
    async with app.run_test(size=(60, 14)) as pilot:
        pane = app.pane
        view = pane.view
        result = _timed_result(60)
        pane.show_job(_job(JobState.DONE), result)
        await pilot.pause()
        view.focus()
        await pilot.press("pagedown", "pagedown", "down")
        top = view.scroll_offset.y
        assert 0 < top < view.max_scroll_y
        pane.show_job(_job(JobState.DONE), result, lines=result_lines(result))
        await pilot.pause()
        assert view.scroll_offset.y == top
        # Another job starts at its top.
        pane.show_job(_job(JobState.DONE, job_id=2), result)
        await pilot.pause()
        assert view.scroll_offset.y == 0


async def test_search_finds_matches_across_wrapped_rows_case_insensitively() -> None:
    app = PaneApp()
    async with app.run_test(size=(40, 14)) as pilot:
        pane = app.pane
        view = pane.view
        long = " ".join(WORDS * 3)  # one line, several rows at this width
        pane.show_job(
            _job(JobState.DONE),
            _timed_result(1),
            lines=[PaneLine("a first line"), PaneLine(long), PaneLine("Morning LIGHT again")],
        )
        await pilot.pause()
        starts = wrap_starts(long, view.scrollable_content_region.width)
        assert len(starts) >= 3
        # A query that straddles the break between the line's first two rows.
        before = long[: starts[1]].split()[-1]
        after = long[starts[1] :].split()[0]
        query = f"{before} {after}".upper()
        assert pane.search(query) == long.lower().count(query.lower())
        line, start, end = view.matches[0]
        assert line == 1 and start < starts[1] < end
        assert pane.current_match.lower() == query.lower()
        # The current match is drawn on both rows it spans.
        current = view.get_component_rich_style("transcript-view--current-match")
        first_row = view.row_of(1, start) - view.scroll_offset.y
        for y in (first_row, first_row + 1):
            assert any(
                s.style is not None and s.style.bgcolor == current.bgcolor
                for s in view.render_line(y)
            )
        # n/N step through them; the status says where.
        assert pane.search("morning light") == 4
        status = pane.query_one("#search-status")
        assert str(status.render()) == "1/4"
        pane.next_match(1)
        pane.next_match(1)
        assert pane.match_index == 2 and str(status.render()) == "3/4"
        pane.next_match(-1)
        pane.next_match(-1)
        pane.next_match(-1)
        assert pane.match_index == 3  # wraps round
        assert pane.search("nowhere") == 0 and str(status.render()) == "no match"


async def test_search_in_chinese_text() -> None:
    app = PaneApp()
    async with app.run_test(size=(40, 14)) as pilot:
        pane = app.pane
        text = "今天我们讨论天气预报和城市交通的问题，" * 4
        pane.show_job(_job(JobState.DONE), _timed_result(1), lines=[PaneLine(text, stamp(0), 0)])
        await pilot.pause()
        assert pane.search("天气预报") == 4
        assert pane.current_match == "天气预报"


async def test_scroll_to_time_puts_the_cue_at_the_top_with_a_cursor_line() -> None:
    app = PaneApp()
    async with app.run_test(size=(60, 14)) as pilot:
        pane = app.pane
        view = pane.view
        result = _timed_result(80)
        pane.show_job(_job(JobState.DONE), result)
        await pilot.pause()
        lines = view.lines
        assert all(line.start_ms is not None for line in lines)
        target = 30
        ms = (lines[target].start_ms or 0) + 1500  # inside the cue
        pane.scroll_to_time(ms)
        await pilot.pause()
        assert view.cursor_line == target
        assert view.scroll_offset.y == view.row_of(target)
        cursor = view.get_component_rich_style("transcript-view--cursor")
        assert cursor.bgcolor is not None
        assert all(
            s.style is not None and s.style.bgcolor == cursor.bgcolor for s in view.render_line(0)
        )
        assert not any(
            s.style is not None and s.style.bgcolor == cursor.bgcolor for s in view.render_line(3)
        )
        assert lines[target].stamp.strip() in screen_text(app).splitlines()[1]
        # Before the first cue: the top; the next cue moves the cursor line.
        pane.scroll_to_time(0)
        assert view.cursor_line == 0 and view.scroll_offset.y == 0
        pane.scroll_to_time(lines[5].start_ms or 0)
        assert view.cursor_line == 5


def _labelled(**edits: object) -> TranscriptionResult:
    words = [
        Segment(0, 400, "Hello"),
        Segment(400, 800, " there."),
        Segment(900, 1300, " How"),
        Segment(1300, 1700, " are"),
        Segment(1700, 2100, " you?"),
        Segment(2600, 3000, " Fine,"),
        Segment(3000, 3400, " thanks [laughs]."),
    ]
    turns = SpeakerTurns(
        turns=[SpeakerTurn(0, 850, 1), SpeakerTurn(880, 2150, 2), SpeakerTurn(2500, 3500, 3)],
        count=3,
        model="test",
    )
    for key, value in edits.items():
        setattr(turns, key, value)
    return TranscriptionResult(
        "/rec/talk1.wav", "".join(w.text for w in words), words, speakers=turns
    )


def _segments_with(strip: Strip, text: str) -> list[tuple[str, object]]:
    return [(s.text, s.style) for s in strip if text in s.text]


async def _speaker_styles(app: PaneApp, result: TranscriptionResult) -> dict[str, tuple[str, bool]]:
    """Each drawn speaker label: its colour and whether it is bold; the text after it too."""
    pane = app.pane
    pane.show_job(_job(JobState.DONE), result)
    view = pane.view
    out: dict[str, tuple[str, bool]] = {}
    for y in range(view.row_count):
        line = view.lines[view.line_at_row(y)]
        for segment in view.render_line(y):
            style = segment.style
            assert style is not None
            color = style.color.get_truecolor().hex.upper() if style.color else ""
            if line.speaker and segment.text.startswith(line.speaker):
                out[line.speaker] = (color, bool(style.bold))
            elif line.text and segment.text.strip() and line.text.startswith(segment.text.strip()):
                out[f"text of {line.speaker}"] = (color, bool(style.bold))
    return out


async def test_each_speaker_is_drawn_in_its_own_colour_kept_across_renames() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 14)) as pilot:
        await pilot.pause()
        assert app.current_theme.dark
        styles = await _speaker_styles(app, _labelled())
        assert styles["Speaker 1"] == (SPEAKER_COLOURS_DARK[0], True)
        assert styles["Speaker 2"] == (SPEAKER_COLOURS_DARK[1], True)
        assert styles["Speaker 3"] == (SPEAKER_COLOURS_DARK[2], True)
        assert not styles["text of Speaker 1"][1]  # the words: plain weight
        assert styles["text of Speaker 1"][0] not in SPEAKER_COLOURS_DARK
        assert app.pane.text.splitlines()[0] == "[00:00:00] Speaker 1: Hello there."
        # Renamed: the colour stays the speaker's; merged: the one it joined.
        renamed = await _speaker_styles(app, _labelled(names={2: "Ada [host]"}))
        assert renamed["Ada [host]"] == (SPEAKER_COLOURS_DARK[1], True)
        merged = await _speaker_styles(app, _labelled(merged={3: 1}))
        assert "Speaker 3" not in merged
        assert merged["Speaker 1"] == (SPEAKER_COLOURS_DARK[0], True)
        app.theme = "textual-light"
        await pilot.pause()
        light = await _speaker_styles(app, _labelled())
        assert light["Speaker 2"] == (SPEAKER_COLOURS_LIGHT[1], True)


def _contrast(a: Color, b: Color) -> float:
    def luminance(c: Color) -> float:
        def channel(v: int) -> float:
            x = v / 255
            return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("name", [n for n in BUILTIN_THEMES if not n.startswith("ansi")])
def test_speaker_colours_read_on_every_theme(name: str) -> None:
    theme = BUILTIN_THEMES[name]
    variables = theme.to_color_system().generate()
    for key in ("surface", "background"):
        background = Color.parse(variables[key])
        for speaker in range(1, len(SPEAKER_COLOURS_DARK) + 1):
            colour = Color.parse(speaker_colour(speaker, dark=theme.dark))
            assert _contrast(colour, background) >= 4.5, (name, key, speaker)
    assert len(set(SPEAKER_COLOURS_DARK)) == len(SPEAKER_COLOURS_DARK)
    assert isinstance(RichColor.parse(SPEAKER_COLOURS_LIGHT[0]), RichColor)


async def test_resizing_rewraps_and_keeps_the_text() -> None:
    app = PaneApp()
    async with app.run_test(size=(50, 14)) as pilot:
        pane = app.pane
        view = pane.view
        long = " ".join(WORDS * 2)
        pane.show_job(_job(JobState.DONE), _timed_result(1), lines=[PaneLine(long)] * 3)
        await pilot.pause()
        narrow_rows = view.row_count
        width = view.scrollable_content_region.width
        assert narrow_rows == 3 * len(wrap_starts(long, width)) > 3
        await pilot.resize_terminal(200, 14)
        await wait_until(pilot, lambda: view.row_count == 3, what="re-wrapped to one row each")
        await pilot.resize_terminal(30, 14)
        await wait_until(pilot, lambda: view.row_count > narrow_rows, what="re-wrapped narrower")
        assert pane.text == "\n".join([long] * 3)
        for y in range(view.scrollable_content_region.height):
            assert view.render_line(y).cell_length == view.scrollable_content_region.width


async def test_text_is_shown_literally_never_as_markup() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 14)) as pilot:
        pane = app.pane
        tricky = "[bold]not bold[/bold] [red]x[/] [link=http://x]y[/link] \\[z]"
        pane.show_job(_job(JobState.RUNNING), None)
        pane.add_delta(1, tricky, 1000, 2000)
        pane.flush()
        await pilot.pause()
        assert tricky in screen_text(app)
        assert not any(s.style and s.style.bold for s in pane.view.render_line(0))


async def test_chinese_wraps_at_the_width_in_cells() -> None:
    app = PaneApp()
    async with app.run_test(size=(40, 14)) as pilot:
        pane = app.pane
        view = pane.view
        text = "今天我们讨论天气预报和城市交通的问题，" * 5
        pane.show_job(_job(JobState.DONE), _timed_result(1), lines=[PaneLine(text, stamp(0), 0)])
        await pilot.pause()
        width = view.scrollable_content_region.width
        assert view.row_count == len(wrap_starts(stamp(0) + text, width)) > 1
        shown = screen_text(app)
        assert text[:5] in shown
        for y in range(view.row_count):
            assert view.render_line(y).cell_length == width


async def test_a_mouse_cell_maps_back_to_its_character() -> None:
    """Textual's text selection reads the offsets the strips carry: a cell on a wrapped row
    must name the character of the line that is drawn there."""
    app = PaneApp()
    async with app.run_test(size=(40, 14)) as pilot:
        pane = app.pane
        view = pane.view
        long = " ".join(WORDS * 3)
        pane.show_job(
            _job(JobState.DONE), _timed_result(1), lines=[PaneLine("first"), PaneLine(long)]
        )
        await pilot.pause()
        starts = wrap_starts(long, view.scrollable_content_region.width)
        region = view.content_region
        widget, offset = app.screen.get_widget_and_offset_at(region.x + 3, region.y + 2)
        assert widget is view and offset == Offset(starts[1] + 3, 1)
        selected = view.get_selection(Selection(Offset(0, 1), Offset(starts[1] + 3, 1)))
        assert selected is not None and selected[0] == long[: starts[1] + 3]
        # A mouse drag across the wrapped rows selects, and ctrl+c copies, that text.
        await pilot.mouse_down(view, offset=(region.x - view.region.x + 2, 1))
        await pilot.hover(view, offset=(region.x - view.region.x + 3, 2))
        await pilot.mouse_up(view, offset=(region.x - view.region.x + 3, 2))
        await pilot.pause()
        # (through the character under the pointer)
        assert app.screen.get_selected_text() == long[2 : starts[1] + 4]
        await pilot.press("ctrl+c")
        assert app.clipboard == long[2 : starts[1] + 4]


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("river stones morning light people gather markets", 10),
        ("averyveryverylongwordwithoutspaces and more", 8),
        ("今天我们讨论天气预报和城市交通的问题", 9),
        ("mixed 中文 and English 词语 text here", 7),
        ("spaces   between    words      hang", 6),
        ("", 10),
        ("x", 1),
    ],
)
def test_wrapping_covers_every_character_once_within_the_width(text: str, width: int) -> None:
    starts = wrap_starts(text, width)
    assert starts[0] == 0 and starts == sorted(set(starts))
    rows = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    assert "".join(rows) == text
    for row in rows:
        assert cell_len(row.rstrip()) <= width  # hanging spaces are not drawn
        assert row == "" or row.strip() != "" or row is rows[0]
