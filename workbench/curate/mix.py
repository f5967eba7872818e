"""Replay mix against forgetting: add general / safety examples from reference data.

Definitions:

- A mix entry is ``SOURCE:RATIO``. SOURCE is a ``reference`` source of the project (by file
  name or path) or any data file (read like a source; its sha256 goes into the manifest).
  RATIO is a share of the exported **training lines** (after repeats, before the mix): ``0.1``
  or ``10%`` with 9,000 training lines adds 900 reference examples. Several entries add up
  independently (10 % general + 2 % safety).
- The examples are **sampled for diversity**, never cut at random or in file order: the first
  ``count`` of :func:`workbench.curate.sampling.diverse_order` over their embeddings (medoid,
  then farthest-point), or over their map coordinates when no embeddings are at hand; with
  neither, cluster-stratified when the analysis clustered them, else evenly spaced over the
  file (with a warning in the manifest). Rejected reference examples are never drawn.
- When a source holds fewer examples than asked, all are taken and the shortfall is reported.
- Mixed examples are written once (their weights are not applied), to the training side only,
  **tagged by origin**: a ``mix-<name>`` file in source format, an ``origin`` column in Parquet,
  and line ranges per origin in the manifest for chat files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.errors import InputError, WorkbenchError
from workbench.core.progress import ensure
from workbench.curate.sampling import diverse_order
from workbench.io.source_data import SourceData


@dataclass(frozen=True)
class MixSpec:
    """One replay-mix entry: a reference source (name or path) and its ratio."""

    source: str
    ratio: float

    def __post_init__(self) -> None:
        if not (0.0 < float(self.ratio) <= 10.0):
            raise WorkbenchError(f"Mix ratio for {self.source} must be above 0 (e.g. 0.1 or 10%), got {self.ratio}.")

    @classmethod
    def parse(cls, text: str) -> "MixSpec":
        """``FILE:RATIO`` with RATIO as ``0.1`` or ``10%`` (the path may itself hold colons)."""
        m = re.match(r"^(.+):\s*([0-9]*\.?[0-9]+)\s*(%?)\s*$", text or "")
        if not m:
            raise WorkbenchError(f"--mix expects FILE:RATIO (e.g. general.jsonl:0.1 or safety.jsonl:2%), got {text!r}.")
        ratio = float(m.group(2)) / (100.0 if m.group(3) else 1.0)
        return cls(m.group(1).strip(), ratio)


@dataclass
class MixPick:
    """The examples drawn for one mix entry."""

    spec: MixSpec
    name: str  # file name of the source
    path: str
    sha256: str
    schema: str
    in_project: bool
    source_id: int | None  # project source id (None for an outside file)
    requested: int
    available: int
    rows: np.ndarray  # workspace rows (in project) or record indices into ``data`` (outside file)
    method: str
    data: SourceData | None = None  # the outside file, read
    warnings: list[str] = field(default_factory=list)
    file_lines: np.ndarray | None = None  # 1-based line in its file of each drawn example

    @property
    def origin(self) -> str:
        return f"mix:{self.name}"

    @property
    def selected(self) -> int:
        return len(self.rows)

    def lines(self) -> np.ndarray:
        """1-based line of each drawn example in its file."""
        if self.file_lines is not None:
            return self.file_lines
        return self.data.lines[self.rows] if self.data is not None else np.zeros(0, dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.name, "path": self.path, "sha256": self.sha256, "schema": self.schema,
            "in_project": self.in_project, "ratio": self.spec.ratio, "requested": self.requested,
            "available": self.available, "selected": self.selected, "method": self.method,
            "origin": self.origin, "lines": [int(x) for x in self.lines()],
            "warnings": list(self.warnings),
        }


def _match_source(snap, spec: MixSpec):
    """The project source a spec names (by name, path, or same file), or None."""
    target = Path(spec.source).expanduser()
    for info in snap.sources:
        if spec.source in (info.name, info.path) or Path(info.path).name == spec.source:
            return info
        try:
            if target.exists() and Path(info.path).exists() and os.path.samefile(target, info.path):
                return info
        except OSError:
            continue
    return None


def _order(vectors: np.ndarray | None, cluster: np.ndarray | None, count: int, cancel) -> tuple[np.ndarray, str]:
    if vectors is not None:
        return diverse_order(vectors, count, cancel=cancel), "diverse (medoid + farthest-point)"
    n = len(cluster) if cluster is not None else 0
    if cluster is not None and (cluster >= 0).any():
        # cluster-stratified: proportional round-robin over clusters, file order inside
        order = np.lexsort((np.arange(n), cluster))
        c = cluster[order]
        starts = np.r_[0, np.flatnonzero(np.diff(c)) + 1]
        sizes = np.diff(np.r_[starts, n])
        rank = np.arange(n) - np.repeat(starts, sizes)
        priority = (rank + 0.5) / np.repeat(sizes, sizes)
        return order[np.lexsort((order, priority))][:count], "cluster-stratified"
    return np.array([], dtype=np.int64), ""


def _spread(n: int, count: int) -> np.ndarray:
    """``count`` evenly spaced positions out of n (no embeddings, no clusters)."""
    if count >= n:
        return np.arange(n)
    return np.unique(np.floor((np.arange(count) + 0.5) * n / count).astype(np.int64))


def plan_mix(snap, spec: MixSpec, n_train_lines: int, *, progress=None, cancel=None) -> MixPick:
    """Draw the examples for one mix entry (see the module doc)."""
    progress, cancel = ensure(progress, cancel)
    requested = int(round(spec.ratio * n_train_lines))
    info = _match_source(snap, spec)
    if info is not None:
        if info.role != "reference":
            raise WorkbenchError(
                f"{info.name} is a {info.role} source; the replay mix draws from reference sources. "
                f"Add general or safety data with role 'reference'.")
        rows = np.flatnonzero((snap.source_id == info.id) & ~snap.rejected)
        count = min(requested, len(rows))
        vec, kind = None, ""
        if count < len(rows):
            vec, kind = snap.vectors(rows, progress=progress, cancel=cancel)
        cluster = snap.analysis.cluster[rows] if snap.analysis is not None else None
        pick, method = (np.arange(len(rows)), "all") if count >= len(rows) else _order(vec, cluster, count, cancel)
        if vec is not None and method.startswith("diverse"):
            method += f" on {kind}"
        warnings = []
        if not method:
            pick, method = _spread(len(rows), count), "evenly spaced (no embeddings or clusters)"
            warnings.append(f"{info.name}: drawn evenly spaced over the file: no embeddings or analysis available")
        chosen = np.sort(rows[pick])
        mp = MixPick(spec, info.name, info.path, info.sha256, info.schema, True, info.id, requested,
                     len(rows), chosen, method, warnings=warnings, file_lines=snap.line[chosen])
    else:
        mp = _plan_outside_file(snap, spec, requested, progress, cancel)
    if mp.selected < requested:
        mp.warnings.append(f"{mp.name}: {requested} examples asked for ({spec.ratio:.1%} of {n_train_lines} "
                           f"training lines), only {mp.available} available: all taken")
    return mp


def _plan_outside_file(snap, spec: MixSpec, requested: int, progress, cancel) -> MixPick:
    from workbench.core.hashing import file_sha256
    from workbench.io.readers import read_source

    path = Path(spec.source).expanduser()
    if not path.is_file():
        names = ", ".join(s.name for s in snap.sources if s.role == "reference") or "none"
        raise InputError(f"Mix source not found: {spec.source} is neither a reference source of the "
                         f"project (reference sources: {names}) nor a file.")
    data = read_source(path, progress=progress, cancel=cancel)
    if len(data) == 0:
        raise InputError(f"Mix file {path} holds no readable records.")
    n = len(data)
    count = min(requested, n)
    warnings = [f"{path.name}: {len(data.errors)} bad line(s) skipped"] if data.errors else []
    if count >= n:
        pick, method = np.arange(n), "all"
    elif snap.embed is not None:
        vec = np.asarray(snap.embed(list(data.prompt), progress=progress, cancel=cancel), dtype=np.float32)
        pick, method = diverse_order(vec, count, cancel=cancel), "diverse (medoid + farthest-point) on embeddings"
    else:
        pick, method = _spread(n, count), "evenly spaced (no embeddings available)"
        warnings.append(f"{path.name}: drawn evenly spaced over the file: no embeddings available")
    return MixPick(spec, path.name, str(path.resolve()), file_sha256(path), data.schema, False, None,
                   requested, n, np.sort(pick), method, data=data, warnings=warnings)
