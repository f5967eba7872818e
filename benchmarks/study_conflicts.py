"""Study: conflicts (``workbench.analysis.conflicts`` with confident learning) against the naive
baselines, on cases built from ../shared/data.

Cases: intent-classification chat data, prompt = query, response = the intent label (as in a
classifier fine-tune): Banking77 train (77 intents) and CLINC150 train (150 intents), a random
sample of ``--rows`` rows (and the full Banking77 train set with ``--full``). In each case 3% of
the answers are replaced by another intent (uniformly among the others). A *family* case turns the
same CLINC150 sample into free-text answers: each intent answered by one of three sentences
that name the intent (``"Sure, I can help with <intent>."``...), so the answers form families of
near-identical sentences instead of labels; 3% get another intent's sentence.

Per case, precision of the top k rows (k = number replaced) by

* ``conflict`` — the workbench column (label/family rows: 1 - label quality);
* ``neighbours`` — the same function without prompt vectors (the pre-confident-learning score);
* baseline ``kNN disagreement`` — the similarity-weighted share of a row's 10 nearest train
  prompts whose answer differs from its own;

mean ± standard deviation over ``--seeds`` seeds, the ratio to the baseline, and the time of
``find_conflicts``. ``--with-lr`` adds a 5-fold multinomial logistic regression's
self-confidence (cleanlab's usual setting, scikit-learn) for comparison, with its time.

    python benchmarks/study_conflicts.py                 # 3 cases x 5 seeds, a few minutes warm
    python benchmarks/study_conflicts.py --full --with-lr
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
TEMPLATES = ("Sure, I can help with {}.", "Okay, this is about {}.", "Let me take care of {} for you.")


def _rows(rel: str) -> list[dict]:
    with open(SHARED / rel, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load(name: str) -> tuple[list[str], list[str]]:
    if name == "banking77":
        rows = _rows("banking77/banking77_train.jsonl")
    elif name == "clinc150":
        rows = _rows("clinc150/clinc150_train.jsonl")
    else:
        raise ValueError(name)
    return [r["text"] for r in rows], [r["label"] for r in rows]


def make_case(texts, labels, n, seed, family=False):
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(texts), n, replace=False) if n < len(texts) else np.arange(len(texts))
    prompts = [texts[i] for i in idx]
    truth = [labels[i] for i in idx]
    intents = sorted(set(truth))
    k = max(2, int(round(FRACTION * len(idx))))
    swapped = rng.choice(len(idx), k, replace=False)
    answers = list(truth)
    for s in swapped:
        answers[s] = str(rng.choice([x for x in intents if x != truth[s]]))
    if family:
        answers = [TEMPLATES[int(t)].format(a.replace("_", " ")) for a, t in
                   zip(answers, rng.integers(0, len(TEMPLATES), len(answers)))]
    return prompts, answers, swapped


def precision_at_k(score: np.ndarray, positives: np.ndarray) -> float:
    k = len(positives)
    top = np.argsort(-score, kind="stable")[:k]
    return len(set(top.tolist()) & set(positives.tolist())) / k


def knn_disagreement(graph, answers) -> np.ndarray:
    a = np.asarray(answers, dtype=object)
    nb, sims = graph.indices[:, :10], np.maximum(graph.sims[:, :10], 0)
    differs = a[nb] != a[:, None]
    return (sims * differs).sum(axis=1) / np.maximum(sims.sum(axis=1), 1e-9)


def lr_self_confidence(pv, answers, seed) -> np.ndarray:
    import warnings

    from sklearn.linear_model import LogisticRegression

    classes, y = np.unique(np.asarray(answers, dtype=object).astype(str), return_inverse=True)
    fold = np.random.default_rng(seed).permutation(len(y)) % 5
    p = np.zeros((len(y), len(classes)), np.float32)
    for q in range(5):
        tr, te = fold != q, fold == q
        m = LogisticRegression(C=10.0, max_iter=100)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(pv[tr], y[tr])
        p[np.ix_(np.flatnonzero(te), m.classes_)] = m.predict_proba(pv[te])
    return -p[np.arange(len(y)), y]


def run(cases, seeds: int, with_lr: bool) -> dict:
    from workbench.analysis.conflicts import find_conflicts
    from workbench.analysis.graph import build_graph
    from workbench.embed import embed_texts, get_encoder

    enc = get_encoder()
    table = {}
    for label, name, n, family in cases:
        texts, labels = load(name)
        acc: dict[str, list[float]] = {}
        for seed in range(seeds):
            prompts, answers, swapped = make_case(texts, labels, n, seed, family)
            pv, _ = embed_texts(prompts, enc)
            uniq = sorted(set(answers))
            uv, _ = embed_texts(uniq, enc)
            rv = uv[np.searchsorted(np.array(uniq, dtype=object), np.array(answers, dtype=object))]
            graph = build_graph(pv, 15, seed=seed)
            roles = ["train"] * len(prompts)
            t0 = time.perf_counter()
            c = find_conflicts(graph, roles, answers, rv, prompt_vecs=pv, seed=seed)
            acc.setdefault("seconds", []).append(time.perf_counter() - t0)
            acc.setdefault("conflict", []).append(precision_at_k(c.conflict, swapped))
            acc.setdefault("items", []).append(
                precision_at_k(-np.array([next((r for r, it in enumerate(c.items) if it["example"] == i),
                                               10 ** 9) for i in range(len(prompts))], float), swapped))
            old = find_conflicts(graph, roles, answers, rv, seed=seed)
            acc.setdefault("neighbours", []).append(precision_at_k(old.conflict, swapped))
            acc.setdefault("baseline", []).append(precision_at_k(knn_disagreement(graph, answers), swapped))
            if with_lr:
                t0 = time.perf_counter()
                s = lr_self_confidence(pv, answers, seed)
                acc.setdefault("lr_seconds", []).append(time.perf_counter() - t0)
                acc.setdefault("lr", []).append(precision_at_k(s, swapped))
        table[label] = {"rows": len(prompts), "k": len(swapped),
                        **{key: (float(np.mean(v)), float(np.std(v))) for key, v in acc.items()}}
    return table


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--full", action="store_true", help="also the full Banking77 train set (10,003 rows)")
    ap.add_argument("--with-lr", action="store_true", help="also 5-fold logistic regression (slow)")
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        sys.exit(f"needs the real datasets in {SHARED}")
    cases = [("banking77 labels", "banking77", args.rows, False),
             ("clinc150 labels", "clinc150", args.rows, False),
             ("clinc150 families", "clinc150", args.rows, True)]
    if args.full:
        cases.append(("banking77 full", "banking77", 10 ** 9, False))
    table = run(cases, args.seeds, args.with_lr)
    print(f"Conflicts: {FRACTION:.0%} of answers replaced by another intent, {args.seeds} seeds, precision "
          "at k (k = number replaced), mean ± sd")
    head = (f"{'case':18s} {'rows':>6s} {'k':>4s} {'conflict':>13s} {'kNN disagree':>13s} {'ratio':>6s}"
            f" {'neighbours':>13s} {'list':>6s} {'time s':>7s}")
    if args.with_lr:
        head += f" {'5-fold LR':>13s} {'LR s':>6s}"
    print(head)
    for label, r in table.items():
        line = (f"{label:18s} {r['rows']:6d} {r['k']:4d} {r['conflict'][0]:6.3f} ± {r['conflict'][1]:.3f}"
                f" {r['baseline'][0]:6.3f} ± {r['baseline'][1]:.3f} {r['conflict'][0] / max(r['baseline'][0], 1e-9):6.2f}"
                f" {r['neighbours'][0]:6.3f} ± {r['neighbours'][1]:.3f} {r['items'][0]:6.3f} {r['seconds'][0]:7.2f}")
        if args.with_lr:
            line += f" {r['lr'][0]:6.3f} ± {r['lr'][1]:.3f} {r['lr_seconds'][0]:6.1f}"
        print(line)


if __name__ == "__main__":
    main()
