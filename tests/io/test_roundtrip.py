"""Chat conversion round trip on every real JSONL file (sample_data/ and ../shared/data): every
record -> to_chat -> from_chat with the record as template -> the same JSON (value and key order).
The export's round trips (source bytes, chat file read back) are in tests/curate/test_export_roundtrip.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, SHARED_DATA, shared_data
from workbench.io.formats import from_chat, to_chat
from workbench.io.readers import read_source

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
def test_chat_conversion_round_trip(rel):
    path = _path(rel)
    src = read_source(path)
    for raw in src.raw:
        record = json.loads(raw)
        chat = to_chat(record, src.schema, src.mapping)
        back = from_chat(chat["messages"], src.schema, template_record=record, mapping=src.mapping)
        assert json.dumps(back) == json.dumps(record), raw  # same value, same key order
