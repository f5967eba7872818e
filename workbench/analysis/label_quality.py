"""Confident learning over answer labels: which training answers the prompts do not support.

Used by :mod:`workbench.analysis.conflicts` where the responses are *labels* (short answers that
several train rows share: intents, classes, yes/no) or where free-text responses fall into
*answer families* (near-identical responses, see :func:`response_families`).

**Out-of-sample class probabilities** from the prompt vectors, the average of two
leave-one-out nearest-centroid classifiers (each row is scored against class means computed
*without the row itself*, so its own answer cannot vouch for it; exact, one matrix product):

- in the embedding space: cosine of the prompt to each class's mean prompt direction, softmax at
  temperature :data:`CENTROID_T`;
- in a whitened space (linear discriminant analysis): the prompt vectors multiplied by
  ``Sw^(-1/2)``, where ``Sw`` is the pooled within-class covariance shrunk towards a multiple of
  the identity (weight :data:`SHRINK`; estimated on at most :data:`WHITEN_SAMPLE` rows), then
  L2-normalised; same leave-one-out centroids and
  softmax. Whitening down-weights the directions in which prompts of one answer vary anyway.

A 5-fold multinomial logistic regression (cleanlab's usual setting) was measured too: the same
precision within the spread on Banking77 and CLINC150 cases, but 20-80 s for 3,000 rows on two
busy cores against under a second here (``benchmarks/study_conflicts.py --with-lr``).

**Label quality** (cleanlab's *self-confidence*): ``p_i[given_i]``, the leave-one-out probability of
the answer the row actually has; low = the prompt looks like another answer's prompts.
**Label issue** (listed as a conflict): the row's given-class probability is below that class's
threshold ``t_c`` (the mean self-confidence of the rows labelled ``c``) while another class ``k``
reaches its own threshold ``t_k`` (cleanlab's *confident joint* off-diagonal) or is more probable
than the given one (the classifier's prediction differs); the suggested answer is the other class
with the largest ``p_k``. Issues are ranked by label quality, lowest first.

Measured in ``benchmarks/study_conflicts.py`` (3% of answers replaced by another label, 5 seeds,
precision of the k lowest label-quality rows, k = number replaced). Written with numpy: the same
maths as cleanlab's ``get_label_quality_scores(method="self_confidence")`` and
``find_label_issues(filter_by="confident_learning")``, without the dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from workbench.core.progress import CancelToken, ensure

CENTROID_T = 0.05
SHRINK = 0.6
WHITEN_SAMPLE = 20_000
LABEL_MIN_COUNT = 2  # an answer text shared by at least this many train rows is a label
LABEL_MIN_ROWS = 20  # fewer label rows than this: no classifier (too little to learn from)
FAMILY_SIM = 0.92  # free-text responses at least this similar (cosine) form one family
FAMILY_MIN_SIZE = 3


@dataclass
class LabelQuality:
    """Per participating row (``rows``): given class, probabilities and scores."""

    rows: np.ndarray  # int64 row indices into the analysed table
    given: np.ndarray  # int64 class index of each row
    names: list[str]  # display text of each class (its most common raw answer)
    proba: np.ndarray  # float32 (m, K) out-of-fold probabilities
    quality: np.ndarray  # float32 self-confidence p[given]
    suggested: np.ndarray  # int64 most probable class other than the given one
    issue: np.ndarray  # bool: confident-joint label issue
    kind: str  # "label" or "family"

    @property
    def n_classes(self) -> int:
        return len(self.names)


def answer_classes(keys: Sequence[str], eligible: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Class index per row (-1 = not a label row) for rows whose normalised answer ``keys[i]`` is
    shared by at least :data:`LABEL_MIN_COUNT` eligible rows; also the first row of each class."""
    n = len(keys)
    cls = np.full(n, -1, np.int64)
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for i in np.flatnonzero(eligible).tolist():
        k = keys[i]
        if k:
            count[k] = count.get(k, 0) + 1
            first.setdefault(k, i)
    ids: dict[str, int] = {}
    firsts: list[int] = []
    for i in np.flatnonzero(eligible).tolist():
        k = keys[i]
        if k and count[k] >= LABEL_MIN_COUNT:
            if k not in ids:
                ids[k] = len(firsts)
                firsts.append(first[k])
            cls[i] = ids[k]
    return cls, firsts


def response_families(response_vecs: np.ndarray, rows: np.ndarray, *, sim: float = FAMILY_SIM,
                      seed: int = 0) -> np.ndarray:
    """Answer families among free-text responses: connected components of the response vectors'
    k-nearest-neighbour graph (k = 10) restricted to cosine >= ``sim``; components with at least
    :data:`FAMILY_MIN_SIZE` members are families. Returns a family id per entry of ``rows``
    (-1 = in no family)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    from workbench.analysis.graph import build_graph

    m = len(rows)
    out = np.full(m, -1, np.int64)
    if m < FAMILY_MIN_SIZE + 1:
        return out
    vecs = np.ascontiguousarray(response_vecs[rows], dtype=np.float32)
    g = build_graph(vecs, min(10, m - 1), seed=seed)
    a = np.repeat(np.arange(m), g.k)
    b = g.indices.reshape(-1)
    keep = (b >= 0) & (g.sims.reshape(-1) >= sim)
    if not keep.any():
        return out
    adj = csr_matrix((np.ones(int(keep.sum()), np.int8), (a[keep], b[keep])), shape=(m, m))
    _, comp = connected_components(adj, directed=False)
    sizes = np.bincount(comp)
    big = sizes >= FAMILY_MIN_SIZE
    remap = np.full(len(sizes), -1, np.int64)
    remap[big] = np.arange(int(big.sum()))
    return remap[comp]


def _softmax(z: np.ndarray) -> np.ndarray:
    """Row softmax, in place."""
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _class_sums(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """(k, d) float32 sum of the rows of each class (a sparse one-hot product: np.add.at is
    slow at 100k rows)."""
    from scipy.sparse import csr_matrix

    onehot = csr_matrix((np.ones(len(y), np.float32), (y, np.arange(len(y)))), shape=(k, len(y)))
    return np.asarray(onehot @ np.asarray(x, np.float32), dtype=np.float32)


def centroid_proba(x: np.ndarray, y: np.ndarray, k: int, t: float = CENTROID_T) -> np.ndarray:
    """Leave-one-out nearest-centroid probabilities (see the module docstring), float32 (n, k).

    With ``s_c`` the sum of class c's vectors, ``x·s_c / |s_c|`` is the cosine to the class mean
    direction; for the row's own class the sum without the row is ``s_y - x``, whose dot product
    and norm follow from ``x·s_y``, ``|s_y|`` and ``|x|`` without forming it."""
    n = len(y)
    x = np.asarray(x, np.float32)
    sums = _class_sums(x, y, k)
    snorm = np.linalg.norm(sums, axis=1)
    dots = x @ sums.T  # (n, k)
    rows = np.arange(n)
    own_dot = dots[rows, y].astype(np.float64)
    xx = np.einsum("ij,ij->i", x, x).astype(np.float64)
    own_norm2 = snorm[y].astype(np.float64) ** 2 - 2 * own_dot + xx
    own_norm = np.sqrt(np.maximum(own_norm2, 0))
    own_sim = np.where(own_norm > 1e-6, (own_dot - xx) / np.maximum(own_norm, 1e-12), 0.0)
    dots /= np.maximum(snorm, 1e-12)[None, :]
    dots[rows, y] = own_sim
    dots /= t
    return _softmax(dots)


def whitened(x: np.ndarray, y: np.ndarray, k: int, shrink: float = SHRINK) -> np.ndarray:
    """``x`` in the whitened space of the pooled within-class covariance (see the module
    docstring), rows L2-normalised."""
    means = _class_sums(x, y, k)
    means /= np.maximum(np.bincount(y, minlength=k), 1)[:, None].astype(np.float32)
    sample = np.arange(len(x))
    if len(x) > WHITEN_SAMPLE:  # the covariance of 384 dims is well estimated from 20k rows
        sample = np.random.default_rng(0).choice(len(x), WHITEN_SAMPLE, replace=False)
    r = x[sample] - means[y[sample]]
    sw = (r.T @ r).astype(np.float64) / max(len(sample) - k, 1)
    sw = (1 - shrink) * sw + shrink * (np.trace(sw) / x.shape[1]) * np.eye(x.shape[1])
    w, v = np.linalg.eigh(sw)
    z = x @ (v / np.sqrt(np.maximum(w, 1e-12))).astype(np.float32)
    z /= np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    return z


def label_quality(x: np.ndarray, rows: np.ndarray, given: np.ndarray, names: list[str], *, kind: str = "label",
                  seed: int = 0, cancel: CancelToken | None = None) -> LabelQuality | None:
    """Confident learning for rows ``rows`` of prompt vectors ``x`` (N, d) with class ``given``
    (0..K-1). None when there is too little to learn from (< :data:`LABEL_MIN_ROWS` rows or < 2
    classes)."""
    k = len(names)
    if len(rows) < LABEL_MIN_ROWS or k < 2:
        return None
    _, cancel = ensure(None, cancel)
    xs = np.ascontiguousarray(x[rows], dtype=np.float32)
    proba = centroid_proba(xs, given, k)
    cancel.check()
    proba += centroid_proba(whitened(xs, given, k), given, k)
    proba = (0.5 * proba).astype(np.float32)
    m = len(rows)
    quality = proba[np.arange(m), given]
    # per-class thresholds: mean self-confidence of the rows given that class
    thr = np.bincount(given, weights=quality, minlength=k) / np.maximum(np.bincount(given, minlength=k), 1)
    other = proba.copy()
    other[np.arange(m), given] = -1.0
    suggested = other.argmax(axis=1)
    above = other >= thr[None, :].astype(np.float32)
    confident_other = np.where(above, other, -1.0).max(axis=1) >= 0
    prefers_other = other.max(axis=1) > quality
    issue = (quality < thr[given]) & (confident_other | prefers_other)
    return LabelQuality(rows.astype(np.int64), given.astype(np.int64), names, proba, quality.astype(np.float32),
                        suggested.astype(np.int64), issue, kind)
