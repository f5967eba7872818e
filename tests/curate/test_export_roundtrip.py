"""Round trips through the real export (``run_export``, what ``workbench export`` and the app run)
on every real JSONL file (sample_data/ and ../shared/data):

* source format: the one training source's file comes out byte-identical to the input (modulo
  line terminators, BOM and blank lines);
* chat format: the file reads back as chat with the same prompts, responses and system prompts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import real_jsonl_files
from workbench.curate.snapshot import CurationSnapshot
from workbench.curate.export import ExportOptions, run_export
from workbench.io.readers import read_source
from workbench.project import Project


def export_one(path: Path, tmp_path: Path, formats=("source", "chat")) -> dict[str, Path]:
    """Export a project holding ``path`` as its one training source; format -> the JSONL written."""
    with Project.create(tmp_path / "p.wbproj") as project:
        project.add_source(path, "train")
        project.load()
        snap = CurationSnapshot.capture(project, None)
    out = {}
    for fmt in formats:
        res = run_export(snap, ExportOptions(tmp_path / f"out-{fmt}", format=fmt))
        (written,) = [f for f in res.files if f.suffix == ".jsonl"]
        out[fmt] = written
    return out


@pytest.mark.parametrize("path", real_jsonl_files())
def test_export_round_trips_source_and_chat(path, tmp_path):
    src = read_source(path)
    assert not src.errors, src.errors[:3]
    files = export_one(path, tmp_path)
    original = path.read_bytes().replace(b"\r\n", b"\n").removeprefix(b"\xef\xbb\xbf")
    expected = b"\n".join(line for line in original.split(b"\n") if line.strip()) + b"\n"
    assert files["source"].read_bytes() == expected
    again = read_source(files["chat"])
    assert again.schema == "chat" and len(again) == len(src)
    assert again.prompt == src.prompt and again.response == src.response and again.system == src.system


def test_crlf_bom_file_round_trips_modulo_terminators(tmp_path, sample_dir):
    lines = (sample_dir / "train_dolly_alpaca.jsonl").read_text(encoding="utf-8").splitlines()[:50]
    src_path = tmp_path / "win.jsonl"
    src_path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    files = export_one(src_path, tmp_path, formats=("source",))
    assert files["source"].read_text(encoding="utf-8") == "\n".join(lines) + "\n"


def test_json_array_source_exports_as_jsonl_lines(tmp_path):
    records = [{"text": f"q{i}", "meta": {"k": [i, "é"]}} for i in range(5)]
    p = tmp_path / "arr.json"
    p.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
    files = export_one(p, tmp_path, formats=("source",))
    assert [json.loads(line) for line in files["source"].read_text(encoding="utf-8").splitlines()] == records

