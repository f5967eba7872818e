"""Which space should HDBSCAN cluster: the 2-D map, or a 5-D / 10-D UMAP as BERTopic does?

For Banking77 (train + test, 13,083 queries, 77 intents) and CLINC150 (in-scope train + val +
test, 22,500 queries, 150 intents) from ../shared/data, embedded with the workbench encoder:
one neighbour graph, then UMAP into 2-D (min_dist 0.1, the map the curator sees) and into 5-D
and 10-D (min_dist 0.0, BERTopic's setting), then HDBSCAN with several ``min_cluster_size``
values, ``min_samples`` = ``min_cluster_size`` (HDBSCAN's default) or 10, and both selection
methods. Agreement with the intent labels:

* ARI / NMI / AMI with noise counted as one more cluster ("raw": what the curator sees first);
* the same after sending noise to the nearest cluster ("assigned");
* noise share, number of clusters, seconds (UMAP for that space + HDBSCAN).

Usage: ``python benchmarks/study_clusters.py [--quick] [--datasets banking77,clinc150]``.
Prints a markdown table and writes ``bench_out/study_clusters.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realtexts import ROOT, embed, labelled  # noqa: E402


def scores(y: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import (adjusted_mutual_info_score, adjusted_rand_score,
                                 normalized_mutual_info_score)

    return {"ari": adjusted_rand_score(y, labels), "nmi": normalized_mutual_info_score(y, labels),
            "ami": adjusted_mutual_info_score(y, labels)}


def study(name: str, quick: bool) -> list[dict]:
    from workbench.analysis.clusters import assign_noise, auto_min_cluster_size, find_clusters
    from workbench.analysis.graph import build_graph
    from workbench.analysis.layout import umap_layout

    texts, labels = labelled(name)
    if quick:
        texts, labels = texts[:3000], labels[:3000]
    y = np.unique(np.asarray(labels), return_inverse=True)[1]
    t = time.perf_counter()
    vecs = embed(texts)
    print(f"{name}: {len(texts):,} texts, {len(set(labels))} intents, vectors in "
          f"{time.perf_counter() - t:.1f} s", file=sys.stderr)
    graph = build_graph(vecs, 15)
    spaces = {"map 2-D": (2, 0.1), "UMAP 5-D": (5, 0.0), "UMAP 10-D": (10, 0.0)}
    if quick:
        spaces.pop("UMAP 10-D")
    auto = auto_min_cluster_size(len(texts))
    sizes = sorted({auto, 10, 20, 40})
    rows = []
    for space, (dim, min_dist) in spaces.items():
        t = time.perf_counter()
        coords = umap_layout(vecs, graph, n_components=dim, min_dist=min_dist, seed=42)
        t_umap = time.perf_counter() - t
        for mcs, ms, selection in [(m, s, sel) for m in sizes for s in (None, 10) for sel in ("eom", "leaf")]:
            t = time.perf_counter()
            cl = find_clusters(coords, graph, min_cluster_size=mcs, min_samples=ms, selection=selection)
            t_hdb = time.perf_counter() - t
            raw = scores(y, cl.labels)
            assigned = scores(y, assign_noise(cl.labels, coords, graph))
            rows.append({
                "dataset": name, "space": space, "min_cluster_size": mcs,
                "auto": mcs == auto, "min_samples": ms if ms is not None else "=mcs",
                "selection": selection, "clusters": cl.n_clusters,
                "noise": round(cl.n_noise / len(texts), 4),
                **{f"{k}_raw": round(v, 4) for k, v in raw.items()},
                **{f"{k}_assigned": round(v, 4) for k, v in assigned.items()},
                "umap_s": round(t_umap, 1), "hdbscan_s": round(t_hdb, 2),
            })
            r = rows[-1]
            print(f"  {space:9} mcs={mcs:<3} ms={str(ms):4} {selection:4} clusters={r['clusters']:<4} "
                  f"noise={r['noise']:.2f} ARI raw={r['ari_raw']:.3f} assigned={r['ari_assigned']:.3f} "
                  f"AMI raw={r['ami_raw']:.3f} assigned={r['ami_assigned']:.3f}", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3,000 texts per dataset, no 10-D")
    ap.add_argument("--datasets", default="banking77,clinc150")
    args = ap.parse_args(argv)
    rows = []
    for name in args.datasets.split(","):
        rows.extend(study(name.strip(), args.quick))
    cols = ["dataset", "space", "min_cluster_size", "min_samples", "selection", "clusters", "noise", "ari_raw",
            "nmi_raw", "ami_raw", "ari_assigned", "nmi_assigned", "ami_assigned", "umap_s", "hdbscan_s"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        mcs = f"{r['min_cluster_size']}{' (auto)' if r['auto'] else ''}"
        print("| " + " | ".join(mcs if c == "min_cluster_size" else str(r[c]) for c in cols) + " |")
    out = ROOT / "bench_out"
    out.mkdir(exist_ok=True)
    (out / "study_clusters.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
