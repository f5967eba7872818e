"""Cluster labels from distinctive terms: class-based TF-IDF (c-TF-IDF, as in BERTopic).

All prompts of a cluster are treated as one document. A term's weight in cluster c is

    share(t, c) * log(1 + A / f(t))

where ``share`` is the share of c's prompts that use the term, ``A`` the average number of
terms per cluster and ``f(t)`` the term's count over all clusters — so a word many members use
and rare elsewhere wins, and words common everywhere ("please", "help") lose. A term used by
fewer than ``MIN_TERM_SHARE`` (15%) of the cluster's prompts (or by only one) never names it: such a
cluster gets fewer terms, or none, rather than a word from one stray member (a catch-all of 337
unrelated questions was labelled "currency · yarn · hold" from one of them). English stop
words (plus contraction fragments and filler such as "please", "get"; less nouns such as "top",
"bill", "interest" that can be a topic) are dropped; simple inflections are merged onto a base form that occurs in the data
("cards" -> "card", "arrived" -> "arrive") so one label does not spend two of its terms on one
word. A label is the top terms joined by " · ", e.g. ``card · arrive · delivery``.

Large clusters are labelled from a seeded sample of at most ``max_docs_per_cluster`` prompts.
Labels are suggestions: the curator can rename or merge clusters (ids stay stable).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

SEPARATOR = " · "
MIN_TERM_SHARE = 0.15  # a label term must be used by at least this share of a cluster's prompts (and 2)
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"  # words of two or more letters
# besides scikit-learn's English stop words: contraction fragments ("I've" -> "ve") and
# greetings / filler verbs that say nothing about a topic
EXTRA_STOP_WORDS = frozenset("""
    ve ll re don didn doesn isn wasn aren weren haven hasn hadn couldn wouldn shouldn won ain im ive
    did does doing got get gets getting want wants wanted need needs like know tell let lets
    please pls thanks thank hi hello hey ok okay just really sure yes
""".split())
# scikit-learn's list also drops nouns and adjectives that can be a cluster's topic ("top up",
# "bill", "interest", "amount", "name"); they stay
TOPIC_WORDS = frozenset("""
    amount bill bottom call cry detail empty fill fire front full interest move name side system
    thick thin top
""".split())


def _base_candidates(t: str) -> list[str]:
    out: list[str] = []
    if t.endswith("ies"):
        out.append(t[:-3] + "y")
    if t.endswith("s") and not t.endswith("ss"):  # before "-es": "times" -> "time", not "tim"
        out.append(t[:-1])
    if t.endswith("es"):
        out.append(t[:-2])
    if t.endswith("ing"):
        out += [t[:-3], t[:-3] + "e", t[:-4]]
    if t.endswith("ed"):
        out += [t[:-2], t[:-1], t[:-3]]
    return [c for c in out if len(c) >= 3]


def base_forms(vocab: Sequence[str]) -> np.ndarray:
    """For each vocabulary word, the index of its base form in ``vocab`` (itself if none)."""
    pos = {w: i for i, w in enumerate(vocab)}
    target = np.arange(len(vocab))
    for i, w in enumerate(vocab):
        for cand in _base_candidates(w):
            j = pos.get(cand)
            if j is not None:
                target[i] = j
                break
    # one level only, but make chains (a -> b -> c) point at the end
    for _ in range(2):
        target = target[target]
    return target


def ctfidf_terms(
    texts: Sequence[str],
    labels: np.ndarray,
    *,
    n_terms: int = 3,
    max_docs_per_cluster: int = 2000,
    seed: int = 0,
    strict: bool = True,
) -> dict[int, list[str]]:
    """Up to ``n_terms`` most distinctive terms of every cluster id >= 0 in ``labels``: only terms
    used by at least ``MIN_TERM_SHARE`` of its prompts (and two of them).

    Clusters with no such words (only digits or emoji, or members with nothing in common) get an
    empty list. ``strict=False`` is the old rule (rarer terms fill the label when too few are
    common), kept only for the study that measures what the rule removed.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    labels = np.asarray(labels)
    ids = np.unique(labels[labels >= 0])
    if len(ids) == 0:
        return {}
    rng = np.random.default_rng(seed)
    rows: list[int] = []
    row_cluster: list[int] = []
    for c in ids:
        members = np.flatnonzero(labels == c)
        if len(members) > max_docs_per_cluster:
            members = np.sort(rng.choice(members, max_docs_per_cluster, replace=False))
        rows.extend(members.tolist())
        row_cluster.extend([int(c)] * len(members))
    docs = [texts[i] or "" for i in rows]
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    vectorizer = CountVectorizer(stop_words=sorted((ENGLISH_STOP_WORDS - TOPIC_WORDS) | EXTRA_STOP_WORDS),
                                 token_pattern=TOKEN_PATTERN,
                                 lowercase=True, dtype=np.float32)
    try:
        x = vectorizer.fit_transform(docs)
    except ValueError:  # empty vocabulary: nothing but stop words, digits or symbols
        return {int(c): [] for c in ids}
    vocab = vectorizer.get_feature_names_out()
    base = base_forms(vocab)
    merge = sparse.csr_matrix((np.ones(len(vocab), dtype=np.float32), (np.arange(len(vocab)), base)),
                              shape=(len(vocab), len(vocab)))
    cluster_pos = {int(c): k for k, c in enumerate(ids)}
    indicator = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32),
         ([cluster_pos[c] for c in row_cluster], np.arange(len(rows)))),
        shape=(len(ids), len(rows)),
    )
    counts = (indicator @ x @ merge).tocsr()  # clusters x terms (inflections folded onto base)
    # how many documents of the cluster use the term (to skip one-off words)
    doc_use = (indicator @ ((x > 0).astype(np.float32) @ merge)).tocsr()
    totals = np.asarray(counts.sum(axis=1)).ravel()
    term_freq = np.asarray(counts.sum(axis=0)).ravel()
    avg_words = float(totals.mean()) if len(totals) else 0.0
    idf = np.log1p(avg_words / np.maximum(term_freq, 1.0)).astype(np.float32)
    result: dict[int, list[str]] = {}
    for k, c in enumerate(ids):
        start, stop = counts.indptr[k], counts.indptr[k + 1]
        cols = counts.indices[start:stop]
        if len(cols) == 0 or totals[k] == 0:
            result[int(c)] = []
            continue
        uses = np.asarray(doc_use[k, cols].todense()).ravel()
        n_docs = int(indicator[k].sum())
        # weight = share of the cluster's prompts that use the term (not raw counts, so one long
        # or repetitive prompt cannot name its cluster) times the term's distinctiveness
        score = uses / max(n_docs, 1) * idf[cols]
        min_uses = min_term_uses(n_docs)  # a word few members use does not describe the cluster
        common = uses >= min_uses
        if not strict:
            score = np.where(common, score, score * 1e-3)
        elif not common.all():
            cols, score = cols[common], score[common]
        order = np.lexsort((cols, -score))[:n_terms]
        result[int(c)] = [str(vocab[j]) for j in cols[order]]
    return result


def min_term_uses(n_docs: int) -> int:
    """How many of a cluster's ``n_docs`` prompts must use a term for it to name the cluster."""
    return max(min(2, n_docs), int(np.ceil(MIN_TERM_SHARE * n_docs)))


def term_coverage(texts: Sequence[str], labels: np.ndarray, terms: dict[int, Sequence[str]], *,
                  max_docs_per_cluster: int = 2000, seed: int = 0) -> dict[int, float]:
    """Per cluster id in ``terms``, the share of its prompts that use at least one of its label
    terms (an inflection counts: "cards" uses "card"); 0.0 for a cluster without terms. Large
    clusters are measured on a seeded sample of ``max_docs_per_cluster`` prompts."""
    import re

    token = re.compile(TOKEN_PATTERN)
    forms: dict[str, frozenset[str]] = {}  # word -> itself and the base forms it may fold onto

    def uses(text: str, wanted: set[str]) -> bool:
        for w in set(token.findall(text.lower())):
            f = forms.get(w)
            if f is None:
                f = forms[w] = frozenset([w, *_base_candidates(w)])
            if not f.isdisjoint(wanted):
                return True
        return False

    labels = np.asarray(labels)
    rows = np.flatnonzero(labels >= 0)
    rows = rows[np.argsort(labels[rows], kind="stable")]
    ids, first = np.unique(labels[rows], return_index=True)
    groups = dict(zip(ids.tolist(), np.split(rows, first[1:])))
    rng = np.random.default_rng(seed)
    out: dict[int, float] = {}
    for c, ts in terms.items():
        members = groups.get(int(c), rows[:0])
        wanted = set(ts)
        if len(members) == 0 or not wanted:
            out[int(c)] = 0.0
            continue
        if len(members) > max_docs_per_cluster:
            members = rng.choice(members, max_docs_per_cluster, replace=False)
        out[int(c)] = sum(uses(texts[i] or "", wanted) for i in members.tolist()) / len(members)
    return out


def format_label(terms: Sequence[str], cluster_id: int) -> str:
    """``"card · arrive · delivery"``; ``"cluster 7"`` when there are no terms."""
    return SEPARATOR.join(terms) if terms else f"cluster {cluster_id}"


def cluster_labels(texts: Sequence[str], labels: np.ndarray, *, n_terms: int = 3,
                   max_docs_per_cluster: int = 2000, seed: int = 0) -> dict[int, str]:
    """Display label of every cluster id >= 0 (see module docstring)."""
    terms = ctfidf_terms(texts, labels, n_terms=n_terms, max_docs_per_cluster=max_docs_per_cluster,
                         seed=seed)
    return {c: format_label(t, c) for c, t in terms.items()}
