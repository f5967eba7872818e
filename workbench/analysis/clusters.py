"""Clusters: HDBSCAN on the map coordinates; noise rows close enough to a cluster join it.

What the curator sees: a cluster is one region of the 2-D map (HDBSCAN runs on the map itself),
numbered by size; rows HDBSCAN leaves out join the cluster most of their nearest neighbours
belong to when close enough (:func:`join_noise`: >= 2 of their 15 graph neighbours in it, the
nearest at cosine >= 0.5); the rest stay noise (-1). ``was_noise`` remembers who joined.

Measured (``benchmarks/study_clusters.py``; real default encoder): CLINC150 train with 138 of
150 intents (3 seeds) and Banking77 train with 69 of 77 intents (2 seeds), agreement with the
intents over all rows, noise counted as one more cluster, mean ± sd:

=========  =====================  =============  =============  ============
dataset    method                 NMI            ARI            noise
=========  =====================  =============  =============  ============
CLINC150   workbench (default)    0.893 ± 0.007  0.663 ± 0.020  1.5% ± 0.2%
CLINC150   before (no joining)    0.872 ± 0.005  0.501 ± 0.005  7.2% ± 0.3%
CLINC150   BERTopic defaults      0.823 ± 0.003  0.257 ± 0.015  11.7% ± 0.4%
Banking77  workbench (default)    0.798 ± 0.002  0.480 ± 0.009  0.9% ± 0.0%
Banking77  before (no joining)    0.755 ± 0.001  0.252 ± 0.007  13.8% ± 0.7%
Banking77  BERTopic defaults      0.741 ± 0.002  0.184 ± 0.004  12.1% ± 0.0%
=========  =====================  =============  =============  ============

(BERTopic defaults = UMAP 5-D, min_dist 0, then HDBSCAN min_cluster_size 10.) Tried and not
adopted, measured on the same cases: a separate 5-D / 10-D UMAP (at most +0.01 NMI, a second
UMAP run, and clusters no longer regions of the map); other map settings (n_neighbors 10/30,
min_dist 0); ``leaf`` selection (more noise, lower ARI); Louvain on the kNN graph (NMI 0.87-0.89
on CLINC150, slower); Ward on the vectors with the true number of intents (NMI 0.894 / 0.885);
moving rows to the nearest cluster centre (+0.006 NMI on CLINC150, -0.005 on Banking77, and
the map agreement of clusters fell from 0.97 to 0.93). ``min_samples`` 10 instead of HDBSCAN's
default (= min_cluster_size) leaves less noise with equal or better agreement.

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


JOIN_MIN_NEIGHBOURS = 2  # neighbours (of k) a noise row needs in a cluster to join it
JOIN_MIN_SIM = 0.5  # cosine of its nearest neighbour in that cluster
JOIN_ROUNDS = 3  # rows that joined can pull in their own noise neighbours


def join_noise(labels: np.ndarray, graph: NeighbourGraph, *, min_neighbours: int = JOIN_MIN_NEIGHBOURS,
               min_sim: float = JOIN_MIN_SIM, rounds: int = JOIN_ROUNDS) -> np.ndarray:
    """Noise rows that are close enough to a cluster join it; the rest stay noise (-1).

    A noise row joins the cluster with the largest similarity-weighted vote among its neighbours
    in the neighbour graph when at least ``min_neighbours`` of them are in that cluster and the
    nearest of those has cosine >= ``min_sim``; ``rounds`` passes let rows that joined bring in
    their own noise neighbours. Since the map is laid out from the same graph, a row joins a
    cluster it sits next to on the map. Returns a new label array.
    """
    labels = labels.astype(np.int32, copy=True)
    if len(graph) != len(labels) or not (labels >= 0).any():
        return labels
    n_clusters = int(labels.max()) + 1
    for _ in range(rounds):
        noise = np.flatnonzero(labels == NOISE)
        if len(noise) == 0:
            break
        nb = graph.indices[noise]
        w = np.where(np.isfinite(graph.sims[noise]), np.maximum(graph.sims[noise], 0.0), 0.0).ravel()
        nb_lab = np.where(nb >= 0, labels[np.maximum(nb, 0)], NOISE).ravel()
        rows = np.repeat(np.arange(len(noise), dtype=np.int64), nb.shape[1])
        ok = nb_lab >= 0
        if not ok.any():
            break
        # (noise row, cluster) pairs, sparse: votes, neighbour counts and nearest similarity
        pair, inv = np.unique(rows[ok] * n_clusters + nb_lab[ok], return_inverse=True)
        votes = np.bincount(inv, weights=w[ok] + 1e-6)
        count = np.bincount(inv)
        best = np.zeros(len(pair), np.float64)
        np.maximum.at(best, inv, w[ok])
        prow, pclu = pair // n_clusters, pair % n_clusters
        order = np.lexsort((-votes, prow))  # per row, the best-voted cluster first
        first = order[np.r_[True, prow[order][1:] != prow[order][:-1]]]
        good = first[(count[first] >= min_neighbours) & (best[first] >= min_sim)]
        if len(good) == 0:
            break
        labels[noise[prow[good]]] = pclu[good].astype(np.int32)
    return labels


def assign_noise(labels: np.ndarray, coords: np.ndarray, graph: NeighbourGraph | None = None) -> np.ndarray:
    """Give *every* noise row (-1) a cluster: first :func:`join_noise` without its limits
    (any clustered neighbour votes), then the nearest clustered row on the map (``coords``) for
    rows with no clustered neighbour. Returns a new label array without -1 (unless nothing is
    clustered at all)."""
    labels = labels.astype(np.int32, copy=True)
    if not (labels == NOISE).any() or not (labels >= 0).any():
        return labels
    if graph is not None and len(graph) == len(labels):
        labels = join_noise(labels, graph, min_neighbours=1, min_sim=-1.0, rounds=1)
    noise = np.flatnonzero(labels == NOISE)
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
    join: bool = True,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Clusters:
    """HDBSCAN clusters of ``coords`` (the 2-D map or a low-dimensional UMAP).

    ``min_cluster_size`` None = :func:`auto_min_cluster_size`; ``min_samples`` (at most
    min_cluster_size) None = HDBSCAN's default (= min_cluster_size); ``selection`` is HDBSCAN's ``cluster_selection_method``
    ("eom" or "leaf"). With ``join`` (default) and a ``graph``, noise rows close enough to a
    cluster join it (:func:`join_noise`); with ``assign_noise_to_nearest`` every noise row gets
    the nearest cluster (:func:`assign_noise`). ``was_noise`` remembers the rows HDBSCAN left
    out; ids are numbered by final size.
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
    elif join and graph is not None:
        labels = join_noise(labels, graph)
    labels = _relabel_by_size(labels)
    progress(n, n, PHASE)
    return Clusters(labels, strength.astype(np.float32), was_noise)
