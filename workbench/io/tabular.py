"""CSV/TSV and Parquet readers. A row becomes a record ``{column: value}`` (columns in file order).

Columns map to the normalised view through ``mapping`` (``{"prompt": "question", "response":
"answer", "system": ...}``) or, without one, by the same field names the JSON schemas use
(``text``/``prompt``/``query``/``instruction``/``output``/``messages`` ...). A cell of a
``messages``, ``conversations`` or ``history`` column holding JSON text (how chat data is usually
stored in CSV) is parsed. Every other column is an extra column (``label``, ``timestamp`` ...).

Line numbers: in CSV they are physical lines, the header being line 1 (a record whose quoted cell
spans several lines has the number of its first line); in Parquet the first row is line 1.
``raw`` holds the row as a JSON object, as loaded (a chat column's JSON text parsed), so the
export, the editor and the analysis all read the record the reader validated.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections import deque
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError
from workbench.core.progress import CancelToken, ProgressFn, ensure
from workbench.io.collect import Collector
from workbench.io.source_data import DEFAULT_UNIT, SourceData
from workbench.io.source_file import SourceFile
from workbench.io.values import MAX_DEPTH, value_problem

JSON_COLUMNS = ("messages", "conversations", "history")
BATCH_ROWS = 65536
_SURROGATE = re.compile("[\udc80-\udcff]")


def _json_cells(row: dict[str, Any], columns: tuple[str, ...]) -> str | None:
    """Parse JSON text in the chat columns in place; a reason when a value of the row is one no later
    step can hold (see :mod:`workbench.io.values`: the same policy as JSON input, e.g. a NaN float)."""
    for c in columns:
        v = row.get(c)
        if isinstance(v, str) and v[:1] in ("[", "{"):
            try:
                row[c] = json.loads(v)
            except ValueError:
                pass  # left as text; validation reports the wrong type
            except RecursionError:
                return f"column {c!r}: nested more than {MAX_DEPTH} levels deep (the limit for a record)"
    return value_problem(row)


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


class _Lines:
    """The physical lines of a text file, numbered, for ``csv.reader``: remembers which lines the
    current record took (``taken``) and can give lines back to be read again (``again``)."""

    def __init__(self, f):
        self._it = iter(f)
        self.no = 0  # physical lines read from the file so far
        self._pending: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self._pending:
            item = self._pending.popleft()
        else:
            text = next(self._it)
            self.no += 1
            item = (self.no, text)
        self.taken.append(item)
        return item[1]

    def again(self, items: list[tuple[int, str]]) -> None:
        self._pending.extendleft(reversed(items))


def read_csv(
    path: Path,
    *,
    schema: str | None = None,
    unit: str = DEFAULT_UNIT,
    mapping: dict[str, str] | None = None,
    strict: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    sf: SourceFile | None = None,
) -> SourceData:
    """A CSV (``,``) or TSV (``\\t``, also a .csv whose header has tabs and no commas) file with a header.

    Every physical line ends up loaded (as part of a record) or reported. A record is numbered by
    its first physical line (header = line 1). A record that spans several lines and has the wrong
    number of fields is almost always a quote left open (``"`` never closed), which would swallow
    every later line into one field: its first line is reported and the lines after it are read
    again as rows of their own."""
    from workbench.io.source_file import opened

    progress, cancel = ensure(progress, cancel)
    col = Collector(path, "csv", schema=schema, unit=unit, mapping=mapping, strict=strict)
    phase = f"reading {path.name}"
    csv.field_size_limit(min(sys.maxsize, (1 << 31) - 1))
    with opened(path, sf) as raw:
        total = raw.stat.st_size
        first = raw.head(1 << 16).split(b"\n", 1)[0]
        delimiter = "\t" if path.suffix.lower() == ".tsv" or (b"\t" in first and b"," not in first) else ","
        f = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", errors="surrogateescape", newline="")
        lines = _Lines(f)
        reader = csv.reader(lines, delimiter=delimiter)
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
        if len(lines.taken) > 1:
            raise InputError(f"{path.name}: the header spans lines 1-{lines.taken[-1][0]} (a quote left open?)")
        _check_mapping(path, header, mapping)
        json_cols = _json_columns(mapping)
        width = len(header)
        done = blank = 0
        while True:
            lines.taken = []
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                taken = lines.taken
                col.error(taken[0][0] if taken else lines.no, f"unreadable CSV row: {exc}")
                lines.again(taken[1:])
                reader = csv.reader(lines, delimiter=delimiter)
                continue
            taken = lines.taken
            line_no = taken[0][0]
            if not cells or (len(cells) == 1 and not cells[0].strip() and len(taken) == 1):
                blank += 1
                continue  # blank line
            if len(cells) != width:
                if len(taken) > 1:  # a quote left open swallowed the lines after it: read them again
                    col.error(line_no, f"row has {len(cells)} field(s), the header has {width}: a quote opened "
                                       f"on this line is not closed where the row should end (it ran to line "
                                       f"{taken[-1][0]}); the lines after it are read as rows of their own")
                    lines.again(taken[1:])
                    reader = csv.reader(lines, delimiter=delimiter)
                else:
                    col.error(line_no, f"row has {len(cells)} fields, the header has {width}")
                continue
            if any(_SURROGATE.search(c) for c in cells):
                col.error(line_no, "invalid UTF-8 in this row; the file must be UTF-8")
                continue
            row = dict(zip(header, cells))
            reason = _json_cells(row, json_cols)
            if reason:
                col.error(line_no, reason)
                continue
            raw_text = _raw(row)  # the record as loaded (chat cells parsed), so every later step reads the same
            done += len(raw_text)
            col.add(line_no, raw_text, row)
            if lines.no % 10000 == 0:
                cancel.check()
                progress(min(done, total), total, phase)
        progress(total, total, phase)
        if blank:
            col.notes.append(f"{blank} blank line(s) skipped (not records)")
        col.stats["blank_lines"] = blank
        return col.finish(lines.no - 1, sha256=raw.digest())  # physical lines after the header


def read_parquet(
    path: Path,
    *,
    schema: str | None = None,
    unit: str = DEFAULT_UNIT,
    mapping: dict[str, str] | None = None,
    strict: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    sf: SourceFile | None = None,
) -> SourceData:
    """A Parquet file, read in batches of :data:`BATCH_ROWS` rows (hashed whole first, through the
    same open file, so the hash is of the bytes read)."""
    from workbench.io.source_file import opened

    with opened(path, sf) as f:
        sha = f.hash_all()
        with f.reopen() as handle:
            data = _read_parquet(path, handle, schema=schema, unit=unit, mapping=mapping, strict=strict,
                                 progress=progress, cancel=cancel)
        f.check_unchanged()
    data.sha256 = sha
    return data


def _read_parquet(path: Path, handle, *, schema, unit, mapping, strict, progress, cancel) -> SourceData:
    import pyarrow as pa
    import pyarrow.parquet as pq

    progress, cancel = ensure(progress, cancel)
    try:
        pf = pq.ParquetFile(handle)
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
                reason = _json_cells(row, json_cols)
                if reason:
                    col.error(row_no, reason)
                    continue
                col.add(row_no, _raw(row), row)
            cancel.check()
            progress(row_no, total, phase)
    except (pa.ArrowInvalid, OSError) as exc:
        col.error(row_no + 1, f"unreadable Parquet data from here on: {exc}")
    return col.finish(row_no)
