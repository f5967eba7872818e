"""Rebalance planner: move the training set's cluster distribution toward a target.

Definitions a curator relies on:

- **Effective count** of a cluster = the sum of the weights of its active (not rejected) training
  examples: an example with weight 3 is trained on three times.
- **Targets** are shares per cluster: ``production`` (each cluster's share of the production
  inputs that are not rejected), ``uniform`` (every training cluster the same), or ``custom`` (shares given per cluster;
  unlisted training clusters share what is left in proportion to their current size). Noise
  (cluster -1) is left alone and is not part of the shares. The target total is the current
  effective total of the clustered training examples, so rebalancing reshapes, not grows.
- A cluster within ``tolerance`` (10 %, at least one example) of its target is kept as is.
- **Capping** an over-represented cluster keeps its first ``target`` members in
  :func:`workbench.curate.sampling.diverse_order` (medoid, then farthest-point: representative and
  diverse, duplicates last) and rejects the rest with the reason ``rebalance: cap cluster N``. A
  cluster is never capped below ``min_keep`` examples (5): rebalancing never deletes a topic; reject
  it explicitly if that is what you want. Kept examples get weight 1.
- **Raising** an under-represented cluster gives its examples integer weights (repeat counts) up
  to ``max_weight`` (3) that add up to the target; the most diverse members get the extra repeat.
- **Needs new data**: a target cluster with no training examples, one with fewer than
  ``min_distinct`` (3) distinct examples (raising would only repeat the same text; near-duplicate
  groups count once), or one still short after every example is repeated ``max_weight`` times.
  These are listed with their shortfall and coverage gap instead of being inflated further.

The plan is a preview (before/after per cluster, distances to the target) until
:meth:`RebalancePlan.to_batch` turns it into ONE journal step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.curate.sampling import diverse_order

TARGET_MODES = ("production", "uniform", "custom")
MODE_LABELS = {
    "production": "Rebalance to production shares",
    "uniform": "Rebalance to uniform shares",
    "custom": "Rebalance to custom shares",
}
DEFAULT_MAX_WEIGHT = 3
DEFAULT_MIN_KEEP = 5
DEFAULT_MIN_DISTINCT = 3
DEFAULT_TOLERANCE = 0.10
NOISE = -1


# ---------------------------------------------------------------------------------------- targets

def _counts(clusters: np.ndarray, weights: np.ndarray | None = None) -> dict[int, float]:
    clusters = np.asarray(clusters, dtype=np.int64)
    keep = clusters != NOISE
    w = np.ones(len(clusters)) if weights is None else np.asarray(weights, dtype=np.float64)
    out: dict[int, float] = {}
    for c, v in zip(clusters[keep].tolist(), w[keep].tolist()):
        out[c] = out.get(c, 0.0) + v
    return out


def _normalise(d: dict[int, float]) -> dict[int, float]:
    total = float(sum(v for v in d.values() if v > 0))
    if total <= 0:
        return {}
    return {c: v / total for c, v in sorted(d.items()) if v > 0}


def production_shares(production_clusters: np.ndarray) -> dict[int, float]:
    """Each cluster's share of the production inputs (noise excluded)."""
    shares = _normalise(_counts(production_clusters))
    if not shares:
        raise WorkbenchError(
            "Cannot rebalance to production shares: the project has no clustered production inputs. "
            "Add a production source and run the analysis, or choose uniform shares.")
    return shares


def uniform_shares(train_clusters: np.ndarray) -> dict[int, float]:
    """The same share for every training cluster (noise excluded)."""
    present = sorted(set(np.asarray(train_clusters, dtype=np.int64).tolist()) - {NOISE})
    if not present:
        raise WorkbenchError("Cannot rebalance: no training example belongs to a cluster.")
    return {c: 1.0 / len(present) for c in present}


def custom_shares(custom: dict[int, float], train_clusters: np.ndarray,
                  train_weights: np.ndarray | None = None) -> dict[int, float]:
    """Shares given per cluster; unlisted training clusters split the rest by current size."""
    given = {int(c): float(s) for c, s in custom.items() if int(c) != NOISE}
    if any(s < 0 for s in given.values()):
        raise WorkbenchError("Custom rebalance shares must not be negative.")
    listed = sum(given.values())
    if listed > 1.0 + 1e-9:
        return _normalise(given)
    current = _counts(train_clusters, train_weights)
    rest = {c: v for c, v in current.items() if c not in given}
    rest_total = sum(rest.values())
    out = dict(given)
    if rest_total > 0:
        for c, v in rest.items():
            out[c] = (1.0 - listed) * v / rest_total
    return _normalise(out)


def total_variation(a: dict[int, float], b: dict[int, float]) -> float:
    """Total-variation distance between two share dicts (each normalised first): 0 = same, 1 = disjoint."""
    a, b = _normalise(a), _normalise(b)
    return 0.5 * sum(abs(a.get(c, 0.0) - b.get(c, 0.0)) for c in set(a) | set(b))


def js_distance(a: dict[int, float], b: dict[int, float]) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two share dicts."""
    from scipy.spatial.distance import jensenshannon

    a, b = _normalise(a), _normalise(b)
    if not a or not b:  # no shares on one side: sqrt(1/2) against any distribution (scipy: NaN)
        return 0.0 if a == b else float(np.sqrt(0.5))
    keys = sorted(set(a) | set(b))
    return float(jensenshannon([a.get(c, 0.0) for c in keys], [b.get(c, 0.0) for c in keys], base=2))


# ------------------------------------------------------------------------------------------- plan

@dataclass(frozen=True)
class ClusterChange:
    """Before/after of one cluster. Counts are effective (sum of weights) unless named ``rows``."""

    cluster: int
    label: str
    rows_before: int
    before: float
    target_share: float
    target: float
    rows_after: int
    after: float
    action: str  # "keep" | "cap" | "raise" | "needs new data"
    note: str = ""


@dataclass(frozen=True)
class DataNeed:
    """A cluster that rebalancing cannot fill without new examples."""

    cluster: int
    label: str
    target: float
    reachable: float
    shortfall: float
    reason: str
    production_rows: int = 0
    gap: dict[str, Any] | None = None


@dataclass
class RebalancePlan:
    """A previewable rebalance. Row numbers index the arrays the plan was made from."""

    mode: str
    label: str
    target_shares: dict[int, float]
    clusters: list[ClusterChange]
    reject_rows: dict[int, np.ndarray] = field(default_factory=dict)  # cluster -> rows to reject
    weight_rows: dict[float, np.ndarray] = field(default_factory=dict)  # new weight -> rows
    needs_new_data: list[DataNeed] = field(default_factory=list)
    max_weight: int = DEFAULT_MAX_WEIGHT
    min_keep: int = DEFAULT_MIN_KEEP
    distance_before: float = 0.0  # total variation to the target shares
    distance_after: float = 0.0
    js_before: float = 0.0
    js_after: float = 0.0

    @property
    def n_rejected(self) -> int:
        return int(sum(len(r) for r in self.reject_rows.values()))

    @property
    def n_reweighted(self) -> int:
        return int(sum(len(r) for r in self.weight_rows.values()))

    @property
    def is_empty(self) -> bool:
        return self.n_rejected == 0 and self.n_reweighted == 0

    def before_after(self) -> list[tuple[int, str, float, float, float]]:
        """(cluster, label, before, after, target) per cluster: what a bar chart shows."""
        return [(c.cluster, c.label, c.before, c.after, c.target) for c in self.clusters]

    def to_batch(self, example_id: Callable[[int], Any]):
        """The plan as ONE undoable journal step (``Batch`` of ``Reject`` and ``SetWeight`` ops).

        ``example_id(row)`` maps a row number to the project's example id (``ws.example_id``).
        """
        from workbench.project.journal import Batch, Reject, SetWeight

        labels = {c.cluster: c for c in self.clusters}
        ops: list[Any] = []
        for cluster, rows in sorted(self.reject_rows.items()):
            if len(rows) == 0:
                continue
            ch = labels[cluster]
            reason = (f"rebalance: cap cluster {cluster}"
                      + (f" ({ch.label})" if ch.label else "")
                      + f" to {ch.rows_after} of {ch.rows_before}")
            ops.append(Reject(tuple(example_id(int(r)) for r in rows), reason))
        for weight, rows in sorted(self.weight_rows.items()):
            if len(rows):
                ops.append(SetWeight(tuple(example_id(int(r)) for r in rows), float(weight)))
        if not ops:
            raise WorkbenchError("The rebalance plan changes nothing: every cluster is already on target.")
        return Batch(tuple(ops), self.label)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (for the manifest, the report and ``--json`` output)."""
        return {
            "mode": self.mode,
            "label": self.label,
            "max_weight": self.max_weight,
            "min_keep": self.min_keep,
            "rejected": self.n_rejected,
            "reweighted": self.n_reweighted,
            "distance_before": round(self.distance_before, 6),
            "distance_after": round(self.distance_after, 6),
            "distance": "total variation between the training cluster shares and the target shares",
            "js_before": round(self.js_before, 6),
            "js_after": round(self.js_after, 6),
            "clusters": [asdict(c) for c in self.clusters],
            "needs_new_data": [asdict(n) for n in self.needs_new_data],
        }


def _integer_weights(goal: int, order: np.ndarray) -> np.ndarray:
    """Weights per position of ``order`` adding up to ``goal``; the first members get the extra one."""
    n = len(order)
    base, extra = divmod(goal, n)
    w = np.full(n, float(base))
    w[:extra] += 1.0
    return w


def plan_rebalance(
    cluster: np.ndarray,
    rows: np.ndarray,
    shares: dict[int, float],
    *,
    mode: str = "custom",
    vectors: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    dup_group: np.ndarray | None = None,
    labels: dict[int, str] | None = None,
    production_counts: dict[int, int] | None = None,
    gaps: dict[int, dict[str, Any]] | None = None,
    max_weight: int = DEFAULT_MAX_WEIGHT,
    min_keep: int = DEFAULT_MIN_KEEP,
    min_distinct: int = DEFAULT_MIN_DISTINCT,
    tolerance: float = DEFAULT_TOLERANCE,
    total: float | None = None,
    cancel=None,
) -> RebalancePlan:
    """Plan a rebalance of the training ``rows`` toward ``shares``.

    ``cluster`` (n,), ``vectors`` (n, d) (embeddings, or map x/y), ``weight`` (n,) and
    ``dup_group`` (n,; -1 or negative = in no group) are indexed by row; ``rows`` are the active
    training rows (not rejected) the plan may change. Without ``vectors`` the rows are taken in
    their given order (only useful for tests and previews). See the module doc for the rules.
    """
    if mode not in TARGET_MODES:
        raise WorkbenchError(f"Unknown rebalance target {mode!r}: choose one of {', '.join(TARGET_MODES)}.")
    if max_weight < 1 or min_keep < 0:
        raise WorkbenchError("Rebalance limits must be positive (max weight >= 1, min keep >= 0).")
    cluster = np.asarray(cluster, dtype=np.int64)
    rows = np.asarray(rows, dtype=np.int64)
    weight = np.ones(len(cluster), dtype=np.float64) if weight is None else np.asarray(weight, dtype=np.float64)
    labels = labels or {}
    production_counts = production_counts or {}
    gaps = gaps or {}
    shares = _normalise({int(c): float(s) for c, s in shares.items() if int(c) != NOISE})

    row_cluster = cluster[rows]
    before_counts = _counts(row_cluster, weight[rows])
    n_total = float(sum(before_counts.values())) if total is None else float(total)

    changes: list[ClusterChange] = []
    needs: list[DataNeed] = []
    reject_rows: dict[int, np.ndarray] = {}
    new_weight: dict[int, float] = {}  # row -> new weight (only where it changes)
    after_counts: dict[int, float] = {}

    for c in sorted(set(before_counts) | set(shares)):
        members = rows[row_cluster == c]
        n_c = len(members)
        eff = float(weight[members].sum()) if n_c else 0.0
        share = shares.get(c, 0.0)
        t = share * n_total
        label = labels.get(c, "")

        def change(action: str, rows_after: int, after: float, note: str = "") -> None:
            changes.append(ClusterChange(c, label, n_c, eff, share, t, rows_after, after, action, note))
            if after > 0:
                after_counts[c] = after

        def need(reachable: float, reason: str) -> None:
            needs.append(DataNeed(c, label, t, reachable, max(0.0, t - reachable), reason,
                                  int(production_counts.get(c, 0)), gaps.get(c)))

        if n_c == 0:
            if t >= 0.5:
                need(0.0, "no training examples in this cluster")
                change("needs new data", 0, 0.0, "no training examples")
            continue
        if abs(eff - t) <= max(1.0, tolerance * t):
            change("keep", n_c, eff)
            continue
        order = members if vectors is None else members[diverse_order(vectors[members], cancel=cancel)]
        if eff > t:
            goal = int(round(t))
            if n_c > goal:
                keep = min(n_c, max(min_keep, goal))
                kept, dropped = order[:keep], order[keep:]
                if len(dropped):
                    reject_rows[c] = np.sort(dropped)
                for r in kept[weight[kept] != 1.0]:
                    new_weight[int(r)] = 1.0
                note = f"keep {keep} of {n_c}" + (f" (never below {min_keep})" if keep > goal else "")
                change("cap", keep, float(keep), note)
            else:  # enough rows, but weights above the target: lower the repeats
                w = _integer_weights(max(goal, n_c), order)
                for r, v in zip(order[w != weight[order]], w[w != weight[order]]):
                    new_weight[int(r)] = float(v)
                change("cap", n_c, float(w.sum()), "fewer repeats")
            continue
        # under target: raise with repeats, unless that would only duplicate
        if dup_group is not None:
            g = np.asarray(dup_group)[members]
            grouped = g >= 0
            distinct = int((~grouped).sum() + len(np.unique(g[grouped])))
        else:
            distinct = n_c
        if distinct < min_distinct:
            need(eff, f"only {distinct} distinct example{'s' if distinct != 1 else ''}: "
                      "repeating them would only duplicate")
            change("needs new data", n_c, eff, f"{distinct} distinct")
            continue
        goal = max(n_c, min(int(round(t)), n_c * max_weight))
        w = _integer_weights(goal, order)
        for r, v in zip(order[w != weight[order]], w[w != weight[order]]):
            new_weight[int(r)] = float(v)
        if t - goal > max(1.0, tolerance * t):
            need(float(goal), f"short after repeating each example up to {max_weight} times")
            change("raise", n_c, float(goal), f"needs {t - goal:.0f} more")
        else:
            change("raise", n_c, float(goal), f"weights up to {int(w.max())}")

    weight_rows: dict[float, list[int]] = {}
    for r, v in sorted(new_weight.items()):
        weight_rows.setdefault(v, []).append(r)
    plan = RebalancePlan(
        mode=mode,
        label=MODE_LABELS[mode],
        target_shares=shares,
        clusters=changes,
        reject_rows=reject_rows,
        weight_rows={v: np.asarray(r, dtype=np.int64) for v, r in weight_rows.items()},
        needs_new_data=sorted(needs, key=lambda d: -d.shortfall),
        max_weight=max_weight,
        min_keep=min_keep,
        distance_before=total_variation(before_counts, shares),
        distance_after=total_variation(after_counts, shares),
        js_before=js_distance(before_counts, shares),
        js_after=js_distance(after_counts, shares),
    )
    return plan


# --------------------------------------------------------------------------------- on a project

def gaps_by_cluster(summary: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The analysis summary's top-ranked coverage gap per cluster (for "needs new data")."""
    gaps = summary.get("gaps") or []
    items = gaps.get("gaps", []) if isinstance(gaps, dict) else gaps
    out: dict[int, dict[str, Any]] = {}
    for g in items:
        if isinstance(g, dict) and g.get("cluster") is not None and int(g["cluster"]) not in out:
            out[int(g["cluster"])] = {k: g[k] for k in ("kind", "reason", "n_gap", "n_production",
                                                        "suggested_add", "examples") if k in g}
    return out


def plan_project_rebalance(
    snap,
    mode: str,
    *,
    custom: dict[int, float] | None = None,
    max_weight: int = DEFAULT_MAX_WEIGHT,
    min_keep: int = DEFAULT_MIN_KEEP,
    progress=None,
    cancel=None,
) -> RebalancePlan:
    """Plan a rebalance of a project's active training examples (the Rebalance dialog's and
    ``workbench export --rebalance``'s entry point). ``snap`` is a
    :class:`~workbench.curate.snapshot.CurationSnapshot` with an analysis; vectors come from its
    ``embed`` function when given, else from the map coordinates. Row numbers in the plan are
    workspace rows: apply with ``project.apply(plan.to_batch(ws.example_id))``."""
    from workbench.curate.snapshot import require_analysis

    view = require_analysis(snap, "Rebalancing")
    rows = snap.rows_with_role("train")
    if len(rows) == 0:
        raise WorkbenchError("Nothing to rebalance: the project has no active training examples.")
    if mode == "production":
        shares = production_shares(view.cluster[snap.rows_with_role("production")])
    elif mode == "uniform":
        shares = uniform_shares(view.cluster[rows])
    elif mode == "custom":
        if not custom:
            raise WorkbenchError("Custom rebalance needs a share for at least one cluster.")
        shares = custom_shares(custom, view.cluster[rows], snap.weight[rows])
    else:
        raise WorkbenchError(f"Unknown rebalance target {mode!r}: choose one of {', '.join(TARGET_MODES)}.")
    pc, pn = np.unique(view.cluster[snap.rows_with_role("production")], return_counts=True)
    # plan over the training rows only (positions 0..m-1), then map back to workspace rows
    sub_cluster = view.cluster[rows]
    vectors = None
    has_cluster = sub_cluster >= 0
    if has_cluster.any():
        vec, _ = snap.vectors(rows[has_cluster], progress=progress, cancel=cancel)
        if vec is not None:
            vectors = np.zeros((len(rows), vec.shape[1]), dtype=np.float32)
            vectors[has_cluster] = vec
    plan = plan_rebalance(
        sub_cluster, np.arange(len(rows)), shares, mode=mode, vectors=vectors, weight=snap.weight[rows],
        dup_group=view.dup_group[rows], labels=view.labels,
        production_counts={int(c): int(k) for c, k in zip(pc, pn) if c >= 0},
        gaps=gaps_by_cluster(view.summary), max_weight=max_weight, min_keep=min_keep, cancel=cancel)
    plan.reject_rows = {c: rows[r] for c, r in plan.reject_rows.items()}
    plan.weight_rows = {w: rows[r] for w, r in plan.weight_rows.items()}
    return plan
