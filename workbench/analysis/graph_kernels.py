"""numba kernels of the neighbour graph (compiled once, cached on disk via ``analysis.jit``).

Import only through :func:`kernels` (which points numba's cache at the workbench cache first).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange


@numba.njit(cache=True, nogil=True, inline="always")
def _merge_row(r, sim, cols, me, best_s, best_i, k, m):  # pragma: no cover - compiled
    """Row ``r`` of :func:`topk_merge`: strictly larger values replace the running minimum."""
    minpos = 0
    minval = best_s[r, 0]
    for t in range(1, k):
        if best_s[r, t] < minval:
            minval = best_s[r, t]
            minpos = t
    for j in range(m):
        s = sim[r, j]
        if s > minval:
            c = cols[j]
            if c == me:
                continue
            best_s[r, minpos] = s
            best_i[r, minpos] = c
            minpos = 0
            minval = best_s[r, 0]
            for t in range(1, k):
                if best_s[r, t] < minval:
                    minval = best_s[r, t]
                    minpos = t


@numba.njit(parallel=True, cache=True, nogil=True)
def topk_merge(sim, cols, self_ids, best_s, best_i):  # pragma: no cover - compiled
    """Merge a block of similarities into running per-row top-k lists.

    ``sim`` (q, m) float32: similarities of q query rows to m candidate rows whose global ids
    are ``cols`` (m,) int64; ``self_ids`` (q,) int64: each query's own global id (skipped; -1 =
    none); ``best_s``/``best_i`` (q, k): the running lists (unsorted), updated in place. Strictly
    larger values replace the current minimum, so among equal similarities the candidate seen
    first stays.
    """
    q, m = sim.shape
    k = best_s.shape[1]
    for r in prange(q):
        _merge_row(r, sim, cols, self_ids[r], best_s, best_i, k, m)


@numba.njit(cache=True, nogil=True)
def topk_merge_serial(sim, cols, self_ids, best_s, best_i):  # pragma: no cover - compiled
    """Single-threaded :func:`topk_merge` for small blocks (run several at once from a thread pool:
    a parallel region per small block costs milliseconds on a busy machine)."""
    q, m = sim.shape
    k = best_s.shape[1]
    for r in range(q):
        _merge_row(r, sim, cols, self_ids[r], best_s, best_i, k, m)


def sort_rows(best_s: np.ndarray, best_i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row by similarity descending, ties by index ascending; -inf slots get index -1."""
    order = np.argsort(best_i, axis=1, kind="stable")
    s = np.take_along_axis(best_s, order, axis=1)
    i = np.take_along_axis(best_i, order, axis=1)
    order = np.argsort(-s, axis=1, kind="stable")
    s = np.take_along_axis(s, order, axis=1)
    i = np.take_along_axis(i, order, axis=1).astype(np.int32)
    i[~np.isfinite(s)] = -1
    return i, s.astype(np.float32)
