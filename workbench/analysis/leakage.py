"""Leakage: eval examples that also appear, exactly or as a lightly edited copy, in the
training data. THE leak rule of the workbench: ``Leakage.leaked`` (column ``leaked`` of
``examples.parquet``) and its ``items`` (summary ``leakage.leaks``) are what every front end and
the "reject leaked copies" action use.

An eval row *leaks* when its prompt and a training prompt pass one of these tests (checked in
this order; the first that holds names the match, column ``leak_kind``):

- ``exact``: **exact after normalisation** — equal after normalising case, whitespace and
  punctuation (:mod:`workbench.analysis.textnorm`);
- ``reordered``: **same words, reordered** — the same multiset of normalised words;
- ``filler``: **same words apart from filler words** — the same multiset of words once the
  words of :data:`FILLER_WORDS` ("please", "um", "hey", "just", ...) are dropped from both
  (at least one word left);
- ``added_word``: **same words + one rare word at the start** — equal after normalisation once
  the first word of one of them is dropped, that word being used by at most :data:`RARE_DF` = 2
  training prompts (an unknown filler: "guys, ...", "thx, ...", "sir, ..."; not at the end,
  where a rare word is too often content: "what is a computer" / "... network");
- ``confirmed``: **embedding + surface evidence** — prompt cosine >= ``confirm_sim`` (default
  0.90, below the near-duplicate threshold; ``long_confirm_sim``, default 0.80, when both
  prompts have at least :data:`LONG_WORDS` = 4 words, where more shared words are stronger
  evidence) *confirmed* by the surface text: one word added or dropped at the start or end
  (the multisets of non-filler words differ by exactly that word, so an unknown filler such as
  "mate" or "lol" counts), or character overlap >= ``char_overlap`` (default 0.8; Jaccard of
  the character 4-gram sets of the normalised texts with spaces removed, so "top up" = "topup");
- ``near``: prompt cosine >= ``sim_threshold`` (default: the near-duplicate threshold of
  :mod:`duplicates`, 0.95) with word overlap >= ``near_overlap`` (default 0.7; Jaccard of the
  sets of normalised non-filler words) — a very close rewording that keeps most of its words;
- ``ngram``: at least ``ngram_min_overlap`` (default 0.3) of the word ``n``-grams (default 13,
  as in the GPT-3 contamination study) of its prompt + response text occur in the prompt +
  response text of training rows (long texts only: texts shorter than ``n`` words have none).

Apostrophes are dropped before these tests ("what's" = "whats"). Candidates: the train rows
with the same normalised text / word multiset / non-filler word multiset (hash look-ups over all
of train), plus the train rows among the eval row's graph
neighbours and its exact nearest train row. Each pair's ``prompt_sim``, ``word_overlap`` and
``char_overlap`` are reported, and ``match`` says in words what matched (e.g. "same words,
reordered", "embedding 0.91 + one word added or dropped"). The n-gram match is the train row that
shares the most n-grams (each shared n-gram counted for the first train row holding it).

Ranked: exact first, then reordered, filler, added word, confirmed, near, n-gram; within a kind by prompt
similarity. Measured by ``benchmarks/study_leakage.py`` (CLINC150, Banking77, Dolly,
Self-Instruct; copies with case, punctuation, filler words, word order, short queries; 5 seeds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from workbench.analysis.coverage import nearest_in_base
from workbench.analysis.duplicates import DEFAULT_NEAR_THRESHOLD
from workbench.analysis.graph import NeighbourGraph
from workbench.analysis.row_refs import RowRef, default_ref
from workbench.analysis.textnorm import normalise_many, shared_ngram_hashes
from workbench.core.progress import CancelToken, ProgressFn, ensure

DEFAULT_NGRAM = 13
DEFAULT_NGRAM_MIN_OVERLAP = 0.3
DEFAULT_CONFIRM_SIM = 0.9
DEFAULT_LONG_CONFIRM_SIM = 0.8
LONG_WORDS = 4
DEFAULT_CHAR_OVERLAP = 0.8
DEFAULT_NEAR_OVERLAP = 0.7
CHAR_N = 4
#: discourse fillers and politeness words, dropped before the word tests (never content words)
FILLER_WORDS = frozenset("""
a an the please pls plz kindly um umm uh uhh er erm hmm hmmm ah oh hey hi hello yo so well ok okay
just actually basically really quickly anyway anyways alright literally honestly seriously like
now right yeah yep thanks pretty totally definitely simply kinda sorta oops wow
""".split())
KIND_ORDER = ("exact", "reordered", "filler", "added_word", "confirmed", "near", "ngram")
RARE_DF = 2
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`")
KIND_TEXT = {"exact": "exact after normalisation", "reordered": "same words, reordered",
             "filler": "same words apart from filler words"}

@dataclass
class Leakage:
    leaked: np.ndarray  # bool (N,): eval rows that leak -- THE leak rule
    match: np.ndarray  # int64 (N,): the training match (-1 = none)
    prompt_sim: np.ndarray  # float32 (N,): eval rows' nearest-train prompt cosine (NaN elsewhere)
    ngram_overlap: np.ndarray  # float32 (N,): share of the eval row's n-grams found in train
    items: list[dict[str, Any]]
    params: dict[str, Any]
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, object))  # (N,) first kind or None

    def summary(self, ref: RowRef = default_ref, limit: int | None = 500) -> dict[str, Any]:
        items = self.items if limit is None else self.items[:limit]
        by_kind: dict[str, int] = {}
        for it in self.items:
            by_kind[it["kinds"][0]] = by_kind.get(it["kinds"][0], 0) + 1
        return {"params": self.params, "n_leaked": int(self.leaked.sum()),
                "n_eval": self.params.get("n_eval", 0), "by_kind": by_kind,
                "leaks": [dict(it, example=ref(it["example"]), train_match=ref(it["train_match"]))
                          for it in items]}


def _hash_keys(words: list[list[str]]) -> tuple[list[str], list[str]]:
    """Per text: the sorted word multiset and the sorted non-filler word multiset, as strings."""
    bags, content = [], []
    for w in words:
        bags.append(" ".join(sorted(w)))
        content.append(" ".join(sorted(x for x in w if x not in FILLER_WORDS)))
    return bags, content


def _shingles(norm: str) -> set[str]:
    t = norm.replace(" ", "")
    if len(t) <= CHAR_N:
        return {t} if t else set()
    return {t[i:i + CHAR_N] for i in range(len(t) - CHAR_N + 1)}


def _word_diff(a_words: list[str], b_words: list[str]) -> tuple[float, int]:
    """(word overlap, word difference) as in :func:`pair_overlap`, with a fast set-based exit."""
    a = {w for w in a_words if w not in FILLER_WORDS}
    b = {w for w in b_words if w not in FILLER_WORDS}
    union = a | b
    word = len(a & b) / len(union) if union else 1.0
    if len(a ^ b) > 1:
        return word, 2
    return word, pair_overlap(a_words, b_words, "", "")[2]


def _added_word(words: list[str], norm: str, exact_t: dict[str, int], cut_t: dict[str, tuple[int, str]],
                df_t: dict[str, int]) -> tuple[int, str] | None:
    """A train prompt equal to this one but for one word at the start that at most
    :data:`RARE_DF` training prompts use (an unknown filler such as "guys", "thx", "sir"; at
    the end a rare word is too often content, "what is a computer network"); returns (train
    position, that word)."""
    if len(words) >= 2:
        j = exact_t.get(" ".join(words[1:]))
        if j is not None and df_t.get(words[0], 0) <= RARE_DF:
            return j, words[0]
    hit = cut_t.get(norm)
    if hit is not None and df_t.get(hit[1], 0) <= RARE_DF:
        return hit
    return None


def _char_overlap(a_norm: str, b_norm: str) -> float:
    sa, sb = _shingles(a_norm), _shingles(b_norm)
    su = sa | sb
    return len(sa & sb) / len(su) if su else 0.0


def pair_overlap(a_words: list[str], b_words: list[str], a_norm: str, b_norm: str) -> tuple[float, float, int]:
    """(word overlap, character overlap, word difference) of two prompts: Jaccard of their sets
    of non-filler words, Jaccard of the character 4-gram sets of the normalised texts with
    spaces removed, and the number of non-filler words one has and the other lacks (multisets);
    the difference is reported as 1 only when that one word is the first or last word of the
    longer text (a word added at the start or end, as fillers are), else as 2."""
    from collections import Counter

    a = Counter(w for w in a_words if w not in FILLER_WORDS)
    b = Counter(w for w in b_words if w not in FILLER_WORDS)
    union = set(a) | set(b)
    word = len(set(a) & set(b)) / len(union) if union else float(a_norm == b_norm)
    sa, sb = _shingles(a_norm), _shingles(b_norm)
    su = sa | sb
    char = len(sa & sb) / len(su) if su else 0.0
    extra = (a - b) + (b - a)
    diff = sum(extra.values())
    if diff == 1:
        longer = a_words if len(a_words) >= len(b_words) else b_words
        w = next(iter(extra))
        if not longer or w not in (longer[0], longer[-1]):
            diff = 2
    return word, char, diff


def find_leakage(
    prompts: Sequence[str],
    responses: Sequence[str],
    prompt_vecs: np.ndarray,
    roles: Sequence[str] | np.ndarray,
    graph: NeighbourGraph | None = None,
    *,
    sim_threshold: float = DEFAULT_NEAR_THRESHOLD,
    confirm_sim: float = DEFAULT_CONFIRM_SIM,
    long_confirm_sim: float = DEFAULT_LONG_CONFIRM_SIM,
    char_overlap: float = DEFAULT_CHAR_OVERLAP,
    near_overlap: float = DEFAULT_NEAR_OVERLAP,
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
    kind_col = np.full(n, None, dtype=object)
    params = {"sim_threshold": sim_threshold, "confirm_sim": confirm_sim, "long_confirm_sim": long_confirm_sim,
              "char_overlap": char_overlap, "near_overlap": near_overlap, "ngram": ngram,
              "ngram_min_overlap": ngram_min_overlap, "n_eval": int(len(ev)), "n_train": int(len(tr))}
    if not len(ev) or not len(tr):
        return Leakage(leaked, match, psim, ngo, [], params, kind_col)
    progress(0, 3, "leakage")
    vecs = np.asarray(prompt_vecs, dtype=np.float32)
    # normalised text, word multiset and non-filler multiset of every eval and train prompt
    norm_e = normalise_many([(prompts[i] or "").translate(_APOSTROPHES) for i in ev])
    norm_t = normalise_many([(prompts[i] or "").translate(_APOSTROPHES) for i in tr])
    words_e = [t.split() for t in norm_e]
    words_t = [t.split() for t in norm_t]
    bag_e, con_e = _hash_keys(words_e)
    bag_t, con_t = _hash_keys(words_t)
    first_t: list[dict[str, int]] = [{}, {}, {}]
    for j in range(len(tr)):
        for d, key in zip(first_t, (norm_t[j], bag_t[j], con_t[j])):
            if key and key not in d:
                d[key] = j
    # "one rare word added at the start": train words' document frequency, and every train
    # prompt with its first word cut off
    df_t: dict[str, int] = {}
    cut_t: dict[str, tuple[int, str]] = {}
    for j, w in enumerate(words_t):
        for x in set(w):
            df_t[x] = df_t.get(x, 0) + 1
        if len(w) >= 2:
            cut_t.setdefault(" ".join(w[1:]), (j, w[0]))
    cancel.check()
    sim, nidx, _ = nearest_in_base(vecs, ev, tr_mask, graph, exact_budget=exact_budget, cancel=cancel)
    psim[ev] = sim
    pos_t = np.full(n, -1, np.int64)
    pos_t[tr] = np.arange(len(tr))
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
        if k % 512 == 0:
            cancel.check()
        best = None  # (kind rank, -cos, train position, word, char)
        for rank, (d, key) in enumerate(zip(first_t, (norm_e[k], bag_e[k], con_e[k]))):
            j = d.get(key) if key else None
            if j is not None:
                c = float(vecs[i] @ vecs[tr[j]])
                w, ch, diff = pair_overlap(words_e[k], words_t[j], norm_e[k], norm_t[j])
                best = (rank, -c, j, w, ch, diff)
                break
        if best is None and norm_e[k]:
            hit = _added_word(words_e[k], norm_e[k], first_t[0], cut_t, df_t)
            if hit is not None:
                j, extra = hit
                c = float(vecs[i] @ vecs[tr[j]])
                best = (KIND_ORDER.index("added_word"), -c, j, 0.0, 0.0, 1, extra)
        if best is None:
            cands = []
            if nidx[k] >= 0:
                cands.append((int(pos_t[nidx[k]]), float(sim[k])))
            if graph is not None:
                for nb, s_ in zip(graph.indices[i], graph.sims[i]):
                    if nb >= 0 and tr_mask[nb] and s_ >= min(confirm_sim, long_confirm_sim):
                        cands.append((int(pos_t[nb]), float(s_)))
            seen = set()
            for j, c in cands:
                n_words = min(len(words_e[k]), len(words_t[j]))
                need = long_confirm_sim if n_words >= LONG_WORDS else confirm_sim
                if c < need or j in seen:
                    continue
                seen.add(j)
                w, diff = _word_diff(words_e[k], words_t[j])
                ch = _char_overlap(norm_e[k], norm_t[j]) if diff > 1 else 1.0
                if ((diff <= 1 and n_words >= 1 and max(len(words_e[k]), len(words_t[j])) >= 2)
                        or ch >= char_overlap):
                    cand = (KIND_ORDER.index("confirmed"), -c, j, w, ch, diff)
                elif c >= max(sim_threshold, confirm_sim) and w >= near_overlap:
                    cand = (KIND_ORDER.index("near"), -c, j, w, ch, diff)
                else:
                    continue
                if best is None or cand[:2] < best[:2]:
                    best = cand
        kinds = []
        if best is not None:
            kinds.append(KIND_ORDER[best[0]])
        if has_ng[k] and overlap[k] >= ngram_min_overlap:
            kinds.append("ngram")
        if not kinds:
            continue
        if best is not None:
            m = int(tr[best[2]])
            cos = -best[1]
            w, ch, _ = pair_overlap(words_e[k], words_t[best[2]], norm_e[k], norm_t[best[2]])
        else:
            m = int(ng_match[k])
            cos = float(vecs[i] @ vecs[m])
            mn = normalise_many([(prompts[m] or "").translate(_APOSTROPHES)])[0]
            w, ch, _ = pair_overlap(words_e[k], mn.split(), norm_e[k], mn)
        first = kinds[0]
        if first in KIND_TEXT:
            what = KIND_TEXT[first]
        elif first == "added_word":
            what = f"same words + one word rare in training (\"{best[6]}\") at the start"
        elif first == "confirmed":
            what = (f"embedding {cos:.2f} + one word added or dropped" if best[5] == 1
                    else f"embedding {cos:.2f} + {ch:.2f} character overlap")
        elif first == "near":
            what = f"embedding {cos:.2f} (>= {sim_threshold:.2f}) + {w:.2f} word overlap"
        else:
            what = f"{overlap[k]:.0%} of its {ngram}-word sequences occur in training text"
        if first != "ngram" and "ngram" in kinds:
            what += f"; {overlap[k]:.0%} of its {ngram}-word sequences occur in training text"
        leaked[i] = True
        match[i] = m
        kind_col[i] = first
        items.append({"example": i, "train_match": m, "kinds": kinds, "match": what,
                      "prompt_sim": round(float(cos), 4), "word_overlap": round(float(w), 4),
                      "char_overlap": round(float(ch), 4),
                      "ngram_overlap": round(float(overlap[k]), 4) if has_ng[k] else None,
                      "reason": f"Eval example leaks: {what}."})
    items.sort(key=lambda it: (KIND_ORDER.index(it["kinds"][0]), -it["prompt_sim"], -(it["ngram_overlap"] or 0)))
    progress(3, 3, "leakage")
    return Leakage(leaked, match, psim, ngo, items, params, kind_col)
