"""Speaker labels: speed (× real time), peak memory, and words on the wrong speaker.

    .venv/bin/python benchmarks/bench_speakers.py           # 5 min of audio + accuracy sets
    .venv/bin/python benchmarks/bench_speakers.py --full    # also 60 min

Needs the model (`stepfun-asr speakers install`). Speed and memory: a synthetic 3-voice
espeak-ng conversation repeated to the length, diarised in a child process (decode with ffmpeg
through a pipe, features, embeddings, clustering) with `auto`; peak RSS is that process's
maximum resident size, the interpreter and numpy included. On a shared machine the wall time
depends on the load; the CPU time does not, much. Accuracy: the share of words on the
wrong speaker (best one-to-one naming) on the test sets, with `auto` and with the count given.
Word timings are spread over each utterance (see tests/speaker_audio.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.speaker_audio import (
    RATE,
    Conversation,
    fetch_librispeech,
    librispeech_conversation,
    read_wav,
    synthetic_conversation,
    write_wav,
    wrong_word_share,
)
from tui import locations
from tui.speakers.diarize import diarize_file
from tui.speakers.encoder import VoiceEncoder
from tui.speakers.model_files import require_model
from tui.speakers.setting import parse_speakers
from tui.transcript.model import SpeakerTurns
from tui.transcript.speaker_labels import word_speakers


def child(path: str, setting: str) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    found = diarize_file(Path(path), parse_speakers(setting))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    # VmHWM, not ru_maxrss: the latter carries the parent's peak across fork + exec.
    status = Path("/proc/self/status").read_text()
    hwm = next((line for line in status.splitlines() if line.startswith("VmHWM:")), None)
    peak_mb = (
        int(hwm.split()[1]) / 1024
        if hwm
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    turns = found.turns.to_json()["turns"]
    print(json.dumps({"elapsed": elapsed, "cpu": cpu, "peak_mb": peak_mb, "turns": turns}))


def long_audio(minutes: float, folder: Path) -> Conversation:
    """A 3-voice conversation of that length, every turn spoken afresh with a little drift in
    pace and pitch (a looped clip would hand the clustering exact duplicates)."""
    turns = int(minutes * 60 / 3.3) + 1
    sub = folder / f"long_{minutes:g}"
    sub.mkdir()
    conv = synthetic_conversation(sub, turns=turns, varied=True, seed=7)
    cut = int(minutes * 60 * RATE)
    path = folder / f"long_{minutes:g}min.wav"
    write_wav(path, read_wav(conv.path)[:cut])
    keep = [i for i, w in enumerate(conv.words) if w.end_ms <= cut * 1000 // RATE]
    words, truth = [conv.words[i] for i in keep], [conv.truth[i] for i in keep]
    return Conversation(path, words, truth, conv.speakers, minutes * 60)


def speed(conv: Conversation, minutes: float) -> None:
    """Speed and memory with `auto` and the mask from the audio's energy (as in the pipeline,
    where this runs while the audio uploads); words on the wrong speaker as a check."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(conv.path), "auto"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(done.stdout.strip().splitlines()[-1])
    turns = SpeakerTurns.from_json({"turns": data["turns"]})
    wrong = wrong_word_share(conv.truth, word_speakers(conv.words, turns))
    count = len({t.speaker for t in turns.turns})
    audio_s = minutes * 60
    print(
        f"{minutes:>4g} min audio: wall {data['elapsed']:6.1f} s = {audio_s / data['elapsed']:5.1f}× "
        f"real time (CPU {data['cpu']:6.1f} s = {audio_s / data['cpu']:5.1f}×), "
        f"peak RSS {data['peak_mb']:4.0f} MB; {count} speakers found, {wrong:.1%} words wrong"
    )


def accuracy(name: str, conv: Conversation, encoder: VoiceEncoder) -> None:
    row = [f"{name:<28}"]
    for setting in ("auto", str(conv.speakers)):
        found = diarize_file(conv.path, parse_speakers(setting), conv.words, encoder=encoder)
        share = wrong_word_share(conv.truth, word_speakers(conv.words, found.turns))
        flag = " (unsure)" if found.turns.unsure else ""
        row.append(f"{setting:>4}: {share:6.1%} wrong, {found.turns.count} found{flag:<9}")
    print("  ".join(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="also time 60 minutes of audio")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    encoder = VoiceEncoder.load(require_model())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        synth = synthetic_conversation(folder)
        noisy = synthetic_conversation(folder, noise_snr_db=10, seed=2)
        cache = locations.cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        clips = fetch_librispeech(cache)
        print("words on the wrong speaker:")
        accuracy("synthetic, 3 voices", synth, encoder)
        accuracy("synthetic, 3 voices, 10 dB noise", noisy, encoder)
        zh = synthetic_conversation(folder, chinese=True, seed=3)
        accuracy("synthetic Mandarin, 3 voices", zh, encoder)
        accuracy("LibriSpeech, 4 readers", librispeech_conversation(folder, clips, 4), encoder)
        accuracy("LibriSpeech, 9 readers", librispeech_conversation(folder, clips, 9), encoder)
        print("speed and memory (auto):")
        for minutes in (5, 60) if args.full else (5,):
            speed(long_audio(minutes, folder), minutes)


if __name__ == "__main__":
    main()
