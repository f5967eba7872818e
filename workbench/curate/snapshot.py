"""What a curation plan or an export reads, captured once on the caller's thread.

:class:`CurationSnapshot` copies the project's state arrays, the ops in effect and the analysis
columns it needs, so an export can run in a worker thread while the curator keeps working (a
later change does not leak into a running export; the export says which project revision it
saw). Reading records goes through the loaded sources (immutable) and the snapshot's own copies
of the edits and added examples.

The analysis is held as an :class:`~workbench.analysis.aligned.AlignedAnalysis` (the same aligned
view the app uses): aligned with the rows by example identity ``(source_id, line)``, never by
file name; rows the analysis did not see (e.g. examples added after it ran) get cluster -1 and no
duplicate group, and are counted in ``missing``. Where the project's analysis lives and whether it
is current is decided by :mod:`workbench.analysis.project_analysis`.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from workbench.analysis.aligned import AlignedAnalysis, row_keys, row_labels
from workbench.core.errors import WorkbenchError
from workbench.io.source_data import SourceData

#: ``embed(texts, progress, cancel) -> (n, d) float32`` L2-normalised: how plans get vectors.
EmbedFn = Callable[..., np.ndarray]


@dataclass
class CurationSnapshot:
    """The project as an export sees it. Build with :meth:`capture` on the thread that owns the project."""

    project_path: Path
    project_revision: int
    sources: list[Any]  # SourceInfo
    n: int
    n_source_rows: int
    source_id: np.ndarray
    line: np.ndarray
    role: np.ndarray
    source_names: np.ndarray
    rejected: np.ndarray
    edited: np.ndarray
    weight: np.ndarray
    tags: list[frozenset]
    prompt: list[str]
    reject_reason: dict[tuple[int, int], str]
    edits: dict[tuple[int, int], dict[str, Any]]
    added: dict[int, Any]  # line -> AddedExample
    ops: list[tuple[int, Any]]  # (journal id, resolved op) in effect, oldest first
    op_times: dict[int, float]
    datas: dict[int, SourceData]
    starts: dict[int, int]
    analysis: AlignedAnalysis | None = None
    embed: EmbedFn | None = None
    captured: float = field(default_factory=time.time)
    response: list[str] = field(default_factory=list)  # current responses (leakage n-grams, readiness)
    settings: dict[str, Any] = field(default_factory=dict)  # project settings a plan reads (readiness.*, snapshots)

    @classmethod
    def capture(cls, project: Any, analysis: Any | None = None, *, embed: EmbedFn | None = None,
                workspace: Any | None = None) -> "CurationSnapshot":
        """Copy what an export needs from an open project (loading its workspace if needed).

        ``analysis``: an AnalysisResult or an AlignedAnalysis of these rows (or None), e.g.
        :func:`workbench.analysis.project_analysis.load_stored`'s.
        ``embed``: optional function giving embeddings for texts (replay-mix sampling, rebalance).
        """
        ws = workspace or project.workspace or project.load()
        state = project.state
        datas = {s.id: ws.source_data(s.id) for s in ws.sources}
        starts = {s.id: ws.rows_of_source(s.id).start for s in ws.sources}
        if isinstance(analysis, AlignedAnalysis) and analysis.n == ws.n:
            view = analysis  # already aligned to these rows (the app's; never mutated, only replaced)
        elif isinstance(analysis, AlignedAnalysis):
            view = analysis.resized(ws.source_id, ws.line, ws.role)
        else:
            view = AlignedAnalysis(analysis, ws.source_id, ws.line, ws.role) if analysis is not None else None
        if view is not None:  # the curator's cluster names and merges, as the project has them now
            view = view.with_cluster_edits(state.cluster_edits)
        return cls(
            project_path=Path(project.path),
            project_revision=int(project.revision),
            sources=list(ws.sources),
            n=ws.n,
            n_source_rows=ws.n_source_rows,
            source_id=ws.source_id.copy(),
            line=ws.line.copy(),
            role=ws.role.copy(),
            source_names=row_labels(ws),  # file names, told apart where two sources share one
            rejected=ws.rejected.copy(),
            edited=ws.edited.copy(),
            weight=ws.weight.astype(np.float64),
            tags=list(ws.tags),
            prompt=list(ws.prompt),
            reject_reason=dict(state.rejected),
            edits={k: copy.deepcopy(v) for k, v in state.edits.items()},
            added=dict(state.added),
            ops=project.effective_ops(),
            op_times=project.journal_times(),
            datas=datas,
            starts=starts,
            analysis=view,
            embed=embed,
            response=list(ws.response),
            settings={k: v for k, v in project.settings.items().items()
                      if str(k).startswith(("readiness", "production_snapshots"))},  # + snapshot dates (report)
        )

    # --- rows -------------------------------------------------------------------------------
    def example_id(self, i: int) -> tuple[int, int]:
        return (int(self.source_id[i]), int(self.line[i]))

    def is_added(self, i: int) -> bool:
        return int(self.source_id[i]) == 0

    def source_info(self, source_id: int) -> Any | None:
        for s in self.sources:
            if s.id == source_id:
                return s
        return None

    def _local(self, i: int) -> tuple[int, int]:
        s = int(self.source_id[i])
        return s, i - self.starts[s]

    def schema_of(self, i: int) -> str:
        if self.is_added(i):
            return self.added[int(self.line[i])].schema
        return self.datas[int(self.source_id[i])].schema

    def mapping_of(self, i: int) -> dict[str, str] | None:
        return None if self.is_added(i) else self.datas[int(self.source_id[i])].mapping

    def raw(self, i: int) -> str | None:
        """Verbatim text of an untouched source record; None for edited or added rows."""
        if self.is_added(i) or self.edited[i]:
            return None
        s, j = self._local(i)
        return self.datas[s].raw[j]

    def record(self, i: int) -> dict[str, Any]:
        """The current record (edits applied)."""
        eid = self.example_id(i)
        if eid in self.edits:
            return copy.deepcopy(self.edits[eid])
        if self.is_added(i):
            return copy.deepcopy(self.added[eid[1]].record)
        s, j = self._local(i)
        return self.datas[s].record(j)

    def index_of(self, example_id: tuple[int, int]) -> int | None:
        """Row of an example id ``(source_id, line)``, or None."""
        keys = row_keys(self.source_id, self.line)
        hits = np.flatnonzero(keys == row_keys(np.array([example_id[0]]), np.array([example_id[1]]))[0])
        return int(hits[0]) if len(hits) else None

    def rows_with_role(self, role: str, *, include_rejected: bool = False) -> np.ndarray:
        m = self.role == role
        if not include_rejected:
            m &= ~self.rejected
        return np.flatnonzero(m)

    def vectors(self, rows: np.ndarray, *, progress=None, cancel=None) -> tuple[np.ndarray | None, str]:
        """Vectors for ``rows`` and what they are: embeddings when an ``embed`` function was
        given, else the analysis map coordinates, else (None, "")."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.embed is not None:
            texts = [self.prompt[int(i)] for i in rows]
            return np.asarray(self.embed(texts, progress=progress, cancel=cancel), dtype=np.float32), "embeddings"
        if self.analysis is not None and self.analysis.has_map:
            xy = np.stack([self.analysis.x[rows], self.analysis.y[rows]], axis=1).astype(np.float32)
            if np.isfinite(xy).all():
                return xy, "map coordinates"
        return None, ""


def require_analysis(snap: CurationSnapshot, what: str) -> AlignedAnalysis:
    """The snapshot's analysis, or a clear error saying ``what`` needs it."""
    if snap.analysis is None:
        raise WorkbenchError(
            f"{what} needs the analysis (clusters). Run `workbench analyze PROJECT` first, "
            "or use Analysis > Run in the app.")
    return snap.analysis
