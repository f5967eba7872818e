"""One exported line (or Parquet row) per example, in the format the curator chose.

- **source** format: an untouched record is its input line, byte for byte (``SourceData.raw``;
  a JSON-array element that spanned lines is joined onto one line, its line breaks being JSON
  whitespace). An edited or added record is written with
  :func:`workbench.io.formats.dumps_record` (readable Unicode, ``", "``/``": "`` separators).
  CSV and Parquet sources come out as JSONL objects of their columns.
- **chat** format: OpenAI ``{"messages": [...]}`` via :func:`workbench.io.formats.to_chat`; a
  chat JSONL source whose records carry no extra fields keeps its lines verbatim.
- **weights as a field**: ``"weight": w`` is appended as the record's last key (the rest of an
  untouched line stays as it was); a record that already has a ``weight`` key gets it replaced.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from workbench.io.formats import dumps_record, to_chat

WEIGHT_FIELD = "weight"


def one_line(raw: str) -> str:
    if "\n" in raw or "\r" in raw:
        return raw.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return raw


def weight_value(w: float) -> int | float:
    return int(w) if float(w).is_integer() else round(float(w), 6)


def with_field(line: str, key: str, value: Any) -> str:
    """``line`` (one JSON object) with ``key: value`` added last, or replaced when present."""
    obj = orjson.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if key in obj:
        obj[key] = value
        return dumps_record(obj)
    body = line.rstrip()
    if not body.endswith("}"):
        return dumps_record({**obj, key: value})
    inner = body[:-1].rstrip()
    sep = "" if inner.endswith("{") else ", "
    return f"{inner}{sep}{json.dumps(key)}: {json.dumps(value)}}}"


def chat_verbatim(data) -> bool:
    """Whether a source's raw lines already are plain chat records (their lines are written verbatim)."""
    return (data.schema == "chat" and data.container == "jsonl" and not data.extra
            and (data.mapping or {}).get("messages", "messages") == "messages")


def source_line(raw: str | None, record: dict | None, weight: float | None) -> str:
    """A line in the source's own schema."""
    line = one_line(raw) if raw is not None else dumps_record(record)
    if weight is not None:
        line = with_field(line, WEIGHT_FIELD, weight_value(weight))
    return line


def chat_record(raw: str | None, record: dict | None, schema: str, mapping: dict | None) -> dict:
    return to_chat(orjson.loads(raw) if raw is not None else record, schema, mapping)


def chat_line(raw: str | None, record: dict | None, schema: str, mapping: dict | None,
              weight: float | None, verbatim: bool) -> str:
    """An OpenAI chat line."""
    if raw is not None and verbatim:
        line = one_line(raw)
    else:
        line = dumps_record(chat_record(raw, record, schema, mapping))
    if weight is not None:
        line = with_field(line, WEIGHT_FIELD, weight_value(weight))
    return line


def parquet_row(raw: str | None, record: dict | None, schema: str, mapping: dict | None, *,
                origin: str, source: str, line: int, weight: float | None, tags,
                verbatim: bool = False) -> dict[str, Any]:
    """One Parquet row: provenance columns, the chat messages (a list of structs; stored as JSON
    text when the messages of a file do not share one structure), the current record as JSON text."""
    rec = orjson.loads(raw) if raw is not None else record
    row: dict[str, Any] = {
        "origin": origin,
        "source": source,
        "line": int(line),
        "schema": schema,
        "messages": rec["messages"] if (verbatim and raw is not None) else to_chat(rec, schema, mapping)["messages"],
        "record": one_line(raw) if raw is not None else dumps_record(rec),
        "tags": sorted(tags) if tags else [],
    }
    if weight is not None:
        row[WEIGHT_FIELD] = float(weight)
    return row
