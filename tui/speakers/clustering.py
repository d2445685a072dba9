"""Spectral clustering of speaker embeddings, with the eigengap as the count estimate.

The affinity is the cosine similarity, pruned per row to its nearest neighbours (the rest set
to zero) and symmetrised; the unnormalised Laplacian's smallest eigenvalues have a gap after
the k-th when the graph has k well separated groups. The eigenvectors of the k smallest are
then grouped by k-means. The same recipe as 3D-Speaker's ``SpectralCluster``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]

# Share of each row's neighbours kept in the affinity (at least MIN_NEIGHBOURS).
PRUNE_KEEP = 0.022
MIN_NEIGHBOURS = 6
# Above this many points the Laplacian's eigendecomposition gets slow (cubic): this many,
# evenly spread over the recording, are clustered and the rest join the nearest centre.
MAX_POINTS = 1500
KMEANS_RESTARTS = 8
KMEANS_ITERATIONS = 100
# The chosen gap should stand out: below this ratio to the runner-up the count is a guess.
CONFIDENT_GAP_RATIO = 1.5


@dataclass(frozen=True)
class Clustering:
    labels: Array  # one cluster index per point, 0-based
    count: int
    gap_ratio: float  # the chosen eigengap over the next largest in range (inf: no rival)
    runner_up: int | None  # the count the next largest gap suggests
    components: int = 0  # separate groups in the pruned graph (eigenvalues ~ 0)


def cluster(embeddings: Array, low: int, high: int, seed: int = 0) -> Clustering:
    """Labels for unit embeddings; the count is searched in ``low..high`` (inclusive)."""
    n = len(embeddings)
    if n == 0:
        return Clustering(np.zeros(0, dtype=np.int64), 0, float("inf"), None)
    high = max(1, min(high, n))
    low = max(1, min(low, high))
    if high == 1 or n < 3:
        return Clustering(np.zeros(n, dtype=np.int64), 1, float("inf"), None)
    sample = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(np.int64))
    points = embeddings[sample].astype(np.float64)
    affinity = _affinity(points)
    laplacian = np.diag(affinity.sum(axis=1)) - affinity
    values, vectors = np.linalg.eigh(laplacian)
    count, ratio, runner = _eigengap(values, low, high)
    spectral = vectors[:, :count]
    labels = _kmeans(spectral, count, seed)
    components = int((values < 1e-6 * max(float(values[-1]), 1.0)).sum())
    if len(sample) < n:
        labels = _nearest_centre(embeddings, points, labels, count)
    return Clustering(labels, count, ratio, runner, components)


def _nearest_centre(embeddings: Array, points: Array, labels: Array, count: int) -> Array:
    """Every embedding's label: the cluster whose (unit) centre it is most similar to."""
    centres = np.stack([points[labels == k].mean(axis=0) for k in range(count)])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-9)
    return np.asarray((embeddings @ centres.T).argmax(axis=1))


def _affinity(points: Array) -> Array:
    sim = points @ points.T
    n = len(sim)
    keep = max(MIN_NEIGHBOURS, round(PRUNE_KEEP * n))
    keep = min(keep, n)
    # Zero all but each row's `keep` largest similarities.
    cut = np.argpartition(sim, n - keep, axis=1)[:, : n - keep]
    pruned = sim.copy()
    np.put_along_axis(pruned, cut, 0.0, axis=1)
    pruned = np.maximum(pruned, 0.0)
    np.fill_diagonal(pruned, 0.0)
    return np.asarray(0.5 * (pruned + pruned.T))


def _eigengap(values: Array, low: int, high: int) -> tuple[int, float, int | None]:
    """The count k in low..high with the largest gap values[k] - values[k-1]."""
    gaps = np.diff(values[: high + 1])  # gaps[k-1] = values[k] - values[k-1]
    candidates = np.arange(low, high + 1)
    if low == high:
        return low, float("inf"), None
    scores = gaps[candidates - 1]
    order = np.argsort(scores)[::-1]
    best = int(candidates[order[0]])
    second = float(scores[order[1]])
    ratio = float(scores[order[0]] / second) if second > 1e-12 else float("inf")
    return best, ratio, int(candidates[order[1]])


def _kmeans(x: Array, k: int, seed: int) -> Array:
    """Lloyd's k-means with k-means++ seeding, best of a few deterministic restarts."""
    rng = np.random.default_rng(seed)
    best_labels = np.zeros(len(x), dtype=np.int64)
    best_cost = np.inf
    for _ in range(KMEANS_RESTARTS):
        centres = _kmeans_pp(x, k, rng)
        labels = np.zeros(len(x), dtype=np.int64)
        for _ in range(KMEANS_ITERATIONS):
            dist = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
            new = dist.argmin(axis=1)
            if np.array_equal(new, labels) and _ > 0:
                break
            labels = new
            for j in range(k):
                members = x[labels == j]
                if len(members):
                    centres[j] = members.mean(axis=0)
        cost = float(((x - centres[labels]) ** 2).sum())
        if cost < best_cost:
            best_cost, best_labels = cost, labels
    return best_labels


def _kmeans_pp(x: Array, k: int, rng: np.random.Generator) -> Array:
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        dist = np.min([((x - c) ** 2).sum(axis=1) for c in centres], axis=0)
        total = dist.sum()
        pick = rng.choice(len(x), p=dist / total) if total > 0 else rng.integers(len(x))
        centres.append(x[pick])
    return np.array(centres, dtype=np.float64)
