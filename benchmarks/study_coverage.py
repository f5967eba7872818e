"""Coverage study: does the gap score find production inputs the training data does not cover,
and does each missing topic come out as its own ranked gap?

Cases built from ../shared/data (real texts, real default-encoder vectors via ``workbench.embed``):

- ``clinc150``: train = CLINC150 train queries minus 12 whole intents (drawn per seed);
  production = all CLINC150 test queries (150 intents) + the 1,000 out-of-scope test queries.
- ``banking77``: train = Banking77 train minus 6 whole intents; production = all test queries.

Per case (5 seeds each), for production rows: AUROC of the score for *missing-intent* inputs vs
covered ones, and for *all uncovered* (missing + out-of-scope) vs covered; precision / recall of
the gap inputs; and how many missing intents are *named by their own gap* among the top 15
ranked gaps (a gap names intent I when I is the majority label of its rows, at least half of
them; each gap names at most one intent). Baselines in the same run: the nearest-train
similarity (AUROC) and the coverage module as it was before this change (``git show
<baseline-rev>:workbench/analysis/coverage.py``, gap inputs = nearest-train cosine < 0.55, gaps
from the main-map clusters) for the gap counts. Main-map clusters for both: HDBSCAN on a
10-d PCA of the vectors, as the coverage tests do.

    python benchmarks/study_coverage.py              # 5 seeds x 2 datasets, a few minutes
    python benchmarks/study_coverage.py --seeds 2    # quicker
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
BASELINE_REV = "a685a94"  # coverage.py before the gap score / gap clustering


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build_case(dataset: str, seed: int):
    rng = np.random.default_rng(seed)
    if dataset == "clinc150":
        tr = _rows(SHARED / "clinc150/clinc150_train.jsonl")
        prod = _rows(SHARED / "clinc150/clinc150_test.jsonl")
        prod += [dict(r, label="oos") for r in _rows(SHARED / "clinc150/clinc150_oos_test.jsonl")]
        n_missing = 12
    else:
        tr = _rows(SHARED / "banking77/banking77_train.jsonl")
        prod = _rows(SHARED / "banking77/banking77_test.jsonl")
        n_missing = 6
    intents = sorted({r["label"] for r in tr})
    missing = set(rng.choice(intents, n_missing, replace=False).tolist())
    tr = [r for r in tr if r["label"] not in missing]
    texts = [r["text"] for r in tr] + [r["text"] for r in prod]
    labels = np.array([r["label"] for r in tr] + [r["label"] for r in prod], dtype=object)
    roles = np.array(["train"] * len(tr) + ["production"] * len(prod), dtype=object)
    return texts, labels, roles, missing


def named(gaps, labels, missing, top=15) -> int:
    found = set()
    for g in gaps[:top]:
        rows = np.asarray(g["rows"])
        rows = rows[labels[rows] != None]  # noqa: E711
        if not len(rows):
            continue
        u, c = np.unique(labels[rows].astype(str), return_counts=True)
        if u[c.argmax()] in missing and c.max() >= 0.5 * len(rows):
            found.add(u[c.argmax()])
    return len(found)


def old_module():
    from git_baseline import module_at

    return module_at(BASELINE_REV, "workbench/analysis/coverage.py", "coverage_baseline")


def run_case(dataset, seed, vec_of, old):
    from sklearn.decomposition import PCA
    from sklearn.metrics import roc_auc_score

    from workbench.analysis.clusters import find_clusters
    from workbench.analysis.coverage import coverage
    from workbench.analysis.graph import build_graph

    texts, labels, roles, missing = build_case(dataset, seed)
    vecs = vec_of(texts)
    graph = build_graph(vecs, 15)
    cluster = np.asarray(find_clusters(PCA(10, random_state=0).fit_transform(vecs), graph).labels)
    t0 = time.perf_counter()
    cov = coverage(vecs, roles, cluster, graph, prompts=texts)
    secs = time.perf_counter() - t0
    base = old.coverage(vecs, roles, cluster, graph, prompts=texts)
    prod = roles == "production"
    miss = np.array([lab in missing for lab in labels]) & prod
    oos = (labels == "oos") & prod
    covered = prod & ~miss & ~oos
    unc = miss | oos
    sel = miss | covered

    def auc(score):
        return (roc_auc_score(miss[sel], score[sel]), roc_auc_score(unc[prod], score[prod]))

    def pr(gap):
        return (unc[gap].mean() if gap.any() else 0.0, gap[unc].mean())

    return {
        "auc": auc(np.nan_to_num(cov.gap_score, nan=0.0)), "auc_base": auc(-np.nan_to_num(cov.nearest_train_sim)),
        "named": named(cov.gaps, labels, missing), "named_base": named(base.gaps, labels, missing),
        "n_missing": len(missing), "pr": pr(cov.is_gap), "pr_base": pr(base.is_gap),
        "n_gaps": len(cov.gaps), "seconds": secs,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--datasets", default="clinc150,banking77")
    args = ap.parse_args()
    if not SHARED.exists():
        sys.exit(f"needs {SHARED}")
    from workbench.embed import embed_texts, get_encoder

    enc = get_encoder()

    def vec_of(texts):
        return embed_texts(texts, enc)[0]

    old = old_module()
    t0 = time.perf_counter()
    for ds in args.datasets.split(","):
        res = [run_case(ds, s, vec_of, old) for s in range(args.seeds)]
        a = np.array([r["auc"] for r in res])
        b = np.array([r["auc_base"] for r in res])
        p = np.array([r["pr"] for r in res])
        pb = np.array([r["pr_base"] for r in res])
        nm = np.array([r["named"] for r in res])
        nb = np.array([r["named_base"] for r in res])

        def ms(x):
            return f"{x.mean():.3f} ± {x.std():.3f}"

        print(f"\n== {ds}: {args.seeds} seeds, {res[0]['n_missing']} missing intents per case ==")
        print(f"{'measure':42s} {'gap score':>16s} {'baseline':>16s} {'ratio':>6s}")
        rows = [("AUROC missing intents vs covered", a[:, 0], b[:, 0], "nearest-train sim"),
                ("AUROC all uncovered (incl. OOS) vs covered", a[:, 1], b[:, 1], "nearest-train sim"),
                ("gap-input precision", p[:, 0], pb[:, 0], "cosine < 0.55"),
                ("gap-input recall", p[:, 1], pb[:, 1], "cosine < 0.55"),
                ("missing intents named in top-15 gaps", nm.astype(float), nb.astype(float), "previous gaps")]
        for name, x, y, bname in rows:
            print(f"{name:42s} {ms(x):>16s} {ms(y):>16s} {x.mean() / max(y.mean(), 1e-9):6.2f}  ({bname})")
        print(f"per seed named: {nm.tolist()} (baseline {nb.tolist()}) of {res[0]['n_missing']}; "
              f"min AUROC missing {a[:, 0].min():.3f}, all {a[:, 1].min():.3f}; "
              f"coverage step {np.mean([r['seconds'] for r in res]):.1f} s per case")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
