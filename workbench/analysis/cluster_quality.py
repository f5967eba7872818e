"""Is a cluster one topic? A label must not present a catch-all as a topic.

HDBSCAN on a map also makes clusters of rows that have little in common (rows between topics, or
outliers a dense region swept up); c-TF-IDF then names them with whatever words are least rare
("difference · state · best" on 337 unrelated questions). These measures tell such a cluster apart:

* **cohesion** — how much more similar the cluster's members are to each other than two rows
  drawn at random from the whole dataset: with ``s_c`` the mean cosine similarity over all pairs
  of the cluster's members and ``s_0`` the same over all pairs of the dataset,
  ``cohesion = (s_c - s_0) / (1 - s_0)`` (1 = identical members, 0 = a random sample). It is
  computed exactly from the sum of the members' unit vectors (``||sum||^2 = n + sum of pair
  similarities``), so it costs one pass over the vectors.
* **relative cohesion** — ``cohesion`` divided by the median cohesion of the dataset's clusters:
  the embedding model and the domain set the scale (intent queries of one bank are all alike;
  open questions are not), so a cluster is judged against the dataset's typical cluster.
* **term coverage** — the share of members that use at least one of the label's terms (see
  :func:`workbench.analysis.labels.term_coverage`); reported in the summary beside the verdict.

A cluster is **mixed** when its relative cohesion is below ``MIN_RELATIVE_COHESION`` (0.5: its
members are less than half as alike, above chance, as the members of the dataset's typical
cluster). The 0.5 is set a priori (half the typical), not fitted; ``benchmarks/study_catchall.py``
measures it on CLINC150 and Banking77, alone and with out-of-scope queries mixed in, over
several seeds, against size-based rules.
A mixed cluster's label says so: ``"mixed: difference · state · best"``, or
``"mixed: no common words"`` when no term is used by enough members to name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

MIN_RELATIVE_COHESION = 0.5
MIXED_PREFIX = "mixed: "
_CHUNK = 65536
COVERAGE_SAMPLE = 500  # members read per cluster for term coverage (standard error <= 2.3 points)


@dataclass(frozen=True)
class ClusterQuality:
    """Per cluster id (index = id, ids 0..m-1 as the analysis numbers them)."""

    size: np.ndarray  # members
    cohesion: np.ndarray  # mean pair similarity above the dataset's random pair, 1 = identical
    relative: np.ndarray  # cohesion / the median cluster's cohesion
    coverage: np.ndarray  # share of members using a label term (0 without terms)
    coherent: np.ndarray  # bool: one topic (False = mixed)
    typical: float  # the median cluster's cohesion
    baseline: float  # mean similarity of two random rows of the dataset

    def item(self, c: int) -> dict[str, Any]:
        """The summary fields of cluster ``c``."""
        return {"coherent": bool(self.coherent[c]), "cohesion": round(float(self.cohesion[c]), 4),
                "relative_cohesion": round(float(self.relative[c]), 3),
                "term_coverage": round(float(self.coverage[c]), 3)}


def pair_similarity(vecs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean pairwise cosine similarity per cluster id 0..m-1, sizes, the same over all rows).

    Exact, from sums of unit vectors; a cluster of one member gets NaN. Zero vectors count as
    unrelated to everything."""
    labels = np.asarray(labels)
    m = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    d = vecs.shape[1] if vecs.ndim == 2 else 0
    sums = np.zeros((m + 1, d), dtype=np.float64)  # last row: noise
    sq = np.zeros(m + 1, dtype=np.float64)
    from scipy import sparse

    for start in range(0, len(labels), _CHUNK):
        v = np.asarray(vecs[start:start + _CHUNK], dtype=np.float32)
        norms = np.linalg.norm(v, axis=1)
        lab = labels[start:start + _CHUNK]
        idx = np.where(lab >= 0, lab, m)
        # cluster x row matrix of 1/|v|: one sparse product sums each cluster's unit vectors
        scale = sparse.csr_matrix((np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0),
                                   (idx, np.arange(len(idx)))), shape=(m + 1, len(idx)))
        sums += scale @ v
        sq += np.bincount(idx, weights=(norms > 0).astype(np.float64), minlength=m + 1)
    size = np.bincount(np.where(labels >= 0, labels, m), minlength=m + 1)[:m]
    pair = (np.einsum("ij,ij->i", sums[:m], sums[:m]) - sq[:m])
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.where(size >= 2, pair / (size * (size - 1.0)), np.nan)
    total = sums.sum(axis=0)
    n = len(labels)
    base = float((total @ total - sq.sum()) / (n * (n - 1.0))) if n >= 2 else 0.0
    return sim, size, base


def assess_clusters(vecs: np.ndarray, labels: np.ndarray, texts: Sequence[str],
                    terms: Mapping[int, Sequence[str]], *, seed: int = 0,
                    min_relative: float = MIN_RELATIVE_COHESION) -> ClusterQuality:
    """Cohesion, term coverage and the one-topic verdict of every cluster (noise is ignored)."""
    from workbench.analysis.labels import term_coverage

    labels = np.asarray(labels)
    sim, size, base = pair_similarity(vecs, labels)
    m = len(size)
    scale = 1.0 - base if base < 1.0 - 1e-9 else 1.0
    cohesion = (sim - base) / scale
    valid = np.isfinite(cohesion)
    typical = float(np.median(cohesion[valid])) if valid.any() else float("nan")
    if np.isfinite(typical) and typical > 1e-6:
        relative = np.where(valid, cohesion / typical, 1.0)
    else:  # no cluster is more alike than chance: nothing to compare against
        relative = np.where(valid, 0.0, 1.0)
    cov_by = term_coverage(texts, labels, {c: terms.get(c, []) for c in range(m)}, seed=seed,
                           max_docs_per_cluster=COVERAGE_SAMPLE)
    coverage = np.array([cov_by.get(c, 0.0) for c in range(m)], dtype=np.float64)
    coherent = relative >= min_relative
    return ClusterQuality(size=size, cohesion=np.where(valid, cohesion, 1.0), relative=relative,
                          coverage=coverage, coherent=coherent, typical=typical, baseline=base)


def cluster_label(terms: Sequence[str], cluster_id: int, coherent: bool) -> str:
    """The displayed label: ``"card · arrive"``, ``"cluster 7"`` (no words), or for a mixed
    cluster ``"mixed: difference · state"`` / ``"mixed: no common words"``."""
    from workbench.analysis.labels import format_label

    if coherent:
        return format_label(terms, cluster_id)
    return MIXED_PREFIX + (format_label(terms, cluster_id) if terms else "no common words")


def is_mixed_label(label: str | None) -> bool:
    """Whether a label is the analysis' label of a mixed cluster (a curator's name never is)."""
    return bool(label) and str(label).startswith(MIXED_PREFIX)


def annotate(examples: Any, summary: dict[str, Any], quality: ClusterQuality) -> None:
    """Put the verdict into an analysis result in place: each ``summary["clusters"]`` item gets
    :meth:`ClusterQuality.item`'s fields and its label; ``examples["cluster_label"]`` and every
    ``cluster_label`` that names a cluster in the summary (gaps, conflicts) follow."""
    new: dict[int, str] = {}
    for item in summary.get("clusters", []) or []:
        c = int(item["id"])
        if c >= len(quality.size):
            continue
        item.update(quality.item(c))
        item["label"] = cluster_label(item.get("terms") or [], c, bool(quality.coherent[c]))
        new[c] = item["label"]
    if not new:
        return

    def fix(rows: Any, key: str = "cluster") -> None:
        for r in rows or []:
            if isinstance(r, dict) and r.get(key) is not None and int(r[key]) in new and "cluster_label" in r:
                r["cluster_label"] = new[int(r[key])]

    gaps = summary.get("gaps") or {}
    fix(gaps.get("gaps"))
    fix(gaps.get("unreached"))
    fix((summary.get("conflicts") or {}).get("by_cluster"))
    if examples is not None and "cluster_label" in examples:
        import pandas as pd

        cl = examples["cluster"].to_numpy()
        examples["cluster_label"] = pd.array([new.get(int(c)) if c >= 0 else None for c in cl], dtype="string")
