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


def _jaccard(a, b) -> float:
    a, b = set(a), set(b)
    u = len(a | b)
    return len(a & b) / u if u else 1.0


def _edits(wa: list[str], wb: list[str]) -> tuple[float, float]:
    """(swapped, moved) of the word-level diff (see the module docstring)."""
    ops = difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes()
    rep = [(set(wa[i1:i2]), set(wb[j1:j2])) for t, i1, i2, j1, j2 in ops if t == "replace"]
    swapped = any(rep[k][0] & rep[m][1] and rep[k][1] & rep[m][0]
                  for k in range(len(rep)) for m in range(k + 1, len(rep)))
    gone = {tuple(wa[i1:i2]) for t, i1, i2, _, _ in ops if t == "delete"}
    moved = any(tuple(wb[j1:j2]) in gone for t, _, _, j1, j2 in ops if t == "insert")
    return float(swapped), float(moved)


def _ngrams(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def _names(tokens: list[str]) -> list[str]:
    return [t for i, t in enumerate(tokens) if i > 0 and t[:1].isupper()]


def _context(words: list[str], i: int) -> tuple[str, str]:
    return (words[i - 1] if i > 0 else "^", words[i + 1] if i + 1 < len(words) else "$")


def pair_features(a: str, b: str, cos: float) -> dict[str, float]:
    """The features of one pair (see the module docstring) plus, for the decision and the reason:
    ``words`` (word-set Jaccard), ``same_words`` (1 when the two texts have the same set of
    words), ``has_numbers`` and ``has_names`` (1 when either text has any)."""
    ta, tb = _TOKEN.findall(a or ""), _TOKEN.findall(b or "")
    wa, wb = [t.lower() for t in ta], [t.lower() for t in tb]
    n = min(3, len(wa), len(wb))
    overlap = _jaccard(_ngrams(wa, n), _ngrams(wb, n)) if n > 0 else float(wa == wb)
    ca, cb = Counter(wa), Counter(wb)
    shared = [w for w in wa if ca[w] == 1 and cb.get(w) == 1]
    pos_b = {w: i for i, w in enumerate(wb) if cb[w] == 1}
    perm = [pos_b[w] for w in shared]
    m = len(perm)
    if m >= 2:
        arr = np.asarray(perm)
        discordant = float(np.triu(arr[:, None] > arr[None, :], 1).sum()) / (m * (m - 1) / 2)
        ranks = np.argsort(np.argsort(arr))
        breaks = float(np.sum(np.diff(ranks) != 1)) / (m - 1)
    else:
        discordant = breaks = 0.0
    nums_a = {t for t in wa if any(c.isdigit() for c in t)}
    nums_b = {t for t in wb if any(c.isdigit() for c in t)}
    na, nb = {t.lower() for t in _names(ta)}, {t.lower() for t in _names(tb)}
    missing = (na - set(wb)) | (nb - set(wa))  # a name one text has and the other lacks entirely
    names = len(missing) / len(na | nb) if (na or nb) else 0.0
    moved = total = 0
    pos_a = {w: i for i, w in enumerate(wa)}
    for lw in na & nb:
        if ca[lw] == 1 and cb[lw] == 1:
            la, ra = _context(wa, pos_a[lw])
            lb, rb = _context(wb, pos_b[lw])
            moved += (la != lb) + (ra != rb)
            total += 2
    swapped, phrase_moved = _edits(wa, wb)
    return {"cos": float(cos), "overlap": overlap, "discordant": discordant, "breaks": breaks,
            "numbers": float(nums_a != nums_b), "names": names,
            "name_moves": moved / total if total else 0.0, "swapped": swapped, "moved": phrase_moved,
            "same_words": float(set(wa) == set(wb)), "words": _jaccard(wa, wb),
            "has_numbers": float(bool(nums_a or nums_b)), "has_names": float(bool(na or nb))}


def probability(feats: dict[str, float], coefficients: dict[str, float] = COEFFICIENTS) -> float:
    z = coefficients["intercept"] + sum(coefficients[f] * feats[f] for f in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def verify_pairs(texts: Sequence[str], i: np.ndarray, j: np.ndarray, sims: np.ndarray,
                 min_probability: float = DEFAULT_MIN_PROBABILITY,
                 coefficients: dict[str, float] = COEFFICIENTS, *, reworded_sim: float = REWORDED_SIM,
                 ) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]]]:
    """Decide each candidate pair ``(texts[i[k]], texts[j[k]])`` with cosine ``sims[k]``.

    Returns ``(confirmed, p, features)``: ``p`` is the verifier's P(duplicate) (NaN for pairs
    worded too differently for it, which need cosine >= ``reworded_sim``; see the module
    docstring)."""
    feats = [pair_features(texts[int(a)], texts[int(b)], float(s)) for a, b, s in zip(i, j, sims)]
    p = np.array([probability(f, coefficients) if f["words"] >= MIN_WORD_OVERLAP else np.nan
                  for f in feats], dtype=np.float32)
    ok = np.array([p_k >= min_probability if f["words"] >= MIN_WORD_OVERLAP else f["cos"] >= reworded_sim
                   for p_k, f in zip(p.tolist(), feats)], dtype=bool)
    return ok, p, feats


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
