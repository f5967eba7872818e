"""Review queue (active learning): which production inputs to label first.

Definitions, for a production row i:

- **gap** ``g_i`` — the coverage gap score of the row (``gap_score`` of
  :mod:`workbench.analysis.coverage`: half the production stay probability of its neighbourhood,
  half the distance to the nearest training prompt), in [0, 1]; when no gap score is given,
  ``clip(1 - nearest_train_sim_i, 0, 1)`` (1 when there is no training data at all);
- **local production density** ``rho_i = (1/k) * sum of max(0, cosine)`` over the row's k graph
  neighbours that are production rows — high when many production inputs look like this one, so
  labelling it helps many of them;
- **priority** ``p_i = g_i * rho_i``.

The queue is built greedily by maximal marginal relevance (MMR) over the ``candidates`` rows of
highest priority: each step takes the row maximising ``lam * p_i / max(p) - (1 - lam) * max_s
cos(i, s)`` over the rows s already chosen (``lam`` = :data:`DEFAULT_LAMBDA`). A near-copy of a
chosen row (cosine ~0.95) loses about half the top priority, so the top 50 spread across the
different gaps instead of being 50 rewordings of the most frequent unanswered question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from workbench.analysis.graph import NeighbourGraph
from workbench.analysis.row_refs import RowRef, default_ref
from workbench.core.progress import CancelToken, ProgressFn, ensure

DEFAULT_SIZE = 200
DEFAULT_LAMBDA = 0.5
SIMILAR_SIM = 0.6

@dataclass
class ReviewQueue:
    rows: np.ndarray  # int64, queue order
    priority: np.ndarray  # float32 (N,), NaN for non-production rows
    gap: np.ndarray  # float32 (N,)
    density: np.ndarray  # float32 (N,)
    queue_rank: np.ndarray  # int32 (N,), -1 = not in the queue
    items: list[dict[str, Any]]
    params: dict[str, Any]

    def summary(self, ref: RowRef = default_ref, limit: int | None = None) -> dict[str, Any]:
        items = self.items if limit is None else self.items[:limit]
        return {"params": self.params,
                "queue": [dict(it, example=ref(it["example"])) for it in items]}


def review_queue(
    prompt_vecs: np.ndarray,
    roles: Sequence[str] | np.ndarray,
    nearest_train_sim: np.ndarray,
    graph: NeighbourGraph,
    *,
    gap_score: np.ndarray | None = None,
    size: int = DEFAULT_SIZE,
    lam: float = DEFAULT_LAMBDA,
    candidates: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> ReviewQueue:
    """Rank production rows for labelling (see the module docstring)."""
    progress, cancel = ensure(progress, cancel)
    roles = np.asarray(roles, dtype=object)
    n = len(roles)
    prod = roles == "production"
    nts = np.asarray(nearest_train_sim, dtype=np.float32)
    if gap_score is not None:
        gap = np.where(prod, np.clip(np.nan_to_num(np.asarray(gap_score, np.float32), nan=0.0), 0, 1), np.nan)
    else:
        gap = np.where(prod, np.clip(1.0 - np.nan_to_num(nts, nan=0.0), 0, 1), np.nan)
    gap = gap.astype(np.float32)
    nb = graph.indices
    nb_prod = (nb >= 0) & prod[np.maximum(nb, 0)]
    s = np.where(nb_prod, np.maximum(graph.sims, 0), 0)
    density = np.where(prod, s.sum(axis=1) / max(graph.k, 1), np.nan).astype(np.float32)
    n_similar = ((graph.sims >= SIMILAR_SIM) & nb_prod).sum(axis=1)
    priority = (gap * density).astype(np.float32)
    progress(0, size, "review queue")
    pr = np.nonzero(prod)[0]
    queue_rank = np.full(n, -1, np.int32)
    if not len(pr) or size <= 0:
        return ReviewQueue(np.zeros(0, np.int64), priority, gap, density, queue_rank, [],
                           {"size": size, "lambda": lam})
    c = candidates or max(20 * size, 2000)
    cand = pr[np.argsort(-priority[pr], kind="stable")[:c]]
    v = np.asarray(prompt_vecs[cand], dtype=np.float32)
    rel = priority[cand] / max(float(priority[cand].max()), 1e-9)
    maxsim = np.zeros(len(cand), np.float32)
    taken = np.zeros(len(cand), bool)
    order: list[int] = []
    redundancy: list[float] = []
    for step in range(min(size, len(cand))):
        if step % 16 == 0:
            cancel.check()
        score = lam * rel - (1 - lam) * maxsim
        score[taken] = -np.inf
        j = int(np.argmax(score))
        order.append(j)
        redundancy.append(float(maxsim[j]))
        taken[j] = True
        maxsim = np.maximum(maxsim, np.einsum("ij,j->i", v, v[j]))
    progress(size, size, "review queue")
    rows = cand[order]
    queue_rank[rows] = np.arange(len(rows), dtype=np.int32)
    items = []
    for rank, (r, red) in enumerate(zip(rows.tolist(), redundancy)):
        near = "no training data" if np.isnan(nts[r]) else f"nearest training prompt at cosine {nts[r]:.2f}"
        items.append({
            "rank": rank, "example": r, "priority": round(float(priority[r]), 4),
            "gap": round(float(gap[r]), 4), "density": round(float(density[r]), 4),
            "n_similar_production": int(n_similar[r]),
            "max_sim_to_earlier": round(red, 4),
            "reason": f"{near}; gap score {gap[r]:.2f}; {int(n_similar[r])} similar production input(s) among its "
                      f"{graph.k} neighbours (density {density[r]:.2f})"
                      + (f"; most similar earlier queue item at cosine {red:.2f}" if rank else ""),
        })
    return ReviewQueue(rows, priority, gap, density, queue_rank, items,
                       {"size": size, "lambda": lam, "candidates": c})
