"""Writers: every file is written to a temporary file in the target folder, flushed to disk, then
renamed over the target in one step, so an interrupted or failed export leaves any earlier file
exactly as it was (and never a half-written one under the target name). A process killed mid-write
can leave its temporary ``.NAME.*.part`` file beside the target; it is never mistaken for output.

* :func:`atomic_writer`: :func:`workbench.core.atomic.atomic_write` with failures as :class:`ExportError`.
* :func:`write_parquet`: a table (columns whose values mix types are stored as JSON text).

The export's own files are written by :mod:`workbench.curate.export_files`; these two serve the
analysis results, the embedding command's output and the app's settings file.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from workbench.core.atomic import atomic_write
from workbench.core.errors import ExportError


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w", *, encoding: str = "utf-8") -> Iterator[Any]:
    """:func:`workbench.core.atomic.atomic_write` with its failures as :class:`ExportError`:
    on success ``path`` is replaced in one step (fsynced); on any exception it is untouched."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        with atomic_write(path, mode, encoding=encoding) as f:
            yield f
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc
    except UnicodeEncodeError as exc:
        raise ExportError(f"cannot write {path}: text that is not valid Unicode (a lone surrogate)") from exc


def write_parquet(path: str | os.PathLike, rows: "list[dict] | Any", *, compression: str = "zstd") -> int:
    """Write rows (list of dicts, or a ``pyarrow.Table``) to Parquet atomically; returns the row count.
    A column whose values do not share one type (e.g. a label that is sometimes a number) is
    written as JSON text rather than failing."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = rows if isinstance(rows, pa.Table) else _table(rows)
    with atomic_writer(path, "wb") as f:
        pq.write_table(table, f, compression=compression)
    return table.num_rows


def _table(rows: list[dict]) -> "Any":
    import pyarrow as pa

    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    arrays = {}
    for c in columns:
        values = [row.get(c) for row in rows]
        try:
            arrays[c] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            arrays[c] = pa.array([v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                                  for v in values], type=pa.string())
    return pa.table(arrays)


__all__ = ["atomic_writer", "write_parquet"]
