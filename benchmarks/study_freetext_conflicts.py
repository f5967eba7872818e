"""Study: free-text conflicts (``workbench.analysis.conflicts``) — does a pair of prompts that
name different things ("the words of House Tyrell" / "of House Reed") stop counting as one
question answered twice, without losing real conflicts?

Cases from ../shared/data (open-ended answers, the pairwise rule; label answers go through
confident learning and are not affected): Dolly open_qa (3,742 rows) and Self-Instruct (seed +
user-oriented tasks). Per seed, 30 rows get a **conflicting copy**: the same question, lightly
edited as people retype it (lower-cased, trailing punctuation changed or removed, "please"
added) with the answer of another random row. Measured over the conflict list (up to 1,000 items):

* ``injected found``: injected copies (or their originals) listed as a conflict (of 30);
* ``other-question items``: listed conflicts whose prompt and the prompts it is said to disagree
  with are all *different questions* by a reader's standard — none of them equal to it after
  normalisation (NFKC, case, punctuation, spacing); a listed conflict between two different
  questions is a false alarm;
* ``precision of the top 30``: share of the 30 highest-scored items that involve an injected row;
* ``listed``: all items.

Baseline in the same run: the same function with ``distinct_names=False`` (the rule before).

    python benchmarks/study_freetext_conflicts.py [--seeds 5]
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

N_INJECT = 30


def _rows(rel: str) -> list[dict]:
    with open(SHARED / rel, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load(name: str) -> tuple[list[str], list[str]]:
    if name == "dolly":
        rows = _rows("dolly15k_open_qa/dolly_open_qa.jsonl")
    elif name == "self_instruct":
        rows = [r for f in ("self_instruct/self_instruct_seed_alpaca.jsonl",
                            "self_instruct/self_instruct_user_oriented_alpaca.jsonl") for r in _rows(f)]
    else:
        raise ValueError(name)
    prompts = [(r["instruction"] + ("\n" + r["input"] if r.get("input") else "")).strip() for r in rows]
    return prompts, [str(r.get("response", r.get("output", ""))) for r in rows]


def retype(text: str, rng: np.random.Generator) -> str:
    k = int(rng.integers(3))
    if k == 0:
        return text.lower()
    if k == 1:
        return text.rstrip("?.! ") + ("" if rng.random() < 0.5 else " ?")
    return text.rstrip("?.! ") + " please?"


def make_case(prompts, responses, seed):
    rng = np.random.default_rng(seed)
    n = len(prompts)
    src = rng.choice(n, N_INJECT, replace=False)
    other = (src + rng.integers(1, n, N_INJECT)) % n
    p = list(prompts) + [retype(prompts[i], rng) for i in src]
    r = list(responses) + [responses[j] for j in other]
    return p, r, src, np.arange(n, n + N_INJECT)


def run(datasets, seeds):
    from workbench.analysis.conflicts import find_conflicts
    from workbench.analysis.graph import build_graph
    from workbench.analysis.textnorm import normalise_many
    from workbench.embed import embed_texts, get_encoder

    encoder = get_encoder()
    out = {}
    for name in datasets:
        prompts, responses = load(name)
        res = {m: {"found": [], "top": [], "other": [], "listed": [], "seconds": []} for m in ("workbench", "before")}
        for seed in range(seeds):
            p, r, src, copies = make_case(prompts, responses, seed)
            pv, _ = embed_texts(p, encoder)
            rv, _ = embed_texts(r, encoder)
            graph = build_graph(pv, 15, seed=seed)
            norm = normalise_many(p)
            injected = set(src.tolist()) | set(copies.tolist())
            for mode, flag in (("workbench", True), ("before", False)):
                t0 = time.perf_counter()
                c = find_conflicts(graph, ["train"] * len(p), r, rv, prompt_vecs=pv, seed=seed, prompts=p,
                                   distinct_names=flag)
                res[mode]["seconds"].append(time.perf_counter() - t0)
                found, other, top = set(), 0, 0
                for k, it in enumerate(c.items):
                    rows = [int(it["example"])] + [int(x["example"]) for x in it.get("against", [])]
                    found |= {x for x in rows if x in injected}
                    top += int(k < N_INJECT and any(x in injected for x in rows))
                    if all(norm[x] != norm[rows[0]] for x in rows[1:]) and len(rows) > 1:
                        other += 1
                hit = sum(1 for s, cpy in zip(src, copies) if int(s) in found or int(cpy) in found)
                res[mode]["found"].append(hit)
                res[mode]["other"].append(other)
                res[mode]["top"].append(top / N_INJECT)
                res[mode]["listed"].append(len(c.items))
        out[name] = {m: {k: (float(np.mean(v)), float(np.std(v))) for k, v in d.items()} for m, d in res.items()}
        out[name]["rows"] = len(prompts)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--datasets", nargs="+", default=["dolly", "self_instruct"])
    args = ap.parse_args(argv)
    if not SHARED.exists():
        sys.exit(f"needs {SHARED}")
    table = run(args.datasets, args.seeds)
    print("| dataset | rule | injected conflicts found (of 30) | precision of the top 30 | listed items between different questions | listed | seconds |")
    print("|---|---|---|---|---|---|---|")
    for name, d in table.items():
        for mode in ("workbench", "before"):
            m = d[mode]
            print(f"| {name} ({d['rows']:,} rows) | {mode} | {m['found'][0]:.1f} ± {m['found'][1]:.1f} | "
                  f"{m['top'][0]:.3f} ± {m['top'][1]:.3f} | {m['other'][0]:.1f} ± {m['other'][1]:.1f} | {m['listed'][0]:.1f} ± {m['listed'][1]:.1f} | "
                  f"{m['seconds'][0]:.2f} |")
        w, b = d["workbench"]["other"][0], d["before"]["other"][0]
        print(f"ratio of other-question items, workbench / before: {w / max(b, 1e-9):.2f}")


if __name__ == "__main__":
    main()
