"""Render a finished transcript as TXT, SRT, WebVTT, JSON or Markdown.

Every format says the same thing: the final text (``done.text``, authoritative), timed by the
deltas through ``tui.transcript.align`` — never the deltas' own text, which can drift from it.
The JSON export's ``segments`` are those aligned pieces; the raw deltas, as the service sent
them, are kept beside them as ``deltas``.

Without word timestamps (timestamps off: every segment is 0–0) SRT and WebVTT get one cue
spanning the whole audio; WebVTT says so in a NOTE block. An empty transcript gives an SRT with
no cues (an empty file) and a WebVTT with only its header and a NOTE.
"""

from __future__ import annotations

import json
import re

from tui.transcript import speaker_labels
from tui.transcript.align import align
from tui.transcript.cues import (
    Cue,
    build_cues,
    fallback_cue,
    format_clock,
    format_timestamp,
    has_timestamps,
    is_cjk_text,
    split_sentences,
)
from tui.transcript.format_names import EXTENSIONS as EXTENSIONS
from tui.transcript.format_names import FORMATS as FORMATS
from tui.transcript.model import Segment, TranscriptionResult
from tui.transcript.text import join_texts

# Markdown paragraphs: a new one after this pause, or once this long at a sentence end.
PARAGRAPH_PAUSE_MS = 2000
PARAGRAPH_MAX_MS = 30_000
# Without timestamps: a new paragraph at the first sentence end past this many characters.
UNTIMED_PARAGRAPH_CHARS = 500
UNTIMED_PARAGRAPH_CJK = 200
_SENTENCE_END = re.compile(r"[。！？.!?…][\"'”’」』)）]*$")


def render(result: TranscriptionResult, fmt: str) -> str:
    """The file content for ``fmt`` (one of FORMATS); raises ValueError for anything else."""
    fmt = fmt.lower().lstrip(".")
    if fmt == "txt":
        return render_txt(result)
    if fmt == "srt":
        return render_srt(result)
    if fmt == "vtt":
        return render_vtt(result)
    if fmt == "json":
        return json.dumps(speaker_labels.json_data(result), ensure_ascii=False, indent=2) + "\n"
    if fmt == "md":
        return render_md(result)
    raise ValueError(f"Unknown export format {fmt!r}; choose from {', '.join(FORMATS)}.")


def aligned_segments(result: TranscriptionResult) -> list[Segment]:
    """The final text in timed pieces (see tui.transcript.align)."""
    return align(result.segments, result.text)


def render_txt(result: TranscriptionResult) -> str:
    if speaker_labels.has_labels(result):
        return speaker_labels.render_txt(result)
    text = result.text.strip()
    return text + "\n" if text else ""


def timed_cues(result: TranscriptionResult) -> tuple[list[Cue], bool]:
    """(cues, timed): real cues from timestamps, else the one-cue fallback (timed=False)."""
    if speaker_labels.has_labels(result):
        return speaker_labels.labelled_cues(result), True
    if has_timestamps(result.segments):
        return build_cues(aligned_segments(result)), True
    end_ms = round((result.duration_s or 0.0) * 1000)
    if end_ms <= 0 and result.segments:
        end_ms = max(s.end_ms for s in result.segments)
    cue = fallback_cue(result.text, end_ms)
    return ([cue] if cue else []), False


def render_srt(result: TranscriptionResult) -> str:
    cues, _ = timed_cues(result)
    blocks = [
        f"{i}\n{format_timestamp(c.start_ms)} --> {format_timestamp(c.end_ms)}\n"
        f"{speaker_labels.srt_text(c)}\n"
        for i, c in enumerate(cues, 1)
    ]
    return "\n".join(blocks)


def _vtt_text(text: str) -> str:
    # "-->" and a bare "&" / "<" would be read as cue syntax.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A blank line would end the cue early.
    return "\n".join(line for line in text.split("\n") if line.strip())


def render_vtt(result: TranscriptionResult) -> str:
    cues, timed = timed_cues(result)
    out = ["WEBVTT", ""]
    if not cues:
        out += ["NOTE", "The transcript is empty.", ""]
    elif not timed:
        out += [
            "NOTE",
            "No word timestamps were returned (timestamps were off), so the whole",
            "transcript is one cue spanning the audio.",
            "",
        ]
    for c in cues:
        out += [
            f"{format_timestamp(c.start_ms, sep='.')} --> {format_timestamp(c.end_ms, sep='.')}",
            speaker_labels.vtt_voice(c) + _vtt_text(c.text),
            "",
        ]
    return "\n".join(out)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def _md_escape(text: str) -> str:
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # A line starting with these would become a heading, quote or list.
    return re.sub(r"^(\s*)([#>+\-=]|\d+\.)", r"\1\\\2", text, flags=re.MULTILINE)


def _paragraphs(cues: list[Cue]) -> list[tuple[int, str]]:
    paragraphs: list[tuple[int, list[str]]] = []
    last_end = None
    speaker = None
    for cue in cues:
        text = join_texts(list(cue.lines))
        # A new speaker starts a new paragraph; each paragraph names its speaker.
        same_speaker, speaker = cue.speaker == speaker, cue.speaker
        if paragraphs and last_end is not None and same_speaker:
            start, parts = paragraphs[-1]
            joined = " ".join(parts)
            pause = cue.start_ms - last_end >= PARAGRAPH_PAUSE_MS
            full = cue.start_ms - start >= PARAGRAPH_MAX_MS and _SENTENCE_END.search(joined)
            if not pause and not full:
                parts.append(text)
                last_end = cue.end_ms
                continue
        paragraphs.append((cue.start_ms, [f"{speaker}: {text}" if speaker else text]))
        last_end = cue.end_ms
    return [(start, join_texts(parts)) for start, parts in paragraphs]


def _untimed_paragraphs(text: str) -> list[str]:
    """Sentences grouped into paragraphs of a readable length (no timing to go by)."""
    limit = UNTIMED_PARAGRAPH_CJK if is_cjk_text(text) else UNTIMED_PARAGRAPH_CHARS
    paragraphs: list[str] = []
    current: list[str] = []
    size = 0
    for sentence in split_sentences(text):
        sentence = " ".join(sentence.split())  # a blank line would split the paragraph
        current.append(sentence)
        size += len(sentence)
        if size >= limit:
            paragraphs.append(join_texts(current))
            current, size = [], 0
    if current:
        paragraphs.append(join_texts(current))
    return paragraphs


def render_md(result: TranscriptionResult) -> str:
    name = result.file.replace("\\", "/").rsplit("/", 1)[-1] or "transcript"
    lines = [f"# Transcript: {_md_escape(name)}", ""]
    meta = [f"- **Model:** {result.model or 'unknown'}"]
    if result.language:
        meta.append(f"- **Language:** {result.language}")
    if result.duration_s is not None:
        meta.append(f"- **Duration:** {format_clock(int(result.duration_s * 1000))}")
    if result.cost is not None:
        meta.append(f"- **Estimated cost:** {result.cost.amount:.4f} {result.cost.currency}")
    if result.cross_check is not None:
        cc = result.cross_check
        meta.append(f"- **Cross-check:** {cc.model}, similarity {cc.similarity:.0%}")
    lines += [*meta, ""]
    for w in result.warnings:
        mark = "**Warning**" if w.serious else "Note"
        lines += [f"> {mark}: {_md_escape(w.message)}", ""]
    if not result.text.strip():
        lines += ["*(empty transcript)*", ""]
        return "\n".join(lines)
    if has_timestamps(result.segments):
        for start, text in _paragraphs(timed_cues(result)[0]):
            lines += [f"**[{format_clock(start)}]** {_md_escape(text)}", ""]
    else:
        for paragraph in _untimed_paragraphs(result.text):
            lines += [_md_escape(paragraph), ""]
    return "\n".join(lines)
