"""Ray engine vs the local engine on this machine: fixed overhead and per-text cost.

The same real texts (Dolly open_qa prompts/responses + Banking77 queries, from ../shared/data)
are embedded with the default model (int8, CPU) by the local engine and by ``embed_on_ray`` on a
local Ray instance (``--cpus``, one worker), each into an empty cache, for several sizes. Prints
wall seconds, texts/s and the ratio ray / local, and the extra seconds Ray costs (start-up,
object store, streaming back). On one machine Ray can only add overhead; on a cluster the model
time is divided by the number of workers.

    python benchmarks/bench_ray_embed.py [--sizes 1000,4000] [--cpus 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,4000")
    ap.add_argument("--cpus", type=int, default=2)
    args = ap.parse_args()

    from benchmarks.bench_embed import load_texts
    from workbench.embed import EmbeddingCache, embed_texts, get_encoder
    from workbench.embed.ray_engine import _ray, embed_on_ray

    sizes = [int(s) for s in args.sizes.split(",")]
    texts_all = load_texts(max(sizes))
    enc = get_encoder(device="cpu", precision="int8")
    ray = _ray()
    t0 = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    start_s = time.perf_counter() - t0
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; ray.init {start_s:.1f} s; "
          f"model {enc.label}")
    print("| texts | local s | local texts/s | ray s (1 worker) | ray texts/s | ray / local | Ray overhead s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for n in sizes:
            texts = list(dict.fromkeys(texts_all))[:n]
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                embed_texts(texts, enc, cache=EmbeddingCache(Path(tmp) / "local"))
                local_s = time.perf_counter() - t
                t = time.perf_counter()
                embed_on_ray(texts, enc, cache=EmbeddingCache(Path(tmp) / "ray"), workers=1)
                ray_s = time.perf_counter() - t
            print(f"| {len(texts):,} | {local_s:.1f} | {len(texts) / local_s:,.0f} | {ray_s:.1f} | "
                  f"{len(texts) / ray_s:,.0f} | {ray_s / local_s:.2f} | {ray_s - local_s:.1f} |")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
