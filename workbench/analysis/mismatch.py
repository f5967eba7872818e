"""Mismatched answers: responses that do not answer their own prompt (rows shifted in a join,
copy-paste errors).

Rows that take part: role ``train``, ``eval`` or ``reference`` with a non-empty response.

A response's cosine to its own prompt says little on its own: some prompts and answers are
worded alike, others not at all (the Dolly prompt–response cosine ranks moved responses at
precision 0.69). What gives a moved response away is that it fits *another* prompt of the data
better than its own one, and that its prompt fits another response better. So the score is
relative to the whole dataset:

1. **Prompt-to-response map**, cross-fitted: a linear map ``W`` from prompt vectors to response
   vectors, fitted by ridge regression towards the identity, ``W = (PᵀP + λI)⁻¹(PᵀR + λI)`` with
   ``λ`` = :data:`MAP_RIDGE`, in :data:`FOLDS` folds (each row mapped by a ``W`` fitted without
   it). ``p̂_i = normalise(p_i W)`` is "what an answer to prompt i looks like"; with few rows
   ``W`` stays close to the identity (plain cosine), with many it learns how answers differ
   from questions.
2. ``own_i = cos(p̂_i, r_i)``; ``best_prompt_i = max cos(p̂_j, r_i)`` over the other rows ``j``
   whose response differs from ``r_i`` (normalised text); ``best_response_i = max cos(p̂_i, r_j)``
   over the other distinct responses.
3. **Mismatch** (column ``mismatch``, higher = answers its own prompt worse)::

       mismatch_i = ((best_prompt_i - own_i) + (best_response_i - own_i)) / 2

   Above 0: on average another prompt suits this response, and another response suits this
   prompt, better than the pair as given. NaN for rows that take no part.

Exact search up to ``graph.EXACT_LIMIT``² query x base pairs, IVF-approximate above (the same index as the
neighbour graph; :data:`TOP_K` candidates per row, so a few identical responses do not hide the
best different one).

**Ranked list** (summary ``mismatches``): rows with ``mismatch > 0``, worst first, each with the
prompt that its response fits better and the response that fits its prompt better (when one
fits better than the own pair). **Flag** ``mismatched_response``: ``mismatch`` >=
:data:`FLAG_MIN`, with at least :data:`FLAG_MIN_ROWS` rows taking part (see the definition in
``flags.FLAG_DEFINITIONS``).

Measured in ``benchmarks/study_mismatch.py`` (3% of responses moved to other prompts, 5 seeds,
precision of the top k rows, k = number moved; in brackets the prompt-response cosine baseline):
Dolly open_qa 0.887 ± 0.009 (0.693), Self-Instruct 0.800 ± 0.104 (0.585), OASST1 last user turn ->
final answer 0.686 ± 0.077 (0.352). The plain-cosine version of the same relative score (no map)
reaches 0.866 / 0.815 / 0.667; a map fitted without the identity prior overfits small sets
(Self-Instruct 0.57). The flag at 0.45: precision / recall 0.86 / 0.93 (Dolly), 1.00 / 0.52
(Self-Instruct), 0.45 / 0.87 (OASST1, whose last answers often rely on earlier turns); on the
1,387 sample_data rows with responses it flags 10, mostly Banking77 queries whose label is doubtful.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from workbench.analysis.row_refs import RowRef, default_ref, snip
from workbench.analysis.textnorm import text_hashes
from workbench.core.progress import CancelToken, ProgressFn, ensure

RESPONSE_ROLES = ("train", "eval", "reference")
FOLDS = 5
MAP_RIDGE = 10.0
TOP_K = 8
MIN_ROWS = 3
FLAG_MIN = 0.45
FLAG_MIN_ROWS = 50

@dataclass
class Mismatches:
    """Result of :func:`find_mismatches`; arrays per row of the analysed table."""

    mismatch: np.ndarray  # float32, NaN = takes no part
    own_sim: np.ndarray  # float32 raw prompt-response cosine (NaN = takes no part)
    better_prompt: np.ndarray  # int64 row whose prompt fits this response best (-1 = none better)
    better_response: np.ndarray  # int64 row whose response fits this prompt best (-1 = none better)
    flagged: np.ndarray  # bool: gets the mismatched_response flag
    items: list[dict[str, Any]]  # ranked, rows as indices
    params: dict[str, Any]

    def summary(self, ref: RowRef = default_ref, limit: int | None = 200) -> dict[str, Any]:
        items = self.items if limit is None else self.items[:limit]
        out = []
        for it in items:
            d = dict(it, example=ref(it["example"]))
            for key in ("better_prompt", "better_response"):
                if key in d:
                    d[key] = dict(d[key], example=ref(d[key]["example"]))
            out.append(d)
        n = int(np.count_nonzero(~np.isnan(self.mismatch)))
        return {"params": self.params, "n_rows": n, "n_mismatches": len(self.items),
                "n_flagged": int(self.flagged.sum()), "mismatches": out}


def cross_fitted_map(p: np.ndarray, r: np.ndarray, *, lam: float = MAP_RIDGE, folds: int = FOLDS,
                     seed: int = 0) -> np.ndarray:
    """``p̂``: each prompt vector mapped into response space by a ridge map fitted without it
    (see the module docstring), rows L2-normalised."""
    n, d = p.shape
    out = np.empty_like(p, dtype=np.float32)
    if n < 2 * folds:
        out[:] = p
        return out
    fold = np.random.default_rng(seed).permutation(n) % folds
    parts = [np.flatnonzero(fold == q) for q in range(folds)]
    p32, r32 = np.asarray(p, np.float32), np.asarray(r, np.float32)
    grams = [(p32[t].T @ p32[t]).astype(np.float64) for t in parts]  # float32 products, summed in float64
    crosses = [(p32[t].T @ r32[t]).astype(np.float64) for t in parts]
    gram, cross = sum(grams), sum(crosses)
    eye = lam * np.eye(d)
    for q, t in enumerate(parts):
        w = np.linalg.solve(gram - grams[q] + eye, cross - crosses[q] + eye)
        out[t] = p32[t] @ w.astype(np.float32)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def _search(query: np.ndarray, base: np.ndarray, k: int, seed: int, cancel: CancelToken):
    from workbench.analysis.graph import EXACT_LIMIT, ivf_search, knn

    k = min(k, len(base))
    if len(query) * len(base) <= EXACT_LIMIT * EXACT_LIMIT:
        return knn(query, base, k, cancel=cancel)
    return ivf_search(query, base, k, seed=seed, cancel=cancel)


def _best_other(idx: np.ndarray, sims: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the first candidate not marked ``bad`` (index, sim); when all are bad, -1 and the
    last candidate's similarity (an upper bound of what was not seen)."""
    ok = ~bad & (idx >= 0)
    first = ok.argmax(axis=1)
    rows = np.arange(len(idx))
    has = ok[rows, first]
    best = np.where(has, idx[rows, first], -1)
    last = np.where(np.isfinite(sims[:, -1]), sims[:, -1], -1.0)
    return best.astype(np.int64), np.where(has, sims[rows, first], last).astype(np.float32)


def find_mismatches(
    prompt_vecs: np.ndarray,
    response_vecs: np.ndarray,
    roles: Sequence[str] | np.ndarray,
    prompts: Sequence[str],
    responses: Sequence[str],
    *,
    seed: int = 0,
    max_items: int = 1000,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Mismatches:
    """Mismatch score per row, ranked list and flag (see the module docstring). Vectors (N, d)
    L2-normalised; ``response_vecs`` holds any values for rows without a response."""
    progress, cancel = ensure(progress, cancel)
    n = len(roles)
    roles = np.asarray(roles, dtype=object)
    has = np.fromiter(((r or "").strip() != "" for r in responses), dtype=bool, count=n)
    rows = np.flatnonzero(np.isin(roles.astype(str), RESPONSE_ROLES) & has)
    mismatch = np.full(n, np.nan, np.float32)
    own_all = np.full(n, np.nan, np.float32)
    bp_all = np.full(n, -1, np.int64)
    br_all = np.full(n, -1, np.int64)
    params = {"map_ridge": MAP_RIDGE, "folds": FOLDS, "flag_min": FLAG_MIN, "flag_min_rows": FLAG_MIN_ROWS}
    if len(rows) < MIN_ROWS:
        return Mismatches(mismatch, own_all, bp_all, br_all, np.zeros(n, bool), [], params)
    progress(0, 4, "mismatched answers")
    p = np.ascontiguousarray(prompt_vecs[rows], dtype=np.float32)
    r = np.ascontiguousarray(response_vecs[rows], dtype=np.float32)
    h = text_hashes([responses[i] for i in rows])
    ph = cross_fitted_map(p, r, seed=seed)
    own = np.einsum("ij,ij->i", ph, r)
    progress(1, 4, "mismatched answers")
    cancel.check()
    # best other prompt for each response (rows with the same response text do not count)
    idx, sims = _search(r, ph, TOP_K + 1, seed, cancel)
    safe = np.maximum(idx, 0)
    bad = (idx == np.arange(len(rows))[:, None]) | (h[safe] == h[:, None])
    best_p, best_p_sim = _best_other(idx, sims, bad)
    progress(2, 4, "mismatched answers")
    cancel.check()
    # best other distinct response for each prompt
    _, first = np.unique(h, return_index=True)
    uniq = np.sort(first)
    idx, sims = _search(ph, r[uniq], TOP_K, seed, cancel)
    cand = np.where(idx >= 0, uniq[np.maximum(idx, 0)], -1)
    bad = (cand >= 0) & (h[np.maximum(cand, 0)] == h[:, None])
    best_r, best_r_sim = _best_other(cand, sims, bad)
    progress(3, 4, "mismatched answers")
    score = 0.5 * ((best_p_sim - own) + (best_r_sim - own))
    mismatch[rows] = score
    own_all[rows] = np.einsum("ij,ij->i", p, r)
    bp_all[rows] = np.where((best_p >= 0) & (best_p_sim > own), rows[np.maximum(best_p, 0)], -1)
    br_all[rows] = np.where((best_r >= 0) & (best_r_sim > own), rows[np.maximum(best_r, 0)], -1)
    flagged = np.zeros(n, bool)
    if len(rows) >= FLAG_MIN_ROWS:
        flagged[rows] = score >= FLAG_MIN
    items = _items(rows, score, own, best_p, best_p_sim, best_r, best_r_sim, prompts, responses, max_items)
    progress(4, 4, "mismatched answers")
    return Mismatches(mismatch, own_all, bp_all, br_all, flagged, items, params)


def _items(rows, score, own, best_p, best_p_sim, best_r, best_r_sim, prompts, responses, max_items):
    order = np.argsort(-score, kind="stable")
    order = order[score[order] > 0][:max_items]
    items = []
    for j in order.tolist():
        i = int(rows[j])
        it: dict[str, Any] = {"example": i, "score": round(float(score[j]), 4),
                              "fit": round(float(own[j]), 4),
                              "prompt": snip(prompts[i]), "response": snip(responses[i])}
        why = []
        if best_p[j] >= 0 and best_p_sim[j] > own[j]:
            k = int(rows[best_p[j]])
            it["better_prompt"] = {"example": k, "fit": round(float(best_p_sim[j]), 4),
                                   "prompt": snip(prompts[k])}
            why.append(f"its response fits the prompt \"{snip(prompts[k], 60)}\" better "
                       f"({best_p_sim[j]:.2f} vs {own[j]:.2f})")
        if best_r[j] >= 0 and best_r_sim[j] > own[j]:
            k = int(rows[best_r[j]])
            it["better_response"] = {"example": k, "fit": round(float(best_r_sim[j]), 4),
                                     "response": snip(responses[k])}
            why.append(f"its prompt is better answered by \"{snip(responses[k], 60)}\" "
                       f"({best_r_sim[j]:.2f} vs {own[j]:.2f})")
        it["reason"] = ("The response may not answer its prompt: " + "; ".join(why) + "." if why else
                        "The response fits its prompt less well than the best other prompt and response do.")
        items.append(it)
    return items
