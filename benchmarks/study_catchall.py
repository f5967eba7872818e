"""Catch-all clusters: does the analysis say "mixed" for clusters that are not one topic?

Cases from ../shared/data, each run through the real analysis (``run_analysis`` with the default
``AnalysisParams`` and the default encoder, vectors cached on disk), ``--seeds`` seeds each (the
seed picks which 80% of the intents a case keeps and seeds the map and clusters):

* ``clinc150``: CLINC150 train (120 of 150 intents, ~12,000 queries);
* ``banking77``: Banking77 train (62 of 77 intents, ~8,000 queries);
* ``clinc150+oos``: CLINC150 test (120 of 150 intents, 3,600 queries) plus its 1,000
  out-of-scope test queries (queries that fit none of the intents: every one counts as its own
  intent — so a cluster of out-of-scope queries on one subject counts as scattered too);
* ``banking77+oos``: Banking77 test (62 of 77 intents, ~2,500 queries) plus the same 1,000
  out-of-scope queries (off-topic rows mixed into a one-domain set, like Dolly questions in the
  sample project).

Ground truth from the intent labels, per cluster:

* **catch-all** (the definition the issue asked for): its largest intent holds < 50% of its
  members. On fine-grained intent sets this also counts a cluster that merges two or three
  related intents ("cancel / confirm / change reservation") — one topic to a curator;
* **scattered** (stricter: many topics): its three largest intents hold < 50% of its members.

Detectors (per cluster, all in the same run):

* **workbench** (``cluster_quality``, the shipped rule): relative cohesion < 0.5 — members less
  than half as alike, above chance, as those of the dataset's median cluster;
* **workbench + words** (variant, not shipped): as above, but not when at least half of the
  members use a label term;
* **largest (same count)** baseline: the k largest clusters, k = the number workbench flags;
* **size > 2x median** baseline: clusters more than twice the median cluster size.

Printed: precision, recall, F1 against both truths, mean ± sd over seeds per dataset, and the
ratio of workbench's F1 to the best baseline's. Also counted: labels the minimum-share rule
changed (``labels.ctfidf_terms(strict=False)`` = the old rule, same clusters): clusters whose old
label held a term fewer than 15% (or 2) of the members use, and clusters named only by such terms.

    python benchmarks/study_catchall.py [--seeds 3] [--datasets clinc150,banking77,clinc150+oos,banking77+oos]

Writes ``bench_out/study_catchall.json``.
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

DATASETS = ("clinc150", "banking77", "clinc150+oos", "banking77+oos")
KEEP_INTENTS = 0.8


def build_case(name: str, seed: int) -> tuple[list[str], np.ndarray]:
    """(texts, intent per text); out-of-scope queries get an intent of their own each."""
    if name.endswith("+oos"):
        base = name[: -len("+oos")]
        rows, oos = _rows(SHARED / base / f"{base}_test.jsonl"), _rows(SHARED / "clinc150/clinc150_oos_test.jsonl")
    else:
        rows, oos = _rows(SHARED / name / f"{name}_train.jsonl"), []
    intents = sorted({r["label"] for r in rows})
    keep = set(np.random.default_rng(seed).choice(intents, int(round(KEEP_INTENTS * len(intents))),
                                                  replace=False).tolist())
    rows = [r for r in rows if r["label"] in keep]
    texts = [r["text"] for r in rows] + [r["text"] for r in oos]
    intent = [r["label"] for r in rows] + [f"oos#{i}" for i in range(len(oos))]
    return texts, np.asarray(intent, dtype=object)


def truth(intent: np.ndarray, labels: np.ndarray, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    catchall, scattered = [], []
    for c in ids:
        _, counts = np.unique(intent[labels == c], return_counts=True)
        counts = np.sort(counts)[::-1] / counts.sum()
        catchall.append(counts[0] < 0.5)
        scattered.append(counts[:3].sum() < 0.5)
    return np.asarray(catchall), np.asarray(scattered)


def counts(pred: np.ndarray, true: np.ndarray) -> dict[str, int]:
    return {"tp": int((pred & true).sum()), "fp": int((pred & ~true).sum()), "fn": int((~pred & true).sum())}


def prf(c: dict[str, int]) -> dict[str, float]:
    """Precision, recall, F1 from counts; NaN where undefined (nothing flagged / nothing to find)."""
    nan = float("nan")
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else nan
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else nan
    f = 2 * p * r / (p + r) if p + r > 0 else (0.0 if c["tp"] + c["fn"] else nan)
    return {"precision": p, "recall": r, "f1": f}


def run_case(name: str, seed: int) -> dict:
    from workbench.analysis.labels import ctfidf_terms
    from workbench.analysis.pipeline import AnalysisInput, AnalysisParams, run_analysis

    texts, intent = build_case(name, seed)
    vecs = embed(texts)
    n = len(texts)
    inp = AnalysisInput(source=np.full(n, name, dtype=object), line=np.arange(1, n + 1),
                        role=np.full(n, "train", dtype=object), prompt=texts, response=[""] * n,
                        prompt_vecs=vecs)
    t = time.perf_counter()
    res = run_analysis(inp, AnalysisParams(seed=seed))
    t_analysis = time.perf_counter() - t
    labels = res.examples["cluster"].to_numpy()
    items = res.summary["clusters"]
    ids = [int(c["id"]) for c in items]
    size = np.array([c["size"] for c in items])
    coverage = np.array([c["term_coverage"] for c in items])
    mixed = ~np.array([c["coherent"] for c in items])
    k = int(mixed.sum())
    largest = np.zeros(len(ids), bool)
    largest[np.argsort(-size, kind="stable")[:k]] = True
    preds = {"workbench": mixed, "workbench + words": mixed & (coverage < 0.5),
             "largest (same count)": largest, "size > 2x median": size > 2 * np.median(size)}
    t_catch, t_scat = truth(intent, labels, ids)
    scores = {m: {"catch-all": counts(p, t_catch), "scattered": counts(p, t_scat)} for m, p in preds.items()}
    # the minimum-share rule: which labels of the old rule used a term few members use
    old = ctfidf_terms(texts, labels, n_terms=res.params.label_terms, seed=seed, strict=False)
    new = {int(c["id"]): c["terms"] for c in items}
    with_stray = only_stray = 0
    for c in ids:
        stray = [t for t in old.get(c, []) if t not in new.get(c, [])]
        if stray:
            with_stray += 1
            only_stray += len(stray) == len(old[c])
    rec = {"dataset": name, "seed": seed, "rows": n, "clusters": len(ids), "analysis_s": round(t_analysis, 1),
           "catch_all": int(t_catch.sum()), "scattered": int(t_scat.sum()), "flagged": k,
           "flagged_members": int(size[mixed].sum()), "scores": scores,
           "flagged_by": {m: int(p.sum()) for m, p in preds.items()},
           "stray_labels": with_stray, "stray_only_labels": only_stray,
           "mixed_labels": [c["label"] for c, m in zip(items, mixed) if m][:8]}
    print(f"{name} seed {seed}: {n:,} rows, {len(ids)} clusters ({rec['catch_all']} catch-all, "
          f"{rec['scattered']} scattered), flagged {k} ({rec['flagged_members']:,} rows); "
          f"F1 catch-all {prf(scores['workbench']['catch-all'])['f1']:.2f} scattered "
          f"{prf(scores['workbench']['scattered'])['f1']:.2f}; stray-term labels removed {with_stray} "
          f"({only_stray} all-stray); analysis {t_analysis:.0f} s", file=sys.stderr)
    return rec


def _ms(values: list[float]) -> str:
    v = [x for x in values if np.isfinite(x)]
    return f"{np.mean(v):.2f} ± {np.std(v):.2f}" if v else "n/a"


def _pooled(rs: list[dict], m: str, kind: str) -> dict[str, float]:
    return prf({k: sum(r["scores"][m][kind][k] for r in rs) for k in ("tp", "fp", "fn")})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    args = ap.parse_args(argv)
    if not SHARED.exists():
        print(f"data not found at {SHARED}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    names = [d for d in args.datasets.split(",") if d]
    recs = [run_case(name, seed) for name in names for seed in range(args.seeds)]
    methods = list(recs[0]["scores"])
    for kind in ("catch-all", "scattered"):
        print(f"\nTruth: {kind} ({'largest intent < 50%' if kind == 'catch-all' else 'three largest intents < 50%'}"
              f" of a cluster's members). Pooled over {args.seeds} seeds: precision / recall / F1 over all "
              "clusters; F1 per seed: mean ± sd over seeds where defined")
        print("| dataset | clusters | truth | method | flagged | precision | recall | F1 | F1 per seed |")
        print("|---|---|---|---|---|---|---|---|---|")
        key = "catch_all" if kind == "catch-all" else "scattered"
        for ds in names + ["all"]:
            rs = [r for r in recs if ds in ("all", r["dataset"])]
            for m in methods:
                pooled = _pooled(rs, m, kind)
                per_seed = [prf(r["scores"][m][kind])["f1"] for r in rs]
                print(f"| {ds} | {np.mean([r['clusters'] for r in rs]):.0f} | "
                      f"{np.mean([r[key] for r in rs]):.1f} | {m} | "
                      f"{np.mean([r['flagged_by'][m] for r in rs]):.1f} | {pooled['precision']:.2f} | "
                      f"{pooled['recall']:.2f} | {pooled['f1']:.2f} | {_ms(per_seed)} |")
        f1 = {m: _pooled(recs, m, kind)["f1"] for m in methods}
        best = max((m for m in methods if not m.startswith("workbench")), key=lambda m: f1[m])
        print(f"{kind}: workbench pooled F1 {f1['workbench']:.2f} vs best baseline ({best}) {f1[best]:.2f}: "
              f"x{f1['workbench'] / max(f1[best], 1e-9):.2f}")
    print("\nMinimum-share rule (a label term must be used by >= 15% of the members, and 2): "
          "labels of the old rule that held a term few members use, per case: "
          + ", ".join(f"{r['dataset']}#{r['seed']} {r['stray_labels']}/{r['clusters']} "
                      f"({r['stray_only_labels']} named only by such terms)" for r in recs))
    out = ROOT / "bench_out"
    out.mkdir(exist_ok=True)
    (out / "study_catchall.json").write_text(json.dumps(recs, indent=1))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
