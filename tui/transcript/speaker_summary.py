"""One line per computed speaker of a transcript: its label, what it is merged into, how long
it talks, how many words it says and the first of them (the workbench's Speakers screen and
``stepfun-asr speakers ID list``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from tui.transcript.align import align
from tui.transcript.cues import is_cjk_text
from tui.transcript.model import Segment, TranscriptionResult
from tui.transcript.speaker_labels import speaker_name, word_speakers

FIRST_WORDS = 10
FIRST_CHARS = 60


@dataclass(frozen=True)
class SpeakerLine:
    """``label``: the speaker's own name ("Speaker 3" until named); ``merged_into``: the label
    it now counts as when the user merged it into another (None otherwise). Talk time and words
    are its own, as computed (a merge moves them to the target only in the transcript)."""

    speaker: int
    label: str
    merged_into: str | None
    talk_s: float
    words: int
    first_words: str


def speaker_lines(result: TranscriptionResult) -> list[SpeakerLine]:
    turns = result.speakers
    if turns is None:
        return []
    # Each word's own speaker, before merges: every computed speaker keeps its figures.
    own = replace(turns, merged={})
    words = [s for s in align(result.segments, result.text) if s.text.strip()]
    ids = word_speakers(words, own) if words else []
    said: dict[int, list[Segment]] = {}
    for word, speaker in zip(words, ids, strict=True):
        said.setdefault(speaker, []).append(word)
    lines: list[SpeakerLine] = []
    for n in range(1, turns.count + 1):
        talk_ms = sum(t.end_ms - t.start_ms for t in turns.turns if t.speaker == n)
        mine = said.get(n, [])
        lines.append(
            SpeakerLine(
                speaker=n,
                label=turns.names.get(n) or f"Speaker {n}",
                merged_into=speaker_name(turns, n) if n in turns.merged else None,
                talk_s=talk_ms / 1000,
                words=len(mine),
                first_words=_opening(mine[:FIRST_WORDS]),
            )
        )
    return lines


def _opening(words: list[Segment]) -> str:
    text = "".join(w.text for w in words)
    text = text.strip() if is_cjk_text(text) else " ".join(text.split())
    if len(text) > FIRST_CHARS:
        text = text[: FIRST_CHARS - 1].rstrip() + "…"
    return text
