"""The next production log against the last: dated snapshots, placement into the stored map, drift.

A production source can carry a **snapshot date** (``workbench add PROJECT FILE --role production
--snapshot 2026-11-01``; project setting ``production_snapshots`` = ``{source id: "YYYY-MM-DD"}``).
Production sources without a date form the snapshot ``initial``, ordered before every dated one.
The **new** snapshot is the latest; the **previous** one the snapshot before it.

Definitions (:func:`compute_drift`):

- **Base rows**: rows of the stored analysis (they have map coordinates and a cluster) that are not
  in the new snapshot: the map as it was.
- **Placement** (no new layout): every row without stored coordinates (the new snapshot's inputs,
  examples added since) gets a weighted mean position of its ``k`` (10) nearest base rows, the
  nearest weighing most (prompt cosine; exact search, approximate IVF search above 4e8 pairs) and the cluster with
  the largest summed similarity among them: :func:`workbench.analysis.map_continuity.place`, the
  same rule a re-analysis uses to place rows into a kept map. Rows of the stored analysis keep
  their place. (After a re-analysis the new snapshot is usually part of the stored analysis
  already, placed into the kept map; then nothing is left to place here.)
- **Shares**: cluster c's share of a snapshot = its inputs in c / the snapshot's inputs (cluster
  -1 = "unclustered" counts too). Clusters are listed by the change in share, largest growth
  first; ``grew``/``shrank`` when the share changed by at least ``min_change`` (0.5 percentage
  points) and at least 2 inputs.
- **Not seen before**: a new-snapshot input whose nearest base row has cosine below the
  *novelty threshold*: the 5th percentile of the previous snapshot's inputs' nearest-base-neighbour
  cosine (themselves excluded), i.e. farther from everything known than 95% of earlier inputs were.
  These inputs are grouped like coverage gaps (:func:`workbench.analysis.coverage.cluster_gap_inputs`,
  average linkage at ``region_sim``); each group of ``min_region``+ inputs is a **new region**
  with a c-TF-IDF label; the rest are counted as scattered.
- **Uncovered**: a new-snapshot input whose nearest training prompt (training as it is now, added
  examples included; exact search, approximate above 4e8 pairs) has cosine < ``gap_sim`` (the coverage analysis' similarity bound,
  0.5).
- **Earlier gaps now covered**: gap inputs of the stored analysis (previous snapshot) whose nearest
  training prompt *now* is a training row that is not in the stored analysis (added since) with
  cosine >= ``gap_sim``; counted per earlier gap.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from workbench.analysis.coverage import DEFAULT_GAP_SIM, DEFAULT_REGION_SIM
# the one placement rule: a re-analysis places rows added since the last one with it too
from workbench.analysis.map_continuity import K_PLACE, place  # noqa: F401 (drift.place)
from workbench.analysis.map_continuity import neighbours as _neighbours
from workbench.core.errors import InputError, WorkbenchError
from workbench.core.progress import CancelToken, ProgressFn, ensure

SNAPSHOT_SETTING = "production_snapshots"
INITIAL = "initial"
NOVELTY_PERCENTILE = 5.0
MIN_CHANGE = 0.005
MIN_REGION = 3


class DriftError(WorkbenchError):
    """Drift cannot be computed (fewer than two snapshots, no analysis)."""


# --------------------------------------------------------------------------------------------
# snapshots: a source attribute of production sources, kept in the project settings
# --------------------------------------------------------------------------------------------
def parse_date(text: str) -> str:
    try:
        return _dt.date.fromisoformat(str(text).strip()).isoformat()
    except ValueError:
        raise InputError(f"A snapshot date is written YYYY-MM-DD (e.g. 2026-11-01), not {text!r}.") from None


def check_snapshot_arg(role: str, date: str) -> str:
    """Validate ``--snapshot DATE`` of ``workbench add`` before anything is added."""
    if role != "production":
        raise InputError(f"--snapshot dates a production log; this file is added as {role}.")
    return parse_date(date)


def snapshot_dates(project: Any) -> dict[int, str]:
    """``{source id: "YYYY-MM-DD"}`` of the project's dated production sources."""
    raw = project.settings.get(SNAPSHOT_SETTING, None) or {}
    out = {}
    if isinstance(raw, dict):
        for k, v in raw.items():
            try:
                out[int(k)] = parse_date(v)
            except (ValueError, InputError):
                continue
    return out


def set_snapshot(project: Any, source_id: int, date: str | None) -> str:
    """Record ``date`` as the snapshot date of production source ``source_id``; returns the date.
    ``None`` or ``""`` takes the date away (the source joins the ``initial`` snapshot)."""
    info = next((s for s in project.sources if s.id == int(source_id)), None)
    if info is None or info.role != "production":
        raise InputError("A snapshot date belongs to a production source.")
    date = INITIAL if date is None or not str(date).strip() else parse_date(date)
    raw = dict(project.settings.get(SNAPSHOT_SETTING, None) or {})
    if date == INITIAL:
        raw.pop(str(int(source_id)), None)
    else:
        raw[str(int(source_id))] = date
    project.settings.set(SNAPSHOT_SETTING, raw)
    return date


def row_snapshots(source_id: Sequence[int], role: Sequence[str], dates: Mapping[int, str]) -> np.ndarray:
    """Each row's snapshot label: the date, ``initial`` (undated production) or "" (not production)."""
    sid = np.asarray(source_id, np.int64)
    role = np.asarray(role, dtype=object)
    out = np.full(len(sid), "", dtype=object)
    prod = role == "production"
    out[prod] = INITIAL
    for s, d in dates.items():
        out[prod & (sid == s)] = d
    return out


# --------------------------------------------------------------------------------------------
# placement and drift
# --------------------------------------------------------------------------------------------
@dataclass
class Drift:
    before: str
    after: str
    n_before: int
    n_after: int
    clusters: list[dict[str, Any]]
    new_regions: list[dict[str, Any]]
    scattered_new: int
    novel: list[str]  # texts of every input not seen before, least similar first
    uncovered: dict[str, Any]
    gaps_now_covered: list[dict[str, Any]]
    novelty_threshold: float
    x: np.ndarray  # every row's map position (placed rows filled in)
    y: np.ndarray
    cluster: np.ndarray
    snapshot: np.ndarray  # every row's snapshot label
    new_region: np.ndarray  # int (N,): new region id of a new-snapshot row (-1 none)
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, ref=None, examples: int = 3) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "n_before": self.n_before, "n_after": self.n_after,
                "novelty_threshold": round(self.novelty_threshold, 4), "params": self.params,
                "clusters": self.clusters, "new_regions": self.new_regions, "scattered_new": self.scattered_new,
                "n_novel": len(self.novel), "novel_examples": self.novel[:examples * 10],
                "uncovered": self.uncovered, "gaps_now_covered": self.gaps_now_covered}


def compute_drift(prompts: Sequence[str], role: Sequence[str], vecs: np.ndarray, snapshot: np.ndarray,
                  analysed: np.ndarray, x: np.ndarray, y: np.ndarray, cluster: np.ndarray,
                  cluster_labels: Mapping[int, str], *, gap: np.ndarray | None = None,
                  gap_group: np.ndarray | None = None, gap_labels: Mapping[int, str] | None = None,
                  gap_sim: float = DEFAULT_GAP_SIM, region_sim: float = DEFAULT_REGION_SIM,
                  min_region: int = MIN_REGION, min_change: float = MIN_CHANGE, k: int = K_PLACE,
                  progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> Drift:
    """Drift of the latest snapshot against the one before (see the module doc). Per-row inputs
    cover every row of the project; ``analysed`` marks the rows of the stored analysis (their
    ``x``, ``y``, ``cluster`` are used; the rest are placed)."""
    from workbench.analysis.coverage import cluster_gap_inputs
    from workbench.analysis.labels import ctfidf_terms, format_label

    progress, cancel = ensure(progress, cancel)
    role = np.asarray(role, dtype=object)
    snapshot = np.asarray(snapshot, dtype=object)
    vecs = np.asarray(vecs, np.float32)
    n = len(role)
    labels_sorted = sorted({s for s in snapshot.tolist() if s}, key=lambda s: (s != INITIAL, s))
    if len(labels_sorted) < 2:
        raise DriftError("Drift compares two production snapshots; this project has "
                         f"{len(labels_sorted)}. Add the next log with `workbench add PROJECT FILE --role production "
                         "--snapshot YYYY-MM-DD`.")
    before, after = labels_sorted[-2], labels_sorted[-1]
    in_b, in_a = snapshot == before, snapshot == after
    analysed = np.asarray(analysed, bool)
    base = np.flatnonzero(analysed & ~in_a)
    if not len(base):
        raise DriftError("The stored analysis holds none of the earlier rows; run `workbench analyze PROJECT` first.")
    x = np.array(x, np.float32, copy=True)
    y = np.array(y, np.float32, copy=True)
    cl = np.array(cluster, np.int64, copy=True)
    progress(0, 4, "Placing new inputs into the map")
    to_place = np.flatnonzero(~analysed)
    if len(to_place):
        px, py, pc, _ = place(vecs, to_place, base, x, y, cl, k, cancel)
        x[to_place], y[to_place], cl[to_place] = px, py, pc
    # novelty: the new snapshot's inputs against the map as it was
    progress(1, 4, "Finding inputs not seen before")
    q = np.flatnonzero(in_a)
    idx, sims = _neighbours(np.ascontiguousarray(vecs[q]), np.ascontiguousarray(vecs[base]), 1, cancel)
    nearest_a = sims[:, 0]
    rng = np.random.default_rng(0)
    ref_rows = np.flatnonzero(in_b & analysed)
    if len(ref_rows) > 3000:
        ref_rows = np.sort(rng.choice(ref_rows, 3000, replace=False))
    idx_b, sims_b = _neighbours(np.ascontiguousarray(vecs[ref_rows]), np.ascontiguousarray(vecs[base]), 2, cancel)
    own = base[np.maximum(idx_b[:, 0], 0)] == ref_rows
    nn_b = np.where(own, sims_b[:, 1], sims_b[:, 0])
    threshold = float(np.percentile(nn_b, NOVELTY_PERCENTILE)) if len(nn_b) else 0.5
    novel = q[nearest_a < threshold]
    novel_texts = [prompts[i] for i in q[np.argsort(nearest_a, kind="stable")][: len(novel)].tolist()]
    new_region = np.full(n, -1, np.int64)
    regions: list[dict[str, Any]] = []
    scattered = 0
    if len(novel):
        score = np.zeros(n, np.float32)
        score[q] = 1 - nearest_a
        grp = cluster_gap_inputs(vecs, novel, score, region_sim)
        ids, counts = np.unique(grp[grp >= 0], return_counts=True)
        keep = ids[counts >= min_region]
        keep = keep[np.argsort(-counts[np.isin(ids, keep)], kind="stable")]
        remap = {int(g): r for r, g in enumerate(keep.tolist())}
        lab = np.array([remap.get(int(g), -1) for g in grp], np.int64)
        new_region[novel] = lab
        terms = ctfidf_terms([prompts[i] for i in novel], lab) if (lab >= 0).any() else {}
        for r in range(len(keep)):
            members = novel[lab == r]
            centre = vecs[members].mean(axis=0)
            typical = members[np.argsort(-(vecs[members] @ centre), kind="stable")[:3]]
            regions.append({"region": r, "label": format_label(terms.get(r, []), r), "n": int(len(members)),
                            "share_after": round(len(members) / max(int(in_a.sum()), 1), 5),
                            "nearest_before_mean": round(float(nearest_a[np.isin(q, members)].mean()), 4),
                            "examples": [prompts[i] for i in typical.tolist()]})
        scattered = int((lab < 0).sum())
    # shares per cluster
    progress(2, 4, "Cluster shares")
    nb_, na_ = max(int(in_b.sum()), 1), max(int(in_a.sum()), 1)
    rows = []
    for c in np.unique(cl[in_b | in_a]).tolist():
        b_n, a_n = int((in_b & (cl == c)).sum()), int((in_a & (cl == c)).sum())
        sb, sa = b_n / nb_, a_n / na_
        change = sa - sb
        status = "same"
        if abs(change) >= min_change and abs(a_n - b_n * na_ / nb_) >= 2:
            status = "grew" if change > 0 else "shrank"
        if b_n == 0 and a_n:
            status = "new in this cluster" if status != "same" else status
        rows.append({"cluster": int(c), "label": "unclustered" if c < 0 else str(cluster_labels.get(int(c)) or f"cluster {c}"),
                     "n_before": b_n, "n_after": a_n, "share_before": round(sb, 5), "share_after": round(sa, 5),
                     "change": round(change, 5), "status": status})
    rows.sort(key=lambda r: (-r["change"], r["cluster"]))
    # coverage of the new snapshot by training now, and earlier gaps now covered
    progress(3, 4, "Coverage by training now")
    train_mask = role == "train"
    unc: dict[str, Any] = {"n": 0, "share": 0.0, "by_cluster": [], "examples": []}
    covered: list[dict[str, Any]] = []
    if train_mask.any():
        train = np.flatnonzero(train_mask)
        sim_a = _neighbours(np.ascontiguousarray(vecs[q]), np.ascontiguousarray(vecs[train]), 1, cancel)[1][:, 0]
        miss = q[sim_a < gap_sim]
        by = {}
        for c in cl[miss].tolist():
            by[c] = by.get(c, 0) + 1
        unc = {"n": int(len(miss)), "share": round(len(miss) / na_, 5), "gap_sim": gap_sim,
               "in_new_regions": int((new_region[miss] >= 0).sum()),
               "by_cluster": [{"cluster": int(c), "label": "unclustered" if c < 0 else
                               str(cluster_labels.get(int(c)) or f"cluster {c}"), "n": int(m)}
                              for c, m in sorted(by.items(), key=lambda kv: -kv[1])[:10]],
               "examples": [prompts[i] for i in miss[np.argsort(sim_a[sim_a < gap_sim], kind="stable")][:5].tolist()]}
        if gap is not None and gap_group is not None:
            old_gap = np.flatnonzero(np.asarray(gap, bool) & analysed & in_b)
            if len(old_gap):
                idx_g, sims_g = _neighbours(np.ascontiguousarray(vecs[old_gap]), np.ascontiguousarray(vecs[train]), 1,
                                            cancel)
                sim_g, near_g = sims_g[:, 0], np.where(idx_g[:, 0] >= 0, train[np.maximum(idx_g[:, 0], 0)], -1)
                now = (sim_g >= gap_sim) & (near_g >= 0) & ~analysed[np.maximum(near_g, 0)]
                gg = np.asarray(gap_group, np.int64)[old_gap]
                for g in np.unique(gg).tolist():
                    m = gg == g
                    covered.append({"gap": int(g), "label": (gap_labels or {}).get(int(g), "scattered" if g < 0 else f"gap {g}"),
                                    "n": int(m.sum()), "now_covered": int(now[m].sum())})
                covered.sort(key=lambda r: (-r["now_covered"], -r["n"]))
    progress(4, 4, "Drift")
    return Drift(before, after, int(in_b.sum()), int(in_a.sum()), rows, regions, scattered, novel_texts, unc, covered,
                 threshold, x, y, cl, snapshot, new_region,
                 {"k": k, "gap_sim": gap_sim, "region_sim": region_sim, "min_region": min_region,
                  "min_change": min_change, "novelty_percentile": NOVELTY_PERCENTILE})


def format_table(d: Drift, limit: int = 15) -> list[str]:
    """The drift report as text lines (the CLI prints them; the report can embed them)."""
    out = [f"Production snapshot {d.after} ({d.n_after:,} inputs) against {d.before} ({d.n_before:,} inputs)", ""]
    out.append(f"{'cluster':<40} {'before':>8} {'after':>8} {'change':>8}  status")
    moved = [r for r in d.clusters if r["status"] != "same"] or d.clusters[:limit]
    for r in moved[:limit]:
        out.append(f"{r['label'][:40]:<40} {r['share_before']:>8.1%} {r['share_after']:>8.1%} "
                   f"{r['change'] * 100:>+7.1f}p  {r['status']}")
    if len(moved) > limit:
        out.append(f"... {len(moved) - limit} more clusters changed")
    out.append("")
    out.append(f"New regions not seen before (nearest earlier input cosine < {d.novelty_threshold:.2f}): "
               f"{len(d.new_regions)}" + (f", plus {d.scattered_new} scattered new inputs" if d.scattered_new else ""))
    for r in d.new_regions[:limit]:
        out.append(f"  {r['label'][:50]:<50} {r['n']:>6} inputs ({r['share_after']:.1%})  e.g. {r['examples'][0][:60]!r}")
    if d.scattered_new:
        in_regions = {t for r in d.new_regions for t in r["examples"]}
        shown = [t for t in d.novel if t not in in_regions][:5]
        out.append("  scattered new inputs, e.g.: " + "; ".join(repr(t[:50]) for t in shown))
    u = d.uncovered
    out.append("")
    out.append(f"Inputs of {d.after} training still does not cover (nearest train cosine < {u.get('gap_sim', DEFAULT_GAP_SIM)}): "
               f"{u['n']:,} ({u['share']:.1%})")
    for r in u.get("by_cluster", [])[:5]:
        out.append(f"  {r['label'][:50]:<50} {r['n']:>6}")
    if d.gaps_now_covered:
        out.append("")
        out.append("Earlier gaps now covered by training examples added since:")
        for r in d.gaps_now_covered[:limit]:
            out.append(f"  {r['label'][:50]:<50} {r['now_covered']:>5} of {r['n']}")
    return out


def drift_of_stored(result: Any, ws: Any, vecs: np.ndarray, dates: Mapping[int, str], *,
                    cluster_edits: Sequence[Any] = (),
                    progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> Drift:
    """:func:`compute_drift` of a project's rows (``ws``: an ``AnalysisData`` snapshot or the
    workspace: prompt, role, source_id, line) on its
    stored analysis ``result`` (aligned by example identity), with every row's prompt vectors
    ``vecs``, the project's snapshot ``dates`` (:func:`snapshot_dates`) and the curator's cluster
    names and merges ``cluster_edits`` (the project state's). The CLI, the app and the export
    report call this one function."""
    from workbench.analysis.aligned import AlignedAnalysis

    al = AlignedAnalysis(result, ws.source_id, ws.line, ws.role, cluster_edits)
    snaps = row_snapshots(ws.source_id, ws.role, dates)
    gaps = (result.summary.get("gaps") or {}).get("gaps", []) or []
    gap_labels = {int(g["rank"]): str(g.get("label") or g.get("kind") or "") for g in gaps
                  if isinstance(g, dict) and g.get("rank") is not None}
    params = result.params
    return compute_drift(list(ws.prompt), np.asarray(ws.role, dtype=object), vecs, snaps,
                         al.result_of_row >= 0, al.x, al.y, al.cluster, al.cluster_labels,
                         gap=al.is_gap, gap_group=al.gap_group, gap_labels=gap_labels,
                         gap_sim=params.gap_sim, region_sim=params.region_sim, progress=progress, cancel=cancel)
