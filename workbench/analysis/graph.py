"""The neighbour graph: k nearest neighbours by cosine over L2-normalised vectors.

Computed once per data revision and reused by every analysis step and by UMAP (as its
precomputed kNN). Exact (blocked matrix products) up to ``EXACT_LIMIT`` rows, approximate
(pynndescent, the index UMAP itself uses) above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.core.progress import CancelToken, ProgressFn, ensure

EXACT_LIMIT = 60_000
BLOCK = 2048


@dataclass(frozen=True)
class NeighbourGraph:
    """Row i's neighbours, most similar first, self excluded.

    ``indices`` int32 (N, k); ``sims`` float32 (N, k) cosine similarities. Where a row has fewer
    than k neighbours (N <= k) the missing slots hold index -1 and similarity -inf.
    """

    indices: np.ndarray
    sims: np.ndarray
    exact: bool

    @property
    def k(self) -> int:
        return self.indices.shape[1]

    def __len__(self) -> int:
        return self.indices.shape[0]


def _topk(sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns of each row of ``sim``, sorted descending."""
    k_eff = min(k, sim.shape[1])
    part = np.argpartition(-sim, k_eff - 1, axis=1)[:, :k_eff]
    psim = np.take_along_axis(sim, part, axis=1)
    order = np.argsort(-psim, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(psim, order, axis=1)


def knn(
    query: np.ndarray,
    base: np.ndarray,
    k: int,
    *,
    exclude_self: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    phase: str = "nearest neighbours",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of ``base`` for each row of ``query`` (cosine; inputs L2-normalised).

    With ``exclude_self`` (query is base), row i never lists itself. Returns (indices int32,
    sims float32), shape (len(query), k), padded with -1 / -inf when base is too small.
    """
    progress, cancel = ensure(progress, cancel)
    nq, nb = len(query), len(base)
    out_i = np.full((nq, k), -1, dtype=np.int32)
    out_s = np.full((nq, k), -np.inf, dtype=np.float32)
    if nq == 0 or nb == 0 or k == 0:
        return out_i, out_s
    query = np.ascontiguousarray(query, dtype=np.float32)
    base = np.ascontiguousarray(base, dtype=np.float32)
    for start in range(0, nq, BLOCK):
        cancel.check()
        stop = min(start + BLOCK, nq)
        sim = query[start:stop] @ base.T
        if exclude_self:
            rows = np.arange(start, stop)
            sim[rows - start, rows] = -np.inf
        idx, s = _topk(sim, k)
        width = idx.shape[1]
        out_i[start:stop, :width] = idx
        out_s[start:stop, :width] = s
        progress(stop, nq, phase)
    if exclude_self:
        bad = ~np.isfinite(out_s)
        out_i[bad] = -1
    return out_i, out_s


def build_graph(
    vectors: np.ndarray,
    k: int = 15,
    *,
    exact_limit: int = EXACT_LIMIT,
    seed: int = 42,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> NeighbourGraph:
    """kNN graph of ``vectors`` (L2-normalised float32), self excluded."""
    progress, cancel = ensure(progress, cancel)
    n = len(vectors)
    if n <= exact_limit:
        idx, sims = knn(vectors, vectors, k, exclude_self=True, progress=progress, cancel=cancel,
                        phase="neighbour graph (exact)")
        return NeighbourGraph(idx, sims, exact=True)
    from pynndescent import NNDescent  # heavy import: only for large inputs

    progress(0, 0, "neighbour graph (approximate, cannot be interrupted)")
    index = NNDescent(vectors, n_neighbors=k + 1, metric="cosine", random_state=seed,
                      low_memory=True, n_jobs=-1, compressed=False)
    idx, dist = index.neighbor_graph
    cancel.check()
    idx = idx.astype(np.int32)
    sims = (1.0 - dist).astype(np.float32)
    # drop self from each row (it is usually first, but not guaranteed with ties)
    out_i = np.full((n, k), -1, dtype=np.int32)
    out_s = np.full((n, k), -np.inf, dtype=np.float32)
    for row in range(0, n, 65536):
        stop = min(row + 65536, n)
        block_i, block_s = idx[row:stop], sims[row:stop]
        not_self = block_i != np.arange(row, stop)[:, None]
        # stable compaction: keep the first k non-self entries of each row
        order = np.argsort(~not_self, axis=1, kind="stable")[:, :k]
        out_i[row:stop] = np.take_along_axis(block_i, order, axis=1)
        out_s[row:stop] = np.take_along_axis(block_s, order, axis=1)
    progress(n, n, "neighbour graph (approximate, cannot be interrupted)")
    return NeighbourGraph(out_i, out_s, exact=False)
