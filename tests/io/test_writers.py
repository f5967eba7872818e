"""Atomic writers: an interrupted or failed write leaves the earlier file intact and no temp file."""

from __future__ import annotations

import os

import pytest

from workbench.core.errors import ExportError
from workbench.io.writers import atomic_writer, write_parquet


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
    with pytest.raises(RuntimeError, match="power cut"):
        with atomic_writer(target, "wb") as f:
            for i in range(25_000):
                f.write(b'{"text": "a"}\n')
            f.flush()  # bytes reached the temporary file, never the target
            raise RuntimeError("power cut")
    assert target.read_text() == '{"text": "earlier export"}\n'
    assert leftovers(tmp_path) == []


def test_no_earlier_file_and_failure_leaves_nothing(tmp_path):
    target = tmp_path / "new.jsonl"
    with pytest.raises(ValueError):
        with atomic_writer(target) as f:
            f.write("partial")
            raise ValueError("bad")
    assert not target.exists() and leftovers(tmp_path) == []


def test_missing_folder_is_an_export_error(tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        with atomic_writer(tmp_path / "no" / "such" / "out.jsonl") as f:
            f.write("x")


def test_lone_surrogate_is_an_export_error_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("old")
    with pytest.raises(ExportError, match="surrogate"):
        with atomic_writer(target) as f:
            f.write('{"a": "\ud800"}')
    assert target.read_text() == "old" and leftovers(tmp_path) == []


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
