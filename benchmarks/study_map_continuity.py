"""Study: does a re-analysis keep the map and the cluster identities, and at what cost to the new rows?

Cases (real data from ../shared/data, real default encoder, vectors cached on disk), each over
several seeds:

* ``clinc150 add 20%`` / ``banking77 add 20%``: the train queries of a random set of intents (50 of
  150 / 40 of 77); 80% of them (random) are analysed first, then all of them.
* ``--sweep``: the same with 35%, 50% and 67% of the rows added, the map kept even where the keep
  rule (at least 50% of the rows persist) would lay it out afresh: how placed rows fare as the
  persisting share falls (the evidence for the rule).
* ``clinc150 snapshot``: train queries of 40 intents plus their test queries as the first
  production snapshot are analysed first; then the next snapshot is added: their validation
  queries plus 200 out-of-scope queries (a region the first map never saw).

The second analysis is run three ways with the real pipeline (:func:`run_analysis`):

* **keep** — the default: continues the first result (``previous=``), persisting rows keep their
  place and cluster, new rows are placed (:mod:`workbench.analysis.map_continuity`);
* **fresh+aligned** — ``relayout=True``: UMAP again, aligned to the first map by Procrustes,
  cluster ids matched by the Hungarian method;
* **baseline** — what every re-analysis did before: a full re-layout with no previous result (no
  alignment, clusters numbered by size).

Measured: displacement of persisting rows (mean distance between their first and second map
position / the first map's extent, its RMS radius); the share of persisting clustered rows that
keep their cluster id; for the new rows: AMI of their clusters with the intent labels (noise as
one more cluster) and kNN preservation (share of their 10 nearest map neighbours among the
persisting rows that share their intent); the share of new rows left unclustered (and, in the
snapshot case, of the out-of-scope ones); wall time of the second analysis. Mean ± sd over seeds,
and the ratio to the baseline.

    .venv/bin/python benchmarks/study_map_continuity.py [--seeds 0 1 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realtexts import ROOT, SHARED, _rows, embed  # noqa: E402

sys.path.insert(0, str(ROOT))
KEEP_RULE = 0.5

MODES = ("keep", "fresh+aligned", "baseline")
SWEEP = ("clinc150 add 35%", "clinc150 add 50%", "clinc150 add 67%", "banking77 add 50%", "banking77 add 67%")


def build(case: str, seed: int):
    """(texts, intents, roles, base rows, added rows)."""
    rng = np.random.default_rng(seed)
    if " add " in case:  # "clinc150 add 20%": that share of the rows is added
        name, share = case.split()[0], int(case.split()[-1].rstrip("%")) / 100
        rows = _rows(SHARED / name / f"{name}_train.jsonl")
        intents = sorted({r["label"] for r in rows})
        keep = set(rng.choice(intents, 50 if name == "clinc150" else 40, replace=False).tolist())
        rows = [r for r in rows if r["label"] in keep]
        n = len(rows)
        added = np.sort(rng.choice(n, int(round(n * share)), replace=False))
        base = np.setdiff1d(np.arange(n), added)
        return [r["text"] for r in rows], np.array([r["label"] for r in rows]), ["train"] * n, base, added
    # clinc150 snapshot
    tr = _rows(SHARED / "clinc150" / "clinc150_train.jsonl")
    intents = sorted({r["label"] for r in tr})
    keep = set(rng.choice(intents, 40, replace=False).tolist())
    train = [r for r in tr if r["label"] in keep]
    s1 = [r for r in _rows(SHARED / "clinc150" / "clinc150_test.jsonl") if r["label"] in keep]
    oos = _rows(SHARED / "clinc150" / "clinc150_oos_test.jsonl")
    s2 = [r for r in _rows(SHARED / "clinc150" / "clinc150_val.jsonl") if r["label"] in keep] + \
        [oos[i] for i in rng.choice(len(oos), 200, replace=False).tolist()]
    rows = train + s1 + s2
    n0 = len(train) + len(s1)
    roles = ["train"] * len(train) + ["production"] * (len(s1) + len(s2))
    return ([r["text"] for r in rows], np.array([r["label"] for r in rows]), roles, np.arange(n0),
            np.arange(n0, len(rows)))


def make_input(texts, roles, vecs, rows):
    from workbench.analysis.pipeline import AnalysisInput

    rows = np.asarray(rows)
    role = np.asarray(roles, dtype=object)[rows]
    # identity: (source 1 = train file, 2 = production file, line = position in the case)
    sid = np.where(role == "train", 1, 2)
    return AnalysisInput(source=np.where(sid == 1, "train.jsonl", "production.jsonl"), source_id=sid,
                         line=rows + 1, role=role, prompt=[texts[i] for i in rows.tolist()],
                         response=[""] * len(rows), prompt_vecs=vecs[rows], encoder="default")


def knn_intent(xy, persist, new, intents, k=10):
    from scipy.spatial import cKDTree

    _, nb = cKDTree(xy[persist]).query(xy[new], k=k)
    return float((intents[persist][nb] == intents[new][:, None]).mean())


def kept_labels(r_base, r):
    """Share of the first map's clusters found again under the same id with the same label terms."""
    before = {c["id"]: c["terms"] for c in r_base.summary["clusters"]}
    after = {c["id"]: c["terms"] for c in r.summary["clusters"]}
    return sum(after.get(c) == t for c, t in before.items()) / max(len(before), 1)


def measure(r_base, r, base, added, intents, oos):
    from sklearn.metrics import adjusted_mutual_info_score

    from workbench.analysis.map_continuity import extent

    xb = r_base.examples[["x", "y"]].to_numpy(np.float64)  # rows: base, in case order
    ex = r.examples  # rows: every row of the case, in case order
    xy = ex[["x", "y"]].to_numpy(np.float64)
    cl = ex["cluster"].to_numpy()
    pb, pa = base, added
    disp = float(np.linalg.norm(xy[pb] - xb, axis=1).mean() / extent(xb))
    clb = r_base.examples["cluster"].to_numpy()
    had = clb >= 0
    same_id = float((cl[pb][had] == clb[had]).mean())
    ints = intents
    out = {"displacement": disp, "same cluster id": same_id,
           "new rows AMI": float(adjusted_mutual_info_score(intents[added].astype(str), cl[pa])),
           "all rows AMI": float(adjusted_mutual_info_score(ints.astype(str), cl)),
           "new rows kNN intent": knn_intent(xy, pb, pa, ints.astype(str)),
           "clusters keeping id and label": kept_labels(r_base, r),
           "new rows unclustered": float((cl[pa] < 0).mean())}
    if oos is not None and oos[added].any():
        out["out-of-scope unclustered"] = float((cl[pa][oos[added]] < 0).mean())
        out["in-scope new unclustered"] = float((cl[pa][~oos[added]] < 0).mean())
    return out


def run_case(case: str, seed: int, force_keep: bool = False) -> dict[str, dict[str, float]]:
    from workbench.analysis import map_continuity as mc
    from workbench.analysis.pipeline import AnalysisParams, run_analysis

    texts, intents, roles, base, added = build(case, seed)
    vecs = np.asarray(embed(texts), np.float32)
    params = AnalysisParams(seed=seed)
    order = np.sort(np.r_[base, added])
    inp_base, inp_all = make_input(texts, roles, vecs, base), make_input(texts, roles, vecs, order)
    r_base = run_analysis(inp_base, params)
    oos = intents == "oos"
    mc.KEEP_MIN_PERSIST = 0.0 if force_keep else KEEP_RULE  # the sweep keeps below the rule too
    out = {}
    for mode in MODES:
        t0 = time.perf_counter()
        if mode == "keep":
            r = run_analysis(inp_all, params, previous=r_base)
        elif mode == "fresh+aligned":
            r = run_analysis(inp_all, params, previous=r_base, relayout=True)
        else:
            r = run_analysis(inp_all, params)
        wall = time.perf_counter() - t0
        m = measure(r_base, r, base, added, intents, oos)
        m["seconds"] = wall
        m["map+clusters seconds"] = sum(v for k, v in r.timings.items()
                                        if k.startswith(("map layout", "clusters", "cluster labels", "map continuity")))
        out[mode] = m
        print(f"  {case} seed {seed} {mode:<14} " + ", ".join(f"{k} {v:.3f}" for k, v in m.items())
              + f"  [{r.summary['map']['text']}]", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--cases", nargs="+", default=["clinc150 add 20%", "banking77 add 20%", "clinc150 snapshot"])
    ap.add_argument("--sweep", action="store_true",
                    help=f"also {', '.join(SWEEP)}, kept even below the keep rule (the rule's evidence)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not SHARED.exists():
        print(f"needs the shared data at {SHARED}", file=sys.stderr)
        return 2
    global KEEP_RULE
    from workbench.analysis import map_continuity as mc

    KEEP_RULE = mc.KEEP_MIN_PERSIST
    results = {c: [run_case(c, s) for s in args.seeds] for c in args.cases}
    if args.sweep:
        results.update({c: [run_case(c, s, force_keep=True) for s in args.seeds] for c in SWEEP})
    print()
    print("| case | mode | displacement | same cluster id | clusters keeping id and label | new rows AMI | "
          "new rows kNN intent | new rows unclustered | seconds | time vs baseline |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for case, runs in results.items():
        base_t = np.mean([r["baseline"]["seconds"] for r in runs])
        for mode in MODES:
            def ms(key):
                v = np.array([r[mode][key] for r in runs])
                return f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}"
            t = np.array([r[mode]["seconds"] for r in runs])
            print(f"| {case} | {mode} | {ms('displacement')} | {ms('same cluster id')} | "
                  f"{ms('clusters keeping id and label')} | {ms('new rows AMI')} | "
                  f"{ms('new rows kNN intent')} | {ms('new rows unclustered')} | {t.mean():.1f} ± {t.std(ddof=1) if len(t) > 1 else 0:.1f} | "
                  f"{t.mean() / base_t:.2f}x |")
        if "out-of-scope unclustered" in runs[0]["keep"]:
            for mode in MODES:
                o = np.array([r[mode]["out-of-scope unclustered"] for r in runs])
                i = np.array([r[mode]["in-scope new unclustered"] for r in runs])
                print(f"|   {case} | {mode} | out-of-scope new rows unclustered {o.mean():.3f} ± {o.std(ddof=1) if len(o) > 1 else 0:.3f}"
                      f", in-scope new rows {i.mean():.3f} ± {i.std(ddof=1) if len(i) > 1 else 0:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
