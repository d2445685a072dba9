"""Speaker labels in transcripts: which speaker each word belongs to, cues split at speaker
changes, and the label text each format shows ("Speaker 1", or the name the user gave).

A word takes the speaker whose turn holds its midpoint (the nearest turn when it falls in a
gap). Merges and names are the user's edits, applied here at render time: the turns computed
on the machine are never rewritten.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from tui.transcript.align import align
from tui.transcript.cues import Cue, build_cues, has_timestamps, is_cjk_text
from tui.transcript.model import Segment, SpeakerTurns, TranscriptionResult


def resolve(turns: SpeakerTurns, speaker: int) -> int:
    """The speaker a (possibly merged) speaker now counts as."""
    seen: set[int] = set()
    while speaker in turns.merged and speaker not in seen:
        seen.add(speaker)
        speaker = turns.merged[speaker]
    return speaker


def speaker_name(turns: SpeakerTurns, speaker: int) -> str:
    speaker = resolve(turns, speaker)
    return turns.names.get(speaker) or f"Speaker {speaker}"


def word_speakers(segments: Sequence[Segment], turns: SpeakerTurns) -> list[int]:
    """The (resolved) speaker of each segment, by its midpoint; 0 when there are no turns."""
    spans = sorted(turns.turns, key=lambda t: t.start_ms)
    if not spans:
        return [0] * len(segments)
    starts = [t.start_ms for t in spans]
    out: list[int] = []
    for seg in segments:
        mid = (seg.start_ms + seg.end_ms) / 2
        i = bisect_right(starts, mid) - 1
        if i >= 0 and mid < spans[i].end_ms:
            chosen = spans[i]
        else:
            before = spans[i] if i >= 0 else None
            after = spans[i + 1] if i + 1 < len(spans) else None
            if before is None or (after is not None and after.start_ms - mid < mid - before.end_ms):
                assert after is not None
                chosen = after
            else:
                chosen = before
        out.append(resolve(turns, chosen.speaker))
    return out


@dataclass(frozen=True)
class SpeakerRun:
    """Consecutive segments of one speaker."""

    speaker: int
    segments: tuple[Segment, ...]


def speaker_runs(segments: Sequence[Segment], turns: SpeakerTurns) -> list[SpeakerRun]:
    labels = word_speakers(segments, turns)
    groups: list[tuple[int, list[Segment]]] = []
    for seg, label in zip(segments, labels, strict=True):
        if groups and groups[-1][0] == label:
            groups[-1][1].append(seg)
        else:
            groups.append((label, [seg]))
    return [SpeakerRun(label, tuple(segs)) for label, segs in groups]


def has_labels(result: TranscriptionResult) -> bool:
    """Speaker labels apply: turns were found and the words carry timestamps to place."""
    return bool(result.speakers and result.speakers.turns) and has_timestamps(result.segments)


def labelled_cues(result: TranscriptionResult) -> list[Cue]:
    """Cues built per speaker run (a cue never spans a speaker change), each carrying its
    speaker's label."""
    assert result.speakers is not None
    turns = result.speakers
    cues: list[Cue] = []
    for run in speaker_runs([s for s in _final_words(result) if s.text], turns):
        label = speaker_name(turns, run.speaker) if run.speaker else None
        ident = run.speaker if run.speaker else None
        cues += [replace(c, speaker=label, speaker_id=ident) for c in build_cues(run.segments)]
    # Runs are cued one by one: keep a cue from running into the next run's first cue.
    for i in range(len(cues) - 1):
        if cues[i].end_ms > cues[i + 1].start_ms:
            end = max(cues[i + 1].start_ms, cues[i].start_ms + 1)
            cues[i] = replace(cues[i], end_ms=end)
    return cues


def _run_text(segments: Sequence[Segment]) -> str:
    text = "".join(s.text for s in segments)
    return text.strip() if is_cjk_text(text) else " ".join(text.split())


def render_txt(result: TranscriptionResult) -> str:
    """One paragraph per speaker run, prefixed ``Speaker 1:`` (or the given name)."""
    assert result.speakers is not None
    turns = result.speakers
    paragraphs = [
        f"{speaker_name(turns, run.speaker)}: {_run_text(run.segments)}"
        for run in speaker_runs([s for s in _final_words(result) if s.text], turns)
        if _run_text(run.segments)
    ]
    return "\n\n".join(paragraphs) + "\n" if paragraphs else ""


def srt_text(cue: Cue) -> str:
    return f"[{cue.speaker}] {cue.text}" if cue.speaker else cue.text


def vtt_voice(cue: Cue) -> str:
    """The WebVTT voice span opening (``<v Speaker 1>``), or nothing."""
    if not cue.speaker:
        return ""
    # A voice annotation ends at ">"; "&" and "<" would be read as markup.
    name = cue.speaker.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<v {' '.join(name.split())}>"


def _final_words(result: TranscriptionResult) -> list[Segment]:
    """The final text on the deltas' times (what every export holds; deltas can drift)."""
    return align(result.segments, result.text)


def json_data(result: TranscriptionResult) -> dict[str, Any]:
    """The result's JSON: ``segments`` are the final text aligned onto the delta timings and
    ``deltas`` the pieces as the service sent them; with labels, ``speaker`` (the label) and
    ``speaker_id`` on every segment and the turns with their labels."""
    data = result.to_json()
    data["deltas"] = data["segments"]
    words = _final_words(result)
    data["segments"] = [{"start_ms": w.start_ms, "end_ms": w.end_ms, "text": w.text} for w in words]
    if not has_labels(result):
        return data
    turns = result.speakers
    assert turns is not None
    ids = word_speakers(words, turns)
    for seg, speaker in zip(data["segments"], ids, strict=True):
        seg["speaker_id"] = speaker
        seg["speaker"] = speaker_name(turns, speaker)
    data["speakers"]["labelled_turns"] = [
        {
            "start_ms": t.start_ms,
            "end_ms": t.end_ms,
            "speaker_id": resolve(turns, t.speaker),
            "speaker": speaker_name(turns, t.speaker),
        }
        for t in turns.turns
    ]
    return data
