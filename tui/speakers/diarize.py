"""Who spoke when: speech frames → 1.6 s windows → voice embeddings → clusters → turns.

The speech mask is the ASR's own word timestamps when there are any (silence and music then
never reach the encoder), else a simple energy threshold. Speech frames are taken out and
joined, so every window is full of speech; each window's similarity to every speaker's centre
is spread back onto its frames by interpolation, each frame takes the most similar speaker,
and runs shorter than half a second are folded into their neighbours.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tui.speakers.clustering import CONFIDENT_GAP_RATIO, Clustering, cluster
from tui.speakers.encoder import PARTIAL_FRAMES, TARGET_DBFS, VoiceEncoder, one_blas_thread
from tui.speakers.features import FRAME_MS, file_mel
from tui.speakers.model_files import MODEL_NAME, require_model
from tui.speakers.setting import SpeakerCount
from tui.transcript.model import Segment, SpeakerTurn, SpeakerTurns, TrustWarning, WarningKind

Array = np.ndarray[Any, Any]

# Window hop in frames (0.5 s): finer places turn changes better, at proportional cost.
STEP_FRAMES = 50
# A pause this long (frames) between words ends an island of speech; turns change at pauses.
GAP_FRAMES = 15
# Islands up to this long (frames) get one speaker.
WHOLE_ISLAND_FRAMES = 400
# Runs of one speaker shorter than this (speech frames) are folded into a neighbour.
MIN_RUN_FRAMES = 50
# With `auto`, less speech than this per voice found (seconds) makes the count a guess.
MIN_SPEECH_PER_SPEAKER_S = 20.0
# Energy mask (no word timestamps): frames within this many dB of the loud end are speech.
ENERGY_RANGE_DB = 35.0
# Two clusters whose centres are this similar are one voice (auto only): GE2E embeddings of
# one speaker's halves measured 0.69–0.88 on LibriSpeech, different speakers 0.38–0.71.
SAME_VOICE = 0.86


@dataclass(frozen=True)
class Diarization:
    turns: SpeakerTurns
    warning: TrustWarning | None


def diarize_file(
    path: Path,
    count: SpeakerCount,
    words: Sequence[Segment] = (),
    *,
    ffmpeg_path: str | None = None,
    encoder: VoiceEncoder | None = None,
    stop: threading.Event | None = None,
) -> Diarization:
    """Speaker turns for the audio at ``path``. Raises ModelMissingError when the model is
    not installed, AsrError(BAD_INPUT) when the audio cannot be read, Stopped once ``stop``
    is set."""
    if encoder is None:
        encoder = VoiceEncoder.load(require_model())
    mel, energy = file_mel(path, ffmpeg_path, stop)
    return diarize_frames(mel, energy, count, words, encoder, stop)


def speech_mask(frames: int, words: Sequence[Segment], energy: Array) -> Array:
    """Which 10 ms frames hold speech: the words' spans, else the loud frames."""
    mask = np.zeros(frames, dtype=bool)
    timed = [w for w in words if w.end_ms > w.start_ms and w.text.strip()]
    if timed:
        for w in timed:
            mask[w.start_ms // FRAME_MS : -(-w.end_ms // FRAME_MS)] = True
        return mask
    if frames == 0:
        return mask
    level = 10 * np.log10(np.maximum(energy, 1e-12))
    loud = float(np.percentile(level, 95))
    return np.asarray((level > loud - ENERGY_RANGE_DB) & (level > -70.0))


def diarize_frames(
    mel: Array,
    energy: Array,
    count: SpeakerCount,
    words: Sequence[Segment],
    encoder: VoiceEncoder,
    stop: threading.Event | None = None,
) -> Diarization:
    mask = speech_mask(len(mel), words, energy)
    where = np.flatnonzero(mask)
    requested = str(count)
    if len(where) == 0:
        return Diarization(SpeakerTurns(requested=requested, model=MODEL_NAME), None)
    speech = mel[where]
    level = 10 * np.log10(max(float(energy[where].mean()), 1e-12))
    if level < TARGET_DBFS:  # quiet speech is raised to what the encoder was trained on
        speech = speech * np.float32(10 ** ((TARGET_DBFS - level) / 10))
    islands = _islands(where)
    spans = _windows(islands)
    embeddings = encoder.embed_windows(speech, spans, stop)
    with one_blas_thread():
        found = cluster(embeddings, count.low, count.high)
    # Near-identical centres are merged only when the graph did not already fall apart into
    # exactly that many groups (then the count is as clear as it gets): two similar voices
    # that never link up stay two.
    merge = not count.fixed and found.components != found.count
    _, centres = _centres(embeddings, found, merge=merge)
    frame_labels = _frame_labels(embeddings @ centres.T, spans, islands, len(speech))
    turns, order = _turns(frame_labels, where)
    voices = {
        order[k] + 1: [round(float(x), 4) for x in centres[k]] for k in order if k < len(centres)
    }
    # Sure when the voices fall into exactly that many separate groups, or one gap stands out.
    # Also unsure with little speech per voice: a few windows each cannot show a clear gap
    # (9 LibriSpeech readers, ~6 s each: 8 found with a clear-looking gap).
    speech_s = len(where) * FRAME_MS / 1000
    unsure = not count.fixed and (
        (found.components != len(order) and found.gap_ratio < CONFIDENT_GAP_RATIO)
        or (len(order) > 1 and speech_s / len(order) < MIN_SPEECH_PER_SPEAKER_S)
    )
    rival: int | None = found.runner_up if found.runner_up != len(order) else found.count
    if rival == len(order):
        rival = None
    result = SpeakerTurns(
        turns=turns,
        count=len(order),
        requested=requested,
        model=MODEL_NAME,
        unsure=unsure,
        suggested=rival if unsure else None,
        voices=voices,
    )
    return Diarization(result, _unsure_warning(result) if unsure else None)


def _islands(where: Array) -> list[tuple[int, int]]:
    """Stretches of speech without a pause of GAP_FRAMES, as [start, end) in speech frames."""
    cuts = np.flatnonzero(np.diff(where) > GAP_FRAMES) + 1
    bounds = [0, *cuts.tolist(), len(where)]
    return list(itertools.pairwise(bounds))


def _windows(islands: Sequence[tuple[int, int]]) -> Array:
    """(start, end) of each window: 1.6 s every STEP_FRAMES inside each island (the last one
    flush with its end); an island shorter than a window is one window (the encoder repeats
    it). No window spans a pause, so none mixes two sides of a turn change at one."""
    out: list[tuple[int, int]] = []
    for a, b in islands:
        if b - a <= PARTIAL_FRAMES:
            out.append((a, b))
            continue
        starts = list(range(a, b - PARTIAL_FRAMES + 1, STEP_FRAMES))
        if starts[-1] < b - PARTIAL_FRAMES:
            starts.append(b - PARTIAL_FRAMES)
        out += [(s, s + PARTIAL_FRAMES) for s in starts]
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def _centres(embeddings: Array, found: Clustering, *, merge: bool) -> tuple[Array, Array]:
    """(labels, unit centre per cluster); with ``merge`` clusters with near-identical centres
    become one (the eigengap alone cannot tell one voice from two)."""
    labels = found.labels.copy()
    while True:
        ids = np.unique(labels)
        centres = np.stack([embeddings[labels == k].mean(axis=0) for k in ids])
        centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)
        labels = np.searchsorted(ids, labels)
        if not merge or len(ids) < 2:
            return labels, centres
        sim = centres @ centres.T
        np.fill_diagonal(sim, -1.0)
        a, b = np.unravel_index(int(sim.argmax()), sim.shape)
        if sim[a, b] < SAME_VOICE:
            return labels, centres
        labels[labels == b] = a


def _frame_labels(
    scores: Array, spans: Array, islands: Sequence[tuple[int, int]], length: int
) -> Array:
    """Each speech frame's speaker. A short island (one breath of speech) goes whole to the
    speaker its windows resemble most on average; in a longer one the window scores are
    interpolated between window centres, each frame takes the best, and runs shorter than
    MIN_RUN_FRAMES are folded into a neighbour."""
    labels = np.zeros(length, dtype=np.int64)
    owner = np.searchsorted(np.array([a for a, _ in islands]), spans[:, 0], side="right") - 1
    for i, (a, b) in enumerate(islands):
        mine = np.flatnonzero(owner == i)
        if b - a <= WHOLE_ISLAND_FRAMES or len(mine) < 2:
            labels[a:b] = int(scores[mine].mean(axis=0).argmax())
            continue
        centres = ((spans[mine, 0] + spans[mine, 1]) / 2).astype(np.float64)
        frames = np.arange(a, b, dtype=np.float64)
        curves = np.stack(
            [np.interp(frames, centres, scores[mine, k]) for k in range(scores.shape[1])]
        )
        labels[a:b] = _fold_short_runs(curves.argmax(axis=0), MIN_RUN_FRAMES)
    return labels


def _fold_short_runs(labels: Array, min_len: int) -> Array:
    """Runs shorter than ``min_len`` take the label of the longer neighbouring run."""
    labels = labels.copy()
    for _ in range(3):
        bounds = np.flatnonzero(np.diff(labels)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(labels)]])
        if len(starts) < 2:
            break
        changed = False
        for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
            if b - a >= min_len:
                continue
            before = ends[i - 1] - starts[i - 1] if i > 0 else -1
            after = ends[i + 1] - starts[i + 1] if i + 1 < len(starts) else -1
            source = a - 1 if before >= after else b
            if 0 <= source < len(labels) and labels[a] != labels[source]:
                labels[a:b] = labels[source]
                changed = True
        if not changed:
            break
    return labels


def _turns(labels: Array, where: Array) -> tuple[list[SpeakerTurn], dict[int, int]]:
    """Turns in file time, speakers numbered 1, 2… by first appearance; also the map from
    cluster index to (number - 1)."""
    order: dict[int, int] = {}
    turns: list[SpeakerTurn] = []
    bounds = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(labels)]]) - 1
    for a, b in zip(starts, ends, strict=True):
        cluster_id = int(labels[a])
        number = order.setdefault(cluster_id, len(order)) + 1
        start_ms = int(where[a]) * FRAME_MS
        end_ms = (int(where[b]) + 1) * FRAME_MS
        if turns and turns[-1].speaker == number:
            turns[-1] = SpeakerTurn(turns[-1].start_ms, end_ms, number)
        else:
            turns.append(SpeakerTurn(start_ms, end_ms, number))
    return turns, order


def _unsure_warning(turns: SpeakerTurns) -> TrustWarning:
    rival = f"; {turns.suggested} is almost as likely" if turns.suggested else ""
    return TrustWarning(
        WarningKind.SPEAKERS_UNSURE,
        f"The number of speakers is uncertain: {turns.count} found{rival}. If you know how "
        "many spoke, give the count (--speakers N) or merge speakers.",
    )
