"""Clusters vs intents: does the workbench's clustering find the intents, with little noise?

Cases from ../shared/data (``--cases``, default 5): CLINC150 *train* with 138 of its 150
intents (3 seeds: which 12 intents are left out) and Banking77 *train* with 69 of its 77
intents (2 seeds). Each case is embedded with the real default encoder (vectors cached on disk),
gets one neighbour graph (k = 15) and the curator's 2-D map exactly as the analysis builds them
(``AnalysisParams`` defaults), then:

* **workbench (default)**: ``find_clusters`` with the analysis defaults (HDBSCAN on the map,
  noise rows that are close enough to a cluster join it, see ``clusters.join_noise``);
* **workbench before** (HDBSCAN on the map, ``min_samples`` 10, no joining — the old default);
* **BERTopic defaults**: UMAP to 5-D (n_neighbors 15, min_dist 0.0, cosine) and
  ``hdbscan.HDBSCAN(min_cluster_size=10)`` (BERTopic's ``min_topic_size``), "eom".

Agreement with the intent labels over *all* rows, noise counted as one more cluster: NMI, ARI,
noise share, number of clusters; printed per case and as mean ± standard deviation, with the
ratio to BERTopic's figures.

    python benchmarks/study_clusters.py [--cases 5] [--quick]
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

CASES = [("clinc150", 0, 138), ("banking77", 0, 69), ("clinc150", 1, 138), ("banking77", 1, 69),
         ("clinc150", 2, 138), ("banking77", 2, 69)]


def build_case(name: str, seed: int, n_intents: int) -> tuple[list[str], np.ndarray]:
    rows = _rows(SHARED / name / f"{name}_train.jsonl")
    intents = sorted({r["label"] for r in rows})
    keep = set(np.random.default_rng(seed).choice(intents, n_intents, replace=False).tolist())
    rows = [r for r in rows if r["label"] in keep]
    return [r["text"] for r in rows], np.unique([r["label"] for r in rows], return_inverse=True)[1]


def scores(y: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"nmi": normalized_mutual_info_score(y, labels), "ari": adjusted_rand_score(y, labels),
            "noise": float((labels < 0).mean()), "clusters": int(labels.max()) + 1}


def run_case(name: str, seed: int, n_intents: int) -> dict[str, dict[str, float]]:
    from workbench.analysis.clusters import find_clusters
    from workbench.analysis.graph import build_graph
    from workbench.analysis.layout import umap_layout
    from workbench.analysis.pipeline import AnalysisParams

    p = AnalysisParams()
    texts, y = build_case(name, seed, n_intents)
    vecs = embed(texts)
    graph = build_graph(vecs, p.k, seed=p.seed)
    t = time.perf_counter()
    coords = umap_layout(vecs, graph, n_neighbors=p.umap_neighbors, min_dist=p.min_dist, seed=p.seed,
                         fit_limit=p.layout_fit_limit, n_epochs=p.umap_epochs)
    t_map = time.perf_counter() - t
    t = time.perf_counter()
    new = find_clusters(coords, graph, min_cluster_size=p.min_cluster_size, min_samples=p.min_samples,
                        selection=p.cluster_selection, assign_noise_to_nearest=p.assign_noise)
    t_new = time.perf_counter() - t
    old = find_clusters(coords, graph, min_samples=10, join=False)
    t = time.perf_counter()
    space = umap_layout(vecs, graph, n_components=5, min_dist=0.0, n_neighbors=15, seed=p.seed)
    from workbench.analysis import jit

    bertopic = jit.hdbscan().HDBSCAN(min_cluster_size=10, cluster_selection_method="eom").fit_predict(space)
    t_bt = time.perf_counter() - t
    out = {"workbench (default)": scores(y, new.labels), "workbench before": scores(y, old.labels),
           "BERTopic defaults": scores(y, np.asarray(bertopic))}
    print(f"{name} seed {seed}: {len(texts):,} queries, {n_intents} intents; map {t_map:.1f} s, "
          f"clusters {t_new:.1f} s, BERTopic-style {t_bt:.1f} s", file=sys.stderr)
    for k, v in out.items():
        print(f"   {k:<20} NMI {v['nmi']:.3f}  ARI {v['ari']:.3f}  noise {v['noise']:.1%}  "
              f"clusters {v['clusters']}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=5, help="how many of the cases to run (in order)")
    ap.add_argument("--quick", action="store_true", help="two cases (one per dataset)")
    args = ap.parse_args(argv)
    if not SHARED.exists():
        print(f"data not found at {SHARED}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    cases = CASES[: 2 if args.quick else args.cases]
    results = [(c, run_case(*c)) for c in cases]
    methods = list(results[0][1])
    print(f"\n{len(cases)} cases (CLINC150 train, 138 of 150 intents; Banking77 train, 69 of 77), "
          "mean ± sd over cases; noise counted as one cluster")
    print("| dataset | method | NMI | ARI | noise | clusters |")
    print("|---|---|---|---|---|---|")
    table = {}
    for ds in sorted({c[0] for c in cases}):
        for m in methods:
            rs = [r[m] for c, r in results if c[0] == ds]
            cell = {k: (float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs])))
                    for k in ("nmi", "ari", "noise", "clusters")}
            table[(ds, m)] = cell
            print(f"| {ds} ({len(rs)}) | {m} | {cell['nmi'][0]:.3f} ± {cell['nmi'][1]:.3f} | "
                  f"{cell['ari'][0]:.3f} ± {cell['ari'][1]:.3f} | {cell['noise'][0]:.1%} ± {cell['noise'][1]:.1%} | "
                  f"{cell['clusters'][0]:.0f} |")
    for ds in sorted({c[0] for c in cases}):
        a, b = table[(ds, "workbench (default)")], table[(ds, "BERTopic defaults")]
        print(f"{ds}: workbench / BERTopic defaults: NMI x{a['nmi'][0] / b['nmi'][0]:.2f}, "
              f"ARI x{a['ari'][0] / b['ari'][0]:.2f}, noise x{a['noise'][0] / max(b['noise'][0], 1e-9):.2f}")
    out = ROOT / "bench_out"
    out.mkdir(exist_ok=True)
    (out / "study_clusters.json").write_text(json.dumps(
        [{"dataset": c[0], "seed": c[1], "intents": c[2], **{m: r[m] for m in methods}} for c, r in results],
        indent=1))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
