"""What a curation plan or an export reads, captured once on the caller's thread.

:class:`CurationSnapshot` copies the project's state arrays, the ops in effect and the analysis
columns it needs, so an export can run in a worker thread while the curator keeps working (a
later change does not leak into a running export; the export says which project revision it
saw). Reading records goes through the loaded sources (immutable) and the snapshot's own copies
of the edits and added examples.

:class:`AnalysisView` aligns an :class:`~workbench.analysis.pipeline.AnalysisResult` with the
workspace rows by ``(source name, line)``: rows the analysis did not see (e.g. examples added
after it ran) get cluster -1 and no duplicate group, and are counted in ``missing``.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from workbench.core.errors import AnalysisError, WorkbenchError
from workbench.io.model import SourceData

#: ``embed(texts, progress, cancel) -> (n, d) float32`` L2-normalised: how plans get vectors.
EmbedFn = Callable[..., np.ndarray]

ANALYSIS_DIR_SETTING = "analysis.dir"
DEFAULT_ANALYSIS_DIR = "analysis"


@dataclass
class AnalysisView:
    """Analysis columns per workspace row (see the module doc)."""

    cluster: np.ndarray  # int64, -1 = noise or not analysed
    dup_group: np.ndarray  # int64, -1 = in no group
    x: np.ndarray  # float32, NaN where not analysed
    y: np.ndarray
    labels: dict[int, str]
    summary: dict[str, Any]
    revision: str
    params: dict[str, Any]
    encoder: str
    missing: int  # workspace rows the analysis does not cover
    leaked: np.ndarray | None = None  # bool: eval rows that leak (per the analysis)

    @property
    def has_map(self) -> bool:
        return bool(np.isfinite(self.x).any())

    @classmethod
    def align(cls, result: Any, source_names: Sequence[str], lines: np.ndarray) -> "AnalysisView":
        ex = result.examples
        n = len(lines)
        src = np.asarray(ex["source"].astype(str).to_numpy(), dtype=object)
        ln = ex["line"].to_numpy(dtype=np.int64)
        names = np.asarray(source_names, dtype=object)
        if len(ex) >= n and np.array_equal(src[:n], names) and np.array_equal(ln[:n], lines):
            pos = np.arange(n)
        else:
            index = {(s, int(line)): k for k, (s, line) in enumerate(zip(src.tolist(), ln.tolist()))}
            pos = np.array([index.get((s, int(line)), -1) for s, line in zip(names.tolist(), lines.tolist())],
                           dtype=np.int64)
        ok = pos >= 0
        take = np.where(ok, pos, 0)

        def column(name: str, fill: Any, dtype) -> np.ndarray:
            if name not in ex.columns or len(ex) == 0:
                return np.full(n, fill, dtype=dtype)
            values = ex[name].to_numpy(dtype=np.float64, na_value=np.nan)
            out = values[take]
            out = np.where(ok & np.isfinite(out), out, fill)
            return out.astype(dtype)

        labels: dict[int, str] = {}
        for c in result.summary.get("clusters", []) or []:
            if isinstance(c, dict) and "id" in c:
                labels[int(c["id"])] = str(c.get("label") or "")
        if not labels and "cluster_label" in ex.columns:
            for c, lab in ex[["cluster", "cluster_label"]].dropna().drop_duplicates("cluster").itertuples(index=False):
                labels[int(c)] = str(lab)
        leaked = None
        if "leaked" in ex.columns and len(ex):
            leaked = np.where(ok, ex["leaked"].to_numpy(dtype=bool, na_value=False)[take], False)
        params = result.params.to_dict() if hasattr(result.params, "to_dict") else dict(result.params or {})
        return cls(
            cluster=column("cluster", -1, np.int64),
            dup_group=column("dup_group", -1, np.int64),
            x=column("x", np.nan, np.float32),
            y=column("y", np.nan, np.float32),
            labels=labels,
            summary=result.summary,
            revision=str(result.revision),
            params=params,
            encoder=str(result.summary.get("encoder", "")),
            missing=int((~ok).sum()),
            leaked=leaked,
        )


def analysis_dir(project: Any) -> Path:
    """Where a project's analysis results live (setting ``analysis.dir``, else ``<data dir>/analysis``)."""
    configured = project.settings.get(ANALYSIS_DIR_SETTING)
    if configured:
        p = Path(configured)
        return p if p.is_absolute() else project.path.parent / p
    return project.data_dir / DEFAULT_ANALYSIS_DIR


def load_analysis(project: Any) -> Any | None:
    """The project's stored analysis result, or None when there is none (or it is unreadable)."""
    d = analysis_dir(project)
    if not (d / "summary.json").exists():
        return None
    from workbench.analysis.pipeline import AnalysisResult

    try:
        return AnalysisResult.read(d, with_graph=False)
    except AnalysisError:
        return None


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
    analysis: AnalysisView | None = None
    embed: EmbedFn | None = None
    captured: float = field(default_factory=time.time)

    @classmethod
    def capture(cls, project: Any, analysis: Any | None = None, *, embed: EmbedFn | None = None,
                workspace: Any | None = None) -> "CurationSnapshot":
        """Copy what an export needs from an open project (loading its workspace if needed).

        ``analysis``: an AnalysisResult (or None: none, or pass :func:`load_analysis`'s result).
        ``embed``: optional function giving embeddings for texts (replay-mix sampling, rebalance).
        """
        ws = workspace or project.workspace or project.load()
        state = project.state
        datas = {s.id: ws.source_data(s.id) for s in ws.sources}
        starts = {s.id: ws.rows_of_source(s.id).start for s in ws.sources}
        view = AnalysisView.align(analysis, ws.source_names, ws.line) if analysis is not None else None
        return cls(
            project_path=Path(project.path),
            project_revision=int(project.revision),
            sources=list(ws.sources),
            n=ws.n,
            n_source_rows=ws.n_source_rows,
            source_id=ws.source_id.copy(),
            line=ws.line.copy(),
            role=ws.role.copy(),
            source_names=ws.source_names.copy(),
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

    def row_of(self, source: str, line: int) -> int | None:
        """Row of the example ``(source file name, line)`` as the analysis refers to it, or None."""
        if source == "added":
            hits = np.flatnonzero((self.source_id == 0) & (self.line == int(line)))
            return int(hits[0]) if len(hits) else None
        for info in self.sources:
            if info.name == source:
                lines = self.datas[info.id].lines
                j = int(np.searchsorted(lines, int(line)))
                if j < len(lines) and lines[j] == int(line):
                    return self.starts[info.id] + j
        return None

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


def require_analysis(snap: CurationSnapshot, what: str) -> AnalysisView:
    """The snapshot's analysis, or a clear error saying ``what`` needs it."""
    if snap.analysis is None:
        raise WorkbenchError(
            f"{what} needs the analysis (clusters). Run `workbench analyze PROJECT` first, "
            "or use Analysis > Run in the app.")
    return snap.analysis
