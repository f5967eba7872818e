"""Near-duplicate verification: is a pair of similar prompts really the same request?

Sentence vectors put "flights from Paris to Rome" and "flights from Rome to Paris" at cosine
~0.99: a bag of nearly the same words. The verifier looks at the two texts themselves and scores
each candidate pair (prompt cosine >= the candidate threshold) with a logistic regression over
a few pair features a person can check:

=============  ==================================================================================
feature        definition (words = ``\\w+`` tokens, compared lower-cased)
=============  ==================================================================================
``cos``        prompt-vector cosine of the pair
``overlap``    Jaccard overlap of the two texts' word trigrams (bigrams, then words, when a text
               has fewer than 3 words): high when the same phrases occur in both
``discordant`` share of word pairs in opposite order: over the words that occur exactly once
               in each text, the share of pairs (a, b) with a before b in one text and after b
               in the other (Kendall's tau distance)
``breaks``     share of order breaks: of the consecutive shared words of the first text, the
               share that are not consecutive in the second (a phrase moved as a whole breaks
               in 2-3 places; two names swapped break around each of them)
``numbers``    1 when the two texts do not contain the same numbers (digit tokens), else 0
``names``      share of the names (capitalised words not at the start of a text, compared
               lower-cased) that one text has and the other lacks altogether
``name_moves`` for names that occur once in each text: the share of their left/right
               neighbours that differ (a name that changed places or roles)
``swapped``    1 when two edits of the word-level diff (``difflib``) exchange words: one
               replaces A by B and another B by A ("from Paris to Rome" / "from Rome to Paris")
``moved``      1 when a phrase deleted in one place is inserted verbatim in another (a clause
               moved as a whole, which usually keeps the meaning)
=============  ==================================================================================

The verifier was fitted on pairs that share most of their words (PAWS: word-set Jaccard 0.89 on
average), so it decides only pairs with word-set Jaccard >= ``MIN_WORD_OVERLAP``: such a pair is
confirmed when ``P(duplicate) >= DEFAULT_MIN_PROBABILITY``. A pair worded differently (a
rewording rather than a near copy) is confirmed only at cosine >= ``REWORDED_SIM`` (0.95, the
old cosine-only rule), so ordinary data does not gain loose "duplicates" of the same intent. Exact duplicates (same
normalised prompt) need no verification. The coefficients are plain numbers below (no pickle):
fitted with ``benchmarks/study_duplicate_threshold.py --fit`` on the PAWS-Wiki dev split
(human-labelled adversarial pairs: the non-paraphrases are the same words with names or phrases
swapped) among dev pairs with cosine >= 0.90, and checked on the test split (see that study for
the figures). Every confirmed pair also gets a short reason (:func:`pair_reason`).
"""

from __future__ import annotations

import bisect
import difflib
import math
import re
from collections import Counter
from typing import Sequence

import numpy as np

FEATURES = ("cos", "overlap", "discordant", "breaks", "numbers", "names", "name_moves", "swapped", "moved")
# Logistic regression on PAWS-Wiki dev pairs with cosine >= 0.90 (study_duplicate_threshold.py --fit)
COEFFICIENTS: dict[str, float] = {
    "intercept": -1.7101, "cos": 2.9192, "overlap": 1.8653, "discordant": -2.603, "breaks": -5.0613,
    "numbers": -0.5836, "names": -0.8709, "name_moves": -0.5622, "swapped": -2.5266, "moved": 1.1362,
}
DEFAULT_CANDIDATE_SIM = 0.90
MIN_WORD_OVERLAP = 0.5  # word-set Jaccard from which the verifier decides
REWORDED_SIM = 0.95  # cosine that confirms a pair with less word overlap
DEFAULT_MIN_PROBABILITY = 0.65  # highest cut (0.05 grid) keeping PAWS dev paraphrase recall >= 0.65

_TOKEN = re.compile(r"\w+", re.UNICODE)
_DIGIT = re.compile(r"\d", re.UNICODE)


def _jaccard(a: set, b: set) -> float:
    inter = len(a & b)
    u = len(a) + len(b) - inter
    return inter / u if u else 1.0


def _edits(wa: list[str], wb: list[str]) -> tuple[float, float]:
    """(swapped, moved) of the word-level diff (see the module docstring)."""
    ops = difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes()
    rep = [(set(wa[i1:i2]), set(wb[j1:j2])) for t, i1, i2, j1, j2 in ops if t == "replace"]
    swapped = any(rep[k][0] & rep[m][1] and rep[k][1] & rep[m][0]
                  for k in range(len(rep)) for m in range(k + 1, len(rep)))
    gone = {tuple(wa[i1:i2]) for t, i1, i2, _, _ in ops if t == "delete"}
    moved = any(tuple(wb[j1:j2]) in gone for t, _, _, j1, j2 in ops if t == "insert")
    return float(swapped), float(moved)


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _context(words: list[str], i: int) -> tuple[str, str]:
    return (words[i - 1] if i > 0 else "^", words[i + 1] if i + 1 < len(words) else "$")


class _Text:
    """One text, tokenised once (a row takes part in many candidate pairs)."""

    __slots__ = ("words", "wset", "counts", "unique_pos", "names", "numbers", "grams")

    def __init__(self, text: str | None) -> None:
        tokens = _TOKEN.findall(text or "")
        self.words = [t.lower() for t in tokens]
        self.wset = set(self.words)
        self.counts = Counter(self.words)
        self.unique_pos = {w: i for i, w in enumerate(self.words) if self.counts[w] == 1}
        self.names = {t.lower() for i, t in enumerate(tokens) if i > 0 and t[:1].isupper()}
        self.numbers = ({w for w in self.wset if _DIGIT.search(w)} if _DIGIT.search(text or "")
                        else set())
        self.grams: dict[int, set[tuple[str, ...]]] = {}

    def ngrams(self, n: int) -> set[tuple[str, ...]]:
        g = self.grams.get(n)
        if g is None:
            g = self.grams[n] = _ngrams(self.words, n)
        return g


def asks_about_other_things(a: str | None, b: str | None, cache: dict | None = None, ia: int = -1,
                            ib: int = -1) -> bool:
    """True when two prompts name different things: a name (a capitalised word not opening the
    text) or a number of one that the other does not contain in any case ("the words of House
    Tyrell" / "of House Reed", "in 2019" / "in 2020"). Case alone never counts: "france" in one
    and "France" in the other is the same name. ``cache`` (row -> tokenised text) with the rows'
    indices ``ia``/``ib`` saves tokenising a row once per pair."""
    ta = _cached(cache, ia, a)
    tb = _cached(cache, ib, b)
    if ta.numbers != tb.numbers:
        return True
    return bool((ta.names - tb.wset) or (tb.names - ta.wset))


def _cached(cache: dict | None, i: int, text: str | None) -> "_Text":
    if cache is None or i < 0:
        return _Text(text)
    t = cache.get(i)
    if t is None:
        t = cache[i] = _Text(text)
    return t


def _order(perm: list[int]) -> tuple[float, float]:
    """(discordant, breaks) of the positions in the second text of the shared words, in the
    first text's order (see the module docstring)."""
    m = len(perm)
    if m < 2:
        return 0.0, 0.0
    disc = 0
    seen: list[int] = []  # positions to the right, sorted: count the smaller ones (inversions)
    for x in reversed(perm):
        k = bisect.bisect_left(seen, x)
        disc += k
        seen.insert(k, x)
    rank = [0] * m
    for r, k in enumerate(sorted(range(m), key=perm.__getitem__)):
        rank[k] = r
    breaks = sum(1 for k in range(m - 1) if rank[k + 1] - rank[k] != 1)
    return disc / (m * (m - 1) / 2), breaks / (m - 1)


def _features(a: _Text, b: _Text, cos: float, edits: bool = True) -> dict[str, float]:
    wa, wb = a.words, b.words
    n = min(3, len(wa), len(wb))
    overlap = _jaccard(a.ngrams(n), b.ngrams(n)) if n > 0 else float(wa == wb)
    shared = [w for w in wa if w in a.unique_pos and w in b.unique_pos]
    discordant, breaks = _order([b.unique_pos[w] for w in shared])
    na, nb = a.names, b.names
    missing = (na - b.wset) | (nb - a.wset)  # a name one text has and the other lacks entirely
    names = len(missing) / len(na | nb) if (na or nb) else 0.0
    moved = total = 0
    for lw in na & nb:
        if lw in a.unique_pos and lw in b.unique_pos:
            la, ra = _context(wa, a.unique_pos[lw])
            lb, rb = _context(wb, b.unique_pos[lw])
            moved += (la != lb) + (ra != rb)
            total += 2
    swapped, phrase_moved = _edits(wa, wb) if edits else (0.0, 0.0)
    return {"cos": float(cos), "overlap": overlap, "discordant": discordant, "breaks": breaks,
            "numbers": float(a.numbers != b.numbers), "names": names,
            "name_moves": moved / total if total else 0.0, "swapped": swapped, "moved": phrase_moved,
            "same_words": float(a.wset == b.wset), "words": _jaccard(a.wset, b.wset),
            "has_numbers": float(bool(a.numbers or b.numbers)), "has_names": float(bool(na or nb))}


def pair_features(a: str, b: str, cos: float) -> dict[str, float]:
    """The features of one pair (see the module docstring) plus, for the decision and the reason:
    ``words`` (word-set Jaccard), ``same_words`` (1 when the two texts have the same set of
    words), ``has_numbers`` and ``has_names`` (1 when either text has any)."""
    return _features(_Text(a), _Text(b), cos)


def probability(feats: dict[str, float], coefficients: dict[str, float] = COEFFICIENTS) -> float:
    z = coefficients["intercept"] + sum(coefficients[f] * feats[f] for f in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


class PairVerifier:
    """Decides candidate pairs of ``texts`` one at a time (see :func:`verify_pairs`); each text is
    tokenised once, and the word diff (the costliest feature) is computed only where it can
    change the decision or the pair is confirmed."""

    def __init__(self, texts: Sequence[str], min_probability: float = DEFAULT_MIN_PROBABILITY,
                 coefficients: dict[str, float] = COEFFICIENTS, *, reworded_sim: float = REWORDED_SIM):
        self.texts, self.min_probability, self.c, self.reworded_sim = texts, min_probability, coefficients, reworded_sim
        self._cache: dict[int, _Text] = {}
        self._lift = max(coefficients["moved"], 0.0) + max(coefficients["swapped"], 0.0)
        self._z_cut = (math.log(min_probability / (1.0 - min_probability)) if 0.0 < min_probability < 1.0
                       else (-math.inf if min_probability <= 0.0 else math.inf))

    def _text(self, r: int) -> _Text:
        t = self._cache.get(r)
        if t is None:
            t = self._cache[r] = _Text(self.texts[r])
        return t

    def decide(self, a: int, b: int, sim: float) -> tuple[bool, float, dict[str, float] | None]:
        """(confirmed, P(duplicate) or NaN for a rewording, features when confirmed)."""
        ta, tb = self._text(a), self._text(b)
        if _jaccard(ta.wset, tb.wset) < MIN_WORD_OVERLAP:  # a rewording: the cosine rule decides
            if sim >= self.reworded_sim:
                return True, math.nan, _features(ta, tb, sim, edits=False)
            return False, math.nan, None
        f = _features(ta, tb, sim, edits=False)
        c = self.c
        z = c["intercept"] + sum(c[name] * f[name] for name in FEATURES)  # swapped = moved = 0
        if z + self._lift < self._z_cut:  # rejected whatever the word diff says
            return False, 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z)))), None
        f["swapped"], f["moved"] = _edits(ta.words, tb.words)
        p = probability(f, c)
        return (True, p, f) if p >= self.min_probability else (False, p, None)


def verify_pairs(texts: Sequence[str], i: np.ndarray, j: np.ndarray, sims: np.ndarray,
                 min_probability: float = DEFAULT_MIN_PROBABILITY,
                 coefficients: dict[str, float] = COEFFICIENTS, *, reworded_sim: float = REWORDED_SIM,
                 ) -> tuple[np.ndarray, np.ndarray, list[dict[str, float] | None]]:
    """Decide each candidate pair ``(texts[i[k]], texts[j[k]])`` with cosine ``sims[k]``.

    Returns ``(confirmed, p, features)``: ``p`` is the verifier's P(duplicate) (NaN for pairs
    worded too differently for it, which need cosine >= ``reworded_sim``; see the module
    docstring); ``features[k]`` the pair's features for confirmed pairs (None for rejected ones).
    """
    v = PairVerifier(texts, min_probability, coefficients, reworded_sim=reworded_sim)
    out = [v.decide(a, b, s) for a, b, s in
           zip(np.asarray(i).tolist(), np.asarray(j).tolist(), np.asarray(sims).tolist())]
    return (np.array([o[0] for o in out], dtype=bool), np.array([o[1] for o in out], dtype=np.float32),
            [o[2] for o in out])


def pair_reason(f: dict[str, float]) -> str:
    """Why a confirmed pair is a duplicate, in words, e.g. "cosine 0.97, same words reordered,
    same numbers and names"."""
    parts = [f"cosine {f['cos']:.2f}"]
    if f["moved"] and not f["swapped"]:
        parts.append("same words, a phrase moved" if f["same_words"] else "reworded, a phrase moved")
    elif f["same_words"] and f["discordant"] > 0:
        parts.append("same words, reordered")
    elif f["same_words"]:
        parts.append("same words")
    elif f["discordant"] == 0 and f["overlap"] >= 0.5:
        parts.append("same phrases in the same order")
    elif f["words"] < MIN_WORD_OVERLAP:
        parts.append("reworded")
    elif f["discordant"] == 0:
        parts.append("shared words in the same order")
    else:
        parts.append("shared words partly reordered")
    same = [w for w in ("numbers", "names") if f[f"has_{w}"] and not f[w]]
    if same:
        parts.append("same " + " and ".join(same))
    return ", ".join(parts)
