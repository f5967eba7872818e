"""Leakage study: are lightly edited copies of training prompts in an eval set found, with the
right training match, without flagging more natural eval rows?

Cases built from ../shared/data (real texts, real default-encoder vectors via ``workbench.embed``),
5 seeds each:

- ``clinc150``: train = CLINC150 train queries (a random 5,000), eval = 1,000 test queries;
- ``banking77``: train = Banking77 train (a random 5,000), eval = 1,000 test queries;
- ``dolly``: Dolly open_qa instructions + responses, train = 3,000, eval = the other 742;
- ``self_instruct``: Self-Instruct seed + user-oriented instructions, train = 300, eval = 127.

Into each eval set go 30 copies of (different) training rows per edit kind, response kept:

- ``verbatim``: unchanged;
- ``case_punct_filler``: case changed (lower / upper / title / first letter), punctuation
  changed (end mark added, removed or swapped, a comma added) and one filler word added at the
  start or end (drawn from a wider list than the detector's, so unknown fillers are tested);
- ``unlisted_filler``: the same with a word the detector does not know as a filler ("sir",
  "mate", "lol", "btw", ...: it must rely on embedding + one word added at the start or end);
- ``word_order``: the prompt cut at a random word and its two parts swapped;
- ``filler_words``: one filler word added inside the prompt and an article or "please"
  dropped where there is one;
- ``short``: training prompts of at most 4 words, with case and punctuation changed.

Reported per edit kind: copies found *with their training row* as the match, out of 30; and
the natural eval rows flagged (rows not planted). Baseline in the same run: the leakage module
before this change (``git show <baseline-rev>:workbench/analysis/leakage.py``: normalised exact,
cosine >= 0.95, 13-gram overlap).

    python benchmarks/study_leakage.py             # 4 datasets x 5 seeds, a few minutes
    python benchmarks/study_leakage.py --seeds 2
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
BASELINE_REV = "a685a94"
EDITS = ("verbatim", "case_punct_filler", "unlisted_filler", "word_order", "filler_words", "short")
FILLERS = ["please", "hey", "um", "so", "actually", "just", "basically", "honestly", "okay", "well",
           "uh", "hi", "kindly", "quickly", "literally", "now"]
# fillers the detector does not list
UNLISTED = ["sir", "mate", "guys", "buddy", "lol", "ugh", "btw", "thx", "dude", "folks"]


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load(dataset: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]] | None]:
    """(pool, natural eval or None = split the pool)."""
    if dataset == "clinc150":
        return ([(r["text"], r["label"]) for r in _rows(SHARED / "clinc150/clinc150_train.jsonl")],
                [(r["text"], r["label"]) for r in _rows(SHARED / "clinc150/clinc150_test.jsonl")])
    if dataset == "banking77":
        return ([(r["text"], r["label"]) for r in _rows(SHARED / "banking77/banking77_train.jsonl")],
                [(r["text"], r["label"]) for r in _rows(SHARED / "banking77/banking77_test.jsonl")])
    if dataset == "dolly":
        return [(r["instruction"], r["output"]) for r in
                _rows(SHARED / "dolly15k_open_qa/dolly_open_qa_alpaca.jsonl")], None
    pool = []
    for f in ("self_instruct_seed_alpaca.jsonl", "self_instruct_user_oriented_alpaca.jsonl"):
        for r in _rows(SHARED / "self_instruct" / f):
            pool.append((r["instruction"] + ("\n" + r["input"] if r.get("input") else ""), r["output"]))
    return pool, None


def _case(t: str, rng) -> str:
    c = rng.integers(4)
    return t.lower() if c == 0 else t.upper() if c == 1 else t.title() if c == 2 else t[:1].swapcase() + t[1:]


def _punct(t: str, rng) -> str:
    t = t.rstrip()
    if t and t[-1] in "?.!":
        t = t[:-1] if rng.random() < 0.5 else t[:-1] + str(rng.choice(list("?.!")))
    else:
        t = t + str(rng.choice(["?", ".", "!", "??"]))
    w = t.split(" ")
    if len(w) > 3 and rng.random() < 0.5:
        k = int(rng.integers(1, len(w) - 1))
        w[k] = w[k] + ","
    return " ".join(w)


def edit(text: str, kind: str, rng) -> str:
    words = text.split()
    if kind == "verbatim":
        return text
    if kind in ("case_punct_filler", "unlisted_filler"):
        f = str(rng.choice(FILLERS if kind == "case_punct_filler" else UNLISTED))
        t = f"{f.capitalize()}, {text}" if rng.random() < 0.5 else f"{text.rstrip('?.! ')} {f}"
        return _case(_punct(t, rng), rng)
    if kind == "word_order":
        if len(words) < 2:
            return text
        k = int(rng.integers(1, len(words)))
        return " ".join(words[k:] + words[:k])
    if kind == "filler_words":
        drop = [j for j, w in enumerate(words) if w.lower() in ("the", "a", "an", "please")]
        if drop:
            words = words[:drop[0]] + words[drop[0] + 1:]
        k = int(rng.integers(0, len(words) + 1))
        return " ".join(words[:k] + [str(rng.choice(FILLERS))] + words[k:])
    if kind == "short":
        return _case(_punct(text, rng), rng)
    raise ValueError(kind)


def build_case(dataset: str, seed: int):
    rng = np.random.default_rng(seed)
    pool, natural = load(dataset)
    if natural is None:
        order = rng.permutation(len(pool))
        n_train = 3000 if dataset == "dolly" else 300
        train = [pool[i] for i in order[:n_train]]
        natural = [pool[i] for i in order[n_train:]]
    else:
        train = [pool[i] for i in rng.choice(len(pool), min(5000, len(pool)), replace=False)]
        natural = [natural[i] for i in rng.choice(len(natural), min(1000, len(natural)), replace=False)]
    used: set[int] = set()
    planted: list[tuple[str, str, int, str]] = []
    short = [i for i, (p, _) in enumerate(train) if len(p.split()) <= 4]
    for kind in EDITS:
        cand = short if kind == "short" else [i for i in range(len(train)) if len(train[i][0].split()) >= 2]
        cand = [i for i in cand if i not in used]
        pick = rng.choice(cand, min(30, len(cand)), replace=False)
        for i in pick:
            used.add(int(i))
            planted.append((edit(train[i][0], kind, rng), train[i][1], int(i), kind))
    prompts = [p for p, _ in train] + [p for p, _ in natural] + [p for p, _, _, _ in planted]
    responses = [r for _, r in train] + [r for _, r in natural] + [r for _, r, _, _ in planted]
    roles = np.array(["train"] * len(train) + ["eval"] * (len(natural) + len(planted)), dtype=object)
    first = len(train) + len(natural)
    truth = {first + k: (i, kind) for k, (_, _, i, kind) in enumerate(planted)}
    return prompts, responses, roles, truth, len(train), len(natural)


def old_module():
    from git_baseline import module_at

    return module_at(BASELINE_REV, "workbench/analysis/leakage.py", "leakage_baseline")


def score(leak, truth, n_train, n_natural, prompts):
    """Copies found with their training row (or a training row with the same words apart from
    filler words, when train holds such a twin) per edit kind; natural eval rows flagged."""
    from workbench.analysis.leakage import FILLER_WORDS
    from workbench.analysis.textnorm import normalise

    def key(i):
        return sorted(w for w in normalise(prompts[i].replace("'", "")).split() if w not in FILLER_WORDS)

    found = {k: 0 for k in EDITS}
    totals = {k: 0 for k in EDITS}
    for row, (t, kind) in truth.items():
        totals[kind] += 1
        m = int(leak.match[row])
        if leak.leaked[row] and (m == t or (m >= 0 and key(m) == key(t))):
            found[kind] += 1
    natural = int(leak.leaked[n_train:n_train + n_natural].sum())
    return found, totals, natural


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--datasets", default="clinc150,banking77,dolly,self_instruct")
    args = ap.parse_args()
    if not SHARED.exists():
        sys.exit(f"needs {SHARED}")
    from workbench.analysis.graph import build_graph
    from workbench.analysis.leakage import find_leakage
    from workbench.embed import embed_texts, get_encoder

    enc = get_encoder()
    old = old_module()
    t_all = time.perf_counter()
    kinds_seen: dict[str, int] = {}
    for ds in args.datasets.split(","):
        new_f, old_f, new_n, old_n, secs = [], [], [], [], []
        for seed in range(args.seeds):
            prompts, responses, roles, truth, n_train, n_nat = build_case(ds, seed)
            vecs = embed_texts(prompts, enc)[0]
            graph = build_graph(vecs, 15)
            t0 = time.perf_counter()
            leak = find_leakage(prompts, responses, vecs, roles, graph)
            secs.append(time.perf_counter() - t0)
            base = old.find_leakage(prompts, responses, vecs, roles, graph)
            f, tot, nat = score(leak, truth, n_train, n_nat, prompts)
            fb, _, natb = score(base, truth, n_train, n_nat, prompts)
            new_f.append([f[k] / tot[k] * 30 if tot[k] else np.nan for k in EDITS])
            old_f.append([fb[k] / tot[k] * 30 if tot[k] else np.nan for k in EDITS])
            new_n.append(nat)
            old_n.append(natb)
            for it in leak.items:
                kinds_seen[it["kinds"][0]] = kinds_seen.get(it["kinds"][0], 0) + 1
        a, b = np.array(new_f), np.array(old_f)
        print(f"\n== {ds}: {args.seeds} seeds; {n_train} train, {n_nat} natural eval rows, 30 copies per edit ==")
        print(f"{'copies found (of 30)':24s} {'new rule':>14s} {'baseline':>14s} {'ratio':>6s}")
        for j, k in enumerate(EDITS):
            if np.isnan(a[:, j]).all():
                print(f"{k:24s} {'(no such training prompts)':>30s}")
                continue
            print(f"{k:24s} {a[:, j].mean():7.1f} ± {a[:, j].std():4.1f} "
                  f"{b[:, j].mean():7.1f} ± {b[:, j].std():4.1f} "
                  f"{a[:, j].mean() / max(b[:, j].mean(), 1e-9):6.2f}   min {a[:, j].min():.0f}")
        nn, on = np.array(new_n), np.array(old_n)
        print(f"{'natural rows flagged':24s} {nn.mean():7.1f} ± {nn.std():4.1f} {on.mean():7.1f} ± {on.std():4.1f} "
              f"{nn.mean() / max(on.mean(), 1e-9):6.2f}   per seed {nn.tolist()} vs {on.tolist()}")
        print(f"leakage step {np.mean(secs):.2f} s per case")
    print(f"\nmatches by first kind (all cases): {kinds_seen}")
    print(f"total {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
