"""Study: mismatched answers (``workbench.analysis.mismatch``) against the naive baseline.

Cases built from ../shared/data (human-written prompt/response pairs): Dolly open_qa (3,742
rows), Self-Instruct seed + user-oriented tasks (427; instruction + input as the prompt) and
OASST1 English validation (last user turn -> final assistant turn of each conversation that ends
on an answer; the top-1 path per tree counted once per distinct pair). In each case 3% of the rows
(at least 2) get another chosen row's response (the chosen responses rotated among themselves:
rows shifted in a join). Per case: precision of the top k rows by the score, k = number moved,
for

* ``mismatch`` (the workbench score: relative to the whole dataset, cross-fitted prompt map);
* baseline ``1 - cos(prompt, response)`` (the naive score);

plus the ``mismatched_response`` flag's precision and recall, mean ± standard deviation over
the seeds, and the time of ``find_mismatches``.

    python benchmarks/study_mismatch.py            # 3 datasets x 5 seeds, about a minute warm
    python benchmarks/study_mismatch.py --seeds 10

Vectors from the default workbench encoder (``workbench.embed``; cached on disk).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FRACTION = 0.03


def _rows(rel: str) -> list[dict]:
    with open(SHARED / rel, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load(name: str) -> tuple[list[str], list[str]]:
    """(prompts, responses) of one dataset, rows with an empty side left out."""
    prompts: list[str] = []
    responses: list[str] = []
    if name == "dolly_open_qa":
        for r in _rows("dolly15k_open_qa/dolly_open_qa_alpaca.jsonl"):
            prompts.append(r["instruction"] + ("\n" + r["input"] if r.get("input") else ""))
            responses.append(r["output"])
    elif name == "self_instruct":
        for f in ("self_instruct/self_instruct_seed_alpaca.jsonl",
                  "self_instruct/self_instruct_user_oriented_alpaca.jsonl"):
            for r in _rows(f):
                prompts.append(r["instruction"] + ("\n" + r["input"] if r.get("input") else ""))
                responses.append(r["output"])
    elif name == "oasst1":
        seen = set()
        for r in _rows("oasst1_en_val/oasst1_en_val_chat.jsonl"):
            msgs = r["messages"]
            if msgs[-1]["role"] != "assistant":
                continue
            pair = ([m["content"] for m in msgs if m["role"] == "user"][-1], msgs[-1]["content"])
            if pair not in seen:
                seen.add(pair)
                prompts.append(pair[0])
                responses.append(pair[1])
    else:
        raise ValueError(name)
    keep = [i for i, (p, r) in enumerate(zip(prompts, responses)) if p.strip() and r.strip()]
    return [prompts[i] for i in keep], [responses[i] for i in keep]


def make_case(prompts: list[str], responses: list[str], seed: int, fraction: float = FRACTION):
    """Responses with ``fraction`` of them rotated among the chosen rows; the moved rows."""
    rng = np.random.default_rng(seed)
    n = len(prompts)
    k = max(2, int(round(fraction * n)))
    moved = rng.choice(n, k, replace=False)
    out = list(responses)
    for a, b in zip(moved, np.roll(moved, 1)):
        out[a] = responses[b]
    return out, moved


def precision_at_k(score: np.ndarray, positives: np.ndarray) -> float:
    k = len(positives)
    top = np.argsort(-score, kind="stable")[:k]
    return len(set(top.tolist()) & set(positives.tolist())) / k


def run(datasets: list[str], seeds: int) -> dict:
    from workbench.analysis.mismatch import find_mismatches
    from workbench.embed import embed_texts, get_encoder

    encoder = get_encoder()
    table = {}
    for name in datasets:
        prompts, responses = load(name)
        pv, _ = embed_texts(prompts, encoder)
        res_rows = {"mismatch": [], "baseline": [], "flag_precision": [], "flag_recall": [], "flagged": [],
                    "seconds": []}
        for seed in range(seeds):
            resp, moved = make_case(prompts, responses, seed)
            rv, _ = embed_texts(resp, encoder)
            t0 = time.perf_counter()
            m = find_mismatches(pv, rv, ["train"] * len(prompts), prompts, resp, seed=seed)
            res_rows["seconds"].append(time.perf_counter() - t0)
            res_rows["mismatch"].append(precision_at_k(m.mismatch, moved))
            res_rows["baseline"].append(precision_at_k(-np.einsum("ij,ij->i", pv, rv), moved))
            fl = m.flagged
            tp = int(fl[moved].sum())
            res_rows["flag_precision"].append(tp / max(int(fl.sum()), 1))
            res_rows["flag_recall"].append(tp / len(moved))
            res_rows["flagged"].append(int(fl.sum()))
        table[name] = {"rows": len(prompts), "moved": len(moved),
                       **{k: (float(np.mean(v)), float(np.std(v))) for k, v in res_rows.items()}}
    return table


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--datasets", nargs="+", default=["dolly_open_qa", "self_instruct", "oasst1"])
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        sys.exit(f"needs the real datasets in {SHARED}")
    table = run(args.datasets, args.seeds)
    print(f"Mismatched answers: {FRACTION:.0%} of responses moved, {args.seeds} seeds, precision at k "
          "(k = number moved), mean ± sd")
    print(f"{'dataset':15s} {'rows':>5s} {'k':>4s} {'mismatch':>13s} {'baseline cos':>13s} {'ratio':>6s}"
          f" {'flag P':>11s} {'flag R':>11s} {'flagged':>8s} {'time s':>7s}")
    for name, r in table.items():
        ratio = r["mismatch"][0] / max(r["baseline"][0], 1e-9)
        print(f"{name:15s} {r['rows']:5d} {r['moved']:4d} {r['mismatch'][0]:6.3f} ± {r['mismatch'][1]:.3f}"
              f" {r['baseline'][0]:6.3f} ± {r['baseline'][1]:.3f} {ratio:6.2f}"
              f" {r['flag_precision'][0]:4.2f} ± {r['flag_precision'][1]:.2f}"
              f" {r['flag_recall'][0]:4.2f} ± {r['flag_recall'][1]:.2f} {r['flagged'][0]:8.1f}"
              f" {r['seconds'][0]:7.2f}")


if __name__ == "__main__":
    main()
