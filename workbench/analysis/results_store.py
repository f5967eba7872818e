"""Writing and reading analysis results (see the file layout in :mod:`workbench.analysis.pipeline`).

Write order: ``cache.json`` is removed first and written last, so a crash or a kill mid-write
leaves a folder that reads as "no results" rather than results that do not match their key.
Every file is written to a temporary name and renamed into place. No pickle: Parquet, JSON and
``.npz`` read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from workbench.analysis.graph import NeighbourGraph
from workbench.core.errors import AnalysisError


def read_cache_meta(out_dir: Path) -> dict[str, Any] | None:
    """The cache metadata of results in ``out_dir``, or None (absent, partial or unreadable)."""
    from workbench.analysis.pipeline import CACHE_FILE, SCHEMA_VERSION

    try:
        meta = json.loads((out_dir / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("version") != SCHEMA_VERSION:
        return None
    return meta


def write_result(result: Any, out_dir: Path) -> Path:
    """Write ``result`` into ``out_dir``; one writer at a time (the app and ``workbench analyze``
    may analyse one project at once: the second waits, the folder always holds one result)."""
    from workbench.project.project_file import folder_lock

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AnalysisError(f"Cannot write analysis results to {out_dir}: {exc.strerror or exc}") from exc
    with folder_lock(out_dir):
        return _write_result(result, out_dir)


def _write_result(result: Any, out_dir: Path) -> Path:
    import pyarrow as pa

    from workbench.analysis.pipeline import (CACHE_FILE, EXAMPLES_FILE, GRAPH_FILE, SCHEMA_VERSION,
                                             SUMMARY_FILE)
    from workbench.io.writers import atomic_writer, write_parquet

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / CACHE_FILE).unlink(missing_ok=True)
        table = pa.Table.from_pandas(result.examples, preserve_index=False)
        table = table.replace_schema_metadata({
            **(table.schema.metadata or {}),
            b"workbench.revision": result.revision.encode(),
            b"workbench.cache_key": result.cache_key.encode(),
        })
        write_parquet(out_dir / EXAMPLES_FILE, table)
        with atomic_writer(out_dir / SUMMARY_FILE, "w") as f:
            json.dump(result.summary, f, ensure_ascii=False, indent=1, allow_nan=False)
        graph_written = False
        if result.graph is not None:
            with atomic_writer(out_dir / GRAPH_FILE, "wb") as f:
                np.savez(f, indices=result.graph.indices, sims=result.graph.sims,
                         exact=np.array(result.graph.exact))
            graph_written = True
        meta = {"version": SCHEMA_VERSION, "revision": result.revision, "cache_key": result.cache_key,
                "stage_keys": result.stage_keys, "params": result.params.to_dict(),
                "graph": graph_written, "rows": int(len(result.examples))}
        with atomic_writer(out_dir / CACHE_FILE, "w") as f:
            json.dump(meta, f, indent=1)
    except OSError as exc:
        raise AnalysisError(f"Cannot write analysis results to {out_dir}: {exc.strerror or exc}",
                            detail=str(exc)) from exc
    return out_dir


def read_result(cls: Any, out_dir: Path, *, with_graph: bool = True) -> Any:
    import pyarrow.parquet as pq

    from workbench.analysis.pipeline import EXAMPLES_FILE, GRAPH_FILE, SUMMARY_FILE, AnalysisParams

    meta = read_cache_meta(out_dir)
    if meta is None:
        raise AnalysisError(f"No complete analysis results in {out_dir} (run `workbench analyze` first).")
    try:
        examples = pq.read_table(out_dir / EXAMPLES_FILE).to_pandas()
        summary = json.loads((out_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AnalysisError(f"Analysis results in {out_dir} are unreadable: {exc}", detail=str(exc)) from exc
    if summary.get("cache_key") != meta.get("cache_key") or len(examples) != meta.get("rows"):
        raise AnalysisError(f"Analysis results in {out_dir} are inconsistent (partly overwritten?); "
                            "run the analysis again.")
    if "flags" in examples:
        examples["flags"] = [list(f) if f is not None else [] for f in examples["flags"]]
    graph = None
    if with_graph and meta.get("graph"):
        try:
            with np.load(out_dir / GRAPH_FILE, allow_pickle=False) as z:
                graph = NeighbourGraph(z["indices"], z["sims"], bool(z["exact"]))
        except (OSError, ValueError, KeyError):
            graph = None  # the graph is only an accelerator; recompute it when needed
    return cls(examples=examples, summary=summary, revision=meta["revision"],
               params=AnalysisParams.from_dict(meta.get("params", {})), cache_key=meta["cache_key"],
               stage_keys=dict(meta.get("stage_keys", {})), timings=dict(summary.get("timings", {})),
               graph=graph)
