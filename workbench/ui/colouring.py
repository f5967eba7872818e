"""What the map's colours mean: one function per "Colour by" choice.

Each returns packed colours (one per workspace row), a legend title and legend entries whose
``key`` holds the entry's rows (so clicking a legend entry selects them). Categories are ranked
by size, so the biggest get the most distinct colours; "none" (noise, no flag, covered) is
always the neutral grey so it recedes and the finding stands out.
"""

from __future__ import annotations

import numpy as np

from workbench.core import palette
from workbench.ui import theme
from workbench.ui.map_view import LegendEntry

# (key, menu text). Extra columns are added as "extra:<name>".
BASE_CHOICES = [
    ("cluster", "Cluster"),
    ("role", "Role (train / production / eval)"),
    ("gap", "Coverage gap"),
    ("flag", "Quality flag"),
    ("state", "Curation state"),
    ("duplicate", "Duplicate group"),
    ("source", "Source file"),
    ("snapshot", "Production snapshot"),
]

STATE_COLOURS = [
    ("rejected", "Rejected", theme.ALERT),
    ("edited", "Edited", "#b07aa1"),
    ("added", "Added (promoted)", "#59a14f"),
    ("weighted", "Weight changed", "#9c755f"),
    ("tagged", "Tagged", "#edc948"),
    ("kept", "Unchanged", theme.NEUTRAL),
]
# The number keys of the colour-by choices, fixed per choice (never by position in the menu: a
# choice added later must not move the others' keys). Columns and scores have no key.
SHORTCUT_KEYS = {"cluster": "1", "role": "2", "gap": "3", "flag": "4", "state": "5", "duplicate": "6",
                 "source": "7", "snapshot": "8"}
MAX_CATEGORIES = 200  # more distinct values than this: the column is shown as numbers or "other"


def choices(session) -> list[tuple[str, str]]:
    out = list(BASE_CHOICES)
    ws = session.ws
    if ws is not None:
        for name in sorted(getattr(ws, "extra", {}) or {}):
            out.append((f"extra:{name}", f"Column: {name}"))
    if session.analysis is not None:
        for name in ("nearest_train_sim", "inconsistency"):
            out.append((f"num:{name}", {"nearest_train_sim": "Similarity to nearest training example",
                                        "inconsistency": "Inconsistency"}[name]))
    return out


def _categorical(values: np.ndarray, labels: dict | None = None, neutral=(), title: str = "",
                 fixed: dict | None = None) -> tuple[np.ndarray, str, list[LegendEntry]]:
    """Colour by category, biggest first; values in ``neutral`` get the neutral grey."""
    n = len(values)
    cats, inverse, counts = np.unique(values.astype(str) if values.dtype == object else values,
                                      return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    colours = np.empty(len(cats), np.uint32)
    legend: list[LegendEntry] = []
    neutral_entries: list[LegendEntry] = []
    rank = 0
    for ci in order:
        cat = cats[ci]
        key = cat.item() if hasattr(cat, "item") else cat
        name = (labels or {}).get(key, str(key))
        rows = np.flatnonzero(inverse == ci)
        if key in neutral or str(key) in {str(x) for x in neutral}:
            col = theme.NEUTRAL
            neutral_entries.append(LegendEntry(name, col, int(counts[ci]), rows))
        else:
            col = fixed.get(key, None) if fixed else None
            if col is None:
                col = theme.category_colour(rank).name()
                rank += 1
            legend.append(LegendEntry(name, col, int(counts[ci]), rows))
        colours[ci] = theme.pack(col)
    out = colours[inverse] if n else np.zeros(0, np.uint32)
    return out, title, legend + neutral_entries


def colour_by(session, key: str) -> tuple[np.ndarray, str, list[LegendEntry]]:
    """Packed colours, legend title and legend entries for ``key`` (see :data:`BASE_CHOICES`)."""
    ws = session.ws
    a = session.analysis
    n = ws.n if ws is not None else 0
    if n == 0:
        return np.zeros(0, np.uint32), "", []
    role = np.asarray(ws.role, dtype=object)
    if key == "role":
        return _categorical(role, title="Role", fixed=theme.ROLE_COLOURS)
    if key == "source":
        return _categorical(np.asarray(ws.source_names, dtype=object), title="Source file")
    if key == "state":
        return _state(session)
    if key == "snapshot":  # production log date (analysis/drift.py); other roles recede in grey
        from workbench.analysis.drift import row_snapshots, snapshot_dates

        snaps = row_snapshots(ws.source_id, role, snapshot_dates(session.project))
        return _categorical(snaps, labels={"": "not production"}, neutral=("",), title="Production snapshot")
    if key.startswith("extra:"):
        name = key[6:]
        values = np.asarray([("—" if v is None else v) for v in ws.extra.get(name, [None] * n)], dtype=object)
        return _column(values, name)
    if a is None:  # analysis-only colourings fall back to role until the analysis exists
        return _categorical(role, title="Role (run the analysis for clusters)", fixed=theme.ROLE_COLOURS)
    if key.startswith("num:"):
        name = key[4:]
        values = getattr(a, name, None)
        if values is None:
            values = a.extra_columns.get(name, np.full(n, np.nan))
        return _continuous(np.asarray(values, dtype=np.float64), name)
    if key == "cluster":
        labels = dict(a.cluster_labels)
        labels[-1] = "noise (no cluster)"
        ids = [int(c) for c in np.unique(a.cluster) if c >= 0]  # colour by id, as the HTML report does
        return _categorical(a.cluster, labels=labels, neutral=(-1,), title="Cluster",
                            fixed={c: palette.category_hex(c) for c in ids})
    if key == "duplicate":
        vals = np.where(a.dup_group >= 0, a.dup_group, -1)
        labels = {-1: "not duplicated"}
        out, title, legend = _categorical(vals, labels=labels, neutral=(-1,), title="Duplicate group")
        for e in legend:
            if e.label != "not duplicated":
                e.label = f"group {e.label}"
        return out, title, legend
    if key == "flag":
        first = np.array([f[0] if len(f) else "no flags" for f in a.flags], dtype=object)
        return _categorical(first, neutral=("no flags",), title="Quality flag (first)")
    if key == "gap":
        return _gaps(session)
    return _categorical(role, title="Role", fixed=theme.ROLE_COLOURS)


def _column(values: np.ndarray, name: str):
    numeric = np.array([isinstance(v, (int, float)) and not isinstance(v, bool) for v in values])
    uniq = len(set(map(str, values)))
    if numeric.mean() > 0.9 and uniq > 20:
        nums = np.array([float(v) if ok else np.nan for v, ok in zip(values, numeric)])
        return _continuous(nums, name)
    if uniq > MAX_CATEGORIES:
        counts: dict[str, int] = {}
        for v in values:
            counts[str(v)] = counts.get(str(v), 0) + 1
        top = set(sorted(counts, key=counts.get, reverse=True)[:MAX_CATEGORIES - 1])
        values = np.array([str(v) if str(v) in top else "other" for v in values], dtype=object)
    return _categorical(values.astype(str).astype(object), neutral=("—", "other"), title=name)


def _continuous(values: np.ndarray, name: str):
    colours = theme.continuous_colours(values)
    finite = values[np.isfinite(values)]
    legend: list[LegendEntry] = []
    if len(finite):
        lo, hi = np.nanpercentile(finite, [2, 98])
        qs = np.linspace(lo, hi, 5)
        ramp = theme.continuous_colours(qs)
        edges = np.concatenate([[-np.inf], (qs[:-1] + qs[1:]) / 2, [np.inf]])
        for i, q in enumerate(qs):
            rows = np.flatnonzero((values >= edges[i]) & (values < edges[i + 1]))
            legend.append(LegendEntry(f"≈ {q:.3g}", theme.unpack(int(ramp[i])).name(), len(rows), rows))
    missing = np.flatnonzero(~np.isfinite(values))
    if len(missing):
        legend.append(LegendEntry("no value", theme.NEUTRAL, len(missing), missing))
    return colours, name, legend


def _state(session):
    ws = session.ws
    n = ws.n
    rejected = np.asarray(ws.rejected, bool)
    edited = np.asarray(ws.edited, bool)
    added = np.asarray(ws.source_id) == 0
    weighted = np.asarray(ws.weight, np.float32) != 1.0
    tagged = np.array([bool(t) for t in ws.tags], bool) if n else np.zeros(0, bool)
    masks = {"rejected": rejected, "edited": edited, "added": added, "weighted": weighted, "tagged": tagged}
    state = np.full(n, "kept", dtype=object)
    for key in ("tagged", "weighted", "added", "edited", "rejected"):  # later = higher priority
        state[masks[key]] = key
    colours = np.empty(n, np.uint32)
    legend = []
    for key, label, col in STATE_COLOURS:
        rows = np.flatnonzero(state == key)
        colours[rows] = theme.pack(col)
        if len(rows) or key in ("rejected", "kept"):
            legend.append(LegendEntry(label, col, len(rows), rows))
    return colours, "Curation state", legend


def _gaps(session):
    """Production inputs the training data does not cover, by gap region (biggest first)."""
    ws, a = session.ws, session.analysis
    n = ws.n
    role = np.asarray(ws.role, dtype=object)
    prod = role == "production"
    colours = np.full(n, theme.pack(theme.mix_packed(np.array([theme.pack(theme.NEUTRAL)], np.uint32),
                                                     theme.map_background(), 0.35)[0]), np.uint32)
    legend: list[LegendEntry] = []
    in_region = np.zeros(n, bool)
    for rank, gap in enumerate(a.gaps[:20]):
        rows = gap.rows[prod[gap.rows]] if len(gap.rows) else gap.rows
        if not len(rows):
            continue
        col = theme.category_colour(rank + 2).name() if rank else theme.ALERT
        colours[rows] = theme.pack(col)
        in_region[rows] = True
        legend.append(LegendEntry(f"gap {rank + 1}: {gap.title}"[:60], col, len(rows), rows))
    gap = a.is_gap[:n] if len(a.is_gap) >= n else _below(a, ws)
    uncovered = prod & ~in_region & gap
    if uncovered.any():
        colours[uncovered] = theme.pack("#e15759")
        legend.append(LegendEntry("other uncovered production", "#e15759", int(uncovered.sum()), np.flatnonzero(uncovered)))
    covered = prod & ~in_region & ~uncovered
    if covered.any():
        colours[covered] = theme.pack("#f6c28b")
        legend.append(LegendEntry("covered production", "#f6c28b", int(covered.sum()), np.flatnonzero(covered)))
    other = ~prod
    legend.append(LegendEntry("train / eval / reference", theme.NEUTRAL, int(other.sum()), np.flatnonzero(other)))
    return colours, "Coverage gap", legend


def _below(a, ws) -> np.ndarray:
    thr = 0.6
    params = getattr(a.result, "params", None)
    for name in ("gap_sim", "gap_threshold"):
        v = getattr(params, name, None) if params is not None and not isinstance(params, dict) else (params or {}).get(name)
        if v is not None:
            thr = float(v)
            break
    sims = np.asarray(a.nearest_train_sim, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(sims) & (sims < thr)
