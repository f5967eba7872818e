"""Leakage: eval examples that also appear, exactly or nearly, in the training data.

An eval row *leaks* when any of these holds, each with its training match:

- **exact**: its prompt equals a train prompt after normalisation (case, whitespace,
  punctuation; see :mod:`workbench.analysis.textnorm`);
- **near**: the cosine between its prompt vector and the nearest train prompt vector is >=
  ``sim_threshold`` (default: the near-duplicate threshold of :mod:`duplicates`); nearest train
  row computed exactly as in :func:`workbench.analysis.coverage.nearest_in_base`;
- **n-gram**: at least ``ngram_min_overlap`` (default 0.3) of the word ``n``-grams (default
  13, as in the GPT-3 contamination study) of its prompt + response text occur in the prompt +
  response text of training rows. Texts shorter than ``n`` words have no n-grams, so short
  queries are judged by the first two tests only. The match is the train row that shares the
  most n-grams (each shared n-gram counted
  for the first train row holding it).

Ranked: exact first, then by prompt similarity, then by n-gram overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from workbench.analysis.coverage import nearest_in_base
from workbench.analysis.duplicates import DEFAULT_NEAR_THRESHOLD
from workbench.analysis.graph import NeighbourGraph
from workbench.analysis.textnorm import shared_ngram_hashes, text_hashes
from workbench.core.progress import CancelToken, ProgressFn, ensure

DEFAULT_NGRAM = 13
DEFAULT_NGRAM_MIN_OVERLAP = 0.3

RowRef = Callable[[int], dict[str, Any]]


def _default_ref(i: int) -> dict[str, Any]:
    return {"row": int(i)}


@dataclass
class Leakage:
    leaked: np.ndarray  # bool (N,): eval rows that leak
    match: np.ndarray  # int64 (N,): the training match (-1 = none)
    prompt_sim: np.ndarray  # float32 (N,): eval rows' nearest-train prompt cosine (NaN elsewhere)
    ngram_overlap: np.ndarray  # float32 (N,): share of the eval row's n-grams found in train
    items: list[dict[str, Any]]
    params: dict[str, Any]

    def summary(self, ref: RowRef = _default_ref, limit: int | None = 500) -> dict[str, Any]:
        items = self.items if limit is None else self.items[:limit]
        return {"params": self.params, "n_leaked": int(self.leaked.sum()),
                "n_eval": self.params.get("n_eval", 0),
                "leaks": [dict(it, example=ref(it["example"]), train_match=ref(it["train_match"]))
                          for it in items]}


def find_leakage(
    prompts: Sequence[str],
    responses: Sequence[str],
    prompt_vecs: np.ndarray,
    roles: Sequence[str] | np.ndarray,
    graph: NeighbourGraph | None = None,
    *,
    sim_threshold: float = DEFAULT_NEAR_THRESHOLD,
    ngram: int = DEFAULT_NGRAM,
    ngram_min_overlap: float = DEFAULT_NGRAM_MIN_OVERLAP,
    exact_budget: float = 4e8,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Leakage:
    """Find eval rows that leak from train (see the module docstring)."""
    progress, cancel = ensure(progress, cancel)
    roles = np.asarray(roles, dtype=object)
    n = len(roles)
    ev = np.nonzero(roles == "eval")[0]
    tr_mask = roles == "train"
    tr = np.nonzero(tr_mask)[0]
    leaked = np.zeros(n, bool)
    match = np.full(n, -1, np.int64)
    psim = np.full(n, np.nan, np.float32)
    ngo = np.full(n, np.nan, np.float32)
    params = {"sim_threshold": sim_threshold, "ngram": ngram, "ngram_min_overlap": ngram_min_overlap,
              "n_eval": int(len(ev)), "n_train": int(len(tr))}
    if not len(ev) or not len(tr):
        return Leakage(leaked, match, psim, ngo, [], params)
    progress(0, 3, "leakage")
    # exact
    h = text_hashes([prompts[i] for i in ev])
    th = text_hashes([prompts[i] for i in tr])
    order = np.argsort(th, kind="stable")
    ths = th[order]
    pos = np.clip(np.searchsorted(ths, h), 0, len(ths) - 1)
    is_exact = (ths[pos] == h) & (h != 0)
    exact_match = np.where(is_exact, tr[order[pos]], -1)
    cancel.check()
    # near
    sim, nidx, _ = nearest_in_base(prompt_vecs, ev, tr_mask, graph, exact_budget=exact_budget, cancel=cancel)
    psim[ev] = sim
    progress(1, 3, "leakage")
    # n-grams over prompt + response
    def text(i):
        r = responses[i] if responses is not None else ""
        return f"{prompts[i] or ''}\n{r or ''}"
    (eh, er), (trh, trr) = shared_ngram_hashes([text(i) for i in ev], [text(i) for i in tr], ngram)
    cancel.check()
    overlap = np.zeros(len(ev), np.float32)
    ng_match = np.full(len(ev), -1, np.int64)
    has_ng = np.bincount(er, minlength=len(ev)) > 0
    if len(eh) and len(trh):
        # look the (many) train n-grams up in the (few) sorted eval n-grams, not the other way round
        e_sorted = np.unique(eh)
        p = np.clip(np.searchsorted(e_sorted, trh), 0, len(e_sorted) - 1)
        t_hit = e_sorted[p] == trh
        found_h, found_row = trh[t_hit], trr[t_hit]
        hit = np.isin(eh, found_h)
        total = np.bincount(er, minlength=len(ev))
        hits = np.bincount(er[hit], minlength=len(ev))
        overlap = np.where(total > 0, hits / np.maximum(total, 1), 0).astype(np.float32)
        # match: the train row holding the most of this eval row's n-grams
        if hit.any():
            # each matched n-gram votes for the first train row that holds it; most votes wins
            fo = np.lexsort((found_row, found_h))
            fh, fr = found_h[fo], found_row[fo]
            keep = np.r_[True, fh[1:] != fh[:-1]]
            fh, fr = fh[keep], fr[keep]
            votes_t = fr[np.searchsorted(fh, eh[hit])]
            key = er[hit].astype(np.int64) * (len(tr) + 1) + votes_t
            uk, counts = np.unique(key, return_counts=True)
            e_of, t_of = uk // (len(tr) + 1), uk % (len(tr) + 1)
            best = np.lexsort((t_of, -counts, e_of))
            e_b, t_b = e_of[best], t_of[best]
            first = np.r_[True, e_b[1:] != e_b[:-1]]
            ng_match[e_b[first]] = tr[t_b[first]]
    ngo[ev] = np.where(has_ng, overlap, np.nan)
    progress(2, 3, "leakage")

    items = []
    for k, i in enumerate(ev.tolist()):
        kinds = []
        if is_exact[k]:
            kinds.append("exact")
        if sim[k] >= sim_threshold:
            kinds.append("near")
        if has_ng[k] and overlap[k] >= ngram_min_overlap:
            kinds.append("ngram")
        if not kinds:
            continue
        m = int(exact_match[k]) if is_exact[k] else (int(nidx[k]) if "near" in kinds else int(ng_match[k]))
        leaked[i] = True
        match[i] = m
        why = []
        if "exact" in kinds:
            why.append("its prompt is identical to a training prompt after normalising case, spaces and punctuation")
        if "near" in kinds:
            why.append(f"its prompt has cosine {sim[k]:.3f} with a training prompt (threshold {sim_threshold:.2f})")
        if "ngram" in kinds:
            why.append(f"{overlap[k]:.0%} of its {ngram}-word sequences occur in training text")
        items.append({"example": i, "train_match": m, "kinds": kinds,
                      "prompt_sim": round(float(sim[k]), 4),
                      "ngram_overlap": round(float(overlap[k]), 4) if has_ng[k] else None,
                      "reason": "Eval example leaks: " + "; ".join(why) + "."})
    items.sort(key=lambda it: ("exact" not in it["kinds"], -it["prompt_sim"], -(it["ngram_overlap"] or 0)))
    progress(3, 3, "leakage")
    return Leakage(leaked, match, psim, ngo, items, params)
