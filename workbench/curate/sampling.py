"""Representative-and-diverse ordering of a set of examples, shared by rebalance and replay mix.

``diverse_order(vectors)`` returns the rows in the order a curator would want to keep them:

1. **the medoid** first: the member closest to the mean (for L2-normalised embeddings this is
   exactly the member with the highest mean cosine similarity to all others: the most typical);
2. then **farthest-point sampling**: each next pick is the member farthest from everything picked
   so far, so the kept set spreads over the whole cluster and exact/near duplicates come last;
3. past ``anchors`` picks (farthest-point sampling costs one pass over the set per pick), the
   remaining members are taken **stratified over the cells** of the picks made so far (each member
   belongs to the cell of its nearest pick): cells contribute in proportion to their size, and
   inside a cell the member farthest from its pick comes first. This keeps large sets (100k+)
   fast while staying representative (dense regions keep their share) and diverse.

Taking the first ``k`` of the order is therefore never a random cut. The order is deterministic:
ties break by row position.

Distances are Euclidean, which for L2-normalised vectors ranks exactly like cosine distance; 2-D
map coordinates work too (used when no embeddings are at hand).
"""

from __future__ import annotations

import numpy as np

from workbench.core.progress import CancelToken, ensure

#: Most farthest-point picks made exactly before switching to cell stratification.
MAX_ANCHORS = 512
#: Work budget (rows x picks) for the exact phase; large sets get fewer exact picks (at least 32).
PICK_BUDGET = 20_000_000


def _anchor_count(n: int, k: int, max_anchors: int) -> int:
    by_budget = max(32, PICK_BUDGET // max(n, 1))
    return max(1, min(k, max_anchors, by_budget, n))


def diverse_order(
    vectors: np.ndarray,
    k: int | None = None,
    *,
    max_anchors: int = MAX_ANCHORS,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Indices of ``vectors`` (n, d), most representative first, then most diverse.

    Returns the first ``k`` (default all n) positions of the order described in the module doc,
    as an int64 array.
    """
    _, cancel = ensure(None, cancel)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    n = len(x)
    k = n if k is None else max(0, min(int(k), n))
    if k == 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    sq = np.einsum("ij,ij->i", x, x)
    mean = x.mean(axis=0)
    # squared distance to the mean, up to a constant: |x|^2 - 2 x.mean
    medoid = int(np.argmin(sq - 2.0 * (x @ mean)))
    n_anchors = _anchor_count(n, k, max_anchors)

    picked = np.zeros(n, dtype=bool)
    order = np.empty(n_anchors, dtype=np.int64)
    order[0] = medoid
    picked[medoid] = True
    # squared distance of every row to its nearest pick, and which pick that is
    near_d = np.maximum(sq - 2.0 * (x @ x[medoid]) + sq[medoid], 0.0)
    near_a = np.zeros(n, dtype=np.int64)
    near_d[medoid] = -1.0
    for step in range(1, n_anchors):
        if step % 64 == 0:
            cancel.check()
        j = int(np.argmax(near_d))
        order[step] = j
        picked[j] = True
        d = np.maximum(sq - 2.0 * (x @ x[j]) + sq[j], 0.0)
        closer = d < near_d
        near_d[closer] = d[closer]
        near_a[closer] = step
        near_d[j] = -1.0
        near_a[j] = step
    if k <= n_anchors:
        return order[:k]

    rest = np.flatnonzero(~picked)
    cell = near_a[rest]
    dist = near_d[rest]
    # inside each cell: farthest from its pick first (ties by row position)
    by_cell = np.lexsort((rest, -dist, cell))
    rest, cell, dist = rest[by_cell], cell[by_cell], dist[by_cell]
    starts = np.r_[0, np.flatnonzero(np.diff(cell)) + 1]
    sizes = np.diff(np.r_[starts, len(cell)])
    rank = np.arange(len(cell)) - np.repeat(starts, sizes)
    size = np.repeat(sizes, sizes)
    # proportional round-robin over cells: position (rank + 0.5) / size within its cell
    priority = (rank + 0.5) / size
    fill = rest[np.lexsort((rest, -dist, priority))]
    return np.concatenate([order, fill[: k - n_anchors]])
