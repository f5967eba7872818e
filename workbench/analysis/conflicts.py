"""Conflicts and inconsistency: similar prompts in the training data that get divergent responses.

Only train rows with a non-empty response take part. Pairs come from the shared prompt
neighbour graph.

**Label answers and answer families** (when ``prompt_vecs`` are given, as in the pipeline): rows
whose answer is a *label* (a short answer, at most 3 words, that 2+ train rows share: intents,
classes, yes/no) and free-text rows in an *answer family* (near-identical responses, cosine >=
0.92, 3+ members) are judged by confident learning (:mod:`workbench.analysis.label_quality`):
``label_quality`` = the leave-one-out probability of the row's own answer given its prompt, and
``conflict = 1 - label_quality``. A label issue (the classifier prefers another answer and the own
one is below its class's typical confidence) is listed with kind ``label``/``family``, the
suggested answer and, in ``against``, the most similar train prompts that carry it. With 3% of the
answers replaced by another intent (5 seeds, precision of the top k, k = number replaced;
``benchmarks/study_conflicts.py``): Banking77 3,000 rows 0.898 ± 0.022, all 10,003 rows 0.905 ±
0.010, CLINC150 3,000 rows 0.944 ± 0.007, CLINC150 as answer families 0.889 ± 0.020; the
neighbour score below reaches 0.78 / 0.80 / 0.75 / 0.60 and kNN answer disagreement 0.55 / 0.57 /
0.66 / 0.27.
Everything below applies to the other rows (and gives ``inconsistency`` for all).

**Response divergence** of a pair (i, j), a number in [0, 1], is the largest of:

- *meaning*: 0 when the normalised responses are identical; 1 when both are *short answers*
  (at most 3 whitespace-separated tokens: labels, yes/no, numbers) and differ as text — "Yes"
  and "No" embed close together but are opposite answers; otherwise a ramp over the response
  vectors' cosine, 0 at >= 0.85 (:data:`RESPONSE_SAME`) to 1 at <= ``response_sim`` (default
  :data:`DEFAULT_RESPONSE_SIM` = 0.55: two human answers to the same Dolly question have median
  cosine 0.75 and 90% are above 0.65, while a different meaning — "Impala" the SQL engine vs
  the antelope — scores 0.3);
- *format*: 1 when exactly one of the two is a list (2+ bulleted/numbered lines), contains code
  (a ``` fence) or is JSON (parses as an object/array); otherwise the length mismatch
  ``clip((|ln(len_i / len_j)| - ln 2) / ln 8, 0, 1)`` (0 up to a 2x ratio, 1 at 16x; not for
  two short answers);
- *kind*: 1 when exactly one of the two is a refusal (see ``flags.refusal``).

A pair *diverges* when its meaning part says different (short answers that differ, or cosine
< ``response_sim``), or it differs in list/code/JSON format, or one response is 4x longer and
200+ characters, or one is a refusal and the other is not.

**Conflict** (the ranked list, column ``conflict``): a train example whose responses disagree
with those of train examples with similar prompts (cosine >= ``prompt_sim``, default
:data:`DEFAULT_PROMPT_SIM`; each such neighbour weighs ``0.05 + (cos - prompt_sim) / (1 -
prompt_sim)``, so near-identical prompts count about 20x more than merely similar ones)::

    conflict_i = [sum_j w_ij d_ij [j diverges] / (sum_j w_ij + 1)] * consensus_i * (1 - support_i)

- the ``+ 1`` is one imaginary agreeing neighbour, so one contradicting neighbour is weaker
  evidence than six;
- ``consensus_i`` (0..1): how much those neighbours agree with *each other* — for short answers
  the weight share of their most common answer, otherwise the length of the weighted mean of
  their response vectors. The one odd answer among agreeing neighbours (a wrong label, a swapped
  answer) scores high; an example in a region where answers are split anyway scores lower;
- ``support_i`` (short answers only): the prompt cosine of the most similar graph neighbour that
  gives the *same* answer (0 when none does). An answer that no similar prompt shares is more
  suspicious than one that a nearby prompt also gets (two overlapping intents).

Measured on Banking77 (800 training queries of 20 random intents, 6 answers swapped to another
intent, 8 random draws): every swapped example ranks in the top 11 of the conflict list and on
average 4.9 of the 6 are in the top 6; the rest of the top holds Banking77's own overlaps
(``card_payment_fee_charged`` vs ``extra_charge_on_statement``), which a curator wants to see too.

**Different questions are not a conflict**: with the prompts given, a near pair whose prompts
name different things — a name (a capitalised word not opening the text) or a number of one that
the other lacks in any case, :func:`workbench.analysis.pair_verifier.asks_about_other_things` —
is dropped from the free-text conflict score ("the words of House Tyrell" / "of House Reed").
On Dolly open_qa with 30 injected retyped conflicts (5 seeds, ``benchmarks/study_freetext_conflicts.py``)
the precision of the top 30 rose from 0.18 to 0.45 and every injected conflict was still found.
``distinct_names=False`` restores the old rule. Label answers (confident learning) are not affected.

**Per-example inconsistency** (column ``inconsistency``): the similarity-weighted mean of ``d_ij``
over all train neighbours in the graph with prompt cosine >= ``neighbour_sim`` (default
:data:`DEFAULT_NEIGHBOUR_SIM`); NaN when a row has no such neighbour (no evidence either way).

**Cluster inconsistency** (compares clusters of different sizes fairly): over the graph edges
with both ends in cluster c (train rows with responses), ``D_c`` = sum of divergences and ``n_c``
the number of such pairs. Mean divergence shrunk towards the all-cluster mean ``mu`` with
``m = 10`` pseudo-pairs, then divided by the divergence of *random* train pairs ``beta`` (what
responses unrelated to their prompts would look like)::

    inconsistency_c = ((D_c + m * mu) / (n_c + m)) / beta

0 = neighbouring prompts always get the same kind of answer; 1 = as divergent as random pairs.
A per-pair mean does not grow with cluster size, and the shrinkage keeps a 3-member cluster
from topping the list on one pair.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from workbench.analysis.flags import refusal_rows
from workbench.analysis.graph import NeighbourGraph
from workbench.analysis.label_quality import (LABEL_MIN_ROWS, LabelQuality, answer_classes, label_quality,
                                              response_families)
from workbench.analysis.row_refs import RowRef, default_ref, snip
from workbench.analysis.textnorm import normalise_many
from workbench.core.progress import CancelToken, ProgressFn, ensure

DEFAULT_PROMPT_SIM = 0.6
DEFAULT_RESPONSE_SIM = 0.55
RESPONSE_SAME = 0.85
SHORT_WORDS = 3
DEFAULT_NEIGHBOUR_SIM = 0.5
SHRINK_PAIRS = 10
RANDOM_PAIRS = 20_000
_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+\S", re.MULTILINE)

@dataclass
class ResponseFeatures:
    has_response: np.ndarray
    length: np.ndarray
    is_list: np.ndarray
    has_code: np.ndarray
    is_json: np.ndarray
    refusal: np.ndarray
    short: np.ndarray  # <= SHORT_WORDS words: a label / yes-no / number style answer
    text_hash: np.ndarray  # hash of the normalised response (0 = empty)


def response_features(responses: Sequence[str]) -> ResponseFeatures:
    n = len(responses)
    has = np.zeros(n, bool)
    length = np.zeros(n, np.float64)
    is_list = np.zeros(n, bool)
    code = np.zeros(n, bool)
    js = np.zeros(n, bool)
    short = np.zeros(n, bool)
    norm = normalise_many(responses)
    for i, r in enumerate(responses):
        s = (r or "").strip()
        if not s:
            continue
        has[i] = True
        length[i] = len(s)
        short[i] = len(s.split(None, SHORT_WORDS)) <= SHORT_WORDS
        if "\n" in s:
            is_list[i] = len(_LIST_LINE.findall(s)) >= 2
        code[i] = "```" in s
        if s[0] in "{[" and s[-1] in "}]":
            try:
                json.loads(s)
                js[i] = True
            except ValueError:
                pass
    ref = refusal_rows([r or "" for r in responses])
    hashes = np.fromiter((hash(t) if t else 0 for t in norm), dtype=np.int64, count=n)
    return ResponseFeatures(has, length, is_list, code, js, ref, short, hashes)


def _pair_parts(f: ResponseFeatures, rv: np.ndarray, a: np.ndarray, b: np.ndarray, response_sim: float,
                block: int = 262_144):
    """Divergence parts for pairs (a, b): (meaning, meaning_divergent, struct, length_part, kind,
    response cosine, log length ratio, longer length)."""
    cos = np.empty(len(a), np.float32)
    for s in range(0, len(a), block):
        cos[s:s + block] = np.einsum("ij,ij->i", rv[a[s:s + block]], rv[b[s:s + block]])
    same = f.text_hash[a] == f.text_hash[b]
    both_short = f.short[a] & f.short[b]
    meaning = np.clip((RESPONSE_SAME - cos) / (RESPONSE_SAME - response_sim), 0.0, 1.0)
    meaning[both_short] = 1.0
    meaning[same] = 0.0
    meaning_div = ~same & (both_short | (cos < response_sim))
    struct = (f.is_list[a] != f.is_list[b]) | (f.has_code[a] != f.has_code[b]) | (f.is_json[a] != f.is_json[b])
    la, lb = np.maximum(f.length[a], 1), np.maximum(f.length[b], 1)
    ratio = np.where(both_short, 0.0, np.abs(np.log(la / lb)))
    length_part = np.clip((ratio - np.log(2)) / np.log(8), 0, 1)
    kind = f.refusal[a] != f.refusal[b]
    return meaning, meaning_div, struct, length_part, kind, cos, ratio, np.maximum(la, lb)


@dataclass
class Conflicts:
    """Result of :func:`find_conflicts`. Arrays are per row (NaN / 0 for rows that take no part)."""

    conflict: np.ndarray  # float32: conflict score (0 = none)
    inconsistency: np.ndarray  # float32: per-example inconsistency (NaN = no evidence / not train)
    items: list[dict[str, Any]]  # ranked conflicts, rows as indices (see to_json)
    clusters: list[dict[str, Any]]  # per-cluster inconsistency, most inconsistent first
    params: dict[str, Any]
    label_quality: np.ndarray | None = None  # float32 self-confidence (NaN = not a label/family row)

    def summary(self, ref: RowRef = default_ref, limit: int | None = 200) -> dict[str, Any]:
        items = self.items if limit is None else self.items[:limit]
        out = []
        for it in items:
            d = dict(it)
            d["example"] = ref(it["example"])
            d["against"] = [dict(a, example=ref(a["example"])) for a in it["against"]]
            out.append(d)
        return {"params": self.params, "n_conflicts": len(self.items), "conflicts": out,
                "clusters": self.clusters}


def find_conflicts(
    graph: NeighbourGraph,
    roles: Sequence[str] | np.ndarray,
    responses: Sequence[str],
    response_vecs: np.ndarray,
    cluster: np.ndarray | None = None,
    *,
    prompt_vecs: np.ndarray | None = None,
    prompt_sim: float = DEFAULT_PROMPT_SIM,
    response_sim: float = DEFAULT_RESPONSE_SIM,
    neighbour_sim: float = DEFAULT_NEIGHBOUR_SIM,
    min_score: float = 0.1,
    max_items: int = 1000,
    seed: int = 0,
    prompts: Sequence[str] | None = None,
    distinct_names: bool = True,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Conflicts:
    """Conflicts, per-example and per-cluster inconsistency (see the module docstring).

    ``response_vecs`` (N, d) L2-normalised, any values for rows without a response;
    ``cluster`` (N,) cluster ids, -1 = noise (optional: no cluster table without it).
    ``prompt_vecs`` (N, d) L2-normalised: with them, label answers and answer families are scored
    by confident learning (:mod:`workbench.analysis.label_quality`); without, only by neighbours.
    """
    progress, cancel = ensure(progress, cancel)
    n = len(graph)
    roles = np.asarray(roles, dtype=object)
    progress(0, 4, "conflicts")
    feats = response_features(responses)
    ok = (roles == "train") & feats.has_response
    rv = np.ascontiguousarray(response_vecs, dtype=np.float32)
    cancel.check()
    # all train-train edges with responses
    a = np.repeat(np.arange(n, dtype=np.int64), graph.k)
    b = graph.indices.reshape(-1).astype(np.int64)
    ps = graph.sims.reshape(-1)
    m = b >= 0
    m[m] = ok[a[m]] & ok[b[m]]
    if cluster is not None:  # pairs used: similar enough for either score, or inside one cluster
        cl = np.asarray(cluster)
        m[m] = (ps[m] >= min(neighbour_sim, prompt_sim)) | ((cl[a[m]] == cl[b[m]]) & (cl[a[m]] >= 0))
    else:
        m &= ps >= min(neighbour_sim, prompt_sim)
    a, b, ps = a[m], b[m], ps[m]
    meaning, meaning_div, struct, length_part, kind, cos, ratio, longer = _pair_parts(feats, rv, a, b, response_sim)
    d = np.maximum.reduce([meaning, struct.astype(np.float32), length_part.astype(np.float32),
                           kind.astype(np.float32)]).astype(np.float32)
    progress(1, 4, "conflicts")
    cancel.check()

    # per-example inconsistency
    sel = ps >= neighbour_sim
    w = np.where(sel, ps, 0).astype(np.float64)
    wsum = np.bincount(a, weights=w, minlength=n)
    wd = np.bincount(a, weights=w * d, minlength=n)
    inconsistency = np.full(n, np.nan, np.float32)
    has = wsum > 0
    inconsistency[has] = (wd[has] / wsum[has]).astype(np.float32)

    # conflicts: near-identical prompts, divergent responses
    near = ps >= prompt_sim
    divergent = near & (meaning_div | struct | ((ratio >= np.log(4)) & (longer >= 200)) | kind)
    if prompts is not None and distinct_names:  # different questions, not one question answered twice
        other = _other_things(prompts, a, b, divergent)
        near &= ~other
        divergent &= ~other
    wn = np.where(near, _weight(ps, prompt_sim), 0).astype(np.float64)
    conflict = (np.bincount(a, weights=wn * np.where(divergent, d, 0), minlength=n)
                / (np.bincount(a, weights=wn, minlength=n) + 1.0))
    # consensus: how much the near neighbours agree with each other. Short answers: the weight
    # share of the most common answer text; longer ones: the length of the weighted mean of their
    # response vectors (1 = all say the same, lower = they are split).
    consensus = _consensus(a[near], b[near], wn[near], rv, feats, n)
    conflict = conflict * consensus * (1.0 - _support(graph, feats, ok))
    conflict = conflict.astype(np.float32)
    progress(2, 4, "conflicts")
    cancel.check()
    lq: list[LabelQuality] = []
    label_q = np.full(n, np.nan, np.float32)
    if prompt_vecs is not None:
        lq = _confident_learning(prompt_vecs, rv, feats, ok, seed, cancel)
        for res in lq:
            label_q[res.rows] = res.quality
            conflict[res.rows] = 1.0 - res.quality
    in_cl = ~np.isnan(label_q)
    items = _items(np.where(in_cl, 0, conflict), a, b, ps, cos, d, divergent, meaning_div, struct, kind, ratio,
                   feats, responses, near, min_score, max_items)
    if lq:
        items = sorted(items + _label_items(lq, conflict, graph, prompt_vecs, ok, responses, prompt_sim,
                                            max_items),
                       key=lambda it: -float(conflict[it["example"]]))[:max_items]
    cancel.check()
    clusters = (_cluster_table(cluster, a, b, d, ok, responses, seed, feats, rv, response_sim)
                if cluster is not None else [])
    progress(4, 4, "conflicts")
    params = {"prompt_sim": prompt_sim, "response_sim": response_sim, "neighbour_sim": neighbour_sim,
              "min_score": min_score, "shrink_pairs": SHRINK_PAIRS,
              "distinct_names": bool(prompts is not None and distinct_names)}
    if lq:
        params["label_classes"] = {r.kind: r.n_classes for r in lq}
        params["label_rows"] = {r.kind: int(len(r.rows)) for r in lq}
    return Conflicts(conflict, inconsistency, items, clusters, params, label_q)


def _other_things(prompts: Sequence[str], a: np.ndarray, b: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """For the ``pairs`` (mask over edges a->b): their prompts name different things
    (:func:`workbench.analysis.pair_verifier.asks_about_other_things`); False elsewhere."""
    from workbench.analysis.pair_verifier import asks_about_other_things

    out = np.zeros(len(a), bool)
    cache: dict = {}
    for e in np.flatnonzero(pairs):
        i, j = int(a[e]), int(b[e])
        out[e] = asks_about_other_things(prompts[i], prompts[j], cache, i, j)
    return out


def _weight(ps: np.ndarray, tau: float) -> np.ndarray:
    """Weight of a similar-prompt neighbour: 0.05 at the threshold ``tau``, 1.05 at identical."""
    return np.clip((ps - tau) / max(1.0 - tau, 1e-6), 0.0, 1.0) + 0.05


def _support(graph: NeighbourGraph, feats: ResponseFeatures, ok: np.ndarray) -> np.ndarray:
    """For short answers: the prompt cosine of the most similar graph neighbour giving the same
    answer text (0 when none does): how well the answer is backed by similar prompts."""
    nb = graph.indices
    valid = (nb >= 0) & ok[np.maximum(nb, 0)]
    same = valid & (feats.text_hash[np.maximum(nb, 0)] == feats.text_hash[:, None])
    sup = np.where(same, np.maximum(graph.sims, 0), 0).max(axis=1)
    return np.where(feats.short & ok, sup, 0.0)


def _consensus(a: np.ndarray, b: np.ndarray, w: np.ndarray, rv: np.ndarray, feats: ResponseFeatures,
               n: int) -> np.ndarray:
    import pandas as pd

    wsum = np.bincount(a, weights=w, minlength=n)
    from scipy.sparse import csr_matrix

    # sum over edges of w * rv[b] per row a, as a sparse product: no (edges x d) temporary
    # (that was 15 GB at 1M rows) and much faster than np.add.at
    msum = csr_matrix((w.astype(np.float32), (a, b)), shape=(n, n)) @ rv
    out = np.where(wsum > 0, np.linalg.norm(msum, axis=1) / np.maximum(wsum, 1e-12), 0.0)
    short = feats.short[b]
    if short.any():
        df = pd.DataFrame({"a": a[short], "h": feats.text_hash[b[short]], "w": w[short]})
        top = df.groupby(["a", "h"], sort=False)["w"].sum().groupby(level=0).max()
        rows = top.index.to_numpy()
        share = top.to_numpy() / np.maximum(wsum[rows], 1e-12)
        all_short = np.bincount(a[~short], minlength=n)[rows] == 0
        out[rows[all_short]] = share[all_short]
    return np.clip(out, 0.0, 1.0)


def _items(conflict, a, b, ps, cos, d, divergent, meaning_div, struct, kind, ratio, feats, responses, near,
           min_score, max_items):
    cand = np.nonzero(conflict >= min_score)[0]
    cand = cand[np.argsort(-conflict[cand], kind="stable")][: 2 * max_items]
    order = np.argsort(a, kind="stable")
    a_s = a[order]
    starts = np.searchsorted(a_s, cand)
    ends = np.searchsorted(a_s, cand, side="right")
    listed_pairs: set[tuple[int, int]] = set()
    items = []
    for i, s, e in zip(cand.tolist(), starts, ends):
        idx = order[s:e]
        idx = idx[divergent[idx]]
        if not len(idx):
            continue
        partners = b[idx]
        if len(partners) == 1 and (int(partners[0]), i) in listed_pairs:
            continue  # a plain two-example conflict, already listed from the other side
        for p in partners:
            listed_pairs.add((i, int(p)))
        n_near = int(np.count_nonzero(near[order[s:e]]))
        top = idx[np.argsort(-ps[idx] * d[idx], kind="stable")][:5]
        against = []
        for t in top:
            why = []
            if meaning_div[t]:
                j = b[t]
                why.append("meaning (different short answers)" if feats.short[i] and feats.short[j]
                           else f"meaning (response cosine {cos[t]:.2f})")
            if struct[t]:
                j = b[t]
                why.append("format (" + ", ".join(
                    nm for nm, arr in (("list", feats.is_list), ("code", feats.has_code), ("JSON", feats.is_json))
                    if arr[i] != arr[j]) + ")")
            elif ratio[t] >= np.log(4):
                why.append(f"length ({np.exp(ratio[t]):.0f}x)")
            if kind[t]:
                why.append("refusal vs answer")
            against.append({"example": int(b[t]), "prompt_sim": round(float(ps[t]), 4),
                            "response_sim": round(float(cos[t]), 4), "divergence": round(float(d[t]), 4),
                            "differs_in": why})
        first = against[0]
        reason = (f"Response disagrees with {len(idx)} of the {n_near} train example(s) with similar prompts "
                  f"(cosine {ps[idx].min():.2f}-{ps[idx].max():.2f}); closest difference is in "
                  f"{' and '.join(first['differs_in'])}: \"{snip(responses[i], 60)}\" vs "
                  f"\"{snip(responses[first['example']], 60)}\".")
        items.append({"example": i, "score": round(float(conflict[i]), 4), "kind": "neighbours", "n_near": n_near,
                      "n_divergent": int(len(idx)), "against": against, "reason": reason,
                      })
        if len(items) >= max_items:
            break
    return items


def _cluster_table(cluster, a, b, d, ok, responses, seed, feats, rv, response_sim):
    cluster = np.asarray(cluster)
    same = (cluster[a] == cluster[b]) & (cluster[a] >= 0)
    ca, dd = cluster[a[same]], d[same]
    if not len(ca):
        return []
    ncl = int(cluster.max()) + 1
    n_pairs = np.bincount(ca, minlength=ncl)
    dsum = np.bincount(ca, weights=dd, minlength=ncl)
    mu = float(dd.mean())
    rng = np.random.default_rng(seed)
    tr = np.nonzero(ok)[0]
    ra, rb = rng.choice(tr, RANDOM_PAIRS), rng.choice(tr, RANDOM_PAIRS)
    keep = ra != rb
    m, _, s_, l_, k_, *_ = _pair_parts(feats, rv, ra[keep], rb[keep], response_sim)
    beta = float(np.maximum.reduce([m, s_.astype(np.float32), l_.astype(np.float32), k_.astype(np.float32)]).mean())
    beta = max(beta, 1e-6)
    n_train = np.bincount(cluster[ok & (cluster >= 0)], minlength=ncl)
    out = []
    for c in np.nonzero(n_pairs)[0]:
        score = (dsum[c] + SHRINK_PAIRS * mu) / (n_pairs[c] + SHRINK_PAIRS) / beta
        rows = np.nonzero((cluster == c) & ok)[0]
        texts: dict[str, int] = {}
        shown: dict[str, str] = {}
        for r, key in zip(rows, normalise_many([responses[r] for r in rows])):
            texts[key] = texts.get(key, 0) + 1
            shown.setdefault(key, responses[r])
        top = sorted(texts.items(), key=lambda kv: -kv[1])[:4]
        resp = "; ".join(f"\"{snip(shown[k], 40)}\" x{v}" for k, v in top) if len(texts) < len(rows) else \
            f"{len(texts)} distinct responses"
        raw = dsum[c] / n_pairs[c]
        out.append({"cluster": int(c), "inconsistency": round(float(score), 4),
                    "mean_divergence": round(float(raw), 4), "n_pairs": int(n_pairs[c]),
                    "n_train": int(n_train[c]),
                    "reason": f"neighbouring prompts' responses diverge by {raw:.2f} on average over "
                              f"{int(n_pairs[c])} pairs (random pairs: {beta:.2f}); most common responses: {resp}"})
    out.sort(key=lambda x: -x["inconsistency"])
    return out


def _confident_learning(prompt_vecs, rv, feats: ResponseFeatures, ok, seed, cancel) -> list[LabelQuality]:
    """Label rows (short answers shared by 2+ train rows) and free-text rows in answer families,
    each scored by :func:`label_quality.label_quality` over its own classes."""
    out: list[LabelQuality] = []
    cls, firsts = answer_classes(feats.text_hash, ok & feats.short)
    rows = np.flatnonzero(cls >= 0)
    res = label_quality(prompt_vecs, rows, cls[rows], [str(i) for i in firsts], kind="label", seed=seed,
                        cancel=cancel)
    if res is not None:
        out.append(res)
    free = np.flatnonzero(ok & ~feats.short & ~feats.refusal)
    if len(free) >= LABEL_MIN_ROWS:
        fam = response_families(rv, free, seed=seed)
        rows = free[fam >= 0]
        if len(rows):
            fam = fam[fam >= 0]
            firsts = [int(rows[np.flatnonzero(fam == f)[0]]) for f in range(int(fam.max()) + 1)]
            res = label_quality(prompt_vecs, rows, fam, [str(i) for i in firsts], kind="family", seed=seed,
                                cancel=cancel)
            if res is not None:
                out.append(res)
    return out


def _label_items(lq: list[LabelQuality], conflict, graph: NeighbourGraph, prompt_vecs, ok, responses,
                 prompt_sim: float, max_items: int) -> list[dict[str, Any]]:
    """One conflict per confident-learning label issue; ``against`` = the most similar train
    prompts that carry the suggested answer (graph neighbours first, else the class's most typical
    rows)."""
    items = []
    for res in lq:
        cls_of = np.full(len(graph), -1, np.int64)
        cls_of[res.rows] = res.given
        first = [int(x) for x in res.names]  # a representative row of each class
        cand = np.flatnonzero(res.issue)
        cand = cand[np.argsort(res.quality[cand], kind="stable")][:max_items]  # worst first
        members_of = np.split(np.argsort(res.given, kind="stable"),
                              np.cumsum(np.bincount(res.given, minlength=res.n_classes))[:-1])
        for j in cand.tolist():
            i = int(res.rows[j])
            g, s = int(res.given[j]), int(res.suggested[j])
            nb, sims = graph.indices[i], graph.sims[i]
            valid = (nb >= 0) & ok[np.maximum(nb, 0)]
            nb, sims = nb[valid], sims[valid]
            near = sims >= prompt_sim
            n_near = int(near.sum())
            n_div = int(np.count_nonzero(near & (cls_of[nb] != g)))
            k_top = min(len(nb), 10)
            n_sugg = int(np.count_nonzero(cls_of[nb[:k_top]] == s))
            pick = nb[cls_of[nb] == s][:5].tolist()
            if not pick:  # no graph neighbour says it: the suggested class's most typical rows
                mem = members_of[s]
                pick = res.rows[mem[np.argsort(-res.proba[mem, s], kind="stable")[:3]]].tolist()
            against = []
            for t in pick:
                psim = float(np.dot(prompt_vecs[i], prompt_vecs[t]))
                against.append({"example": int(t), "prompt_sim": round(psim, 4), "response_sim": None,
                                "divergence": 1.0, "differs_in": [f"answer ({'label' if res.kind == 'label' else 'family'})"]})
            given_txt, sugg_txt = snip(responses[first[g]], 40), snip(responses[first[s]], 40)
            what = "answer" if res.kind == "label" else "answer family of"
            reason = (f"The {what} \"{given_txt}\" is unlikely for this prompt (p = {res.quality[j]:.2f} from "
                      f"a leave-one-out classifier of prompts to answers); prompts like it get \"{sugg_txt}\" "
                      f"(p = {res.proba[j, s]:.2f})"
                      + (f": {n_sugg} of its {k_top} most similar train prompts do." if k_top else "."))
            items.append({"example": i, "score": round(float(conflict[i]), 4), "kind": res.kind,
                          "given": responses[first[g]] if res.kind == "label" else snip(responses[first[g]], 80),
                          "suggested": responses[first[s]] if res.kind == "label" else snip(responses[first[s]], 80),
                          "label_quality": round(float(res.quality[j]), 4),
                          "p_suggested": round(float(res.proba[j, s]), 4),
                          "n_near": n_near, "n_divergent": n_div, "against": against, "reason": reason})
    return items
