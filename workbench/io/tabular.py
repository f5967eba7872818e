"""CSV/TSV and Parquet readers. A row becomes a record ``{column: value}`` (columns in file order).

Columns map to the normalised view through ``mapping`` (``{"prompt": "question", "response":
"answer", "system": ...}``) or, without one, by the same field names the JSON schemas use
(``text``/``prompt``/``query``/``instruction``/``output``/``messages`` ...). A cell of a
``messages``, ``conversations`` or ``history`` column holding JSON text (how chat data is usually
stored in CSV) is parsed. Every other column is an extra column (``label``, ``timestamp`` ...).

Line numbers: in CSV the header is line 1, so the first data row is line 2 (a row is one record
even when a quoted cell spans several physical lines); in Parquet the first row is line 1.
``raw`` holds the row as a JSON object.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError
from workbench.core.progress import CancelToken, ProgressFn, ensure
from workbench.io.collect import Collector
from workbench.io.model import DEFAULT_UNIT, SourceData

JSON_COLUMNS = ("messages", "conversations", "history")
BATCH_ROWS = 65536
_SURROGATE = re.compile("[\udc80-\udcff]")


def _json_cells(row: dict[str, Any], columns: tuple[str, ...]) -> None:
    for c in columns:
        v = row.get(c)
        if isinstance(v, str) and v[:1] in ("[", "{"):
            try:
                row[c] = json.loads(v)
            except ValueError:
                pass  # left as text; validation reports the wrong type


def _json_columns(mapping: dict[str, str] | None) -> tuple[str, ...]:
    names = set(JSON_COLUMNS)
    for k in JSON_COLUMNS:
        if mapping and k in mapping:
            names.add(mapping[k])
    return tuple(names)


def _check_mapping(path: Path, columns: list[str], mapping: dict[str, str] | None) -> None:
    for key, column in (mapping or {}).items():
        if column not in columns:
            raise InputError(
                f"{path.name}: column {column!r} (mapped to {key}) is not in the file; columns: {', '.join(columns)}"
            )


def _raw(row: dict[str, Any]) -> str:
    line = json.dumps(row, ensure_ascii=False, default=str)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(row, ensure_ascii=True, default=str)
    return line


def read_csv(
    path: Path,
    *,
    schema: str | None = None,
    unit: str = DEFAULT_UNIT,
    mapping: dict[str, str] | None = None,
    strict: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> SourceData:
    """A CSV (``,``) or TSV (``\\t``, also a .csv whose header has tabs and no commas) file with a header."""
    progress, cancel = ensure(progress, cancel)
    col = Collector(path, "csv", schema=schema, unit=unit, mapping=mapping, strict=strict)
    total = path.stat().st_size
    phase = f"reading {path.name}"
    csv.field_size_limit(min(sys.maxsize, (1 << 31) - 1))
    with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        first = f.readline()
        delimiter = "\t" if path.suffix.lower() == ".tsv" or ("\t" in first and "," not in first) else ","
        f.seek(0)
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path.name}: empty file") from None
        except csv.Error as exc:
            raise InputError(f"{path.name}: unreadable CSV header: {exc}") from None
        header = [h.strip() for h in header]
        if any(_SURROGATE.search(h) for h in header):
            raise InputError(f"{path.name}: the header is not UTF-8; save the file as UTF-8")
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise InputError(f"{path.name}: duplicate column name(s) in the header: {', '.join(dupes)}")
        if not any(header):
            raise InputError(f"{path.name}: the first line is not a header of column names")
        _check_mapping(path, header, mapping)
        json_cols = _json_columns(mapping)
        width = len(header)
        row_no = 1
        done = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row_no += 1
                col.error(row_no, f"unreadable CSV row: {exc}")
                continue
            row_no += 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            if len(cells) != width:
                col.error(row_no, f"row has {len(cells)} fields, the header has {width}")
                continue
            if any(_SURROGATE.search(c) for c in cells):
                col.error(row_no, "invalid UTF-8 in this row; the file must be UTF-8")
                continue
            row = dict(zip(header, cells))
            raw = _raw(row)
            done += len(raw)
            _json_cells(row, json_cols)
            col.add(row_no, raw, row)
            if row_no % 10000 == 0:
                cancel.check()
                progress(min(done, total), total, phase)
    progress(total, total, phase)
    return col.finish(row_no - 1)  # data rows seen (the header is line 1)


def read_parquet(
    path: Path,
    *,
    schema: str | None = None,
    unit: str = DEFAULT_UNIT,
    mapping: dict[str, str] | None = None,
    strict: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> SourceData:
    """A Parquet file, read in batches of :data:`BATCH_ROWS` rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    progress, cancel = ensure(progress, cancel)
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path.name}: not a readable Parquet file ({exc})") from None
    columns = pf.schema_arrow.names
    _check_mapping(path, columns, mapping)
    col = Collector(path, "parquet", schema=schema, unit=unit, mapping=mapping, strict=strict)
    json_cols = _json_columns(mapping)
    total = pf.metadata.num_rows
    phase = f"reading {path.name}"
    row_no = 0
    try:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                row_no += 1
                raw = _raw(row)
                _json_cells(row, json_cols)
                col.add(row_no, raw, row)
            cancel.check()
            progress(row_no, total, phase)
    except (pa.ArrowInvalid, OSError) as exc:
        col.error(row_no + 1, f"unreadable Parquet data from here on: {exc}")
    return col.finish(row_no)
