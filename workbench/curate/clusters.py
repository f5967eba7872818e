"""The curator's cluster names and merges: the one place that turns "rename cluster 3" or
"merge clusters 3, 7 into 2" into a journal op (:class:`~workbench.project.journal.ClusterEdit`).
The app's Clusters panel and ``workbench cluster`` both call these.

The op is keyed by the analysis' cluster ids and records the analysis revision and up to
:data:`~workbench.project.journal.CLUSTER_SAMPLE` members of each cluster, so that
:class:`~workbench.analysis.aligned.AlignedAnalysis` applies it to the same cluster after a
re-analysis that kept the ids, or to the new cluster holding most of the old one's members.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from workbench.core.errors import InputError
from workbench.project.journal import CLUSTER_SAMPLE, ClusterEdit


def _current_id(analysis: Any, cid: int) -> int:
    """The analysis' own id for a cluster id the curator sees (a merged cluster: its target)."""
    cid = int(cid)
    known = set(int(c) for c in analysis.analysis_labels)
    if cid not in known:
        listed = ", ".join(str(c) for c in sorted(analysis.cluster_labels)[:20])
        raise InputError(f"There is no cluster {cid} in the analysis (clusters: {listed}"
                         f"{' …' if len(analysis.cluster_labels) > 20 else ''}).")
    return int(analysis.merged_into.get(cid, cid))


def _sample(analysis: Any, cid: int) -> tuple[tuple[int, int], ...]:
    rows = np.flatnonzero(analysis.cluster_of_analysis == cid)
    if len(rows) > CLUSTER_SAMPLE:  # spread over the cluster, deterministic
        rows = rows[np.linspace(0, len(rows) - 1, CLUSTER_SAMPLE).astype(np.int64)]
    sid, line = analysis.row_ids
    return tuple((int(sid[r]), int(line[r])) for r in rows)


def rename(analysis: Any, cid: int, name: str) -> ClusterEdit:
    """The op that gives cluster ``cid`` (as shown) the curator's ``name``."""
    if not " ".join(str(name or "").split()):
        raise InputError("Give the cluster a name (not empty).")
    c = _current_id(analysis, cid)
    return ClusterEdit((c,), name=name, revision=analysis.revision, samples=(_sample(analysis, c),))


def merge(analysis: Any, ids: Iterable[int], name: str | None = None) -> ClusterEdit:
    """The op that merges clusters ``ids`` (as shown) into the first one (named ``name`` if given)."""
    targets = list(dict.fromkeys(_current_id(analysis, c) for c in ids))
    if len(targets) < 2:
        raise InputError("Name at least two different clusters to merge.")
    return ClusterEdit(tuple(targets), name=name or None, merge=True, revision=analysis.revision,
                       samples=tuple(_sample(analysis, c) for c in targets))
