"""Round trips on every real JSONL file (sample_data/ and ../shared/data):

* source format: read_source -> write the raw lines -> the same bytes (modulo line terminators);
* chat conversion: every record -> to_chat -> from_chat with the record as template -> the same
  JSON (value and key order); the chat file reads back with the same prompts and responses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, SHARED_DATA, shared_data
from workbench.io.formats import from_chat, to_chat
from workbench.io.readers import read_source
from workbench.io.writers import chat_lines, write_jsonl_lines, write_source_records

SAMPLE_FILES = sorted(SAMPLE.glob("*.jsonl"))
SHARED_FILES = sorted(p.relative_to(SHARED_DATA) for p in SHARED_DATA.glob("*/*.jsonl")) if SHARED_DATA.is_dir() else []


def _real_files():
    params = [pytest.param(p, id=f"sample/{p.name}") for p in SAMPLE_FILES]
    params += [pytest.param(rel, id=f"shared/{rel}") for rel in SHARED_FILES]
    return params


def _path(p: Path) -> Path:
    return p if p.is_absolute() else shared_data(str(p))


def test_real_files_are_found():
    assert len(SAMPLE_FILES) >= 4


@pytest.mark.parametrize("rel", _real_files())
def test_source_format_round_trip_is_byte_identical(rel, tmp_path):
    path = _path(rel)
    src = read_source(path)
    assert not src.errors, src.errors[:3]
    original = path.read_bytes().replace(b"\r\n", b"\n")
    if original.startswith(b"\xef\xbb\xbf"):
        original = original[3:]
    out = tmp_path / "out.jsonl"
    assert write_jsonl_lines(out, src.raw) == len(src)
    expected = b"\n".join(line for line in original.split(b"\n") if line.strip()) + b"\n"
    assert out.read_bytes() == expected


@pytest.mark.parametrize("rel", _real_files())
def test_chat_conversion_round_trip(rel, tmp_path):
    path = _path(rel)
    src = read_source(path)
    for raw in src.raw:
        record = json.loads(raw)
        chat = to_chat(record, src.schema, src.mapping)
        back = from_chat(chat["messages"], src.schema, template_record=record, mapping=src.mapping)
        assert json.dumps(back) == json.dumps(record), raw  # same value, same key order
    out = tmp_path / "chat.jsonl"
    write_jsonl_lines(out, chat_lines(src))
    again = read_source(out)
    assert again.schema == "chat" and len(again) == len(src)
    assert again.prompt == src.prompt and again.response == src.response and again.system == src.system


def test_crlf_bom_file_round_trips_modulo_terminators(tmp_path, sample_dir):
    lines = (sample_dir / "train_dolly_alpaca.jsonl").read_text(encoding="utf-8").splitlines()[:50]
    src_path = tmp_path / "win.jsonl"
    src_path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    src = read_source(src_path)
    out = tmp_path / "out.jsonl"
    write_jsonl_lines(out, src.raw)
    assert out.read_text(encoding="utf-8") == "\n".join(lines) + "\n"


@pytest.mark.parametrize("container", ["json", "csv", "parquet", "jsonl"])
def test_write_source_records_in_each_container_reads_back(container, tmp_path, sample_dir):
    src = read_source(sample_dir / "production_banking.jsonl")
    out = tmp_path / f"out.{ {'jsonl': 'jsonl', 'json': 'json', 'csv': 'csv', 'parquet': 'parquet'}[container] }"
    assert write_source_records(out, src.raw, container) == len(src)
    again = read_source(out)
    assert again.container == container
    assert again.prompt == src.prompt and again.extra["label"] == src.extra["label"]
    if container in ("json", "jsonl"):
        assert [json.loads(r) for r in again.raw] == [json.loads(r) for r in src.raw]


def test_json_array_source_exports_as_jsonl_lines(tmp_path):
    records = [{"text": f"q{i}", "meta": {"k": [i, "é"]}} for i in range(5)]
    p = tmp_path / "arr.json"
    p.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
    src = read_source(p)
    out = tmp_path / "arr.jsonl"
    write_source_records(out, src.raw, "jsonl")
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == records
