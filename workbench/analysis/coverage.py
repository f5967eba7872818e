"""Coverage against production: which production inputs the training data does not cover, and
the missing topics they form.

Definitions (N_train / N_production = number of train / production rows):

- **Nearest-train similarity** (column ``nearest_train_sim``, every non-train row): the cosine
  between the row's prompt vector and the most similar *train* prompt vector, with that train
  row (``nearest_train``). Computed exactly: from the shared neighbour graph where a row's
  neighbour list already holds a train row (with an exact graph the first train neighbour *is*
  the nearest train row), else by a blocked exact search against all train rows. Only when that
  exact search would exceed ``exact_budget`` similarity evaluations (large production sets far
  from training) are the remaining rows estimated by a walk over the graph (each row's
  neighbours' nearest train rows, three rounds), a lower bound marked in ``nearest_exact``.
- **Production stay probability** (``stay``): on the shared k-neighbour graph restricted to
  train and production rows, the probability that a 3-step random walk from the row (each step
  to a uniformly chosen neighbour) only visits production rows: ``s_0 = [row is production]``,
  ``s_{t+1}(i) = [i is production] * mean_j s_t(j)`` over i's train/production neighbours j,
  ``stay = s_3``. It is the share of production among an input's neighbours, extended to the
  neighbours' neighbours: high where production inputs sit among themselves (a topic training
  lacks), low where they are mixed with training examples, whatever the absolute distances.
- **Gap score** (column ``gap_score``, production rows; NaN elsewhere):
  ``0.5 * stay + 0.5 * clip(1 - nearest_train_sim, 0, 1)`` (1 when there is no train row). The
  first half finds whole missing topics (dense production regions next to but apart from
  training), the second finds isolated out-of-scope inputs. Without a graph ``stay`` is 0.
  Measured by ``benchmarks/study_coverage.py`` (CLINC150 and Banking77 with whole intents
  missing from train, 5 seeds each): it separates uncovered from covered production inputs
  better than the nearest-train similarity alone (see the README table).
- **Gap input** (column ``gap``): a production row with gap score >= ``gap_threshold``
  (:data:`DEFAULT_GAP_THRESHOLD` = 0.25) or nearest-train similarity < ``gap_sim`` (default
  0.5, implied by the score threshold: it only matters when it is raised).
- **Gaps** (ranked list). The gap inputs are clustered *among themselves* (average-linkage
  agglomerative clustering on prompt cosine, merging while the mean pairwise cosine between
  two groups is >= ``region_sim``, :data:`DEFAULT_REGION_SIM` = 0.4; above
  :data:`MAX_CLUSTERED` gap inputs, the highest-scoring ones are clustered and every other gap
  input joins the group whose mean direction it is most similar to, when that cosine is >=
  ``region_sim``). Each group of ``min_gap``+ inputs is one gap of kind ``not covered`` with a
  label (its most distinctive words, c-TF-IDF as for clusters) and examples. Inputs in smaller
  groups are pooled into one last item, ``scattered inputs``, always ranked last.
  A main-map cluster whose production share is at least twice its train share, with a
  production surplus of ``min_gap``+ inputs that are not gap inputs, is a gap of kind
  ``under-represented`` (the *production surplus* of a cluster is
  ``n_production_c - train_share_c * N_production``).
  Each gap's ``weight`` is the sum of its affected inputs' gap scores; gaps are ranked by
  weight (so a tight topic of 30 uncovered inputs comes before a loose one of 30 borderline
  inputs). ``n_affected`` = its gap inputs (not covered) or its surplus (under-represented).
  Each item carries up to 5 example texts spread over the region (farthest-point from its most
  central input) and ``mean_gap_score``.
- **Shares**: for cluster c, ``train_share = n_train_c / N_train`` and ``production_share =
  n_production_c / N_production`` (noise, cluster -1, counts in neither).
- **Suggested number of training examples to add** to a gap: enough for the region's train
  share to reach its production share, ``ceil(production_share * N_train) - n_train``, and never
  fewer than ``min(n_affected, 10)``: every real gap gets at least a handful of labelled
  examples.
- **Unreached training clusters**: clusters with train rows and no production row at all (only
  when there is production data), largest first — candidates for down-weighting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from workbench.analysis.graph import NeighbourGraph
from workbench.analysis.row_refs import RowRef, default_ref
from workbench.core.progress import CancelToken, ProgressFn, ensure

DEFAULT_GAP_THRESHOLD = 0.25
DEFAULT_GAP_SIM = 0.5
DEFAULT_REGION_SIM = 0.4
WALK_STEPS = 3
MAX_CLUSTERED = 3000
MIN_ADD = 10
BLOCK = 1024

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


def stay_probability(roles: np.ndarray, graph: NeighbourGraph | None, steps: int = WALK_STEPS) -> np.ndarray:
    """Probability that a ``steps``-step uniform random walk over train/production neighbours
    stays on production rows (see the module docstring); 0 for non-production rows."""
    roles = np.asarray(roles, dtype=object)
    prod = roles == "production"
    if graph is None or not prod.any():
        return np.zeros(len(roles), np.float32)
    nb = graph.indices
    use = (nb >= 0) & np.isin(roles[np.maximum(nb, 0)], ["train", "production"])
    cnt = use.sum(axis=1)
    f = prod.astype(np.float32)
    p = prod.astype(np.float32)
    for _ in range(steps):
        s = np.where(use, f[np.maximum(nb, 0)], 0).sum(axis=1)
        f = p * np.where(cnt > 0, s / np.maximum(cnt, 1), 1.0).astype(np.float32)
    return f.astype(np.float32)


def gap_scores(nearest_train_sim: np.ndarray, stay: np.ndarray, roles: np.ndarray) -> np.ndarray:
    """``0.5 * stay + 0.5 * clip(1 - nearest_train_sim, 0, 1)`` for production rows (NaN
    elsewhere; a NaN nearest-train similarity, i.e. no train data, counts as distance 1)."""
    prod = np.asarray(roles, dtype=object) == "production"
    far = np.clip(1.0 - np.nan_to_num(np.asarray(nearest_train_sim, np.float32), nan=0.0), 0, 1)
    return np.where(prod, 0.5 * stay + 0.5 * far, np.nan).astype(np.float32)


def cluster_gap_inputs(vecs: np.ndarray, rows: np.ndarray, score: np.ndarray, region_sim: float,
                       max_clustered: int = MAX_CLUSTERED) -> np.ndarray:
    """Group ids (>= 0; -1 = joined no group) of ``rows`` by average-linkage clustering on prompt
    cosine, merging while the mean pairwise cosine is >= ``region_sim`` (module docstring)."""
    rows = np.asarray(rows, np.int64)
    out = np.full(len(rows), -1, np.int64)
    if len(rows) == 0:
        return out
    if len(rows) == 1:
        out[0] = 0
        return out
    from sklearn.cluster import AgglomerativeClustering

    order = np.argsort(-score[rows], kind="stable")
    core = np.sort(order[:max_clustered])
    v = np.asarray(vecs[rows[core]], dtype=np.float32)
    lab = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                  distance_threshold=1.0 - region_sim).fit_predict(v)
    out[core] = lab
    rest = np.sort(order[max_clustered:])
    if len(rest):
        cent = np.zeros((int(lab.max()) + 1, v.shape[1]), np.float32)
        np.add.at(cent, lab, v)
        cent /= np.maximum(np.linalg.norm(cent, axis=1, keepdims=True), 1e-12)
        for s in range(0, len(rest), BLOCK):
            part = rest[s:s + BLOCK]
            m = np.asarray(vecs[rows[part]], dtype=np.float32) @ cent.T
            j = m.argmax(axis=1)
            out[part] = np.where(m[np.arange(len(part)), j] >= region_sim, j, -1)
    return out


@dataclass
class Coverage:
    nearest_train_sim: np.ndarray  # float32 (N,), NaN for train rows / when there is no train row
    nearest_train: np.ndarray  # int64 (N,), -1 where none
    nearest_exact: np.ndarray  # bool (N,)
    is_gap: np.ndarray  # bool (N,): production gap inputs
    clusters: list[dict[str, Any]]  # per cluster: shares and counts
    gaps: list[dict[str, Any]]  # ranked; "examples" / "rows" hold row indices
    unreached: list[dict[str, Any]]
    params: dict[str, Any]
    gap_score: np.ndarray | None = None  # float32 (N,), production rows; NaN elsewhere
    stay: np.ndarray | None = None  # float32 (N,)
    gap_group: np.ndarray | None = None  # int64 (N,): rank of the gap a row belongs to, -1 none

    def summary(self, ref: RowRef = default_ref, limit: int | None = 100) -> dict[str, Any]:
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
    gap_threshold: float = DEFAULT_GAP_THRESHOLD,
    gap_sim: float = DEFAULT_GAP_SIM,
    region_sim: float = DEFAULT_REGION_SIM,
    min_gap: int = 3,
    n_examples: int = 5,
    exact_budget: float = 4e8,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Coverage:
    """Per-row nearest-train similarity and gap score, per-cluster shares, ranked gaps (groups of
    uncovered production inputs, under-represented clusters) and unreached clusters."""
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
    stay = stay_probability(roles, graph)
    score = gap_scores(nts, stay, roles)
    if train.any():
        with np.errstate(invalid="ignore"):
            is_gap = prod & ((score >= gap_threshold) | (nts < gap_sim))
    else:
        is_gap = prod.copy()
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

    # groups of gap inputs, clustered among themselves
    gap_rows = np.nonzero(is_gap)[0]
    progress(0, 1, "coverage gaps")
    group = cluster_gap_inputs(prompt_vecs, gap_rows, np.nan_to_num(score, nan=0.0), region_sim)
    cancel.check()
    sizes = np.bincount(group[group >= 0]) if (group >= 0).any() else np.zeros(0, np.int64)
    big = np.nonzero(sizes >= min_gap)[0]
    terms: dict[int, list[str]] = {}
    if prompts is not None and len(big):
        from workbench.analysis.labels import ctfidf_terms

        glab = np.where(np.isin(group, big), group, -1)
        terms = ctfidf_terms([prompts[r] for r in gap_rows], glab, n_terms=3)
    groups: list[tuple[str, Any, np.ndarray]] = [("not covered", int(g), gap_rows[group == g]) for g in big]
    surplus = cp - ts * n_prod  # production inputs beyond what the cluster's train share explains
    for c in range(ncl):
        extra = surplus[c] - cg[c]  # surplus not already reported through its gap inputs
        if ct[c] > 0 and extra >= min_gap and pshare[c] >= 2 * ts[c]:
            groups.append(("under-represented", c, np.nonzero(prod & (cluster == c) & ~is_gap)[0]))
    scattered = gap_rows[(group < 0) | ~np.isin(group, big)]

    gaps = []
    for kind, c, rows in groups:
        cancel.check()
        if kind == "not covered":
            reg_train, reg_prod = 0, len(rows)
            affected = len(rows)
            weight = float(np.nansum(score[rows]))
            label = " · ".join(terms.get(c, [])) or f"uncovered group {c}"
            where = f"uncovered topic “{label}”"
            cl_id = None
        else:
            reg_train, reg_prod = int(ct[c]), int(cp[c])
            affected = int(round(surplus[c] - cg[c]))
            weight = float(affected * np.nan_to_num(_finite_mean(score[rows])))
            label, where, cl_id = None, f"cluster {c}", int(c)
        gaps.append(_gap_item(kind, cl_id, where, label, rows, affected, weight, reg_train, reg_prod,
                              n_train, n_prod, nts, score, is_gap, prompt_vecs, prompts, n_examples))
    gaps.sort(key=lambda g: (-g["weight"], -g["n_affected"]))
    if len(scattered):
        gaps.append(_gap_item("scattered inputs", None, "scattered uncovered inputs", None, scattered,
                              len(scattered), float(np.nansum(score[scattered])), 0, len(scattered),
                              n_train, n_prod, nts, score, is_gap, prompt_vecs, prompts, n_examples))
    gap_group = np.full(n, -1, np.int64)
    for rank, g in enumerate(gaps):
        g["rank"] = rank
        if g["kind"] != "under-represented":
            gap_group[g["rows"]] = rank
    unreached = []
    if n_prod:
        for c in np.nonzero((ct > 0) & (cp == 0))[0]:
            unreached.append({"cluster": int(c), "n_train": int(ct[c]), "train_share": round(float(ts[c]), 5),
                              "reason": f"{int(ct[c])} training examples ({ts[c]:.1%} of train) and no "
                                        f"production input in this cluster"})
        unreached.sort(key=lambda u: -u["n_train"])
    progress(1, 1, "coverage gaps")
    params = {"gap_threshold": gap_threshold, "gap_sim": gap_sim, "region_sim": region_sim,
              "min_gap": min_gap, "min_add": MIN_ADD, "walk_steps": WALK_STEPS, "exact_budget": exact_budget}
    return Coverage(nts, nt, nex, is_gap, table, gaps, unreached, params, score, stay, gap_group)


def _finite_mean(x: np.ndarray) -> float:
    x = np.asarray(x, np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else float("nan")


def _gap_item(kind, cl_id, where, label, rows, affected, weight, reg_train, reg_prod, n_train, n_prod,
              nts, score, is_gap, vecs, prompts, n_examples) -> dict[str, Any]:
    p_sh = reg_prod / max(n_prod, 1)
    t_sh = reg_train / max(n_train, 1)
    suggested = max(math.ceil(p_sh * n_train) - reg_train, min(affected, MIN_ADD), 0)
    ex = _diverse(vecs, rows, n_examples)
    mean_sim = _finite_mean(nts[rows])
    mean_score = _finite_mean(score[rows])
    if kind == "not covered":
        reason = (f"{len(rows)} production input(s) about “{label}” that training does not cover: they "
                  f"sit among themselves, away from training examples (mean gap score {mean_score:.2f}, "
                  f"mean nearest-train similarity {mean_sim:.2f}).")
    elif kind == "scattered inputs":
        reason = (f"{len(rows)} uncovered production input(s) that form no group of their own "
                  f"(mean nearest-train similarity {mean_sim:.2f}).")
    else:
        reason = (f"{where}: production share {p_sh:.1%} is {p_sh / max(t_sh, 1e-9):.1f}x its train "
                  f"share {t_sh:.1%} ({reg_prod} production vs {reg_train} train inputs).")
    return {
        "kind": kind, "cluster": cl_id, "region": where, "label": label,
        "n_affected": int(affected), "n_gap": int(is_gap[rows].sum()), "n_production": int(reg_prod),
        "n_train": int(reg_train), "production_share": round(p_sh, 5), "train_share": round(t_sh, 5),
        "weight": round(float(weight), 4), "mean_gap_score": round(mean_score, 4),
        "mean_nearest_train_sim": round(mean_sim, 4), "suggested_add": int(suggested),
        "examples": [{"example": int(r), "text": (prompts[r] if prompts is not None else None),
                      "nearest_train_sim": round(float(nts[r]), 4),
                      "gap_score": round(float(score[r]), 4)} for r in ex],
        "rows": rows, "reason": reason,
    }


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
