"""The neighbour graph: k nearest neighbours by cosine over L2-normalised vectors.

Computed once per data revision and reused by every analysis step and by UMAP (as its
precomputed kNN).

* **Exact** up to ``EXACT_LIMIT`` rows: blocked matrix products (BLAS) and a compiled top-k
  merge, so memory stays at one block whatever N is.
* **Approximate** above: an inverted-file index (IVF, as in FAISS' IVF-Flat). The vectors are
  split into about sqrt(N) cells by spherical k-means; the rows of each cell are compared exactly
  with the rows of the ``n_probe`` cells whose centres are nearest to their own cell's centre.
  Everything is matrix products plus the same top-k kernel, so nothing needs a long just-in-time
  compilation at run time (pynndescent, which UMAP uses, spends 30-90 s compiling in every new
  process; its search functions cannot be cached). Measured share of the 15 true nearest
  neighbours found (recall): 0.97 on Banking77 (13,083 queries), 0.92 on the 100,000-row
  benchmark set (whose 27,000 jittered copies make neighbour distances unusually flat); near
  duplicates (cosine >= 0.93) are found at >= 99% (``tests/analysis/test_graph.py``).

Both are deterministic for a given input and seed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from workbench.analysis import jit
from workbench.core.progress import CancelToken, ProgressFn, ensure

EXACT_LIMIT = 20_000
BLOCK = 2048  # query rows per block
COL_BLOCK = 16384  # base rows per block (exact search)
N_PROBE = 12


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


def _kernels():
    return jit.kernels()


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
    sims float32), shape (len(query), k), sorted by similarity descending (ties: lower index
    first), padded with -1 / -inf when base is too small.
    """
    progress, cancel = ensure(progress, cancel)
    nq, nb = len(query), len(base)
    if nq == 0 or nb == 0 or k == 0:
        return np.full((nq, k), -1, dtype=np.int32), np.full((nq, k), -np.inf, dtype=np.float32)
    kern = _kernels()
    query = np.ascontiguousarray(query, dtype=np.float32)
    base = np.ascontiguousarray(base, dtype=np.float32)
    best_s = np.full((nq, k), -np.inf, dtype=np.float32)
    best_i = np.full((nq, k), -1, dtype=np.int64)
    cols_all = np.arange(nb, dtype=np.int64)
    for start in range(0, nq, BLOCK):
        cancel.check()
        stop = min(start + BLOCK, nq)
        self_ids = np.arange(start, stop, dtype=np.int64) if exclude_self else np.full(stop - start, -1, np.int64)
        bs, bi = best_s[start:stop], best_i[start:stop]
        for c0 in range(0, nb, COL_BLOCK):
            c1 = min(c0 + COL_BLOCK, nb)
            sim = query[start:stop] @ base[c0:c1].T
            with jit.PARALLEL:
                kern.topk_merge(sim, cols_all[c0:c1], self_ids, bs, bi)
        progress(stop, nq, phase)
    return kern.sort_rows(best_s, best_i)


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _assign(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    out = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), 8192):
        stop = min(start + 8192, len(vectors))
        out[start:stop] = np.argmax(vectors[start:stop] @ centres.T, axis=1)
    return out


def _spherical_kmeans(vectors: np.ndarray, n_cells: int, seed: int, iters: int = 6) -> np.ndarray:
    """Cell centres (unit vectors) fitted on a seeded sample of at most 64 rows per cell."""
    rng = np.random.default_rng(seed)
    n = len(vectors)
    fit = vectors[np.sort(rng.choice(n, size=min(n, n_cells * 64), replace=False))]
    centres = fit[np.sort(rng.choice(len(fit), size=n_cells, replace=False))].copy()
    for _ in range(iters):
        assign = _assign(fit, centres)
        sums = np.zeros_like(centres)
        _add_rows(sums, assign, fit)
        norms = np.linalg.norm(sums, axis=1)
        ok = norms > 0
        centres[ok] = sums[ok] / norms[ok, None]
    return np.ascontiguousarray(centres, dtype=np.float32)


def _add_rows(sums: np.ndarray, assign: np.ndarray, rows: np.ndarray) -> None:
    order = np.argsort(assign, kind="stable")
    a = assign[order]
    starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
    sums[a[starts]] += np.add.reduceat(rows[order], starts, axis=0)


def ivf_search(
    query: np.ndarray,
    base: np.ndarray,
    k: int,
    *,
    exclude_self: bool = False,
    n_probe: int = N_PROBE,
    n_cells: int | None = None,
    seed: int = 42,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    phase: str = "neighbour graph (approximate)",
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate k nearest rows of ``base`` for each row of ``query`` (see the module
    docstring); ``exclude_self`` when query is base. Same output form as :func:`knn`."""
    progress, cancel = ensure(progress, cancel)
    kern = _kernels()
    base = np.ascontiguousarray(base, dtype=np.float32)
    query = base if exclude_self else np.ascontiguousarray(query, dtype=np.float32)
    nq, nb = len(query), len(base)
    if nq == 0 or nb == 0 or k == 0:
        return np.full((nq, k), -1, dtype=np.int32), np.full((nq, k), -np.inf, dtype=np.float32)
    n_cells = min(int(n_cells or max(8, round(np.sqrt(nb)))), nb)
    n_probe = min(n_probe, n_cells)
    progress(0, nq, phase)
    centres = _spherical_kmeans(base, n_cells, seed)
    cancel.check()

    def groups(vectors: np.ndarray) -> list[np.ndarray]:
        cell = _assign(vectors, centres)
        order = np.argsort(cell, kind="stable")
        bounds = np.searchsorted(cell[order], np.arange(n_cells + 1))
        return [order[bounds[c]:bounds[c + 1]] for c in range(n_cells)]

    members = groups(base)
    queries = members if exclude_self else groups(query)
    probes = np.argsort(-(centres @ centres.T), axis=1, kind="stable")[:, :n_probe]
    best_s = np.full((nq, k), -np.inf, dtype=np.float32)
    best_i = np.full((nq, k), -1, dtype=np.int64)
    no_self = np.full(BLOCK, -1, dtype=np.int64)

    def search_cell(c: int) -> int:
        rows = queries[c]
        if not len(rows):
            return 0
        cancel.check()
        cand = np.concatenate([members[p] for p in probes[c]])
        cand_vecs = base[cand]
        for start in range(0, len(rows), BLOCK):
            q = rows[start:start + BLOCK]
            bs, bi = best_s[q], best_i[q]
            qv = query[q]
            me = q if exclude_self else no_self[:len(q)]
            for c0 in range(0, len(cand), COL_BLOCK):
                sim = qv @ cand_vecs[c0:c0 + COL_BLOCK].T
                kern.topk_merge_serial(sim, cand[c0:c0 + COL_BLOCK], me, bs, bi)
            best_s[q], best_i[q] = bs, bi  # cells are disjoint: no two threads write one row
        return len(rows)

    # one cell per task, BLAS single-threaded inside: many small products run best side by side
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    done = 0
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(_threads()) as pool:
        for rows_done in pool.map(search_cell, range(n_cells)):
            done += rows_done
            progress(done, nq, phase)
    return kern.sort_rows(best_s, best_i)


def build_graph(
    vectors: np.ndarray,
    k: int = 15,
    *,
    exact_limit: int = EXACT_LIMIT,
    n_probe: int = N_PROBE,
    seed: int = 42,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> NeighbourGraph:
    """kNN graph of ``vectors`` (L2-normalised float32), self excluded: exact up to
    ``exact_limit`` rows, IVF-approximate above."""
    progress, cancel = ensure(progress, cancel)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n <= exact_limit:
        idx, sims = knn(vectors, vectors, k, exclude_self=True, progress=progress, cancel=cancel,
                        phase="neighbour graph (exact)")
        return NeighbourGraph(idx, sims, exact=True)
    idx, sims = ivf_search(vectors, vectors, k, exclude_self=True, n_probe=n_probe, seed=seed,
                           progress=progress, cancel=cancel)
    return NeighbourGraph(idx, sims, exact=False)
