"""Threshold study for near-duplicates: precision / recall / F1 of "prompt cosine >= t" on the
PAWS-Wiki human-labelled sentence pairs (../shared/data/paws_wiki).

The threshold is *chosen* on the dev split and *reported* on the test split, for the workbench
encoder at int8 (the CPU default) and fp32, next to a word-overlap baseline (Jaccard of the
normalised word sets) measured the same way. It also measures how far int8 cosines move from
fp32 ones, which sets the margin of ``duplicates.recheck_pairs``.

Choice rule: the threshold that maximises F0.5 on dev (precision counts twice as much as
recall: a false near-duplicate costs a curator a wrongly rejected example, a missed one only a
redundant example) among the thresholds that keep dev recall >= 0.8 (a detector that misses
most rewordings is no use), on a 0.01 grid.

    python benchmarks/study_duplicate_threshold.py            # full dev + test (8,000 pairs each)
    python benchmarks/study_duplicate_threshold.py --quick    # 1,000 pairs each

PAWS is adversarial: every pair shares almost all its words and about 44% are paraphrases, so
neither word overlap nor a small sentence encoder separates them well. The numbers are a lower
bound of what a curator sees on ordinary data, where most non-duplicates do not share all
their words.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAWS = ROOT.parent / "shared" / "data" / "paws_wiki"


def load(split: str, limit: int | None) -> tuple[list[str], list[str], np.ndarray]:
    rows = [json.loads(line) for line in open(PAWS / f"paws_wiki_{split}.jsonl", encoding="utf-8") if line.strip()]
    if limit:
        rows = rows[:limit]
    return ([r["sentence1"] for r in rows], [r["sentence2"] for r in rows],
            np.array([int(r["label"]) for r in rows], dtype=np.int8))


def prf(scores: np.ndarray, labels: np.ndarray, t: float, beta: float = 1.0) -> tuple[float, float, float]:
    pred = scores >= t
    tp = int((pred & (labels == 1)).sum())
    fp = int((pred & (labels == 0)).sum())
    fn = int((~pred & (labels == 1)).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 0.0
    b2 = beta * beta
    f = (1 + b2) * p * r / (b2 * p + r) if p + r else 0.0
    return p, r, f


def choose(scores: np.ndarray, labels: np.ndarray, beta: float, min_recall: float = 0.0) -> float:
    grid = np.round(np.arange(0.50, 0.995, 0.01), 2)
    ok = [t for t in grid if prf(scores, labels, t)[1] >= min_recall] or list(grid)
    return float(max(ok, key=lambda t: (prf(scores, labels, t, beta)[2], t)))


def jaccard(a: list[str], b: list[str]) -> np.ndarray:
    from workbench.analysis.textnorm import normalise_many

    na, nb = normalise_many(a), normalise_many(b)
    out = np.zeros(len(a), np.float32)
    for i, (x, y) in enumerate(zip(na, nb)):
        sx, sy = set(x.split()), set(y.split())
        out[i] = len(sx & sy) / max(len(sx | sy), 1)
    return out


def cosines(enc, a: list[str], b: list[str]) -> np.ndarray:
    from workbench.embed import embed_texts

    va, _ = embed_texts(a, enc)
    vb, _ = embed_texts(b, enc)
    return np.einsum("ij,ij->i", va, vb).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 pairs per split (smoke run)")
    ap.add_argument("--precisions", default="int8,fp32", help="encoder precisions to measure")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not PAWS.exists():
        print(f"PAWS-Wiki not found at {PAWS}", file=sys.stderr)
        return 1
    from workbench.embed import get_encoder

    limit = 1000 if args.quick else None
    dev, test = load("dev", limit), load("test", limit)
    print(f"PAWS-Wiki: dev {len(dev[2])} pairs ({dev[2].mean():.1%} paraphrases), "
          f"test {len(test[2])} pairs ({test[2].mean():.1%} paraphrases)")
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    t0 = time.perf_counter()
    scores["word Jaccard"] = (jaccard(dev[0], dev[1]), jaccard(test[0], test[1]))
    for prec in args.precisions.split(","):
        t = time.perf_counter()
        enc = get_encoder(device="cpu", precision=prec)
        scores[f"MiniLM {prec}"] = (cosines(enc, dev[0], dev[1]), cosines(enc, test[0], test[1]))
        print(f"embedded with {enc.name} {prec}: {time.perf_counter() - t:.1f} s")

    print("\nChosen on dev, reported on test (rules: max F0.5 with dev recall >= 0.8 [the default's rule], "
          "max F0.5, max F1):")
    print(f"{'scorer':<14} {'rule':<10} {'t':>5} | {'dev P':>6} {'dev R':>6} {'dev F1':>6} | "
          f"{'test P':>6} {'test R':>6} {'test F1':>7}")
    for name, (sd, st) in scores.items():
        for rule, beta, floor in (("F0.5|R>=.8", 0.5, 0.8), ("F0.5", 0.5, 0.0), ("F1", 1.0, 0.0)):
            t = choose(sd, dev[2], beta, floor)
            dp, dr, df = prf(sd, dev[2], t)
            tp, tr, tf = prf(st, test[2], t)
            print(f"{name:<14} {rule:<10} {t:5.2f} | {dp:6.3f} {dr:6.3f} {df:6.3f} | {tp:6.3f} {tr:6.3f} {tf:7.3f}")
    print(f"\nFixed thresholds on test (precision / recall):")
    grid = [0.80, 0.85, 0.88, 0.90, 0.92, 0.93, 0.95, 0.97]
    print(f"{'scorer':<14} " + " ".join(f"{t:>11.2f}" for t in grid))
    for name, (_, st) in scores.items():
        cells = []
        for t in grid:
            p, r, _ = prf(st, test[2], t)
            cells.append(f"{p:5.3f}/{r:5.3f}")
        print(f"{name:<14} " + " ".join(f"{c:>11}" for c in cells))
    if "MiniLM int8" in scores and "MiniLM fp32" in scores:
        d = np.abs(np.concatenate(scores["MiniLM int8"]) - np.concatenate(scores["MiniLM fp32"]))
        print(f"\nint8 vs fp32 cosine: mean |diff| {d.mean():.4f}, p99 {np.quantile(d, 0.99):.4f}, "
              f"max {d.max():.4f}")
        for t in (0.90, 0.93, 0.95):
            a = np.concatenate(scores["MiniLM int8"]) >= t
            b = np.concatenate(scores["MiniLM fp32"]) >= t
            print(f"  decisions that differ at t={t:.2f}: {int((a != b).sum())} of {len(a)} pairs")
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
