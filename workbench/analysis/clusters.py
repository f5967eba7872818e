"""Clusters: HDBSCAN on the map coordinates, noise explicit, optionally sent to the nearest cluster.

STUDY_PLACEHOLDER

Cluster ids are stable for a given input and parameters: clusters are numbered by size, largest
first (ties by their first row), so id 0 is always the biggest cluster; -1 is noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.analysis import jit
from workbench.analysis.graph import NeighbourGraph
from workbench.core.progress import CancelToken, ProgressFn, ensure

NOISE = -1
DEFAULT_MIN_SAMPLES = 10
PHASE = "clusters (cannot be interrupted)"


@dataclass(frozen=True)
class Clusters:
    """Per-row cluster ids and membership strength.

    ``labels`` int32 (-1 = noise unless noise was assigned); ``strength`` float32 in [0, 1]
    (HDBSCAN's membership probability; 0 for noise and for rows assigned from noise);
    ``was_noise`` bool, True where HDBSCAN called the row noise (also after assignment).
    """

    labels: np.ndarray
    strength: np.ndarray
    was_noise: np.ndarray

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) and self.labels.max() >= 0 else 0

    @property
    def n_noise(self) -> int:
        return int((self.labels == NOISE).sum())


def auto_min_cluster_size(n: int) -> int:
    """Default HDBSCAN ``min_cluster_size`` for ``n`` rows: n / 400, at least 8, at most 500."""
    return int(min(500, max(8, round(n / 400))))


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..m-1 by size (largest first, ties by first row); noise stays -1."""
    out = np.full(len(labels), NOISE, dtype=np.int32)
    mask = labels >= 0
    if not mask.any():
        return out
    uniq, first, counts = np.unique(labels[mask], return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))  # by size descending, then first occurrence
    new_id = np.empty(uniq.max() + 1, dtype=np.int32)
    new_id[uniq[order]] = np.arange(len(uniq), dtype=np.int32)
    out[mask] = new_id[labels[mask]]
    return out


def assign_noise(labels: np.ndarray, coords: np.ndarray, graph: NeighbourGraph | None = None) -> np.ndarray:
    """Give every noise row (-1) the cluster of its nearest clustered neighbours.

    First by a similarity-weighted vote among the row's neighbours in the neighbour graph that
    have a cluster; rows with no clustered neighbour take the cluster of the nearest clustered
    row on the map (``coords``). Returns a new label array without -1 (unless nothing is
    clustered at all).
    """
    labels = labels.astype(np.int32, copy=True)
    noise = np.flatnonzero(labels == NOISE)
    if len(noise) == 0 or not (labels >= 0).any():
        return labels
    n_clusters = int(labels.max()) + 1
    if graph is not None and len(graph) == len(labels):
        nb = graph.indices[noise]
        w = np.where(np.isfinite(graph.sims[noise]), np.maximum(graph.sims[noise], 0.0), 0.0)
        nb_lab = np.where(nb >= 0, labels[np.maximum(nb, 0)], NOISE)
        w = np.where(nb_lab >= 0, w + 1e-6, 0.0)
        votes = np.zeros((len(noise), n_clusters), dtype=np.float64)
        rows = np.repeat(np.arange(len(noise)), nb.shape[1])
        ok = nb_lab.ravel() >= 0
        np.add.at(votes, (rows[ok], nb_lab.ravel()[ok]), w.ravel()[ok])
        has = votes.sum(axis=1) > 0
        labels[noise[has]] = votes[has].argmax(axis=1)
        noise = noise[~has]
    if len(noise):
        from scipy.spatial import cKDTree

        clustered = np.flatnonzero(labels >= 0)
        tree = cKDTree(coords[clustered])
        _, pos = tree.query(coords[noise], k=1)
        labels[noise] = labels[clustered[pos]]
    return labels


def find_clusters(
    coords: np.ndarray,
    graph: NeighbourGraph | None = None,
    *,
    min_cluster_size: int | None = None,
    min_samples: int | None = DEFAULT_MIN_SAMPLES,
    selection: str = "eom",
    assign_noise_to_nearest: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Clusters:
    """HDBSCAN clusters of ``coords`` (the 2-D map or a low-dimensional UMAP).

    ``min_cluster_size`` None = :func:`auto_min_cluster_size`; ``min_samples`` (at most
    min_cluster_size) None = HDBSCAN's default (= min_cluster_size); ``selection`` is HDBSCAN's ``cluster_selection_method``
    ("eom" or "leaf"). With ``assign_noise_to_nearest`` noise rows get the nearest cluster
    (see :func:`assign_noise`) and ``was_noise`` remembers them.
    """
    progress, cancel = ensure(progress, cancel)
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    n = len(coords)
    mcs = auto_min_cluster_size(n) if min_cluster_size is None else int(min_cluster_size)
    if n < max(mcs, 2) or n < 3:
        empty = np.full(n, NOISE, dtype=np.int32)
        return Clusters(empty, np.zeros(n, dtype=np.float32), np.ones(n, dtype=bool))
    cancel.check()
    progress(0, 0, PHASE)
    hdbscan = jit.hdbscan()
    model = hdbscan.HDBSCAN(
        min_cluster_size=max(2, mcs),
        min_samples=None if min_samples is None else max(1, min(int(min_samples), mcs)),
        cluster_selection_method=selection,
        core_dist_n_jobs=-1,
    )
    raw = model.fit_predict(coords)
    labels = _relabel_by_size(np.asarray(raw))
    strength = np.where(labels >= 0, np.asarray(model.probabilities_, dtype=np.float32), 0.0)
    was_noise = labels == NOISE
    if assign_noise_to_nearest:
        labels = assign_noise(labels, coords, graph)
    progress(n, n, PHASE)
    return Clusters(labels, strength.astype(np.float32), was_noise)
