"""The GE2E speaker encoder (resemblyzer's d-vector network) in numpy.

Three stacked LSTM layers of 256 units over 40 mel bands, the last hidden state through a
256 → 256 linear layer, ReLU, and L2 normalisation: the same arithmetic as
``torch.nn.LSTM`` (gate order input, forget, cell, output) in float32, so the weights trained
in torch give the same embeddings here.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

from tui.speakers.checkpoint import load_state_dict
from tui.speakers.features import check_stop

Array = np.ndarray[Any, Any]

LAYERS = 3
HIDDEN = 256
PARTIAL_FRAMES = 160  # 1.6 s windows, as trained
# The encoder expects speech at about this loudness (resemblyzer normalises to -30 dBFS).
TARGET_DBFS = -30.0
# Windows per matrix product: large enough for BLAS to be efficient, small enough that the
# per-step activations stay in cache (256 windows × 1024 gates × 4 B = 1 MB).
BATCH = 256
# Time steps per chunk: the three layers advance together a chunk at a time.
TIME_CHUNK = 20


def one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """BLAS on one thread: these matrix products are small (256 × 256 × 1024), and OpenBLAS's
    threads spin-waiting between them cost 4× the CPU time, measured, for no gain in wall
    time on 2 busy cores. threadpoolctl comes with the speakers extra; without it, as is."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    limits: contextlib.AbstractContextManager[object] = threadpool_limits(limits=1, user_api="blas")
    return limits


def _sigmoid(x: Array) -> Array:
    # tanh form: no overflow warnings for large negative inputs, and faster than exp.
    return np.asarray(0.5 * (np.tanh(0.5 * x) + 1.0), dtype=np.float32)


class VoiceEncoder:
    """Embeds 1.6 s mel windows into unit vectors whose cosine tells voices apart."""

    def __init__(self, weights: dict[str, Array]) -> None:
        try:
            self.w_ih = [weights[f"lstm.weight_ih_l{i}"].T.copy() for i in range(LAYERS)]
            self.w_hh = [weights[f"lstm.weight_hh_l{i}"].T.copy() for i in range(LAYERS)]
            self.bias = [
                weights[f"lstm.bias_ih_l{i}"] + weights[f"lstm.bias_hh_l{i}"] for i in range(LAYERS)
            ]
            self.w_out = weights["linear.weight"].T.copy()
            self.b_out = weights["linear.bias"]
        except KeyError as exc:
            raise ValueError(f"The speaker model file lacks {exc.args[0]}.") from None

    @classmethod
    def load(cls, path: Path) -> VoiceEncoder:
        return cls(load_state_dict(path, "model_state"))

    def embed(self, windows: Array) -> Array:
        """(n, frames, 40) mel windows → (n, 256) unit embeddings, in batches."""
        with one_blas_thread():
            out = [self._embed_batch(windows[i : i + BATCH]) for i in range(0, len(windows), BATCH)]
        return np.concatenate(out) if out else np.zeros((0, HIDDEN), dtype=np.float32)

    def embed_windows(
        self, frames: Array, spans: Array, stop: threading.Event | None = None
    ) -> Array:
        """Embeddings of ``frames[start:end]`` for each (start, end) row of ``spans``; a span
        shorter than a window is repeated to fill it (zeros would be silence the model never
        heard in training). Windows are cut a batch at a time, never all in memory."""
        out: list[Array] = []
        for i in range(0, len(spans), BATCH):
            check_stop(stop)
            rows = spans[i : i + BATCH]
            batch = np.empty((len(rows), PARTIAL_FRAMES, frames.shape[1]), np.float32)
            for j, (start, end) in enumerate(rows):
                piece = frames[int(start) : max(int(end), int(start) + 1)]
                if len(piece) >= PARTIAL_FRAMES:
                    batch[j] = piece[:PARTIAL_FRAMES]
                else:
                    batch[j] = np.resize(piece, (PARTIAL_FRAMES, frames.shape[1]))
            with one_blas_thread():
                out.append(self._embed_batch(batch))
        return np.concatenate(out) if out else np.zeros((0, HIDDEN), dtype=np.float32)

    def _embed_batch(self, x: Array) -> Array:
        """The three layers run together over chunks of time steps (layer l at step t needs
        only layer l-1 at step t), so only a chunk's activations are ever held: ~10 MB for a
        batch instead of ~200 MB for whole sequences."""
        n, steps, _ = x.shape
        h = [np.zeros((n, HIDDEN), dtype=np.float32) for _ in range(LAYERS)]
        c = [np.zeros((n, HIDDEN), dtype=np.float32) for _ in range(LAYERS)]
        for t0 in range(0, steps, TIME_CHUNK):
            seq = np.ascontiguousarray(x[:, t0 : t0 + TIME_CHUNK].transpose(1, 0, 2))
            span = len(seq)
            for layer in range(LAYERS):
                # The input projection for the chunk at once; only h @ W_hh is sequential.
                pre = (seq.reshape(span * n, -1) @ self.w_ih[layer]).reshape(span, n, -1)
                pre += self.bias[layer]
                w_hh = self.w_hh[layer]
                hl, cl = h[layer], c[layer]
                out = np.empty((span, n, HIDDEN), dtype=np.float32)
                for t in range(span):
                    gates = pre[t] + hl @ w_hh
                    i = _sigmoid(gates[:, :HIDDEN])
                    f = _sigmoid(gates[:, HIDDEN : 2 * HIDDEN])
                    g = np.tanh(gates[:, 2 * HIDDEN : 3 * HIDDEN])
                    o = _sigmoid(gates[:, 3 * HIDDEN :])
                    cl = f * cl + i * g
                    hl = o * np.tanh(cl)
                    out[t] = hl
                h[layer], c[layer] = hl, cl
                seq = out
        raw = np.maximum(h[-1] @ self.w_out + self.b_out, 0.0)
        norm = np.linalg.norm(raw, axis=1, keepdims=True)
        return np.asarray(raw / np.maximum(norm, 1e-9), dtype=np.float32)
