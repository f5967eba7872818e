"""Eval set from production: quality study on held-out cases and timing at 100k production rows.

``python benchmarks/bench_eval_set.py study [--seeds 0,1,2]``
    Cases from ../shared/data, several datasets x seeds: CLINC150 (40 random intents, 6 of them
    removed from train; production = their test queries + 100 out-of-scope queries) and Banking77
    (30 random intents, 5 removed; production = their test queries). Each case runs the real
    analysis (``run_analysis``) and draws a 300-input eval set (``--per-cluster 3``) with
    :func:`workbench.curate.eval_set.draw_eval_set`, beside the **naive baseline**: a random
    sample of the same size stratified in proportion to the same production clusters (what one
    would do by hand), and, for paraphrase groups, "3 random members of one analysis cluster".
    Metrics per case (mean +- spread over cases):
      near-train  = drawn inputs whose nearest train prompt has cosine >= 0.95 or that leak by the
                    leak rule (production as eval side);
      near-copies = pairs of drawn inputs with cosine >= 0.95 or the same normalised text, not in
                    one paraphrase group;
      clusters    = share of production clusters (3+ production inputs) with >= 3 drawn (or every
                    eligible input they have);
      gaps        = share of the removed intents with >= 2 drawn inputs;
      purity      = share of paraphrase-group members that carry their group's majority intent.

``python benchmarks/bench_eval_set.py scale [--n 100000]``
    ``n`` production rows (+ 30% as many train rows) built like ``bench_analysis.py`` (real texts
    of ../shared/data, copies jittered), analysed once; then, each in a fresh process (own peak
    RSS): the eval set (leak rule against train, paraphrase groups, draw, write; 1,000 production
    inputs carry a reference answer) and the naive
    baseline (stratified random sample + exact nearest-train filter by blocked matrix products).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
SHARED = ROOT.parent / "shared" / "data"
NEAR = 0.95


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def make_case(dataset: str, seed: int):
    rng = np.random.default_rng(seed)
    if dataset == "clinc150":
        train = _rows(SHARED / "clinc150/clinc150_train.jsonl")
        test = _rows(SHARED / "clinc150/clinc150_test.jsonl")
        oos = _rows(SHARED / "clinc150/clinc150_oos_test.jsonl")
        n_int, n_rem, extra = 40, 6, [dict(r, label="oos") for r in rng.permutation(oos)[:100]]
    else:
        train = _rows(SHARED / "banking77/banking77_train.jsonl")
        test = _rows(SHARED / "banking77/banking77_test.jsonl")
        n_int, n_rem, extra = 30, 5, []
    intents = sorted(rng.choice(sorted({r["label"] for r in train}), n_int, replace=False).tolist())
    removed = set(rng.choice(intents, n_rem, replace=False).tolist())
    tr = [r for r in train if r["label"] in intents and r["label"] not in removed]
    pr = [r for r in test if r["label"] in intents] + list(extra)
    return tr, pr, removed


def _vectors(texts: list[str]) -> np.ndarray:
    from workbench.embed import embed_texts, get_encoder

    vecs, _ = embed_texts(texts, get_encoder())
    return np.asarray(vecs, np.float32)


def naive_sample(cluster: np.ndarray, pool: np.ndarray, size: int, rng) -> np.ndarray:
    """Random sample of ``pool`` in proportion to its clusters (largest remainders)."""
    ids, counts = np.unique(cluster[pool], return_counts=True)
    want = counts / counts.sum() * size
    take = np.floor(want).astype(int)
    for k in np.argsort(-(want - take))[: size - take.sum()]:
        take[k] += 1
    out = [rng.permutation(pool[cluster[pool] == c])[:t] for c, t in zip(ids, take)]
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _metrics(rows, group, vecs, prompts, train, near_rule, cluster, labels, removed, strata_floor):
    from workbench.analysis.textnorm import text_hashes

    nearest = (vecs[rows] @ vecs[train].T).max(axis=1) if len(train) else np.zeros(len(rows))
    near_train = int(((nearest >= NEAR) | near_rule[rows]).sum())
    sims = vecs[rows] @ vecs[rows].T
    np.fill_diagonal(sims, 0)
    h = text_hashes([prompts[r] for r in rows])
    same = (h[:, None] == h[None, :]) & (h[:, None] != 0)
    np.fill_diagonal(same, False)
    in_group = (group[:, None] == group[None, :]) & (group[:, None] > 0)
    copies = int(np.triu(((sims >= NEAR) | same) & ~in_group, 1).sum())
    ok = [((cluster[rows] == c).sum() >= m) for c, m in strata_floor]
    lab = labels[rows]
    gaps = np.mean([(lab == r).sum() >= 2 for r in sorted(removed)]) if removed else float("nan")
    return {"near_train": near_train, "near_copies": copies, "clusters": float(np.mean(ok)) if ok else 1.0,
            "gaps": float(gaps)}


def _purity(groups, labels) -> float:
    members = sum(len(g) for g in groups)
    agree = sum(max(np.unique(labels[g], return_counts=True)[1]) for g in groups)
    return agree / members if members else float("nan")


def study_case(dataset: str, seed: int) -> dict:
    from workbench.analysis.pipeline import AnalysisInput, AnalysisParams, run_analysis
    from workbench.curate import eval_set as es

    tr, pr, removed = make_case(dataset, seed)
    texts = [r["text"] for r in tr + pr]
    labels = np.array([r["label"] for r in tr + pr], dtype=object)
    vecs = _vectors(texts)
    n = len(texts)
    inp = AnalysisInput(source=["train.jsonl"] * len(tr) + ["production.jsonl"] * len(pr),
                        line=list(range(1, len(tr) + 1)) + list(range(1, len(pr) + 1)),
                        role=["train"] * len(tr) + ["production"] * len(pr), prompt=texts, response=[""] * n,
                        prompt_vecs=vecs)
    t0 = time.perf_counter()
    result = run_analysis(inp, AnalysisParams(seed=seed))
    t_an = time.perf_counter() - t0
    ei = es.inputs_from_result(result, inp, vecs)
    t0 = time.perf_counter()
    drawn = es.draw_eval_set(ei, es.EvalSetOptions(size=300, per_cluster=3, seed=seed))
    t_draw = time.perf_counter() - t0
    train = np.flatnonzero(inp.role == "train")
    prod = np.flatnonzero(inp.role == "production")
    near_rule = drawn.near_train  # the leak rule + threshold, computed by the draw over all production
    floors = [(s["cluster"], min(3, s["eligible"])) for s in drawn.strata if s["production"] >= 3]
    ours = _metrics(drawn.rows, drawn.group, vecs, texts, train, near_rule, ei.cluster, labels, removed, floors)
    ours["purity"] = _purity(drawn.groups, labels)
    ours["groups"] = len(drawn.groups)
    rng = np.random.default_rng(seed)
    base_rows = naive_sample(ei.cluster, prod, len(drawn.rows), rng)
    base = _metrics(base_rows, np.zeros(len(base_rows), np.int64), vecs, texts, train, near_rule, ei.cluster,
                    labels, removed, floors)
    # naive paraphrase groups: 3 random production inputs of one analysis cluster
    groups = []
    for c in np.unique(ei.cluster[prod]):
        members = rng.permutation(prod[ei.cluster[prod] == c])
        groups += [members[i:i + 3] for i in range(0, len(members) - 2, 3)]
    pick = rng.permutation(len(groups))[: max(len(drawn.groups), 1)]
    base["purity"] = _purity([groups[k] for k in pick], labels)
    return {"case": f"{dataset}/seed{seed}", "rows": n, "production": len(pr), "analysis_s": round(t_an, 1),
            "draw_s": round(t_draw, 2), "ours": ours, "naive": base}


def _mean_sd(values) -> str:
    v = np.asarray(values, float)
    return f"{np.nanmean(v):.3f} ± {np.nanstd(v):.3f}"


def study(seeds: list[int], datasets: list[str]) -> int:
    results = []
    for d in datasets:
        for s in seeds:
            r = study_case(d, s)
            results.append(r)
            print(json.dumps(r), flush=True)
    print("\n| metric | eval-set (mean ± sd) | naive stratified sample (mean ± sd) |")
    print("| --- | ---: | ---: |")
    for m in ("near_train", "near_copies", "clusters", "gaps", "purity"):
        print(f"| {m} | {_mean_sd([r['ours'][m] for r in results])} | {_mean_sd([r['naive'][m] for r in results])} |")
    print(f"\n{len(results)} cases ({', '.join(datasets)} x seeds {seeds}); draw time "
          f"{_mean_sd([r['draw_s'] for r in results])} s, analysis {_mean_sd([r['analysis_s'] for r in results])} s")
    return 0


# --------------------------------------------------------------------------------------------
# scale
# --------------------------------------------------------------------------------------------
def scale_rows(n_prod: int):
    from bench_analysis import make_rows

    n = int(n_prod * 1.3)
    prompts, responses, roles, pv, _ = make_rows(n)
    rng = np.random.default_rng(1)
    roles = np.where(rng.random(n) < 0.23, "train", "production").astype(object)
    return prompts, [""] * n, roles, pv


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(kind: str, n_prod: int, folder: str) -> dict:
    from workbench.analysis.pipeline import AnalysisInput, AnalysisParams, AnalysisResult, run_analysis

    prompts, responses, roles, pv = scale_rows(n_prod)
    n = len(prompts)
    inp = AnalysisInput(source=np.full(n, "bench.jsonl", dtype=object), line=np.arange(1, n + 1), role=roles,
                        prompt=prompts, response=responses, prompt_vecs=pv, encoder="bench")
    if kind == "analyse":
        t0 = time.perf_counter()
        run_analysis(inp, AnalysisParams()).write(folder)
        return {"total": round(time.perf_counter() - t0, 1), "production": int((roles == "production").sum()),
                "rows": n}
    res = AnalysisResult.read(Path(folder), with_graph=True)
    rss0 = _peak_mb()
    t0 = time.perf_counter()
    if kind == "evalset":
        from workbench.curate import eval_set as es

        ei = es.inputs_from_result(res, inp, pv)
        # 1,000 production inputs carry a curator's reference answer (written when drawn)
        answered = np.random.default_rng(3).choice(np.flatnonzero(roles == "production"), 1000, replace=False)
        ei.answers = {int(r): f"reference answer {int(r)}" for r in answered}
        drawn = es.draw_eval_set(ei, es.EvalSetOptions(size=1000, seed=0))
        t1 = time.perf_counter()
        es.write_eval_set(Path(folder) / "evalset", ei, drawn)
        out = {"draw_s": round(t1 - t0, 2), "drawn": len(drawn), "near_train": drawn.counts["near_train"],
               "groups": drawn.counts["groups"], "reference_answers": drawn.counts["reference_answers"]}
    elif kind == "drift":
        from workbench.analysis import drift

        # the next log: every production row again, as new copies (other jitter), not analysed
        prod = np.flatnonzero(roles == "production")
        rng = np.random.default_rng(7)
        new = pv[prod] + rng.normal(size=(len(prod), pv.shape[1])).astype(np.float32) * 0.02
        new /= np.linalg.norm(new, axis=1, keepdims=True)
        vecs = np.concatenate([pv, new])
        allp = list(prompts) + [prompts[i] + " (next)" for i in prod]
        role2 = np.concatenate([roles, np.full(len(prod), "production", dtype=object)])
        snap = np.concatenate([np.where(roles == "production", "2026-10-01", ""),
                               np.full(len(prod), "2026-11-01")]).astype(object)
        ex = res.examples
        pad = np.full(len(prod), np.nan, np.float32)
        labels = {int(c["id"]): c["label"] for c in res.summary["clusters"]}
        t0 = time.perf_counter()
        d = drift.compute_drift(allp, role2, vecs, snap, np.arange(len(vecs)) < n,
                                np.r_[ex["x"].to_numpy(np.float32), pad], np.r_[ex["y"].to_numpy(np.float32), pad],
                                np.r_[ex["cluster"].to_numpy(np.int64), np.full(len(prod), -1)], labels,
                                gap=np.r_[ex["gap"].to_numpy(bool), np.zeros(len(prod), bool)],
                                gap_group=np.r_[ex["gap_group"].fillna(-1).to_numpy(np.int64), np.full(len(prod), -1)])
        out = {"draw_s": round(time.perf_counter() - t0, 2), "drawn": int(len(prod)), "near_train": d.uncovered["n"],
               "new_regions": len(d.new_regions), "novel": len(d.novel)}
    else:
        cluster = res.examples["cluster"].to_numpy()
        prod, train = np.flatnonzero(roles == "production"), np.flatnonzero(roles == "train")
        nearest = np.empty(len(prod), np.float32)
        for a in range(0, len(prod), 4096):
            nearest[a:a + 4096] = (pv[prod[a:a + 4096]] @ pv[train].T).max(axis=1)
        pool = prod[nearest < NEAR]
        rows = naive_sample(cluster, pool, 1000, np.random.default_rng(0))
        t1 = time.perf_counter()
        with open(Path(folder) / "naive.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({"messages": [{"role": "user", "content": prompts[r]}]}) + "\n")
        out = {"draw_s": round(t1 - t0, 2), "drawn": int(len(rows)), "near_train": int(len(prod) - len(pool))}
    out.update({"total_s": round(time.perf_counter() - t0, 2), "peak_rss_mb": round(_peak_mb()),
                "rss_before_mb": round(rss0)})
    return out


def run_child(*args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, __file__, "child", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scale(n_prod: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        an = run_child("analyse", str(n_prod), folder)
        print(f"analysis of {an['rows']:,} rows ({an['production']:,} production): {an['total']} s (not counted)")
        ours = run_child("evalset", str(n_prod), folder)
        naive = run_child("naive", str(n_prod), folder)
        dr = run_child("drift", str(n_prod), folder)
    print("\n| at {:,} production rows | time (s) | peak RSS (MB; before the step) | drawn | near-train left out |".format(an["production"]))
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, r in (("eval set (leak rule, groups, draw, write)", ours),
                    ("naive (stratified sample + exact nearest-train filter)", naive)):
        print(f"| {name} | {r['total_s']} | {r['peak_rss_mb']} ({r['rss_before_mb']}) | {r['drawn']} | {r['near_train']:,} |")
    print(f"\neval set: {ours['groups']} paraphrase groups; {ours['reference_answers']} drawn inputs with a reference "
          "answer (of 1,000 answered production inputs)")
    print(f"\ndrift of a second {dr['drawn']:,}-input snapshot placed into the stored map: {dr['total_s']} s, "
          f"peak RSS {dr['peak_rss_mb']} MB ({dr['rss_before_mb']} before); {dr['novel']:,} inputs not seen before, "
          f"{dr['new_regions']} new regions, {dr['near_train']:,} uncovered")
    print(f"\nratio eval set / naive: time {ours['total_s'] / max(naive['total_s'], 1e-9):.1f}x, "
          f"peak RSS {ours['peak_rss_mb'] / max(naive['peak_rss_mb'], 1):.2f}x")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("study")
    s.add_argument("--seeds", default="0,1,2")
    s.add_argument("--datasets", default="clinc150,banking77")
    c = sub.add_parser("scale")
    c.add_argument("--n", type=int, default=100_000)
    ch = sub.add_parser("child")
    ch.add_argument("kind")
    ch.add_argument("n", type=int)
    ch.add_argument("folder")
    args = ap.parse_args(argv)
    if args.mode == "study":
        if not SHARED.exists():
            print(f"../shared/data is absent ({SHARED}); nothing to study")
            return 0
        return study([int(x) for x in args.seeds.split(",")], args.datasets.split(","))
    if args.mode == "scale":
        return scale(args.n)
    print(json.dumps(child(args.kind, args.n, args.folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
