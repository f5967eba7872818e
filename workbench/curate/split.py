"""Train/validation split, stratified by cluster, that never separates a duplicate group.

Definitions:

- The split is made over **units**: a duplicate group (exact or near, from the analysis) is one
  unit, every other example is a unit of its own. A unit goes wholly to train or wholly to
  validation, so validation never holds a copy or paraphrase of a training example.
- **Strata** are clusters (noise, -1, is a stratum of its own). Each stratum sends
  ``1 - fraction`` of its examples to validation; the per-stratum quotas are rounded by largest
  remainder so the total is ``round((1 - fraction) * n)``. A unit spanning clusters belongs to the
  cluster of most of its members.
- Inside a stratum units are visited in a seeded random order and taken while they fit the quota
  (so a 40-member group is not forced into a 3-example quota). The same inputs and seed give the
  same split.
- Weights are a training device: validation examples are written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.core.errors import WorkbenchError


@dataclass
class SplitPlan:
    """``validation[i]`` says whether input row i goes to validation."""

    fraction: float
    seed: int
    validation: np.ndarray  # bool (n,)
    per_cluster: dict[int, tuple[int, int]] = field(default_factory=dict)  # cluster -> (train, validation)
    groups: int = 0  # duplicate groups (2+ members) kept on one side
    stratified: bool = True  # False when no clusters were given

    @property
    def n_validation(self) -> int:
        return int(self.validation.sum())

    @property
    def n_train(self) -> int:
        return int(len(self.validation) - self.validation.sum())

    def to_dict(self) -> dict[str, Any]:
        return {
            "fraction": self.fraction,
            "seed": self.seed,
            "train": self.n_train,
            "validation": self.n_validation,
            "duplicate_groups_kept_together": self.groups,
            "stratified_by": "cluster" if self.stratified else None,
            "per_cluster": ({str(c): {"train": t, "validation": v} for c, (t, v) in sorted(self.per_cluster.items())}
                            if self.stratified else None),
        }


def _largest_remainder(exact: np.ndarray, total: int) -> np.ndarray:
    base = np.floor(exact).astype(np.int64)
    short = total - int(base.sum())
    if short > 0:
        order = np.lexsort((np.arange(len(exact)), -(exact - base)))
        base[order[:short]] += 1
    return base


def plan_split(
    cluster: np.ndarray | None,
    dup_group: np.ndarray | None,
    fraction: float,
    *,
    seed: int = 0,
) -> SplitPlan:
    """Split rows into train (``fraction``) and validation. See the module doc.

    ``cluster`` (n,) int (None: one stratum), ``dup_group`` (n,) int, negative = in no group.
    """
    if not 0.0 < fraction < 1.0:
        raise WorkbenchError(f"The train fraction must be between 0 and 1 (exclusive), got {fraction}.")
    if cluster is None and dup_group is None:
        raise WorkbenchError("plan_split needs cluster or duplicate-group arrays")
    n = len(cluster) if cluster is not None else len(dup_group)
    stratified = cluster is not None
    cluster = np.zeros(n, dtype=np.int64) if cluster is None else np.asarray(cluster, dtype=np.int64)
    group = np.full(n, -1, dtype=np.int64) if dup_group is None else np.asarray(dup_group, dtype=np.int64)
    validation = np.zeros(n, dtype=bool)
    if n == 0:
        return SplitPlan(fraction, seed, validation, stratified=stratified)

    # units: rows sharing a group id, else single rows; unit ids 0..u-1
    singles = group < 0
    key = np.where(singles, -(np.arange(n) + 1), group)  # singles get unique negative keys
    _, unit = np.unique(key, return_inverse=True)
    n_units = int(unit.max()) + 1
    unit_size = np.bincount(unit, minlength=n_units)
    groups = int(((unit_size > 1)).sum())
    # a unit's stratum: its members' most common cluster (ties: the smallest cluster id)
    pairs = np.unique(np.stack([unit, cluster], axis=1), axis=0, return_counts=True)
    (pu, pc), cnt = pairs[0].T, pairs[1]
    order = np.lexsort((pc, -cnt, pu))
    first = np.r_[True, pu[order][1:] != pu[order][:-1]]
    unit_cluster = np.empty(n_units, dtype=np.int64)
    unit_cluster[pu[order][first]] = pc[order][first]

    strata = np.unique(unit_cluster)
    stratum_rows = np.array([unit_size[unit_cluster == s].sum() for s in strata], dtype=np.float64)
    quota = _largest_remainder(stratum_rows * (1.0 - fraction), int(round(n * (1.0 - fraction))))
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_units)
    perm = perm[np.argsort(unit_cluster[perm], kind="stable")]  # by stratum, random inside
    bounds = np.searchsorted(unit_cluster[perm], strata, side="left").tolist() + [n_units]
    chosen = np.zeros(n_units, dtype=bool)
    for i, q in enumerate(quota.tolist()):
        if q <= 0:
            continue
        taken = 0
        for u in perm[bounds[i]:bounds[i + 1]].tolist():
            size = int(unit_size[u])
            if taken + size <= q:
                chosen[u] = True
                taken += size
                if taken == q:
                    break
    validation = chosen[unit]
    per_cluster: dict[int, tuple[int, int]] = {}
    for c in np.unique(cluster).tolist():
        m = cluster == c
        v = int(validation[m].sum())
        per_cluster[c] = (int(m.sum()) - v, v)
    return SplitPlan(fraction, seed, validation, per_cluster, groups, stratified)


# --------------------------------------------------------------------------------------- leakage

LEAK_EXAMPLES = 50


def eval_leakage(snap, train_rows: np.ndarray, val_rows: np.ndarray, *, progress=None, cancel=None) -> dict[str, Any]:
    """Eval examples (active, role ``eval``) that also appear in what is exported.

    - **exact**: equal prompts after normalisation (:mod:`workbench.analysis.textnorm`), always;
    - **near**: prompt cosine >= the analysis' leakage threshold (default: the near-duplicate
      threshold) against the exported training and validation examples, when embeddings are at
      hand (the snapshot's ``embed``); otherwise the analysis' own count (against every training
      example when it ran) is reported as ``analysis_flagged``.
    """
    from workbench.analysis.duplicates import DEFAULT_NEAR_THRESHOLD
    from workbench.analysis.textnorm import text_hashes

    eval_rows = snap.rows_with_role("eval")
    out: dict[str, Any] = {"eval_examples": int(len(eval_rows))}
    if len(eval_rows) == 0:
        out["note"] = "no eval source: leakage not checked"
        return out
    sides = {"train": np.asarray(train_rows, dtype=np.int64), "validation": np.asarray(val_rows, dtype=np.int64)}
    e_hash = text_hashes([snap.prompt[int(i)] for i in eval_rows])
    examples: list[dict[str, Any]] = []
    leaked_any = np.zeros(len(eval_rows), dtype=bool)

    def ref(i: int) -> dict[str, Any]:
        return {"source": str(snap.source_names[i]), "line": int(snap.line[i])}

    exact_counts = {}
    for side, rows in sides.items():
        if len(rows) == 0:
            exact_counts[side] = 0
            continue
        h = text_hashes([snap.prompt[int(i)] for i in rows])
        first = {}
        for k, v in enumerate(h.tolist()):
            if v:
                first.setdefault(v, k)
        hits = [(j, first[v]) for j, v in enumerate(e_hash.tolist()) if v and v in first]
        exact_counts[side] = len(hits)
        for j, k in hits:
            leaked_any[j] = True
            if len(examples) < LEAK_EXAMPLES:
                examples.append({"eval": ref(int(eval_rows[j])), "match": ref(int(rows[k])), "side": side,
                                 "kind": "exact", "similarity": 1.0})
    out["exact"] = exact_counts
    params = snap.analysis.params if snap.analysis is not None else {}
    threshold = params.get("leak_sim") or params.get("near_dup_threshold") or DEFAULT_NEAR_THRESHOLD
    if snap.embed is not None:
        from workbench.analysis.graph import knn

        ev = np.asarray(snap.embed([snap.prompt[int(i)] for i in eval_rows], progress=progress, cancel=cancel),
                        dtype=np.float32)
        near_counts = {}
        for side, rows in sides.items():
            if len(rows) == 0:
                near_counts[side] = 0
                continue
            base = np.asarray(snap.embed([snap.prompt[int(i)] for i in rows], progress=progress, cancel=cancel),
                              dtype=np.float32)
            idx, sim = knn(ev, base, 1, cancel=cancel)
            hit = sim[:, 0] >= threshold
            near_counts[side] = int(hit.sum())
            for j in np.flatnonzero(hit & ~leaked_any).tolist():
                if len(examples) < LEAK_EXAMPLES:
                    examples.append({"eval": ref(int(eval_rows[j])), "match": ref(int(rows[idx[j, 0]])),
                                     "side": side, "kind": "near", "similarity": round(float(sim[j, 0]), 4)})
            leaked_any |= hit
        out["near"] = near_counts
        out["near_threshold"] = float(threshold)
    elif snap.analysis is not None and snap.analysis.leaked is not None:
        out["analysis_flagged"] = int(snap.analysis.leaked[eval_rows].sum())
        out["note"] = ("near duplicates per the analysis, against every training example when it ran "
                       "(exact matches are checked against the export itself)")
    out["leaked_eval_examples"] = int(leaked_any.sum())
    out["examples"] = examples
    return out
