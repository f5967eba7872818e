"""The Parquet export is built batch by batch: its content must not depend on where the batches
split, and messages of different shapes in different batches still come out whole."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.curate.helpers import read_jsonl
from workbench.curate import export_files
from workbench.curate.export import ExportOptions, run_export
from workbench.curate.snapshot import CurationSnapshot
from workbench.project import Project

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "train_banking_chat.jsonl"


@pytest.fixture
def mixed_project(tmp_path):
    """Real Banking77 chat rows; rows 31-40 carry their user turn as a list of content parts (the
    OpenAI form), so their messages have another structure than the rest."""
    rows = read_jsonl(SAMPLE)[:60]
    for r in rows[30:40]:
        for m in r["messages"]:
            if m["role"] == "user":
                m["content"] = [{"type": "text", "text": m["content"]}]
    data = tmp_path / "data" / "mixed_chat.jsonl"
    data.parent.mkdir()
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    p = Project.create(tmp_path / "mixed.wbproj")
    p.add_source(data, "train")
    p.load()
    yield p, rows
    p.close()


def _export(p, out, monkeypatch, batch):
    monkeypatch.setattr(export_files, "PARQUET_BATCH", batch)
    res = run_export(CurationSnapshot.capture(p), ExportOptions(out, format="parquet"))
    return pq.read_table(res.files[0]).to_pylist(), res


def test_mixed_message_shapes_become_json_text_whatever_the_batches(mixed_project, tmp_path, monkeypatch):
    p, rows = mixed_project
    whole, _ = _export(p, tmp_path / "whole", monkeypatch, 10_000)
    small, res = _export(p, tmp_path / "small", monkeypatch, 7)
    assert small == whole and len(small) == 60
    # every message list is JSON text holding exactly the record's messages (nothing added or lost)
    for got, want in zip(small, rows):
        assert isinstance(got["messages"], str)
        assert json.loads(got["messages"]) == want["messages"]
    manifest = json.loads((tmp_path / "small" / "manifest.json").read_text())
    assert manifest["files"][0]["sha256"] == __import__("hashlib").sha256(res.files[0].read_bytes()).hexdigest()


def test_one_structure_stays_structs_across_batches(tmp_path, monkeypatch):
    rows = read_jsonl(SAMPLE)[:45]
    data = tmp_path / "data" / "chat.jsonl"
    data.parent.mkdir()
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with Project.create(tmp_path / "p.wbproj") as p:
        p.add_source(data, "train")
        p.load()
        small, _ = _export(p, tmp_path / "small", monkeypatch, 4)
        whole, _ = _export(p, tmp_path / "whole", monkeypatch, 10_000)
    assert small == whole
    assert [r["messages"] for r in small] == [r["messages"] for r in rows]
    assert [r["line"] for r in small] == list(range(1, 46))
