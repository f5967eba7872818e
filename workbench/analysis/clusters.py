"""Clusters: HDBSCAN on the map coordinates, noise explicit, optionally sent to the nearest cluster.

Which space to cluster — measured (``benchmarks/study_clusters.py``, output in
``bench_out/study_clusters.json``): Banking77 (train + test, 13,083 queries, 77 intents) and
CLINC150 (in-scope train + val + test, 22,500 queries, 150 intents), int8 all-MiniLM-L6-v2
vectors, one k=15 neighbour graph, HDBSCAN with the default ``min_cluster_size`` (N/400: 33 and
56) and ``min_samples`` 10, "eom" selection. Agreement with the intent labels, noise counted as
one more cluster ("raw") / noise sent to the nearest cluster ("assigned"):

=========  ==========  ========  =====  ===============  ===============  ===============
dataset    space       clusters  noise  ARI raw / asg.   NMI raw / asg.   AMI raw / asg.
=========  ==========  ========  =====  ===============  ===============  ===============
Banking77  map 2-D     151       14.5%  0.235 / 0.499    0.751 / 0.798    0.721 / 0.774
Banking77  UMAP 5-D    150       12.0%  0.294 / 0.506    0.767 / 0.805    0.739 / 0.782
Banking77  UMAP 10-D   142       11.1%  0.324 / 0.508    0.772 / 0.804    0.747 / 0.783
CLINC150   map 2-D     140        6.0%  0.495 / 0.597    0.865 / 0.888    0.850 / 0.875
CLINC150   UMAP 5-D    145        6.2%  0.494 / 0.611    0.867 / 0.891    0.850 / 0.878
CLINC150   UMAP 10-D   130        4.3%  0.477 / 0.526    0.867 / 0.883    0.852 / 0.871
=========  ==========  ========  =====  ===============  ===============  ===============

A separate 5-D or 10-D UMAP (BERTopic's choice) gains at most 0.026 AMI on Banking77 and
nothing on CLINC150, and costs a second UMAP run. So the workbench clusters **the 2-D map
itself**: one UMAP, and a cluster is exactly a region the curator sees on the map.
(``AnalysisParams.cluster_dims = 5`` still offers the BERTopic way.) ``min_samples`` 10 instead
of HDBSCAN's default (= min_cluster_size) cut noise from 20.9% to 14.5% (Banking77) and 8.8% to
6.0% (CLINC150) with equal or better agreement (AMI raw 0.721 vs 0.696, 0.850 vs 0.837).
Sending noise to the nearest cluster raises ARI on both; it is an option, off by default, so
the curator sees what HDBSCAN could not place.

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


def match_clusters(old_keys, old_labels: np.ndarray, new_keys, new_labels: np.ndarray,
                   min_jaccard: float = 0.5) -> dict[int, int]:
    """Which new cluster is which old one, so names a curator gave carry over to a new analysis
    (after edits, added data, other parameters). ``*_keys``: a hashable per row that identifies
    the example across analyses, e.g. ``(source, line)`` pairs. A new cluster maps to the old
    cluster that shares the most of its examples when their Jaccard overlap, over the examples
    present in both analyses, is at least ``min_jaccard``; one old cluster goes to at most one
    new cluster (the best overlap). Returns {new id: old id}."""
    old_of = {k: int(c) for k, c in zip(old_keys, old_labels) if c >= 0}
    new_of = {k: int(c) for k, c in zip(new_keys, new_labels) if c >= 0}
    common = old_of.keys() & new_of.keys()  # added or removed examples do not count against a match
    pairs: dict[tuple[int, int], int] = {}
    new_size: dict[int, int] = {}
    old_size: dict[int, int] = {}
    for k in common:
        c, o = new_of[k], old_of[k]
        new_size[c] = new_size.get(c, 0) + 1
        old_size[o] = old_size.get(o, 0) + 1
        pairs[(c, o)] = pairs.get((c, o), 0) + 1
    best: dict[int, tuple[float, int]] = {}
    for (c, o), shared in pairs.items():
        jac = shared / (new_size[c] + old_size[o] - shared)
        if jac >= min_jaccard and jac > best.get(c, (0.0, -1))[0]:
            best[c] = (jac, o)
    claimed: dict[int, tuple[float, int]] = {}  # old id -> (jaccard, new id); the best claim wins
    for c, (jac, o) in sorted(best.items()):
        if jac > claimed.get(o, (0.0, -1))[0]:
            claimed[o] = (jac, c)
    return {c: o for o, (_, c) in sorted(claimed.items(), key=lambda kv: kv[1][1])}


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
