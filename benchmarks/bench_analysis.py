"""Benchmark: the whole analysis at 100k (and 1M) examples vs a naive BERTopic-style pipeline.

Data: the 72,952 real examples of ../shared/data (``realtexts.items()``: Banking77 and CLINC150
queries with their intent as response, CLINC150 out-of-scope queries, Dolly open_qa and
Self-Instruct instructions with their human responses, PAWS-Wiki sentences without response),
embedded once with the workbench encoder (int8 all-MiniLM-L6-v2; vectors cached on disk). Rows
beyond the real ones are copies of real rows with a " #n" suffix on the text and Gaussian jitter
on the vector (cosine ~0.86 to the original: same topic, not a near-duplicate). Roles: intent
and instruction rows 70% train / 15% production (prompt only) / 15% eval, out-of-scope queries
and sentences production.

Each pipeline runs in its own fresh process (so peak RSS is its own):

* **workbench**: ``run_analysis`` with default parameters (graph, map, clusters, labels, flags,
  duplicates, conflicts, coverage, review queue, leakage) + writing the results. Before it, a
  warm-up process fills the numba cache if it is cold (reported separately: a one-time cost).
* **naive**: ``umap.UMAP()`` with default settings on the raw vectors, then
  ``hdbscan.HDBSCAN()`` with default settings on its output — map and clusters only, in a fresh
  process as a user would run it (including numba's compile time, which pynndescent cannot cache).

Prints a table (seconds per phase, total, peak RSS) and the ratios naive / workbench for map +
clusters and for the whole analysis. Sizes above ``--naive-max`` skip the naive run.

Usage: ``python benchmarks/bench_analysis.py [--sizes 100000,1000000] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from realtexts import ROOT, embed, items  # noqa: E402

JITTER = 0.6  # norm of the Gaussian noise added to a copied unit vector (cosine ~0.86)


def make_rows(n: int, seed: int = 0):
    """Prompts, responses, roles, prompt and response vectors of ``n`` rows (see docstring)."""
    base = items()
    prompts_b = [p for p, _, _ in base]
    resp_b = [r for _, r, _ in base]
    kinds_b = np.array([k for _, _, k in base], dtype=object)
    texts = list(dict.fromkeys(prompts_b + [r for r in resp_b if r]))
    vecs = embed(texts)
    pos = {t: i for i, t in enumerate(texts)}
    pv_b = vecs[[pos[p] for p in prompts_b]]
    rv_b = np.zeros_like(pv_b)
    has = np.array([bool(r) for r in resp_b])
    rv_b[has] = vecs[[pos[r] for r in resp_b if r]]

    rng = np.random.default_rng(seed)
    src = np.arange(n) % len(base)
    copy = np.arange(n) // len(base)
    prompts = [prompts_b[s] + (f" #{c}" if c else "") for s, c in zip(src, copy)]
    pv = pv_b[src]
    for start in range(len(base), n, 65536):  # jitter the copies, a block at a time (memory)
        block = pv[start:start + 65536]
        noise = rng.normal(size=block.shape).astype(np.float32)
        noise *= JITTER / np.linalg.norm(noise, axis=1, keepdims=True)
        block += noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
    kinds = kinds_b[src]
    u = rng.random(n)
    roles = np.where(np.isin(kinds, ["oos", "sentence"]), "production",
                     np.where(u < 0.70, "train", np.where(u < 0.85, "production", "eval"))).astype(object)
    responses = [resp_b[s] if r != "production" else "" for s, r in zip(src, roles)]
    rv = rv_b[src]
    rv[roles == "production"] = 0.0
    return prompts, responses, roles, pv, rv


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _RssWatch:
    """Samples the process RSS every 50 ms and keeps the peak per reported phase."""

    def __init__(self) -> None:
        import threading

        import psutil

        self.phase = "start"
        self.peaks: dict[str, float] = {}
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def progress(self, done: int, total: int, phase: str) -> None:
        self.phase = phase

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            mb = self._proc.memory_info().rss / 2**20
            if mb > self.peaks.get(self.phase, 0):
                self.peaks[self.phase] = round(mb)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def child_workbench(n: int, out_dir: str) -> dict:
    from workbench.analysis.pipeline import AnalysisInput, AnalysisParams, run_analysis

    prompts, responses, roles, pv, rv = make_rows(n)
    inp = AnalysisInput(source=np.full(n, "bench.jsonl", dtype=object), line=np.arange(1, n + 1),
                        role=roles, prompt=prompts, response=responses, prompt_vecs=pv,
                        response_vecs=rv, encoder="bench")
    rss_data = _peak_rss_mb()
    watch = _RssWatch()
    t0 = time.perf_counter()
    res = run_analysis(inp, AnalysisParams(), progress=watch.progress)
    t1 = time.perf_counter()
    res.write(out_dir)
    t2 = time.perf_counter()
    phases = dict(res.timings)
    phases["write results"] = round(t2 - t1, 3)
    watch.stop()
    return {"phases": phases, "total": round(t2 - t0, 2), "rss_mb": round(_peak_rss_mb(), 0),
            "rss_by_phase_mb": watch.peaks,
            "rss_inputs_mb": round(rss_data, 0), "clusters": res.summary["counts"]["clusters"],
            "noise": res.summary["counts"]["noise"]}


def child_naive(n: int) -> dict:
    import warnings

    warnings.simplefilter("ignore")
    _, _, _, pv, _ = make_rows(n)
    rss_data = _peak_rss_mb()
    t0 = time.perf_counter()
    import hdbscan
    import umap

    t1 = time.perf_counter()
    coords = umap.UMAP().fit_transform(pv)
    t2 = time.perf_counter()
    labels = hdbscan.HDBSCAN().fit_predict(coords)
    t3 = time.perf_counter()
    return {"phases": {"import umap, hdbscan": round(t1 - t0, 2), "UMAP (defaults)": round(t2 - t1, 2),
                       "HDBSCAN (defaults)": round(t3 - t2, 2)},
            "total": round(t3 - t0, 2), "rss_mb": round(_peak_rss_mb(), 0),
            "rss_inputs_mb": round(rss_data, 0), "clusters": int(labels.max() + 1),
            "noise": int((labels < 0).sum())}


def warm_up() -> None:
    """Compile (or load from cache) the numba code a real analysis needs, on a tiny input.

    Takes a few seconds when the cache is warm and up to a minute on first use; safe to call
    from a background thread.
    """
    import numpy as np

    from workbench.analysis.clusters import find_clusters
    from workbench.analysis.graph import build_graph
    from workbench.analysis.layout import umap_layout

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(400, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    build_graph(vecs, 10, exact_limit=0)  # the approximate (IVF) path of large inputs
    graph = build_graph(vecs, 10)
    coords = umap_layout(vecs, graph, n_neighbors=10, seed=0)
    umap_layout(vecs, graph, n_neighbors=10, seed=0, fit_limit=200, n_epochs=20)  # sample + place
    find_clusters(coords, graph, min_cluster_size=10)


def child_warmup() -> dict:
    t0 = time.perf_counter()
    warm_up()
    return {"total": round(time.perf_counter() - t0, 2)}


def run_child(*args: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True,
                          env=env)
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


MAP_PHASES = ("neighbour graph", "map layout", "clusters", "cluster labels")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="analysis benchmark (see module docstring)")
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated row counts")
    ap.add_argument("--naive-max", type=int, default=100_000,
                    help="largest size the naive pipeline runs at (default 100000)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10,000 rows")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        kind = args.child[0]
        if kind == "workbench":
            out = child_workbench(int(args.child[1]), args.child[2])
        elif kind == "naive":
            out = child_naive(int(args.child[1]))
        else:
            out = child_warmup()
        print(json.dumps(out))
        return 0

    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    print(f"machine: {os.cpu_count()} CPUs; data: real texts from ../shared/data (see docstring)")
    print(f"embedding the real texts (cached after the first run) ...", flush=True)
    t = time.perf_counter()
    make_rows(10)
    print(f"  {time.perf_counter() - t:.1f} s")
    warm = run_child("warmup")
    print(f"numba warm-up (compiles once, then loads from the cache): {warm['total']:.1f} s")
    results = {}
    for n in sizes:
        out_dir = ROOT / "bench_out" / f"analysis_{n}"
        out_dir.mkdir(parents=True, exist_ok=True)
        print(f"\n== {n:,} rows ==", flush=True)
        wb = run_child("workbench", str(n), str(out_dir))
        naive = run_child("naive", str(n)) if n <= args.naive_max else None
        results[n] = (wb, naive)
        print(f"{'phase':<34}{'workbench s':>12}")
        for k, v in wb["phases"].items():
            print(f"{k:<34}{v:>12.2f}")
        map_s = sum(v for k, v in wb["phases"].items() if k.split(" (")[0] in MAP_PHASES)
        print(f"{'map + clusters (graph..labels)':<34}{map_s:>12.2f}")
        print(f"{'TOTAL':<34}{wb['total']:>12.2f}   peak RSS {wb['rss_mb']:.0f} MB "
              f"(inputs {wb['rss_inputs_mb']:.0f} MB); {wb['clusters']} clusters, {wb['noise']} noise")
        if naive:
            for k, v in naive["phases"].items():
                print(f"naive: {k:<27}{v:>12.2f}")
            print(f"naive: {'TOTAL':<27}{naive['total']:>12.2f}   peak RSS {naive['rss_mb']:.0f} MB; "
                  f"{naive['clusters']} clusters, {naive['noise']} noise")
            print(f"ratio naive / workbench, map + clusters: {naive['total'] / map_s:.2f}x; "
                  f"whole analysis: {naive['total'] / wb['total']:.2f}x")
    print("\n| rows | workbench total s | map+clusters s | peak RSS MB | naive s | naive RSS MB | "
          "ratio (map+clusters) | ratio (whole) |")
    print("|---|---|---|---|---|---|---|---|")
    for n, (wb, naive) in results.items():
        map_s = sum(v for k, v in wb["phases"].items() if k.split(" (")[0] in MAP_PHASES)
        if naive:
            tail = (f"{naive['total']:.1f} | {naive['rss_mb']:.0f} | {naive['total'] / map_s:.2f}x | "
                    f"{naive['total'] / wb['total']:.2f}x |")
        else:
            tail = "not run | | | |"
        print(f"| {n:,} | {wb['total']:.1f} | {map_s:.1f} | {wb['rss_mb']:.0f} | {tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
