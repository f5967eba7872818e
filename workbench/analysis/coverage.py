"""Coverage against production: which production inputs the training data does not cover.

Definitions:

- **Nearest-train similarity** (column ``nearest_train_sim``, every non-train row): the cosine
  between the row's prompt vector and the most similar *train* prompt vector, with that train
  row (``nearest_train``). Computed exactly: from the shared neighbour graph where a row's
  neighbour list already holds a train row (with an exact graph the first train neighbour *is*
  the nearest train row), else by a blocked exact search against all train rows. Only when that
  exact search would exceed ``exact_budget`` similarity evaluations (large production sets far
  from training) are the remaining rows estimated by a walk over the graph (each row's
  neighbours' nearest train rows, three rounds), a lower bound marked in ``nearest_exact``.
- **Gap input**: a production row with nearest-train similarity < ``gap_sim`` (default
  :data:`DEFAULT_GAP_SIM` = 0.55). Measured on CLINC150 (train = 16 of 20 intents; production =
  the test queries of all 20 + 150 out-of-scope queries; default MiniLM int8 vectors): the
  nearest-train similarity separates the removed intents and out-of-scope queries from covered
  ones with ROC AUC 0.98; at 0.55, 91% of gap inputs are truly uncovered and 95% of the
  uncovered inputs are gap inputs (0.50: 96% / 83%; 0.60: 85% / 98%).
- **Shares**: for cluster c, ``train_share = n_train_c / N_train`` and ``production_share =
  n_production_c / N_production`` (noise, cluster -1, counts in neither).
- **Gaps** (ranked list), one item per region, of three kinds:
  ``no training data`` — a cluster with ``min_gap``+ production inputs and no train row;
  ``far from training`` — a cluster with ``min_gap``+ gap inputs (at least as many as its
  production surplus, below), or a region of gap inputs that are noise (cluster -1): connected
  components of the graph restricted to those inputs and edges with cosine >= ``region_sim``,
  those smaller than ``min_gap`` pooled into one "scattered unclustered inputs" item;
  ``under-represented`` — a cluster whose production share is at least twice its train share
  with a production surplus of ``min_gap``+ inputs.
  The *production surplus* of a cluster is ``n_production_c - train_share_c * N_production``:
  the production inputs beyond what its share of the training data accounts for. Each gap's
  ``n_affected`` = all its production inputs (no training data), else the larger of its gap
  inputs and its surplus (clusters) or its gap inputs (noise regions). Ranked by
  ``n_affected``, then gap inputs, then production share minus train share. Each item carries
  up to 5 example texts spread over the region (farthest-point from its most central input).
- **Suggested number of training examples to add** to a gap: enough for the region's train
  share to reach its production share, ``ceil(production_share * N_train) - n_train``, and never
  fewer than ``min(n_gap, 10)``: every real gap gets at least a handful of labelled examples.
- **Unreached training clusters**: clusters with train rows and no production row at all (only
  when there is production data), largest first — candidates for down-weighting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from workbench.analysis.graph import NeighbourGraph
from workbench.core.progress import CancelToken, ProgressFn, ensure

DEFAULT_GAP_SIM = 0.55
DEFAULT_REGION_SIM = 0.55
MIN_ADD = 10
BLOCK = 1024

RowRef = Callable[[int], dict[str, Any]]


def _default_ref(i: int) -> dict[str, Any]:
    return {"row": int(i)}


def nearest_in_base(
    vecs: np.ndarray,
    query_rows: np.ndarray,
    base_mask: np.ndarray,
    graph: NeighbourGraph | None = None,
    *,
    exact_budget: float = 4e8,
    cancel: CancelToken | None = None,
    progress: ProgressFn | None = None,
    phase: str = "nearest training example",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row in ``query_rows``, the most similar row among ``base_mask`` rows.

    Returns ``(sim float32, index int64 (-1 when no base), exact bool)`` aligned with
    ``query_rows``. See the module docstring for how graph, exact search and walk combine.
    """
    progress, cancel = ensure(progress, cancel)
    q = np.asarray(query_rows, dtype=np.int64)
    sim = np.full(len(q), -np.inf, np.float32)
    idx = np.full(len(q), -1, np.int64)
    exact = np.zeros(len(q), bool)
    base = np.nonzero(base_mask)[0]
    if not len(q) or not len(base):
        sim[:] = np.nan
        return sim, idx, exact
    vecs = np.asarray(vecs, dtype=np.float32)
    todo = np.ones(len(q), bool)
    if graph is not None:
        nb = graph.indices[q]
        is_base = (nb >= 0) & base_mask[np.maximum(nb, 0)]
        found = is_base.any(axis=1)
        first = is_base.argmax(axis=1)
        rows = np.nonzero(found)[0]
        idx[rows] = nb[rows, first[rows]]
        sim[rows] = graph.sims[q[rows], first[rows]]
        exact[rows] = graph.exact
        todo = ~found
    rest = np.nonzero(todo)[0]
    if len(rest) and len(rest) * len(base) <= exact_budget:
        bv = np.ascontiguousarray(vecs[base])
        for s in range(0, len(rest), BLOCK):
            cancel.check()
            r = rest[s:s + BLOCK]
            m = vecs[q[r]] @ bv.T
            j = m.argmax(axis=1)
            idx[r] = base[j]
            sim[r] = m[np.arange(len(r)), j]
            exact[r] = True
            progress(min(s + BLOCK, len(rest)), len(rest), phase)
    elif len(rest):
        _walk(vecs, q, rest, graph, base_mask, sim, idx)
    return sim, idx, exact


def _walk(vecs, q, rest, graph, base_mask, sim, idx, rounds: int = 3):
    """Estimate rows ``rest`` from their graph neighbours' nearest base rows (lower bound)."""
    n = len(vecs)
    best = np.full(n, -1, np.int64)  # best-known base row for every row
    best[np.nonzero(base_mask)[0]] = np.nonzero(base_mask)[0]
    best[q[idx >= 0]] = idx[idx >= 0]
    for _ in range(rounds):
        nb = graph.indices[q[rest]]
        cand = np.where(nb >= 0, best[np.maximum(nb, 0)], -1)
        cs = np.empty(cand.shape, np.float32)
        for s0 in range(0, len(rest), 8192):  # in blocks: no (rows x k x d) temporary (9 GB at 1M)
            c0 = np.maximum(cand[s0:s0 + 8192], 0)
            cs[s0:s0 + 8192] = np.einsum("ikd,id->ik", vecs[c0], vecs[q[rest[s0:s0 + 8192]]])
        cs[cand < 0] = -np.inf
        j = cs.argmax(axis=1)
        s = cs[np.arange(len(rest)), j]
        better = s > sim[rest]
        sim[rest[better]] = s[better]
        idx[rest[better]] = cand[np.arange(len(rest)), j][better]
        best[q[rest]] = idx[rest]
    # rows the walk never reached: the base row most similar among a random sample
    left = rest[idx[rest] < 0]
    if len(left):
        base = np.nonzero(base_mask)[0]
        sample = base if len(base) <= 4096 else np.random.default_rng(0).choice(base, 4096, replace=False)
        sv = vecs[sample]
        for s0 in range(0, len(left), 8192):  # in blocks: all rows x 4096 at once was 6 GB at 1M
            part = left[s0:s0 + 8192]
            m = vecs[q[part]] @ sv.T
            j = m.argmax(axis=1)
            idx[part] = sample[j]
            sim[part] = m[np.arange(len(part)), j]


@dataclass
class Coverage:
    nearest_train_sim: np.ndarray  # float32 (N,), NaN for train rows / when there is no train row
    nearest_train: np.ndarray  # int64 (N,), -1 where none
    nearest_exact: np.ndarray  # bool (N,)
    is_gap: np.ndarray  # bool (N,): production rows below gap_sim
    clusters: list[dict[str, Any]]  # per cluster: shares and counts
    gaps: list[dict[str, Any]]  # ranked; "examples" / "rows" hold row indices
    unreached: list[dict[str, Any]]
    params: dict[str, Any]

    def summary(self, ref: RowRef = _default_ref, limit: int | None = 100) -> dict[str, Any]:
        gaps = self.gaps if limit is None else self.gaps[:limit]
        out = []
        for g in gaps:
            d = {k: v for k, v in g.items() if k != "rows"}
            d["examples"] = [dict(e, example=ref(e["example"])) for e in g["examples"]]
            out.append(d)
        return {"params": self.params, "n_gap_inputs": int(self.is_gap.sum()), "gaps": out,
                "unreached": self.unreached, "clusters": self.clusters}


def coverage(
    prompt_vecs: np.ndarray,
    roles: Sequence[str] | np.ndarray,
    cluster: np.ndarray,
    graph: NeighbourGraph | None = None,
    *,
    prompts: Sequence[str] | None = None,
    gap_sim: float = DEFAULT_GAP_SIM,
    region_sim: float = DEFAULT_REGION_SIM,
    min_gap: int = 3,
    n_examples: int = 5,
    exact_budget: float = 4e8,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Coverage:
    """Per-row nearest-train similarity, per-cluster shares, ranked gaps and unreached clusters."""
    progress, cancel = ensure(progress, cancel)
    roles = np.asarray(roles, dtype=object)
    cluster = np.asarray(cluster, dtype=np.int64)
    n = len(roles)
    train = roles == "train"
    prod = roles == "production"
    query = np.nonzero(~train)[0]
    sim, idx, exact = nearest_in_base(prompt_vecs, query, train, graph, exact_budget=exact_budget,
                                      cancel=cancel, progress=progress)
    nts = np.full(n, np.nan, np.float32)
    nt = np.full(n, -1, np.int64)
    nex = np.zeros(n, bool)
    nts[query], nt[query], nex[query] = sim, idx, exact
    is_gap = prod & (nts < gap_sim) if train.any() else prod.copy()
    cancel.check()

    n_train, n_prod = int(train.sum()), int(prod.sum())
    ncl = int(cluster.max()) + 1 if n and cluster.max() >= 0 else 0
    ct = np.bincount(cluster[train & (cluster >= 0)], minlength=ncl)
    cp = np.bincount(cluster[prod & (cluster >= 0)], minlength=ncl)
    cg = np.bincount(cluster[is_gap & (cluster >= 0)], minlength=ncl)
    ts = ct / max(n_train, 1)
    pshare = cp / max(n_prod, 1)
    table = [{"cluster": c, "n_train": int(ct[c]), "n_production": int(cp[c]), "n_gap": int(cg[c]),
              "train_share": round(float(ts[c]), 5), "production_share": round(float(pshare[c]), 5)}
             for c in range(ncl)]

    groups: list[tuple[str, Any, np.ndarray]] = []
    surplus = cp - ts * n_prod  # production inputs beyond what the cluster's train share explains
    for c in range(ncl):
        if ct[c] == 0 and cp[c] >= min_gap:
            groups.append(("no training data", c, np.nonzero(prod & (cluster == c))[0]))
        elif cg[c] >= min_gap and cg[c] >= surplus[c]:
            groups.append(("far from training", c, np.nonzero(is_gap & (cluster == c))[0]))
        elif surplus[c] >= min_gap and pshare[c] >= 2 * ts[c]:
            groups.append(("under-represented", c, np.nonzero(prod & (cluster == c))[0]))
    noise_gap = np.nonzero(is_gap & (cluster < 0))[0]
    if len(noise_gap):
        groups.extend(_regions(noise_gap, graph, region_sim, min_gap))

    gaps = []
    n_regions = 0
    for kind, c, rows in groups:
        cancel.check()
        n_gap = int(is_gap[rows].sum())
        clustered = isinstance(c, (int, np.integer))
        if clustered:
            reg_train, reg_prod = int(ct[c]), int(cp[c])
            where = f"cluster {c}"
            affected = reg_prod if kind == "no training data" else int(max(n_gap, round(surplus[c])))
        else:
            reg_train, reg_prod = 0, len(rows)
            if c is None:
                n_regions += 1
                where = f"unclustered region {n_regions}"
            else:
                where = "scattered unclustered inputs"
            affected = n_gap
        p_sh = reg_prod / max(n_prod, 1)
        t_sh = reg_train / max(n_train, 1)
        suggested = max(math.ceil(p_sh * n_train) - reg_train, min(affected, MIN_ADD), 0)
        pick = rows[is_gap[rows]] if (n_gap and kind == "far from training") else rows
        ex = _diverse(prompt_vecs, pick, n_examples)
        mean_sim = float(np.nanmean(nts[rows])) if len(rows) else float("nan")
        if kind == "no training data":
            reason = (f"{where} holds {reg_prod} production input(s) and no training example "
                      f"(mean nearest-train similarity {mean_sim:.2f}; production share {p_sh:.1%}).")
        elif kind == "far from training":
            reason = (f"{n_gap} production input(s) in {where} have no training example with prompt cosine "
                      f">= {gap_sim:.2f} (mean nearest-train similarity {mean_sim:.2f}); production share "
                      f"{p_sh:.1%} vs train share {t_sh:.1%}.")
        else:
            reason = (f"{where}: production share {p_sh:.1%} is {p_sh / max(t_sh, 1e-9):.1f}x its train "
                      f"share {t_sh:.1%} ({reg_prod} production vs {reg_train} train inputs).")
        gaps.append({
            "kind": kind, "cluster": int(c) if clustered else None, "region": where,
            "n_affected": int(affected), "n_gap": n_gap, "n_production": reg_prod, "n_train": reg_train,
            "production_share": round(p_sh, 5), "train_share": round(t_sh, 5),
            "mean_nearest_train_sim": round(mean_sim, 4), "suggested_add": int(suggested),
            "examples": [{"example": int(r), "text": (prompts[r] if prompts is not None else None),
                          "nearest_train_sim": round(float(nts[r]), 4)} for r in ex],
            "rows": rows, "reason": reason,
        })
    gaps.sort(key=lambda g: (-g["n_affected"], -g["n_gap"], -(g["production_share"] - g["train_share"])))
    for rank, g in enumerate(gaps):
        g["rank"] = rank
    unreached = []
    if n_prod:
        for c in np.nonzero((ct > 0) & (cp == 0))[0]:
            unreached.append({"cluster": int(c), "n_train": int(ct[c]), "train_share": round(float(ts[c]), 5),
                              "reason": f"{int(ct[c])} training examples ({ts[c]:.1%} of train) and no "
                                        f"production input in this cluster"})
        unreached.sort(key=lambda u: -u["n_train"])
    params = {"gap_sim": gap_sim, "region_sim": region_sim, "min_gap": min_gap, "min_add": MIN_ADD,
              "exact_budget": exact_budget}
    return Coverage(nts, nt, nex, is_gap, table, gaps, unreached, params)


def _regions(rows: np.ndarray, graph: NeighbourGraph | None, region_sim: float, min_gap: int):
    """Connected components of the graph among ``rows`` (edges >= region_sim)."""
    if graph is None:
        return [("far from training", "scattered", rows)]
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    pos = np.full(len(graph), -1, np.int64)
    pos[rows] = np.arange(len(rows))
    nb = graph.indices[rows]
    ok = (nb >= 0) & (graph.sims[rows] >= region_sim)
    ok[ok] = pos[nb[ok]] >= 0
    a = np.repeat(np.arange(len(rows)), graph.k)[ok.reshape(-1)]
    b = pos[nb[ok]]
    _, comp = connected_components(coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(len(rows),) * 2),
                                   directed=False)
    sizes = np.bincount(comp)
    out = []
    for c in np.nonzero(sizes >= min_gap)[0]:
        out.append(("far from training", None, rows[comp == c]))
    small = rows[sizes[comp] < min_gap]
    if len(small):
        out.append(("far from training", "scattered", small))
    return out


def _diverse(vecs: np.ndarray, rows: np.ndarray, k: int) -> list[int]:
    """Up to k rows spread over the group: start at the row closest to the group mean, then
    repeatedly take the row least similar to those already taken (farthest-point)."""
    if not len(rows):
        return []
    v = np.asarray(vecs[rows], dtype=np.float32)
    centre = v.mean(axis=0)
    chosen = [int(np.argmax(np.einsum("ij,j->i", v, centre)))]
    maxsim = np.einsum("ij,j->i", v, v[chosen[0]])
    while len(chosen) < min(k, len(rows)):
        j = int(np.argmin(maxsim))
        if maxsim[j] >= 0.999:
            break
        chosen.append(j)
        maxsim = np.maximum(maxsim, np.einsum("ij,j->i", v, v[j]))
    return [int(rows[j]) for j in chosen]
