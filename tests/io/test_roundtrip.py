"""Chat conversion round trip on every real JSONL file (sample_data/ and ../shared/data): every
record -> to_chat -> from_chat with the record as template -> the same JSON (value and key order).
The export's round trips (source bytes, chat file read back) are in tests/curate/test_export_roundtrip.py.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import SAMPLE, real_jsonl_files
from workbench.io.formats import from_chat, to_chat
from workbench.io.readers import read_source


def test_real_files_are_found():
    assert len(list(SAMPLE.glob("*.jsonl"))) >= 4


@pytest.mark.parametrize("path", real_jsonl_files())
def test_chat_conversion_round_trip(path):
    src = read_source(path)
    for raw in src.raw:
        record = json.loads(raw)
        chat = to_chat(record, src.schema, src.mapping)
        back = from_chat(chat["messages"], src.schema, template_record=record, mapping=src.mapping)
        assert json.dumps(back) == json.dumps(record), raw  # same value, same key order
