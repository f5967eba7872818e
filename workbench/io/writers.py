"""Writers: every file is written to a temporary file in the target folder, flushed to disk, then
renamed over the target in one step, so an interrupted or failed export leaves any earlier file
exactly as it was (and never a half-written one under the target name). A process killed mid-write
can leave its temporary ``.NAME.*.part`` file beside the target; it is never mistaken for output.

* :func:`write_jsonl_lines`: JSONL from ready-made lines (e.g. ``SourceData.raw``: untouched
  records come out byte-identical to their input lines, ``\\n`` line ends, no BOM).
* :func:`write_source_records`: records in their source's container (JSONL, JSON array, CSV, Parquet).
* :func:`chat_lines`: OpenAI chat JSONL lines for any source (see :func:`workbench.io.formats.to_chat`).
* :func:`write_parquet`: a table (columns whose values mix types are stored as JSON text).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import orjson

from workbench.core.atomic import atomic_write
from workbench.core.errors import ExportError
from workbench.core.progress import CancelToken, ProgressFn, ensure
from workbench.io.formats import dumps_record, to_chat
from workbench.io.model import SourceData

BATCH_LINES = 10000


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


def write_jsonl_lines(
    path: str | os.PathLike,
    lines: Iterable[str],
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    total: int = 0,
) -> int:
    """Write one record per line (``\\n`` terminated, UTF-8) atomically; returns the line count.
    A line that holds a line break would break JSONL and raises :class:`ExportError`."""
    progress, cancel = ensure(progress, cancel)
    path = Path(path)
    phase = f"writing {path.name}"
    n = 0
    with atomic_writer(path, "wb") as f:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) >= BATCH_LINES:
                n = _write_batch(f, batch, n)
                batch = []
                cancel.check()
                progress(n, total, phase)
        if batch:
            n = _write_batch(f, batch, n)
    progress(n, n, phase)
    return n


def _write_batch(f, batch: list[str], n: int) -> int:
    text = "\n".join(batch)
    if text.count("\n") != len(batch) - 1:
        for i, line in enumerate(batch):
            if "\n" in line:
                raise ExportError(f"record {n + i + 1} holds a line break and cannot be one JSONL line")
    if "\r" in text:
        # A bare CR can only be JSON whitespace (never raw inside a string); as a space it keeps
        # the same JSON value without looking like a line end to other tools.
        text = text.replace("\r", " ")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        for i, line in enumerate(batch):
            try:
                line.encode("utf-8")
            except UnicodeEncodeError:
                raise ExportError(f"record {n + i + 1} holds text that is not valid Unicode "
                                  "(a lone surrogate); write it with \\u escapes") from None
        raise  # pragma: no cover
    f.write(data)
    f.write(b"\n")
    return n + len(batch)


def chat_line(raw: str, schema: str, mapping: dict[str, str] | None = None, *, validate: bool = True) -> str:
    """One OpenAI chat JSONL line (compact JSON) for a record given as its raw JSON text
    (``validate=False`` for records a reader already loaded)."""
    chat = to_chat(orjson.loads(raw), schema, mapping, validate=validate)
    try:
        return orjson.dumps(chat).decode("utf-8")
    except TypeError:  # a lone surrogate (orjson refuses it): escaped instead
        return dumps_record(chat)


def chat_lines(source: SourceData, indices: Sequence[int] | None = None) -> Iterator[str]:
    """Chat JSONL lines for records of ``source`` (all, or ``indices``). A chat JSONL source with no
    extra fields gives its lines verbatim (they already are chat records)."""
    order = range(len(source)) if indices is None else indices
    raw = source.raw
    verbatim = (
        source.schema == "chat"
        and source.container == "jsonl"
        and not source.extra
        and (source.mapping or {}).get("messages", "messages") == "messages"
    )
    if verbatim:
        for i in order:
            yield raw[i]
        return
    schema, mapping = source.schema, source.mapping
    for i in order:
        yield chat_line(raw[i], schema, mapping, validate=False)


def write_source_records(
    path: str | os.PathLike,
    raws: Iterable[str],
    container: str,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    total: int = 0,
) -> int:
    """Write records (raw JSON text each) in a source container: ``jsonl`` (lines verbatim),
    ``json`` (one array, elements verbatim), ``csv`` (columns of the first record, then any new
    ones; nested values as JSON text) or ``parquet``. Returns the record count."""
    if container == "jsonl":
        # A JSON-array element may span lines: its line breaks are JSON whitespace (never inside
        # a string), so joining them keeps the same JSON value on one line.
        one_line = (r.replace("\r\n", " ").replace("\n", " ").replace("\r", " ") if "\n" in r or "\r" in r else r
                    for r in raws)
        return write_jsonl_lines(path, one_line, progress=progress, cancel=cancel, total=total)
    if container == "json":
        n = 0
        with atomic_writer(path, "w") as f:
            f.write("[")
            for r in raws:
                f.write(",\n" if n else "\n")
                f.write(r)
                n += 1
            f.write("\n]\n" if n else "]\n")
        return n
    rows = [orjson.loads(r) for r in raws]
    if container == "parquet":
        write_parquet(path, rows)
        return len(rows)
    if container == "csv":
        columns: dict[str, None] = {}
        for row in rows:
            columns.update(dict.fromkeys(row))
        with atomic_writer(path, "w") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(columns)
            for row in rows:
                w.writerow([_cell(row.get(c)) for c in columns])
        return len(rows)
    raise ExportError(f"unknown container {container!r}")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False)


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


__all__ = ["atomic_writer", "chat_line", "chat_lines", "write_jsonl_lines", "write_parquet", "write_source_records"]
