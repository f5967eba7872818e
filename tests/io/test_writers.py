"""Atomic writers: an interrupted or failed write leaves the earlier file intact and no temp file."""

from __future__ import annotations

import json
import os

import pytest

from workbench.core.errors import ExportError
from workbench.io.writers import atomic_writer, write_jsonl_lines, write_parquet


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_atomic_writer_replaces_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_writer(target) as f:
        f.write("new ✓")
        assert target.read_text() == "old"  # not visible before the rename
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert leftovers(tmp_path) == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_exception_mid_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "data.jsonl"
    target.write_text('{"text": "earlier export"}\n')

    def lines():
        yield '{"text": "a"}'
        yield '{"text": "b"}'
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        write_jsonl_lines(target, lines())
    assert target.read_text() == '{"text": "earlier export"}\n'
    assert leftovers(tmp_path) == []


def test_interrupt_after_many_batches_keeps_the_old_file(tmp_path):
    target = tmp_path / "big.jsonl"
    target.write_text("keep\n")

    def lines():
        for i in range(25_000):  # past two flushed batches
            yield json.dumps({"i": i})
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_jsonl_lines(target, lines())
    assert target.read_text() == "keep\n" and leftovers(tmp_path) == []


def test_no_earlier_file_and_failure_leaves_nothing(tmp_path):
    target = tmp_path / "new.jsonl"
    with pytest.raises(ValueError):
        with atomic_writer(target) as f:
            f.write("partial")
            raise ValueError("bad")
    assert not target.exists() and leftovers(tmp_path) == []


def test_missing_folder_is_an_export_error(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        write_jsonl_lines(tmp_path / "no" / "such" / "out.jsonl", ['{"a": 1}'])


def test_write_jsonl_lines_exact_bytes(tmp_path):
    lines = ['{"text": "café"}', '{"text": "\\u00e9 ✓"}']
    out = tmp_path / "x.jsonl"
    assert write_jsonl_lines(out, lines) == 2
    assert out.read_bytes() == ("\n".join(lines) + "\n").encode("utf-8")


def test_line_break_inside_a_line_is_refused(tmp_path):
    out = tmp_path / "x.jsonl"
    out.write_text("old\n")
    with pytest.raises(ExportError, match="record 2 holds a line break"):
        write_jsonl_lines(out, ['{"a": 1}', '{"a":\n 2}'])
    assert out.read_text() == "old\n"


def test_lone_surrogate_is_refused_not_written_as_invalid_utf8(tmp_path):
    with pytest.raises(ExportError, match="record 1 .*surrogate"):
        write_jsonl_lines(tmp_path / "x.jsonl", ['{"a": "\ud800"}'])


def test_write_parquet_rows_and_mixed_types(tmp_path):
    import pyarrow.parquet as pq

    rows = [{"prompt": "p1", "label": 3, "meta": {"a": 1}}, {"prompt": "p2", "label": "three", "meta": None}]
    out = tmp_path / "x.parquet"
    assert write_parquet(out, rows) == 2
    table = pq.read_table(out)
    assert table.column("prompt").to_pylist() == ["p1", "p2"]
    assert table.column("label").to_pylist() == ["3", "three"]  # mixed types: JSON text
    out.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_parquet(out, object())  # not rows, not a table: nothing replaced
    assert out.read_bytes() == b"old"
