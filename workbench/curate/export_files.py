"""Output files of an export: which row goes to which file, and writing them (JSONL, Parquet).

See :mod:`workbench.curate.export` for the file names and what each format holds; the
per-record serialisation lives in :mod:`workbench.curate.export_records`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from workbench.core.errors import ExportError
from workbench.curate import export_records as rec
from workbench.curate.snapshot import CurationSnapshot
from workbench.curate.mix import MixPick

BATCH = 5000  # lines per write (and per progress/cancel check)


@dataclass
class Part:
    """A run of lines in one output file from one origin."""

    origin: str  # "train" or "mix:<name>"
    source: str
    rows: np.ndarray  # workspace rows, or record indices of an outside mix file
    repeats: np.ndarray  # int per row
    pick: MixPick | None = None


@dataclass
class Out:
    """One output file: its parts in order, and (after writing) line count, sha256, segments."""

    name: str
    split: str
    schema: str | None
    parts: list[Part] = field(default_factory=list)
    lines: int = 0
    sha256: str = ""
    segments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(sum(int(p.repeats.sum()) for p in self.parts))


def safe_name(name: str) -> str:
    stem = re.sub(r"\.(jsonl|json|csv|tsv|parquet|pq)$", "", name, flags=re.I)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "data"


def file_name(split: str, fmt: str, key: str) -> str:
    ext = ".parquet" if fmt == "parquet" else ".jsonl"
    if fmt != "source":
        return f"{split}{ext}"
    return f"{key}.{split}{ext}"


def layout(snap: CurationSnapshot, fmt: str, train: np.ndarray, repeats: np.ndarray,
            val: np.ndarray, picks: list[MixPick]) -> dict[tuple[str, str], Out]:
    """Assign every row to its output file (see the table in the module doc)."""
    outs: dict[tuple[str, str], Out] = {}
    ones = lambda rows: np.ones(len(rows), dtype=np.int64)  # noqa: E731
    train_sources = [s for s in snap.sources if s.role == "train"]
    keys: dict[int, str] = {}
    for s in train_sources:
        k = safe_name(s.name)
        keys[s.id] = k if k not in keys.values() else f"{k}-{s.id}"

    def key_for(src_id: int, schema: str) -> str:
        if fmt != "source":
            return "all"
        if src_id != 0:
            return keys[src_id]
        for s in train_sources:  # added examples join the first train source of their schema
            if s.schema == schema:
                return keys[s.id]
        return f"added-{schema}"

    def add(split: str, key: str, part: Part, schema: str) -> None:
        k = (split, key)
        name = file_name(split, fmt, key)
        out = outs.setdefault(k, Out(name, split, schema))
        if fmt == "source" and out.schema != schema:
            raise ExportError(
                f"Cannot write one source-format file: the records have different formats "
                f"({out.schema} and {schema}). Export to a folder (one file per source) or use --format chat.")
        out.parts.append(part)

    for split, rows, reps in (("train", train, repeats), ("validation", val, ones(val))):
        if len(rows) == 0:
            continue
        src = snap.source_id[rows]
        # source rows grouped by source in project order, then added rows
        for s in [x.id for x in train_sources] + [0]:
            m = src == s
            if not m.any():
                continue
            r, rp = rows[m], reps[m]
            if s == 0:
                schemas = np.array([snap.schema_of(int(i)) for i in r], dtype=object)
                for schema in dict.fromkeys(schemas.tolist()):
                    mm = schemas == schema
                    add(split, key_for(0, schema), Part("train", "added", r[mm], rp[mm]), schema)
            else:
                info = snap.source_info(s)
                add(split, key_for(s, info.schema), Part("train", info.name, r, rp), info.schema)
    for pick in picks:
        if pick.selected == 0:
            continue
        key = "all" if fmt != "source" else f"mix-{safe_name(pick.name)}"
        add("train", key, Part(pick.origin, pick.name, pick.rows, ones(pick.rows), pick), pick.schema)
    if not outs:
        raise ExportError("Nothing to export: every training example is rejected (or the project has no train source).")
    return outs


def _items(snap: CurationSnapshot, part: Part):
    """(raw, record, schema, mapping, source, line, weight, tags, verbatim) per row of a part."""
    if part.pick is not None and part.pick.data is not None:
        d = part.pick.data
        verbatim = rec.chat_verbatim(d)
        for j in part.rows.tolist():
            yield d.raw[j], None, d.schema, d.mapping, part.source, int(d.lines[j]), 1.0, (), verbatim
        return
    verbatim_by_source: dict[int, bool] = {}
    for i in part.rows.tolist():
        s = int(snap.source_id[i])
        if s not in verbatim_by_source:
            verbatim_by_source[s] = s != 0 and rec.chat_verbatim(snap.datas[s])
        raw = snap.raw(i)
        record = None if raw is not None else snap.record(i)
        weight = 1.0 if part.pick is not None else float(snap.weight[i])
        yield (raw, record, snap.schema_of(i), snap.mapping_of(i), str(snap.source_names[i]),
               int(snap.line[i]), weight, snap.tags[i], verbatim_by_source[s])


def _lines(snap: CurationSnapshot, part: Part, fmt: str, options, split: str) -> Iterator[tuple[str, int]]:
    field_mode = options.weights == "field"
    for item, reps in zip(_items(snap, part), part.repeats.tolist()):
        raw, record, schema, mapping, source, line, weight, _, verbatim = item
        wv = weight if field_mode else None
        try:
            if fmt == "source":
                text = rec.source_line(raw, record, wv)
            else:
                text = rec.chat_line(raw, record, schema, mapping, wv, verbatim)
        except (ValueError, TypeError) as exc:
            raise ExportError(f"{source}:{line}: cannot be exported as {fmt}: {exc}") from exc
        yield text, reps


def _segment(out: Out, part: Part, first: int, last: int, records: int) -> None:
    out.segments.append({"origin": part.origin, "source": part.source, "records": records,
                         "first_line": first, "last_line": last})


def write_jsonl(f, out: Out, snap: CurationSnapshot, options, tick) -> None:
    h = hashlib.sha256()
    for part in out.parts:
        first = out.lines + 1
        buf: list[str] = []
        n_records = 0
        for text, reps in _lines(snap, part, options.format, options, out.split):
            if "\n" in text or "\r" in text:
                raise ExportError(f"a record of {part.source} holds a line break and cannot be one JSONL line")
            buf.extend([text] * reps)
            n_records += 1
            if len(buf) >= BATCH:
                _flush(f, h, buf, out)
                tick(len(buf))
                buf = []
        if buf:
            _flush(f, h, buf, out)
            tick(len(buf))
        _segment(out, part, first, out.lines, n_records)
    out.sha256 = h.hexdigest()


def _flush(f, h, buf: list[str], out: Out) -> None:
    try:
        data = ("\n".join(buf) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        raise ExportError(f"{out.name}: a record holds text that is not valid Unicode (a lone surrogate)") from None
    f.write(data)
    h.update(data)
    out.lines += len(buf)


PARQUET_BATCH = 20000  # rows turned into one Arrow table at a time (Python rows never pile up)


class _HashingSink:
    """The open export file, hashed as Parquet writes into it (no copy of the file in memory)."""

    def __init__(self, f):
        self._f, self.h, self.closed = f, hashlib.sha256(), False

    def write(self, data) -> int:
        b = bytes(data)
        self._f.write(b)
        self.h.update(b)
        return len(b)

    def flush(self) -> None:
        self._f.flush()

    def tell(self) -> int:
        return self._f.tell()


def _rows_table(rows: list[dict[str, Any]]):
    """One batch as an Arrow table, or None when its messages do not share one structure."""
    import pyarrow as pa

    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _json_messages(row: dict[str, Any]) -> dict[str, Any]:
    m = row["messages"]
    return row if isinstance(m, str) else {**row, "messages": json.dumps(m, ensure_ascii=False)}


def _parquet_tables(out: Out, snap: CurationSnapshot, options, tick, *, as_json: bool):
    """The export's rows as Arrow tables of PARQUET_BATCH rows each, with the row count and the
    file's segments. ``(None, ...)`` as soon as a batch's messages do not share one structure
    (only when ``as_json`` is off: then every message list is JSON text)."""
    tables: list = []
    segments: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    field_mode = options.weights == "field"
    pending = n_rows = 0
    for part in out.parts:
        first = n_rows + 1
        n_records = 0
        for item, reps in zip(_items(snap, part), part.repeats.tolist()):
            raw, record, schema, mapping, source, line, weight, tags, verbatim = item
            try:
                row = rec.parquet_row(raw, record, schema, mapping, origin=part.origin, source=source,
                                      line=line, weight=weight if field_mode else None, tags=tags,
                                      verbatim=verbatim)
            except (ValueError, TypeError) as exc:
                raise ExportError(f"{source}:{line}: cannot be exported: {exc}") from exc
            if as_json:
                row = _json_messages(row)
            batch.extend([row] * reps)
            n_rows += reps
            n_records += 1
            pending += reps
            if len(batch) >= PARQUET_BATCH:
                tables.append(_rows_table(batch))
                batch = []
                if tables[-1] is None:
                    return None, n_rows, segments
            if pending >= BATCH:
                tick(pending)
                pending = 0
        tick(pending)
        pending = 0
        segments.append({"origin": part.origin, "source": part.source, "records": n_records,
                         "first_line": first, "last_line": n_rows})
    if batch:
        tables.append(_rows_table(batch))
        if tables[-1] is None:
            return None, n_rows, segments
    return tables, n_rows, segments


def _concat(tables: list):
    """One table from the batches, their schemas unified (a column all null in one batch takes the
    type it has in another); None when they cannot be."""
    import pyarrow as pa

    if not tables:
        return pa.Table.from_pylist([])
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


def write_parquet(f, out: Out, snap: CurationSnapshot, options, tick) -> None:
    """One Parquet file, built batch by batch and written straight into the export file (never
    the whole file, nor a million Python rows, in memory). The messages are a list of structs when
    every record's messages share one structure, else JSON text for the whole file (then the
    records are read a second time)."""
    import pyarrow.parquet as pq

    tables, n_rows, segments = _parquet_tables(out, snap, options, tick, as_json=False)
    table = _concat(tables) if tables is not None else None
    del tables
    if table is None:
        tables, n_rows, segments = _parquet_tables(out, snap, options, lambda n: None, as_json=True)
        table = _concat(tables)
        del tables
        if table is None:
            raise ExportError(f"{out.name}: the records do not fit one Parquet table")
    sink = _HashingSink(f)
    pq.write_table(table, sink, compression="zstd")
    out.segments.extend(segments)
    out.sha256 = sink.h.hexdigest()
    out.lines = n_rows
