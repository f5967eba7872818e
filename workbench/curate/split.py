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

LEAK_EXAMPLES = 10_000  # leaks listed one by one in the manifest (every one, in practice)
LEAK_RULE = ("workbench.analysis.leakage.find_leakage (the analysis' one leak rule: exact after "
             "normalisation, same words reordered, same words apart from filler words, embedding + "
             "surface evidence, near, 13-gram overlap) applied to the eval examples against the exported "
             "training and validation examples")


def _leak_params(snap) -> dict[str, Any]:
    from workbench.analysis.pipeline import AnalysisParams

    p = AnalysisParams().to_dict()
    if snap.analysis is not None:
        p.update({k: v for k, v in (snap.analysis.params or {}).items() if k in p})
    sim = p.get("leak_sim") if p.get("leak_sim") is not None else p["near_dup_threshold"]
    return {"sim_threshold": float(sim), "ngram": int(p["leak_ngram"]),
            "ngram_min_overlap": float(p["leak_ngram_overlap"])}


def leaks(snap, eval_rows: np.ndarray, base_rows: np.ndarray, *, progress=None,
          cancel=None) -> list[tuple[int, int, str, str, float]]:
    """THE leak rule (:func:`workbench.analysis.leakage.find_leakage`) on ``eval_rows`` against
    ``base_rows`` of a snapshot (edits applied): ``(eval row, matching base row, kind, what matched,
    prompt cosine)`` per leaking eval row, ranked as the analysis ranks them. Vectors come from the
    snapshot's ``embed``; without it only the text tests can hold (zero vectors)."""
    from workbench.analysis.leakage import find_leakage

    eval_rows = np.asarray(eval_rows, dtype=np.int64)
    base_rows = np.asarray(base_rows, dtype=np.int64)
    if not len(eval_rows) or not len(base_rows):
        return []
    rows = np.concatenate([eval_rows, base_rows])  # sub-problem: local index -> snapshot row
    prompts = [snap.prompt[int(i)] or "" for i in rows]
    responses = [(snap.response[int(i)] or "") if snap.response else "" for i in rows]
    roles = np.array(["eval"] * len(eval_rows) + ["train"] * len(base_rows), dtype=object)
    if snap.embed is not None:
        vecs = np.asarray(snap.embed(prompts, progress=progress, cancel=cancel), dtype=np.float32)
    else:
        vecs = np.zeros((len(rows), 1), np.float32)
    # no neighbour graph here: every eval row's nearest exported row is found by exact search
    found = find_leakage(prompts, responses, vecs, roles, None, **_leak_params(snap), exact_budget=float("inf"),
                         cancel=cancel)
    return [(int(rows[it["example"]]), int(rows[it["train_match"]]), it["kinds"][0], it["match"],
             it["prompt_sim"]) for it in found.items]


def leaked_copies_all(snap, base_rows: np.ndarray, *, rounds: int = 20, progress=None, cancel=None) -> np.ndarray:
    """Every row of ``base_rows`` an eval example leaks into: the leak rule names one match per eval
    example, so it is applied again without the matches found until no eval example leaks (the
    rows ``workbench reject --leaked`` takes out, so that afterwards no leak is left)."""
    eval_rows = snap.rows_with_role("eval")
    left = np.asarray(base_rows, dtype=np.int64)
    out: list[int] = []
    for _ in range(rounds):
        found = leaks(snap, eval_rows, left, progress=progress, cancel=cancel)
        if not found:
            break
        hit = {m for _, m, *_ in found}
        out.extend(sorted(hit))
        left = left[~np.isin(left, sorted(hit))]
    return np.asarray(sorted(set(out)), np.int64)


def eval_leakage(snap, train_rows: np.ndarray, val_rows: np.ndarray, *, progress=None, cancel=None) -> dict[str, Any]:
    """Eval examples (active, role ``eval``) that leak into what is exported, by THE leak rule of
    the workbench (:func:`workbench.analysis.leakage.find_leakage`) run on the eval examples against
    the exported training (``train_rows``) and validation (``val_rows``) examples, edits applied.

    Its embedding tests need prompt vectors: with the snapshot's ``embed`` they run in full;
    without it only the text tests run (exact, reordered, filler words, n-grams) and the stored
    analysis' own leaks whose training match is exported are added (kind ``analysis``).
    Each leaked eval example is counted once: ``by_side`` (where its match is) and ``by_kind``
    (the first test that holds) each add up to ``leaked_eval_examples``.
    """
    eval_rows = snap.rows_with_role("eval")
    out: dict[str, Any] = {"eval_examples": int(len(eval_rows)), "rule": LEAK_RULE}
    if len(eval_rows) == 0:
        out["note"] = "no eval source: leakage not checked"
        return out
    train_rows = np.asarray(train_rows, dtype=np.int64)
    val_rows = np.asarray(val_rows, dtype=np.int64)
    side_of = {int(r): "train" for r in train_rows.tolist()}
    side_of.update({int(r): "validation" for r in val_rows.tolist()})
    base = np.concatenate([train_rows, val_rows])
    found = leaks(snap, eval_rows, base, progress=progress, cancel=cancel)
    out["embeddings"] = snap.embed is not None
    out["params"] = _leak_params(snap)

    def ref(i: int) -> dict[str, Any]:
        return {"source": str(snap.source_names[i]), "line": int(snap.line[i])}

    items: list[dict[str, Any]] = []
    seen: set[int] = set()
    for e, m, kind, reason, sim in found:
        seen.add(e)
        items.append({"eval": ref(e), "match": ref(m), "side": side_of[m], "kind": kind,
                      "reason": reason, "similarity": sim})
    if not out["embeddings"] and snap.analysis is not None:
        for f in snap.analysis.leakage:  # the analysis' leaks (embedding tests included) still exported
            e = next((int(r) for r in f.rows if snap.role[int(r)] == "eval"), -1)
            m = next((int(r) for r in f.rows if int(r) in side_of), -1)
            if e < 0 or m < 0 or e in seen or snap.rejected[e]:
                continue
            seen.add(e)
            items.append({"eval": ref(e), "match": ref(m), "side": side_of[m], "kind": "analysis",
                          "reason": f"per the analysis: {f.data.get('match', f.title)}",
                          "similarity": f.data.get("prompt_sim")})
        out["note"] = ("no embeddings at hand: the text tests ran on the export itself; leaks found by the "
                       "analysis' embedding tests are added where their training match is exported")
    by_side = {"train": 0, "validation": 0}
    by_kind: dict[str, int] = {}
    for it in items:
        by_side[it["side"]] += 1
        by_kind[it["kind"]] = by_kind.get(it["kind"], 0) + 1
    out["leaked_eval_examples"] = len(items)
    out["by_side"] = by_side
    out["by_kind"] = by_kind
    out["examples"] = items[:LEAK_EXAMPLES]
    return out
