"""The steps of :func:`workbench.analysis.pipeline.run_analysis` and the assembly of its
per-example table and summary. Finding modules return rows by index; this module turns them into
``{"source", "line"}`` references."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from workbench.analysis import cluster_quality
from workbench.analysis import map_continuity as mc
from workbench.analysis.clusters import PHASE as CLUSTER_PHASE
from workbench.analysis.clusters import Clusters, find_clusters
from workbench.analysis.conflicts import find_conflicts
from workbench.analysis.mismatch import find_mismatches
from workbench.analysis.coverage import coverage
from workbench.analysis.duplicates import find_duplicates
from workbench.analysis.flags import quality_flags
from workbench.analysis.graph import build_graph
from workbench.analysis.labels import ctfidf_terms, format_label
from workbench.analysis.layout import PHASE as LAYOUT_PHASE
from workbench.analysis.layout import umap_layout
from workbench.analysis.leakage import find_leakage
from workbench.analysis.review_queue import review_queue
from workbench.analysis.row_refs import snip
from workbench.core.errors import AnalysisError


def _reuse(previous: Any, keys: dict[str, str], stage: str) -> bool:
    return previous is not None and previous.stage_keys.get(stage) == keys[stage]


def run_steps(inp: Any, params: Any, keys: dict[str, str], previous: Any, ph: Any, cancel: Any, *,
              basis: Any = None, relayout: bool = False):
    """``previous``: a stored result of the same revision (lends stages whose keys match);
    ``basis``: the folder's stored result of any revision, whose map and cluster ids this one
    continues (:mod:`workbench.analysis.map_continuity`); ``relayout``: lay the map out afresh
    (aligned to the basis) instead of keeping it."""
    n = inp.n
    if n == 0:
        raise AnalysisError("There is nothing to analyse: the sources hold no examples.")
    progress = ph.progress
    seed = 0 if params.seed is None else int(params.seed)

    # 1. neighbour graph (shared by everything below)
    if _reuse(previous, keys, "graph") and previous.graph is not None and len(previous.graph) == n:
        graph = previous.graph
        ph.timings["neighbour graph (reused)"] = 0.0
    else:
        kind = "exact" if n <= params.exact_limit else "approximate"
        graph = ph.run("neighbour graph", lambda: build_graph(
            inp.prompt_vecs, params.k, exact_limit=params.exact_limit, seed=seed,
            progress=progress, cancel=cancel), announce=f"neighbour graph ({kind})")

    # 2. map: reused (same data), kept (persisting rows stay, new ones placed) or fresh + aligned
    hashes = ph.run("map continuity", lambda: mc.prompt_hashes(inp.prompt))
    plan = mc.plan(basis if basis is not None else previous, inp, params, relayout=relayout, hashes=hashes)
    layout_reused = not relayout and _reuse(previous, keys, "layout")
    if layout_reused:
        coords = previous.examples[["x", "y"]].to_numpy(dtype=np.float32)
        ph.timings["map layout (reused)"] = 0.0
    elif plan.mode == mc.KEPT:
        coords = ph.run("map layout (kept, new rows placed)", lambda: mc.kept_layout(plan, inp, cancel))
    else:
        coords = ph.run("map layout", lambda: umap_layout(
            inp.prompt_vecs, graph, n_neighbors=params.umap_neighbors, min_dist=params.min_dist,
            seed=params.seed, fit_limit=params.layout_fit_limit, n_epochs=params.umap_epochs,
            progress=progress, cancel=cancel), announce=LAYOUT_PHASE)
        coords = mc.align(plan, coords)

    # 3. clusters and their labels
    if layout_reused and _reuse(previous, keys, "clusters"):
        ex = previous.examples
        clusters = Clusters(ex["cluster"].to_numpy(dtype=np.int32),
                            ex["cluster_strength"].to_numpy(dtype=np.float32),
                            ex["noise"].to_numpy(dtype=bool)
                            | ((ex["cluster"].to_numpy() >= 0) & (ex["cluster_strength"].to_numpy() == 0)))
        terms = {int(c["id"]): list(c.get("terms", [])) for c in previous.summary.get("clusters", [])}
        ph.timings["clusters (reused)"] = 0.0
    elif not layout_reused and plan.mode == mc.KEPT and plan.keep_clusters:
        clusters, terms = mc.kept_clusters(plan, inp)
        ph.timings["clusters (kept)"] = 0.0
    else:
        space = coords
        if params.cluster_dims > 2:  # BERTopic style: cluster a separate low-dimensional UMAP
            space = ph.run("cluster space", lambda: umap_layout(
                inp.prompt_vecs, graph, n_components=params.cluster_dims, min_dist=0.0,
                n_neighbors=params.umap_neighbors, seed=params.seed,
                fit_limit=params.layout_fit_limit, n_epochs=params.umap_epochs,
                progress=progress, cancel=cancel), announce=LAYOUT_PHASE)
        clusters = ph.run("clusters", lambda: find_clusters(
            space, graph, min_cluster_size=params.min_cluster_size, min_samples=params.min_samples,
            selection=params.cluster_selection, assign_noise_to_nearest=params.assign_noise,
            join=params.cluster_join,
            progress=progress, cancel=cancel), announce=CLUSTER_PHASE)
        terms = ph.run("cluster labels", lambda: ctfidf_terms(
            inp.prompt, clusters.labels, n_terms=params.label_terms, seed=seed))
        clusters, terms = mc.carry_ids(plan, clusters, terms)  # the earlier map's cluster ids
    labels = clusters.labels

    # 4. findings
    flags = ph.run("quality flags", lambda: quality_flags(
        inp.prompt, inp.response, inp.system, inp.role, inp.turns, progress=progress, cancel=cancel))
    dups = ph.run("duplicates", lambda: find_duplicates(
        inp.prompt, graph, inp.role, responses=inp.response, n_flags=flags.n_flags,
        threshold=params.near_dup_threshold, verify=params.dup_verify, progress=progress, cancel=cancel))
    conf = mism = None
    if inp.response_vecs is not None:
        conf = ph.run("conflicts", lambda: find_conflicts(
            graph, inp.role, inp.response, inp.response_vecs, labels, prompt_vecs=inp.prompt_vecs,
            prompt_sim=params.conflict_prompt_sim, response_sim=params.conflict_response_sim,
            neighbour_sim=params.inconsistency_neighbour_sim, seed=seed, prompts=inp.prompt, progress=progress,
            cancel=cancel))
        mism = ph.run("mismatched answers", lambda: find_mismatches(
            inp.prompt_vecs, inp.response_vecs, inp.role, inp.prompt, inp.response, seed=seed,
            progress=progress, cancel=cancel))
        flags = flags.with_flag("mismatched_response", mism.flagged)
    cov = ph.run("coverage", lambda: coverage(
        inp.prompt_vecs, inp.role, labels, graph, prompts=inp.prompt, gap_sim=params.gap_sim,
        gap_threshold=params.gap_threshold,
        region_sim=params.region_sim, min_gap=params.min_gap, progress=progress, cancel=cancel))
    queue = ph.run("review queue", lambda: review_queue(
        inp.prompt_vecs, inp.role, cov.nearest_train_sim, graph, gap_score=cov.gap_score,
        size=params.queue_size,
        lam=params.queue_lambda, progress=progress, cancel=cancel))
    leak = ph.run("leakage", lambda: find_leakage(
        inp.prompt, inp.response, inp.prompt_vecs, inp.role, graph,
        sim_threshold=params.leak_sim if params.leak_sim is not None else params.near_dup_threshold,
        ngram=params.leak_ngram, ngram_min_overlap=params.leak_ngram_overlap,
        progress=progress, cancel=cancel))

    findings = {"clusters": clusters, "cluster_terms": terms, "flags": flags, "duplicates": dups,
                "conflicts": conf, "coverage": cov, "queue": queue, "leakage": leak, "mismatches": mism}
    examples = ph.run("results", lambda: build_examples(inp, coords, clusters, terms, flags, dups,
                                                        conf, cov, queue, leak))
    summary = ph.run("summary", lambda: build_summary(inp, params, clusters, terms, flags, dups,
                                                      conf, cov, queue, leak))
    examples["mismatch"] = mism.mismatch if mism is not None else np.full(n, np.nan, np.float32)
    examples[mc.HASH_COLUMN] = hashes
    examples[mc.PLACED_COLUMN] = mc.placed_flags(plan, n, layout_reused=layout_reused)
    summary["map"] = clean_json(mc.map_summary(plan, n, np.asarray(labels), layout_reused=layout_reused))
    summary["mismatches"] = clean_json(mism.summary(_ref_fn(inp))) if mism is not None else {
        "skipped": "no response vectors were given", "n_mismatches": 0, "mismatches": []}
    summary["counts"]["mismatches"] = summary["mismatches"]["n_mismatches"]
    findings["cluster_quality"] = ph.run("cluster quality", lambda: cluster_quality.assess_clusters(
        inp.prompt_vecs, labels, inp.prompt, terms, seed=seed))  # one topic or mixed: label says so
    cluster_quality.annotate(examples, summary, findings["cluster_quality"])
    return examples, summary, graph, findings


# --------------------------------------------------------------------------------------------
def _nullable_int(values: np.ndarray, missing: np.ndarray, dtype: str):
    import pandas as pd

    arr = pd.array(np.asarray(values, dtype=np.int64), dtype=dtype)
    if missing.any():
        arr[missing] = pd.NA
    return arr


def build_examples(inp, coords, clusters, terms, flags, dups, conf, cov, queue, leak):
    """The per-example table (see the schema in ``pipeline``'s docstring)."""
    import pandas as pd

    n = inp.n
    labels = clusters.labels
    label_text = {c: format_label(t, c) for c, t in terms.items()}
    nt = cov.nearest_train
    has_nt = nt >= 0
    nt_safe = np.where(has_nt, nt, 0)
    nan = np.full(n, np.nan, np.float32)
    df = pd.DataFrame({
        "source": inp.source.astype(str) if n else np.zeros(0, dtype=str),
        "source_id": inp.source_id.astype(np.int32),
        "role": inp.role.astype(str) if n else np.zeros(0, dtype=str),
        "line": inp.line.astype(np.int64),
        "x": coords[:, 0].astype(np.float32),
        "y": coords[:, 1].astype(np.float32) if coords.shape[1] > 1 else np.zeros(n, np.float32),
        "cluster": labels.astype(np.int32),
        "cluster_label": pd.array([label_text.get(int(c)) if c >= 0 else None for c in labels],
                                  dtype="string"),
        "cluster_strength": clusters.strength.astype(np.float32),
        "noise": labels < 0,
        "dup_group": _nullable_int(dups.group, dups.group < 0, "Int32"),
        "dup_keeper": dups.is_keeper.astype(bool),
        "flags": [list(f) for f in flags.flags],
        "nearest_train_sim": cov.nearest_train_sim.astype(np.float32),
        "nearest_train_source": pd.array(np.where(has_nt, inp.source[nt_safe], None), dtype="string"),
        "nearest_train_line": _nullable_int(inp.line[nt_safe], ~has_nt, "Int64"),
        "nearest_train_source_id": _nullable_int(inp.source_id[nt_safe], ~has_nt, "Int32"),
        "gap": cov.is_gap.astype(bool),
        "gap_score": cov.gap_score.astype(np.float32),
        "gap_group": _nullable_int(cov.gap_group, cov.gap_group < 0, "Int32"),
        "inconsistency": conf.inconsistency.astype(np.float32) if conf is not None else nan,
        "conflict": conf.conflict.astype(np.float32) if conf is not None else nan,
        "label_quality": conf.label_quality if conf is not None and conf.label_quality is not None else nan,
        "queue_rank": _nullable_int(queue.queue_rank, queue.queue_rank < 0, "Int32"),
        "review_priority": queue.priority.astype(np.float32),
        "leaked": leak.leaked.astype(bool),
        "leak_sim": leak.prompt_sim.astype(np.float32),
        "leak_kind": pd.array(leak.kind, dtype="string"),
    })
    return df


def _ref_fn(inp):
    src, sid, line = inp.source, inp.source_id, inp.line

    def ref(i: int) -> dict[str, Any]:  # the example identity: see workbench.analysis.aligned
        return {"source": str(src[int(i)]), "source_id": int(sid[int(i)]), "line": int(line[int(i)])}

    return ref


def _cluster_examples(vecs: np.ndarray, labels: np.ndarray, texts, k: int) -> dict[int, list[int]]:
    """Per cluster, k members closest to the cluster's mean direction (most typical), one per
    distinct text (a cluster of repeated questions shows k different ones)."""
    out: dict[int, list[int]] = {}
    mask = labels >= 0
    if not mask.any():
        return out
    rows = np.flatnonzero(mask)
    rows = rows[np.argsort(labels[rows], kind="stable")]
    bounds = np.flatnonzero(np.diff(labels[rows])) + 1
    for members in np.split(rows, bounds):
        v = vecs[members]
        centre = v.mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        order = members[np.argsort(-(v @ centre), kind="stable")]
        picked: list[int] = []
        seen: set[str] = set()
        for i in order[: 20 * k].tolist():
            key = " ".join((texts[i] or "").lower().split())
            if key not in seen:
                seen.add(key)
                picked.append(i)
                if len(picked) == k:
                    break
        out[int(labels[members[0]])] = picked
    return out


def build_summary(inp, params, clusters, terms, flags, dups, conf, cov, queue, leak) -> dict[str, Any]:
    ref = _ref_fn(inp)
    labels = clusters.labels
    n = inp.n
    roles, counts = np.unique(inp.role.astype(str), return_counts=True)
    by_role = {str(r): int(c) for r, c in zip(roles, counts)}
    sources: dict[tuple[str, int, str], int] = {}
    for s, sid, r in zip(inp.source, inp.source_id.tolist(), inp.role):
        sources[(str(s), sid, str(r))] = sources.get((str(s), sid, str(r)), 0) + 1
    ncl = clusters.n_clusters  # ids may have gaps once a map has history (map_continuity)
    present, present_n = np.unique(labels[labels >= 0], return_counts=True)
    cov_by = {c["cluster"]: c for c in cov.clusters}
    inc_by = {c["cluster"]: c for c in (conf.clusters if conf is not None else [])}
    typical = _cluster_examples(inp.prompt_vecs, labels, inp.prompt, 5)
    role_names = list(by_role)
    role_idx = np.unique(inp.role.astype(str), return_inverse=True)[1]  # same order as by_role
    inside = labels >= 0
    per_role = np.zeros((max(ncl, 1), len(role_names)), dtype=np.int64)
    np.add.at(per_role, (labels[inside], role_idx[inside]), 1)
    cluster_items = []
    for c in present[np.lexsort((present, -present_n))].tolist():  # largest first, then by id
        rc = {r: int(per_role[c, j]) for j, r in enumerate(role_names) if per_role[c, j]}
        members_n = int(per_role[c].sum())
        item = {"id": c, "label": format_label(terms.get(c, []), c), "terms": terms.get(c, []),
                "size": members_n, "roles": rc}
        if c in cov_by:
            item.update({k: cov_by[c][k] for k in ("train_share", "production_share", "n_gap")})
        if c in inc_by:
            item["inconsistency"] = inc_by[c]["inconsistency"]
            item["inconsistency_reason"] = inc_by[c]["reason"]
        item["examples"] = [dict(ref(i), text=snip(inp.prompt[i])) for i in typical.get(c, [])]
        cluster_items.append(item)
    label_of = {c["id"]: c["label"] for c in cluster_items}
    gaps = cov.summary(ref)
    gaps.pop("clusters", None)  # per-cluster shares live in "clusters"
    for g in gaps["gaps"]:
        if g.get("cluster") is not None:
            g["cluster_label"] = label_of.get(g["cluster"])
    for u in gaps["unreached"]:
        u["cluster_label"] = label_of.get(u["cluster"])
    if conf is not None:
        conflicts = conf.summary(ref)
        conflicts.pop("clusters", None)  # per-cluster inconsistency lives in "clusters"
        conflicts["by_cluster"] = [dict(cluster=c["cluster"], cluster_label=label_of.get(c["cluster"]),
                                        inconsistency=c["inconsistency"], reason=c["reason"])
                                   for c in (conf.clusters or [])[:50]]
    else:
        conflicts = {"skipped": "no response vectors were given", "n_conflicts": 0, "conflicts": []}
    summary = {
        "counts": {
            "examples": n, "by_role": by_role, "clusters": int(len(present)),
            "noise": int((labels < 0).sum()), "noise_assigned": bool(params.assign_noise),
            "noise_joined": int((clusters.was_noise & (labels >= 0)).sum()),
            "duplicate_groups": len(dups.groups),
            "duplicate_removable": int(sum(len(g.removable) for g in dups.groups)),
            "conflicts": conflicts.get("n_conflicts", 0),
            "gap_inputs": int(cov.is_gap.sum()), "gaps": len(cov.gaps),
            "leaked": int(leak.leaked.sum()), "flagged": int(sum(1 for f in flags.flags if f)),
        },
        "sources": [{"source": s, "source_id": sid, "role": r, "rows": k} for (s, sid, r), k in sources.items()],
        "clusters": cluster_items,
        "duplicates": dups.summary(ref),
        "conflicts": conflicts,
        "gaps": gaps,
        "leakage": leak.summary(ref),
        "queue": queue.summary(ref),
        "flags": flags.summary(),
    }
    return clean_json(summary)


def clean_json(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars/arrays to Python, NaN/inf to None, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [clean_json(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
