"""Near-duplicate study: does the pair verifier (``workbench.analysis.pair_verifier``) raise
precision over "cosine >= t", on cases built from ../shared/data?

Three parts, all with the real default encoder (int8 all-MiniLM-L6-v2, vectors cached on disk):

1. **Fit** (``--fit``): the verifier's logistic regression on PAWS-Wiki *dev* pairs with cosine
   >= the candidate threshold (0.90), and the probability cut: the highest on a 0.05 grid that
   keeps dev paraphrase recall (over *all* dev paraphrases, candidate stage included) >= 0.65.
   Prints the coefficients to paste into ``pair_verifier.COEFFICIENTS`` (plain numbers, no pickle).
2. **Pairs** (PAWS-Wiki *test*, never used to fit): precision / recall of the verifier next to
   cosine >= 0.95 (the old default) and word-set Jaccard >= 0.8.
3. **Cases** (``--seeds``, default 5): each seed builds a table of prompts from 1,500 random PAWS
   test pairs (each distinct sentence one row) + 300 "normalised-exact" copies (case,
   punctuation, spacing changed) of random queries/instructions from another dataset
   (Banking77, CLINC150, Dolly, Self-Instruct, rotating by seed) + 1,500 of that dataset's other
   rows as background, then runs ``find_duplicates`` on the real neighbour graph. Scored on the
   labelled pairs: *exact recall* (copies in the original's group), *paraphrase recall* (PAWS
   paraphrase pairs in one group), *precision* = true pairs / labelled pairs in one group (PAWS
   non-paraphrases count as false). Methods: **naive** = connected components of cosine >= 0.95;
   **cosine only** = ``find_duplicates(verify=False)`` (exact + cosine >= 0.95, the old
   default); **verified** = the default (exact + cosine >= 0.90 confirmed by the verifier).

Prints mean ± standard deviation over the seeds and the ratio verified / naive precision.

    python benchmarks/study_duplicate_threshold.py [--fit] [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
PAWS = SHARED / "paws_wiki"


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_paws(split: str) -> tuple[list[str], list[str], np.ndarray]:
    rows = _rows(PAWS / f"paws_wiki_{split}.jsonl")
    return ([r["sentence1"] for r in rows], [r["sentence2"] for r in rows],
            np.array([int(r["label"]) for r in rows], dtype=np.int8))


def embed(texts: list[str]) -> np.ndarray:
    from workbench.embed import embed_texts, get_encoder

    vecs, _ = embed_texts(texts, get_encoder())
    return vecs


def cosines(a: list[str], b: list[str]) -> np.ndarray:
    return np.einsum("ij,ij->i", embed(a), embed(b)).astype(np.float32)


def features(a: list[str], b: list[str], cos: np.ndarray) -> np.ndarray:
    from workbench.analysis.pair_verifier import FEATURES, pair_features

    return np.array([[pair_features(x, y, c)[f] for f in FEATURES] for x, y, c in zip(a, b, cos)])


def pr(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    tp = int((pred & (y == 1)).sum())
    return tp / max(int(pred.sum()), 1), tp / max(int((y == 1).sum()), 1)


def fit(candidate_sim: float) -> None:
    from sklearn.linear_model import LogisticRegression

    from workbench.analysis.pair_verifier import FEATURES

    a, b, y = load_paws("dev")
    cos = cosines(a, b)
    x = features(a, b, cos)
    cand = cos >= candidate_sim
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(x[cand], y[cand])
    p = np.zeros(len(y))
    p[cand] = lr.predict_proba(x[cand])[:, 1]
    cut = max(t for t in np.round(np.arange(0.05, 0.96, 0.05), 2) if pr(p >= t, y)[1] >= 0.65)
    coef = {"intercept": round(float(lr.intercept_[0]), 4)}
    coef.update({f: round(float(c), 4) for f, c in zip(FEATURES, lr.coef_[0])})
    dp, dr = pr(p >= cut, y)
    print(f"fitted on {int(cand.sum())} PAWS dev pairs with cosine >= {candidate_sim}; "
          f"cut {cut} (dev precision {dp:.3f}, recall {dr:.3f})")
    print("COEFFICIENTS =", json.dumps(coef))


def pairs_table() -> None:
    from workbench.analysis.pair_verifier import (DEFAULT_CANDIDATE_SIM, DEFAULT_MIN_PROBABILITY,
                                                  verify_pairs)
    from workbench.analysis.textnorm import normalise_many

    a, b, y = load_paws("test")
    cos = cosines(a, b)
    na, nb = normalise_many(a), normalise_many(b)
    jac = np.array([len(set(x.split()) & set(z.split())) / max(len(set(x.split()) | set(z.split())), 1)
                    for x, z in zip(na, nb)])
    texts = a + b
    idx = np.arange(len(a))
    ok, _, _ = verify_pairs(texts, idx, idx + len(a), cos)
    verified = (cos >= DEFAULT_CANDIDATE_SIM) & ok
    print(f"\nPAWS-Wiki test, {len(y)} pairs ({y.mean():.1%} paraphrases): precision / recall")
    for name, pred in (("cosine >= 0.95", cos >= 0.95), ("cosine >= 0.98", cos >= 0.98),
                       ("word Jaccard >= 0.8", jac >= 0.8),
                       (f"verified (cos >= {DEFAULT_CANDIDATE_SIM}, P >= {DEFAULT_MIN_PROBABILITY})", verified)):
        pp, rr = pr(pred, y)
        print(f"  {name:<40} {pp:.3f} / {rr:.3f}")


# ---- cases -----------------------------------------------------------------------------------
def background(name: str) -> list[str]:
    if name == "banking77":
        return [r["text"] for r in _rows(SHARED / "banking77/banking77_train.jsonl")]
    if name == "clinc150":
        return [r["text"] for r in _rows(SHARED / "clinc150/clinc150_train.jsonl")]
    if name == "dolly":
        return [r["instruction"] for r in _rows(SHARED / "dolly15k_open_qa/dolly_open_qa_alpaca.jsonl")]
    if name == "self_instruct":
        return [r["instruction"] for f in ("self_instruct_seed_alpaca.jsonl", "self_instruct_user_oriented_alpaca.jsonl")
                for r in _rows(SHARED / "self_instruct" / f)]
    raise ValueError(name)


FILLER_PUNCT = ["?", "!", ".", " ?", "...", ""]


def normalised_copy(text: str, rng: random.Random) -> str:
    """The same text after changes that normalisation undoes: case, punctuation, spacing."""
    t = text
    choice = rng.randrange(4)
    if choice == 0:
        t = t.upper()
    elif choice == 1:
        t = t.lower()
    elif choice == 2:
        t = t[:1].upper() + t[1:]
    t = re.sub(r"[?.!,;:]+\s*$", "", t.strip()) + rng.choice(FILLER_PUNCT)
    t = re.sub(r"\s*,\s*", rng.choice([", ", " , ", " ,"]), t)
    if rng.random() < 0.5:
        t = "  " + t.replace(" ", "  ", 1)
    return t


def build_case(seed: int, n_pairs: int = 1500, n_exact: int = 300, n_background: int = 1500):
    rng = random.Random(seed)
    a, b, y = load_paws("test")
    pick = rng.sample(range(len(y)), n_pairs)
    bg_name = ["banking77", "clinc150", "dolly", "self_instruct"][seed % 4]
    bg = list(dict.fromkeys(t for t in background(bg_name) if t.strip()))
    rng.shuffle(bg)
    texts: list[str] = []
    pos: dict[str, int] = {}

    def row(t: str) -> int:
        if t not in pos:
            pos[t] = len(texts)
            texts.append(t)
        return pos[t]

    paws_pairs = [(row(a[k]), row(b[k]), int(y[k])) for k in pick]
    exact_pairs = []
    for t in bg[:n_exact]:
        c = normalised_copy(t, rng)
        i = row(t)
        if c == t:
            continue
        exact_pairs.append((i, row(c)))
    for t in bg[n_exact:n_exact + n_background]:
        row(t)
    return bg_name, texts, paws_pairs, exact_pairs


def score(group: np.ndarray, paws_pairs, exact_pairs) -> dict[str, float]:
    same = lambda i, j: group[i] >= 0 and group[i] == group[j]  # noqa: E731
    ex = [same(i, j) for i, j in exact_pairs]
    pos = [same(i, j) for i, j, lab in paws_pairs if lab == 1]
    neg = [same(i, j) for i, j, lab in paws_pairs if lab == 0]
    tp = sum(ex) + sum(pos)
    return {"exact_recall": sum(ex) / max(len(ex), 1), "para_recall": sum(pos) / max(len(pos), 1),
            "precision": tp / max(tp + sum(neg), 1)}


def naive_groups(graph, threshold: float) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(graph)
    rows = np.repeat(np.arange(n), graph.k)
    cols = graph.indices.reshape(-1)
    m = (cols >= 0) & (graph.sims.reshape(-1) >= threshold)
    adj = coo_matrix((np.ones(int(m.sum()), np.int8), (rows[m], cols[m])), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    sizes = np.bincount(comp)
    return np.where(sizes[comp] > 1, comp, -1)


def cases(seeds: int) -> None:
    if seeds < 1:
        return
    from workbench.analysis.duplicates import find_duplicates
    from workbench.analysis.graph import build_graph

    results: dict[str, list[dict[str, float]]] = {"naive cosine >= 0.95": [], "cosine only (old)": [],
                                                   "verified (default)": []}
    for seed in range(seeds):
        t = time.perf_counter()
        bg_name, texts, paws_pairs, exact_pairs = build_case(seed)
        vecs = embed(texts)
        graph = build_graph(vecs, 15)
        roles = ["train"] * len(texts)
        old = find_duplicates(texts, graph, roles, verify=False, threshold=0.95)
        new = find_duplicates(texts, graph, roles)
        res = {"naive cosine >= 0.95": score(naive_groups(graph, 0.95), paws_pairs, exact_pairs),
               "cosine only (old)": score(old.group, paws_pairs, exact_pairs),
               "verified (default)": score(new.group, paws_pairs, exact_pairs)}
        for k, v in res.items():
            results[k].append(v)
        print(f"seed {seed}: {len(texts)} rows (PAWS + {bg_name}), {len(exact_pairs)} exact copies, "
              + "; ".join(f"{k}: P {v['precision']:.3f} R {v['para_recall']:.3f}" for k, v in res.items())
              + f" ({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    print(f"\nCases: {seeds} seeds (PAWS test pairs + normalised-exact copies + background), mean ± sd")
    print("| method | exact recall | paraphrase recall | precision |")
    print("|---|---|---|---|")
    for k, rs in results.items():
        cells = [f"{np.mean([r[m] for r in rs]):.3f} ± {np.std([r[m] for r in rs]):.3f}"
                 for m in ("exact_recall", "para_recall", "precision")]
        print(f"| {k} | " + " | ".join(cells) + " |")
    naive = np.mean([r["precision"] for r in results["naive cosine >= 0.95"]])
    ver = np.mean([r["precision"] for r in results["verified (default)"]])
    print(f"precision ratio verified / naive: {ver / naive:.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", action="store_true", help="fit the verifier on PAWS dev and print it")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not PAWS.exists():
        print(f"PAWS-Wiki not found at {PAWS}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    if args.fit:
        from workbench.analysis.pair_verifier import DEFAULT_CANDIDATE_SIM

        fit(DEFAULT_CANDIDATE_SIM)
    pairs_table()
    cases(args.seeds)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
