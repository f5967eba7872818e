"""Map continuity: a project's map and cluster identities stay put across re-analyses.

A re-analysis after a change to the data (a promoted production row, an added source, a new
production snapshot, an edit) does not lay the map out again from nothing. What it does is decided
here, once, for the app, ``workbench analyze`` and the export alike (all go through
:func:`workbench.analysis.pipeline.run_analysis`, which hands this module the previous stored
result of the same results folder).

**Persisting rows.** A row of the new input *persists* when the previous result holds the same
example identity ``(source_id, line)`` (see :mod:`workbench.analysis.aligned`) with the same
prompt text (``prompt_hash`` column of ``examples.parquet``; an edited prompt is a new row).

**Keep** (mode ``kept``) when all of these hold:

* a previous result exists, made with the same embedding model (encoder fingerprint), the same
  seed and the same map parameters (``AnalysisParams.stage_params("layout")``);
* it records prompt hashes (results of older versions do not: they are re-laid out once);
* at least :data:`KEEP_MIN_PERSIST` (50%) of the new input's rows persist *and were laid out* by
  UMAP (not placed themselves: ``map_placed`` column), so that a map grown by many small
  additions is laid out afresh once placed rows would be the majority;
* the curator did not ask for a fresh layout (``relayout``).

Then every persisting row keeps its ``x, y`` exactly; every other row is **placed** by
:func:`place`: beside its nearest persisting rows (a weighted mean position of its :data:`K_PLACE`
(10) nearest by prompt cosine, the nearest weighing most). With the same cluster parameters the
persisting rows also keep their cluster id, strength and label; a placed row joins a cluster by the
rule that lets a noise row join one in :func:`workbench.analysis.clusters.join_noise`: at least
``JOIN_MIN_NEIGHBOURS`` (2) of its nearest persisting rows are in that cluster and the nearest of
them has cosine >= ``JOIN_MIN_SIM`` (0.5); a row far from every cluster stays unclustered (-1)
instead of being forced into one (a new region shows as unclustered until the curator re-lays out
the map). With other cluster parameters the clusters are computed afresh on the kept map and
matched to the old ids (below).

Why 50%: a-priori, the majority rule: with at least half of the rows laid out by UMAP, those rows
are the majority of the map, and the placed rows a minority drawn beside them; below it the map
would be mostly placed points around an outdated skeleton. Measured by
``benchmarks/study_map_continuity.py`` (``docs/map_continuity.md``; CLINC150 and Banking77,
3 seeds): with 20% of the rows added the kept map moves no persisting row (fresh layout: mean
displacement 0.24-0.36 of the map's extent), keeps every cluster id (fresh: 2-8%) and its placed
rows agree with their intents as well as a fresh layout's (AMI 0.844 vs 0.833, 0.694 vs 0.678;
share of map neighbours with the same intent 0.934 vs 0.943, 0.888 vs 0.895) at 0.09-0.15x the
time. Kept beyond the rule (50% and 67% added), that neighbour agreement falls further behind
the fresh layout (-1.6 and -1.6 / -2.5 points) and more placed rows stay unclustered (CLINC150:
1.9% -> 5.1%).

**Fresh** (mode ``fresh``; ``aligned`` when a previous map exists) otherwise: UMAP lays out every
row; then the new map is aligned to the previous one by orthogonal Procrustes with uniform scale
on the persisting rows (:func:`procrustes`), so it does not rotate, flip, shrink or jump; the
clusters found on it are matched to the previous ids (:func:`match_clusters`).

**Cluster identities** (:func:`match_clusters`): the contingency table of new clusters x old
clusters over the persisting rows, solved by the Hungarian method (largest total overlap); a new
cluster keeps an old cluster's id and label when it holds more than half of that old cluster's
persisting members; every other cluster gets a new id, never one an earlier analysis of the
folder used (``next_cluster_id`` is carried from result to result). Ids are therefore not
``0..m-1`` by size any more once a map has history; the summary lists clusters largest first.

The result's ``summary["map"]`` records what happened (:func:`map_summary`): ``mode``, ``text``
("kept: 2,340 rows kept, 12 placed"), counts, the Procrustes residual, the clusters carried, new
and ended, and why a fresh layout was made. The curator's cluster names and merges
(:class:`~workbench.project.journal.ClusterEdit`) follow the clusters by their member samples
(:class:`~workbench.analysis.aligned.AlignedAnalysis`), so a kept id keeps its name.

**Cache keys.** A kept map depends on the folder's history, not only on the data and parameters:
``cache_key`` (data + parameters) still says whether stored results are *current*, and stage
reuse (same revision and map parameters) reuses the stored map, kept or not. Two folders with
different histories can therefore hold current results whose maps differ; the app and
``workbench analyze PROJECT`` use the same folder and so the same history.

Qt-free.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from workbench.analysis.clusters import JOIN_MIN_NEIGHBOURS, JOIN_MIN_SIM, NOISE, Clusters

KEEP_MIN_PERSIST = 0.5  # share of the new input's rows that must persist to keep the map
K_PLACE = 10  # persisting neighbours a placed row is put among
PLACE_TEMPERATURE = 0.02  # cosine: a neighbour 0.02 less similar than the nearest weighs 1/e
EXACT_PAIRS = 4e8  # query x base pairs below which the neighbour search is exact
HASH_COLUMN = "prompt_hash"
PLACED_COLUMN = "map_placed"  # the row's position was placed into a kept map, not laid out by UMAP
KEPT, FRESH, ALIGNED = "kept", "fresh", "aligned"


# --------------------------------------------------------------------------------------------
# identity of a row across analyses
# --------------------------------------------------------------------------------------------
def prompt_hashes(prompts: Sequence[str | None]) -> np.ndarray:
    """One int64 per prompt text (blake2b, 8 bytes): an edited prompt gets another hash."""
    out = np.empty(len(prompts), dtype=np.int64)
    for i, p in enumerate(prompts):
        d = hashlib.blake2b((p or "").encode("utf-8", "surrogatepass"), digest_size=8).digest()
        out[i] = int.from_bytes(d, "little", signed=True)
    return out


def persisting(prev_examples: Any, source_id: np.ndarray, line: np.ndarray,
               hashes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(new rows, their previous rows, checked)``: rows of the new input (given by
    ``source_id``, ``line`` and prompt ``hashes``) that the previous examples table holds with the
    same identity and, when both sides have hashes (``checked``), the same prompt text."""
    from workbench.analysis.aligned import row_keys

    df = prev_examples
    if df is None or not len(df) or "source_id" not in df.columns or "line" not in df.columns:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), False
    old_keys = row_keys(df["source_id"].to_numpy(np.int64), df["line"].to_numpy(np.int64))
    new_keys = row_keys(source_id, line)
    order = np.argsort(old_keys, kind="stable")
    sk = old_keys[order]
    pos = np.minimum(np.searchsorted(sk, new_keys), max(len(sk) - 1, 0))
    hit = sk[pos] == new_keys
    new_rows = np.flatnonzero(hit)
    old_rows = order[pos[hit]]
    checked = hashes is not None and HASH_COLUMN in df.columns
    if checked:
        same = df[HASH_COLUMN].to_numpy(np.int64)[old_rows] == np.asarray(hashes, np.int64)[new_rows]
        new_rows, old_rows = new_rows[same], old_rows[same]
    return new_rows.astype(np.int64), old_rows.astype(np.int64), checked


# --------------------------------------------------------------------------------------------
# placement: the one rule (drift.py places a new snapshot with it too)
# --------------------------------------------------------------------------------------------
def neighbours(query: np.ndarray, base: np.ndarray, k: int, cancel=None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest ``base`` vectors of each ``query`` vector (exact up to
    :data:`EXACT_PAIRS` pairs, IVF above): (indices, cosines), -1 / NaN where missing."""
    from workbench.analysis.graph import ivf_search, knn

    k = min(k, len(base))
    if len(query) * len(base) <= EXACT_PAIRS:
        return knn(query, base, k, cancel=cancel)
    return ivf_search(query, base, k, cancel=cancel)


def _vote(cl: np.ndarray, w: np.ndarray, ok: np.ndarray, sims: np.ndarray, *, clustered_only: bool,
          min_neighbours: int, min_sim: float) -> np.ndarray:
    """Per row, the cluster with the largest summed weight among its neighbours' clusters (ties:
    the smaller id); -1 when it has fewer than ``min_neighbours`` neighbours in it or its nearest
    one there is below ``min_sim``. ``clustered_only``: unclustered neighbours do not vote."""
    m, k = cl.shape
    out = np.full(m, NOISE, np.int64)
    valid = ok & ((cl >= 0) if clustered_only else True)
    if not valid.any():
        return out
    rows = np.repeat(np.arange(m, dtype=np.int64), k).reshape(m, k)[valid]
    c = cl[valid].astype(np.int64)
    off = c.min()
    span = int(c.max() - off) + 1
    pair, inv = np.unique(rows * span + (c - off), return_inverse=True)
    votes = np.bincount(inv, weights=w[valid])
    count = np.bincount(inv)
    best = np.full(len(pair), -np.inf)
    np.maximum.at(best, inv, np.where(np.isfinite(sims[valid]), sims[valid], -np.inf))
    prow, pclu = pair // span, pair % span + off
    order = np.lexsort((pclu, -votes, prow))  # per row: most votes first, then the smaller id
    first = order[np.r_[True, prow[order][1:] != prow[order][:-1]]]
    good = first[(count[first] >= min_neighbours) & (best[first] >= min_sim)]
    out[prow[good]] = pclu[good]
    return out


def place(vecs: np.ndarray, query: np.ndarray, base: np.ndarray, x: np.ndarray, y: np.ndarray,
          cluster: np.ndarray, k: int = K_PLACE, cancel=None, *, join_rule: bool = False
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Place rows ``query`` among rows ``base`` (indices into ``vecs`` and the per-row ``x``,
    ``y``, ``cluster``): ``(x, y, cluster, nearest base cosine)`` of the query rows.

    Position: the weighted mean position of the ``k`` nearest base rows (prompt cosine), each
    weighted ``exp((cos - cos_nearest) / PLACE_TEMPERATURE)``: a row lands beside its nearest
    neighbour, pulled towards the others only as far as they are about as similar. (The plain
    similarity-weighted mean of 10 neighbours, drift's first rule, drew placed rows towards the
    middle between clusters: on the sample, 41% of a placed row's 10 nearest map neighbours
    shared its Banking77 intent, against 55% with this weighting, 57% in a fresh layout of
    all rows and 51% with UMAP's own transform.) Cluster: the largest summed similarity among them; with ``join_rule`` only clustered
    neighbours vote and the row stays -1 unless the clusters' join rule holds (at least
    ``JOIN_MIN_NEIGHBOURS`` neighbours in the cluster, the nearest at cosine >= ``JOIN_MIN_SIM``).
    """
    query = np.asarray(query, np.int64)
    base = np.asarray(base, np.int64)
    m = len(query)
    if m == 0 or len(base) == 0:
        nan = np.full(m, np.nan, np.float32)
        return nan, nan.copy(), np.full(m, NOISE, np.int64), nan.copy()
    idx, sims = neighbours(np.ascontiguousarray(vecs[query]), np.ascontiguousarray(vecs[base]), k, cancel)
    ok = idx >= 0
    nb = base[np.where(ok, idx, 0)]
    s = np.nan_to_num(sims, nan=-1.0).astype(np.float64)
    w = np.where(ok, np.maximum(s, 1e-6), 0.0)  # cluster votes: similarity
    # position: softmax of the similarities (temperature PLACE_TEMPERATURE), nearest first
    pw = np.where(ok, np.exp(np.minimum(s - s[:, :1], 0.0) / PLACE_TEMPERATURE), 0.0)
    pw[:, 0] = np.where(ok[:, 0], 1.0, 0.0)
    pwsum = np.maximum(pw.sum(axis=1), 1e-12)
    px = (pw * x[nb]).sum(axis=1) / pwsum
    py = (pw * y[nb]).sum(axis=1) / pwsum
    cl = np.asarray(cluster, np.int64)[nb]
    if join_rule:
        pc = _vote(cl, w, ok, sims, clustered_only=True, min_neighbours=JOIN_MIN_NEIGHBOURS, min_sim=JOIN_MIN_SIM)
    else:
        pc = _vote(cl, w, ok, sims, clustered_only=False, min_neighbours=1, min_sim=-np.inf)
    nearest = np.where(ok[:, 0], sims[:, 0], np.nan).astype(np.float32) if idx.shape[1] else np.full(m, np.nan, np.float32)
    return px.astype(np.float32), py.astype(np.float32), pc, nearest


# --------------------------------------------------------------------------------------------
# alignment and cluster matching
# --------------------------------------------------------------------------------------------
def extent(coords: np.ndarray) -> float:
    """The map's size: root mean squared distance of its points from their centre."""
    c = np.asarray(coords, np.float64)
    if not len(c):
        return 0.0
    return float(np.sqrt(((c - c.mean(axis=0)) ** 2).sum(axis=1).mean()))


def procrustes(moving: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """``(R, s, t)``: the rotation or reflection ``R`` (2x2, orthogonal), uniform scale ``s`` and
    shift ``t`` with ``s * moving @ R + t`` closest to ``target`` in least squares (orthogonal
    Procrustes with scaling). Apply with :func:`apply_transform`."""
    a = np.asarray(moving, np.float64)
    b = np.asarray(target, np.float64)
    ma, mb = a.mean(axis=0), b.mean(axis=0)
    a0, b0 = a - ma, b - mb
    u, sv, vt = np.linalg.svd(a0.T @ b0)
    r = u @ vt
    denom = float((a0 ** 2).sum())
    s = float(sv.sum() / denom) if denom > 0 else 1.0
    return r, s, mb - s * ma @ r


def apply_transform(coords: np.ndarray, r: np.ndarray, s: float, t: np.ndarray) -> np.ndarray:
    return (s * np.asarray(coords, np.float64) @ r + t).astype(np.float32)


def residual(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean squared distance between matching points, in units of ``b``'s extent."""
    if not len(a):
        return 0.0
    d = np.sqrt(((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2).sum(axis=1).mean())
    return float(d / max(extent(b), 1e-12))


def match_clusters(new_labels: np.ndarray, new_rows: np.ndarray, old_labels: np.ndarray,
                   next_id: int) -> tuple[np.ndarray, dict[int, int], int]:
    """Renumber ``new_labels`` (every row of the new input) so clusters keep their previous ids.

    ``new_rows`` are the persisting rows and ``old_labels`` their previous cluster ids. A new
    cluster keeps old id ``o`` when the Hungarian assignment over the overlap table pairs them
    and it holds more than half of ``o``'s persisting members. The other clusters get ids from
    ``next_id`` up (largest first). Returns ``(labels, {new id: old id kept}, next_id)``.
    """
    from scipy.optimize import linear_sum_assignment

    labels = np.asarray(new_labels, np.int64)
    out = np.full(len(labels), NOISE, np.int64)
    ids, first, sizes = np.unique(labels[labels >= 0], return_index=True, return_counts=True)
    if not len(ids):
        return out, {}, next_id
    nl = labels[new_rows]
    ol = np.asarray(old_labels, np.int64)
    both = (nl >= 0) & (ol >= 0)
    old_ids, old_sizes = np.unique(ol[ol >= 0], return_counts=True)
    kept: dict[int, int] = {}
    if both.any() and len(old_ids):
        ni = np.searchsorted(ids, nl[both])
        oi = np.searchsorted(old_ids, ol[both])
        table = np.zeros((len(ids), len(old_ids)), np.int64)
        np.add.at(table, (ni, oi), 1)
        rr, cc = linear_sum_assignment(-table)
        for a, b in zip(rr.tolist(), cc.tolist()):
            if table[a, b] * 2 > old_sizes[b]:
                kept[int(ids[a])] = int(old_ids[b])
    # new ids for the rest: largest first, ties by first row (as a fresh analysis numbers them)
    rest = [k for k in np.lexsort((first, -sizes)).tolist() if int(ids[k]) not in kept]
    mapping = dict(kept)
    nid = max(int(next_id), int(old_ids.max()) + 1 if len(old_ids) else 0)
    for k in rest:
        mapping[int(ids[k])] = nid
        nid += 1
    lut_keys = np.array(list(mapping), np.int64)
    lut_vals = np.array([mapping[k] for k in lut_keys.tolist()], np.int64)
    order = np.argsort(lut_keys)
    inside = labels >= 0
    out[inside] = lut_vals[order][np.searchsorted(lut_keys[order], labels[inside])]
    kept_new = {mapping[a]: b for a, b in kept.items()}  # keyed by the final id (= b)
    return out, kept_new, nid


# --------------------------------------------------------------------------------------------
# the plan of one re-analysis
# --------------------------------------------------------------------------------------------
@dataclass
class MapPlan:
    """What a re-analysis does with the previous map (see the module doc)."""

    mode: str  # KEPT or FRESH (FRESH becomes ALIGNED once aligned to a previous map)
    reason: str  # why (for people): why kept or why a fresh layout
    previous: Any = None  # the previous AnalysisResult (None: no map to continue)
    new_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    old_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    keep_clusters: bool = False  # KEPT and the same cluster parameters
    info: dict[str, Any] = field(default_factory=dict)  # filled while running (summary["map"])

    @property
    def has_previous(self) -> bool:
        return self.previous is not None and len(self.new_rows) > 0

    def old(self, column: str) -> np.ndarray:
        return self.previous.examples[column].to_numpy()[self.old_rows]

    def next_cluster_id(self) -> int:
        if self.previous is None:
            return 0
        info = (self.previous.summary or {}).get("map") or {}
        cl = self.previous.examples["cluster"].to_numpy(np.int64) if len(self.previous.examples) else np.zeros(0)
        top = int(cl.max()) + 1 if len(cl) and cl.max() >= 0 else 0
        return max(int(info.get("next_cluster_id", 0) or 0), top)


def _same(prev_params: Any, params: Any, stage: str) -> bool:
    try:
        return prev_params.stage_params(stage) == params.stage_params(stage)
    except (AttributeError, KeyError):
        return False


def plan(previous: Any, inp: Any, params: Any, *, relayout: bool = False,
         hashes: np.ndarray | None = None) -> MapPlan:
    """Decide keep or fresh for analysing ``inp`` with ``params`` after ``previous`` (the
    folder's stored result of any revision, or None)."""
    if previous is None or getattr(previous, "examples", None) is None or not len(previous.examples):
        return MapPlan(FRESH, "no earlier map")
    if hashes is None:
        hashes = prompt_hashes(inp.prompt)
    new_rows, old_rows, checked = persisting(previous.examples, inp.source_id, inp.line, hashes)
    p = MapPlan(FRESH, "", previous, new_rows, old_rows)
    ex = previous.examples
    was_placed = ex[PLACED_COLUMN].to_numpy(bool)[old_rows] if PLACED_COLUMN in ex.columns \
        else np.zeros(len(old_rows), bool)
    share = float((~was_placed).sum()) / max(inp.n, 1)  # persisting rows UMAP laid out
    p.info["persisting_share"] = round(len(new_rows) / max(inp.n, 1), 4)
    p.info["laid_out_share"] = round(share, 4)
    prev_params = previous.params
    if relayout:
        p.reason = "a fresh layout was asked for"
    elif str((previous.summary or {}).get("encoder", "")) != str(inp.encoder):
        p.reason = "the embedding model changed"
    elif getattr(prev_params, "seed", None) != params.seed or not _same(prev_params, params, "layout"):
        p.reason = "the map parameters changed"
    elif not checked:
        p.reason = "the earlier results do not record prompt texts (older version)"
    elif share < KEEP_MIN_PERSIST:
        p.reason = (f"only {share:.0%} of the rows were laid out in the earlier map "
                    f"(keeping needs {KEEP_MIN_PERSIST:.0%})")
    else:
        p.mode = KEPT
        p.reason = f"{share:.0%} of the rows were laid out in the earlier map"
        p.keep_clusters = _same(prev_params, params, "clusters")
    return p


def kept_layout(p: MapPlan, inp: Any, cancel=None) -> np.ndarray:
    """The kept map: persisting rows at their previous place, the rest placed among them."""
    n = inp.n
    coords = np.full((n, 2), np.nan, np.float32)
    coords[p.new_rows, 0] = p.old("x").astype(np.float32)
    coords[p.new_rows, 1] = p.old("y").astype(np.float32)
    rest = np.setdiff1d(np.arange(n), p.new_rows, assume_unique=True)
    cl = np.full(n, NOISE, np.int64)
    cl[p.new_rows] = p.old("cluster").astype(np.int64)
    px, py, pc, nearest = place(inp.prompt_vecs, rest, p.new_rows, coords[:, 0], coords[:, 1], cl,
                                cancel=cancel, join_rule=True)
    coords[rest, 0], coords[rest, 1] = px, py
    p.info.update({"kept": int(len(p.new_rows)), "placed": int(len(rest)),
                   "placed_unclustered": int((pc < 0).sum())})
    p.info["_placed_rows"], p.info["_placed_cluster"] = rest, pc
    return np.nan_to_num(coords, nan=0.0)


def placed_flags(p: MapPlan, n: int, *, layout_reused: bool) -> np.ndarray:
    """The ``map_placed`` column: rows whose position was placed rather than laid out by UMAP
    (carried over a kept map; none in a fresh one)."""
    out = np.zeros(n, bool)
    ex = p.previous.examples if p.previous is not None else None
    if layout_reused or p.mode == KEPT:
        if ex is not None and PLACED_COLUMN in ex.columns:
            out[p.new_rows] = ex[PLACED_COLUMN].to_numpy(bool)[p.old_rows]
        if p.mode == KEPT and not layout_reused and "_placed_rows" in p.info:
            out[p.info["_placed_rows"]] = True
    return out


def kept_clusters(p: MapPlan, inp: Any) -> tuple[Clusters, dict[int, list[str]]]:
    """Persisting rows keep cluster, strength and label; placed rows the cluster they joined."""
    n = inp.n
    ex = p.previous.examples
    labels = np.full(n, NOISE, np.int32)
    strength = np.zeros(n, np.float32)
    was_noise = np.ones(n, bool)
    old_cl = ex["cluster"].to_numpy(np.int64)[p.old_rows]
    old_st = ex["cluster_strength"].to_numpy(np.float32)[p.old_rows] if "cluster_strength" in ex.columns \
        else np.zeros(len(p.old_rows), np.float32)
    labels[p.new_rows] = old_cl
    strength[p.new_rows] = old_st
    was_noise[p.new_rows] = (old_cl < 0) | ((old_cl >= 0) & (old_st == 0))
    labels[p.info["_placed_rows"]] = p.info["_placed_cluster"]
    present = set(np.unique(labels[labels >= 0]).tolist())
    terms = {int(c["id"]): list(c.get("terms", [])) for c in (p.previous.summary or {}).get("clusters", [])
             if int(c["id"]) in present}
    for c in present - set(terms):
        terms[int(c)] = []
    return Clusters(labels, strength, was_noise), terms


def align(p: MapPlan, coords: np.ndarray) -> np.ndarray:
    """A fresh map aligned to the previous one on the persisting rows (see :func:`procrustes`)."""
    if not p.has_previous or len(p.new_rows) < 3:
        return coords
    old = np.c_[p.old("x"), p.old("y")].astype(np.float64)
    mov = np.asarray(coords, np.float64)[p.new_rows]
    r, s, t = procrustes(mov, old)
    out = apply_transform(coords, r, s, t)
    p.mode = ALIGNED
    # unaligned: the fresh map as UMAP drew it (what a re-analysis showed before)
    p.info["procrustes"] = {"rows": int(len(p.new_rows)), "residual": round(residual(out[p.new_rows], old), 4),
                            "unaligned_residual": round(residual(mov, old), 4),
                            "reflected": bool(np.linalg.det(r) < 0)}
    return out


def carry_ids(p: MapPlan, clusters: Clusters, terms: dict[int, list[str]]) -> tuple[Clusters, dict[int, list[str]]]:
    """Clusters computed afresh, renumbered to keep the previous ids (:func:`match_clusters`);
    a kept id keeps its previous label terms."""
    next_id = p.next_cluster_id()
    if not p.has_previous:
        p.info["next_cluster_id"] = max(next_id, clusters.n_clusters)
        return clusters, terms
    old = p.old("cluster").astype(np.int64)
    labels, kept, nid = match_clusters(clusters.labels, p.new_rows, old, next_id)
    # terms: computed per fresh id; carried over where the id was kept
    fresh_of = {}
    inside = clusters.labels >= 0
    for a, b in zip(clusters.labels[inside].tolist(), labels[inside].tolist()):
        fresh_of.setdefault(b, a)
    prev_terms = {int(c["id"]): list(c.get("terms", [])) for c in (p.previous.summary or {}).get("clusters", [])}
    out_terms = {}
    for b, a in fresh_of.items():
        out_terms[int(b)] = prev_terms.get(int(b), terms.get(a, [])) if b in kept else terms.get(a, [])
    old_ids = set(np.unique(old[old >= 0]).tolist())
    p.info["clusters"] = {"kept": len(kept), "new": len(fresh_of) - len(kept),
                          "ended": len(old_ids - set(kept.values()))}
    p.info["next_cluster_id"] = nid
    return Clusters(labels.astype(np.int32), clusters.strength, clusters.was_noise), out_terms


def map_summary(p: MapPlan, n: int, labels: np.ndarray, *, layout_reused: bool = False) -> dict[str, Any]:
    """``summary["map"]``: how this map came about (see the module doc)."""
    if layout_reused:  # the stored map of the same data: its own story
        info = dict((p.previous.summary or {}).get("map") or {"mode": FRESH, "reason": "", "text": "fresh"})
        if "clusters" in p.info:
            info["clusters"] = p.info["clusters"]
        top = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
        info["next_cluster_id"] = max(int(info.get("next_cluster_id", 0) or 0),
                                      int(p.info.get("next_cluster_id", 0)), top)
        return info
    info: dict[str, Any] = {"mode": p.mode, "reason": p.reason, "rows": int(n)}
    info.update({k: v for k, v in p.info.items() if not k.startswith("_")})
    if p.previous is not None:
        info["basis"] = str(getattr(p.previous, "revision", ""))
        info["removed"] = int(len(p.previous.examples) - len(p.old_rows))
        info.setdefault("persisting", int(len(p.new_rows)))
    if p.mode == KEPT:
        info.setdefault("clusters", {"kept": int(len(set(labels[labels >= 0].tolist()))), "new": 0,
                                     "ended": int(len(set(p.old("cluster")[p.old("cluster") >= 0].tolist())
                                                      - set(labels[labels >= 0].tolist())))})
        info["text"] = (f"kept: {info.get('kept', 0):,} rows kept, {info.get('placed', 0):,} placed"
                        + (f" ({info['placed_unclustered']:,} near no cluster)"
                           if info.get("placed_unclustered") else ""))
    elif p.mode == ALIGNED:
        info["text"] = f"fresh, aligned to the earlier map on {len(p.new_rows):,} rows ({p.reason})"
    else:
        info["text"] = "fresh" + (f" ({p.reason})" if p.reason and p.reason != "no earlier map" else "")
    top = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    info["next_cluster_id"] = max(int(info.get("next_cluster_id", 0) or 0), top)
    return info
