"""Damage inside a sound project file is reported, never applied.

Each journal entry carries a checksum (``project/journal.py``). Random bit flips in stored journal
entries — through SQL (the stored value changes, SQLite sees nothing wrong) and in the raw file
bytes — must each make opening fail with a "damaged" error naming the entry. Damaged settings or
source rows are named too; legacy (version-1) projects without checksums still open.
"""

from __future__ import annotations

import random
import shutil
import sqlite3

import pytest

from tests.project.helpers import make_project
from workbench.core.errors import ProjectError
from workbench.project import DamagedProjectError, Project
from workbench.project.journal import AddExample, Batch, Edit, Note, Reject, Restore, SetWeight, Tag

SEEDS = range(60)


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    """A project from sample_data with every op kind in its journal, an undo and a redo."""
    path = tmp_path_factory.mktemp("damage") / "curated.wbproj"
    p = make_project(path, fast=True)
    ws = p.load()
    rec = ws.record(ws.index_of((1, 3)))
    rec["messages"][-1]["content"] = "edited answer"
    p.apply(Reject([(1, 1), (1, 2), (2, 5)], "duplicate of train_banking_chat.jsonl:9"))
    p.apply(Tag([(1, 4), (2, 2)], "review"))
    p.apply(SetWeight([(2, 7)], 3.0))
    p.apply(Edit((1, 3), rec))
    p.apply(Note((2, 3), "check the label"))
    p.apply(AddExample({"messages": [{"role": "user", "content": "Where is my card?"},
                                     {"role": "assistant", "content": "It arrives in 3 days."}]},
                       "chat", "train", {"source": "production_banking.jsonl", "line": 4}))
    p.apply(Batch([Restore([(1, 2)], "kept"), Reject([(2, 9)], "flagged: pii")], "two steps"))
    p.undo()
    p.redo()
    p.apply(Reject([(3, 11)], "leaks eval data"))
    state = p.state.snapshot()
    p.close()
    return path, state


def _entries(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT id, kind FROM journal ORDER BY id").fetchall()
    finally:
        conn.close()


def _flip_sql(path, rng):
    """Flip one random bit of one stored field of one random journal entry, via SQL."""
    conn = sqlite3.connect(path)
    try:
        entry_id, kind = rng.choice(conn.execute("SELECT id, kind FROM journal").fetchall())
        columns = ["payload", "label", "checksum", "ts"] + (["target"] if kind in ("undo", "redo") else [])
        if kind == "op":
            columns += ["payload"] * 3  # mostly the payload, the field that holds the state
        column = rng.choice(columns)
        if column in ("ts", "target"):
            value = conn.execute(f"SELECT {column} FROM journal WHERE id = ?", (entry_id,)).fetchone()[0]
            value = value + rng.choice([1, -1]) * (1 << rng.randrange(0, 20)) if column == "target" \
                else value * (1 + rng.choice([1, -1]) * 2.0 ** -rng.randrange(1, 50))
            conn.execute(f"UPDATE journal SET {column} = ? WHERE id = ?", (value, entry_id))
        else:
            raw = bytearray(conn.execute(f"SELECT CAST({column} AS BLOB) FROM journal WHERE id = ?",
                                         (entry_id,)).fetchone()[0] or b"")
            if not raw:
                raw = bytearray(b"x")
            k = rng.randrange(len(raw) * 8)
            raw[k // 8] ^= 1 << (k % 8)
            try:  # stored back as text when it still decodes, as bytes otherwise (both happen on disk)
                value = raw.decode("utf-8")
            except UnicodeDecodeError:
                value = bytes(raw)
            conn.execute(f"UPDATE journal SET {column} = ? WHERE id = ?", (value, entry_id))
        conn.commit()
    finally:
        conn.close()
    return entry_id, column


@pytest.mark.parametrize("seed", SEEDS)
def test_random_bit_flip_in_a_journal_entry_is_reported_naming_it(curated, tmp_path, seed):
    src, _ = curated
    path = tmp_path / "p.wbproj"
    shutil.copy(src, path)
    entry_id, column = _flip_sql(path, random.Random(seed))
    for read_only in (True, False):
        with pytest.raises(DamagedProjectError, match=rf"damaged: journal entry {entry_id}\b"):
            Project.open(path, read_only=read_only)


def test_random_bit_flips_in_the_file_bytes_of_payloads_are_never_applied(curated, tmp_path):
    """Flip a bit inside a payload's bytes in the file itself: SQLite's check or the entry's
    checksum must refuse the file; it never opens with another state."""
    src, state = curated
    data = src.read_bytes()
    conn = sqlite3.connect(src)
    payloads = [bytes(r[0]) for r in conn.execute("SELECT CAST(payload AS BLOB) FROM journal WHERE payload IS NOT NULL")]
    conn.close()
    unique = [p for p in payloads if data.count(p) == 1]  # a stale copy elsewhere would not be live data
    assert len(unique) >= 8
    refused = 0
    for seed in SEEDS:
        rng = random.Random(seed)
        payload = rng.choice(unique)
        start = data.index(payload)
        k = rng.randrange(len(payload) * 8)
        flipped = bytearray(data)
        flipped[start + k // 8] ^= 1 << (k % 8)
        path = tmp_path / f"f{seed}.wbproj"
        path.write_bytes(bytes(flipped))
        try:
            with Project.open(path, read_only=True) as p:
                opened_state = p.state.snapshot()
        except ProjectError as exc:
            assert "damaged" in exc.user_message
            refused += 1
        else:
            pytest.fail(f"seed {seed}: a flipped payload bit opened silently "
                        f"({'same' if opened_state == state else 'changed'} state)")
    assert refused == len(SEEDS)


def _make_legacy(path):
    """Turn a project into a version-1 file (no checksums), as made before checksums existed."""
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE journal DROP COLUMN checksum")
    conn.execute("DELETE FROM header WHERE key = 'journal_checksums_from'")
    conn.execute("UPDATE header SET value = '1' WHERE key = 'schema_version'")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()


def test_legacy_project_without_checksums_opens_and_is_migrated(curated, tmp_path):
    src, state = curated
    path = tmp_path / "legacy.wbproj"
    shutil.copy(src, path)
    _make_legacy(path)
    n_legacy = len(_entries(path))
    with Project.open(path, read_only=True) as ro:  # read as it is
        assert ro.state.snapshot() == state
    with Project.open(path) as p:  # migrated: legacy entries accepted, new ones checksummed
        assert p.state.snapshot() == state
        p.apply(Reject([(1, 20)], "after migration"))
        p.undo()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert conn.execute("SELECT value FROM header WHERE key = 'journal_checksums_from'").fetchone()[0] == str(n_legacy + 1)
    rows = conn.execute("SELECT id, checksum FROM journal ORDER BY id").fetchall()
    assert all(c is None for i, c in rows if i <= n_legacy) and all(c for i, c in rows if i > n_legacy)
    conn.close()
    with Project.open(path) as p:
        assert p.state.snapshot() == state and p.can_redo


def test_damaged_rows_in_a_valid_file_are_named(curated, tmp_path):
    src, _ = curated
    cases = {
        # a legacy entry whose payload is valid JSON but not an op (the issue's `[1,2]`)
        "legacy_payload": ("UPDATE journal SET payload = '[1,2]' WHERE id = 4", True, r"journal entry 4\b.*not a valid op"),
        # the same in a checksummed file: the checksum catches it first
        "payload": ("UPDATE journal SET payload = '[1,2]' WHERE id = 4", False, r"journal entry 4\b.*checksum"),
        "entry_without_checksum": ("UPDATE journal SET checksum = NULL WHERE id = 5", False, r"journal entry 5\b.*no checksum"),
        "settings": ("INSERT INTO settings VALUES ('unit', '{not json')", False, r"setting 'unit'.*not valid JSON"),
        "mapping": ("UPDATE sources SET mapping = '[oops' WHERE id = 2", False, r"source 2 .*mapping"),
        "source_rows": ("UPDATE sources SET rows = 'many' WHERE id = 1", False, r"source 1 .*rows"),
    }
    for name, (sql, legacy, match) in cases.items():
        path = tmp_path / f"{name}.wbproj"
        shutil.copy(src, path)
        if legacy:
            _make_legacy(path)
        conn = sqlite3.connect(path)
        conn.execute(sql)
        conn.commit()
        conn.close()
        before = path.read_bytes()
        for read_only in (True, False):
            with pytest.raises(DamagedProjectError, match=match) as info:
                Project.open(path, read_only=read_only)
            assert "damaged" in info.value.user_message
        assert path.read_bytes() == before, name  # left untouched (not even migrated)


def test_undo_of_a_wrong_target_is_reported(curated, tmp_path):
    src, _ = curated
    path = tmp_path / "t.wbproj"
    shutil.copy(src, path)
    _make_legacy(path)
    conn = sqlite3.connect(path)
    undo_id = conn.execute("SELECT id FROM journal WHERE kind = 'undo'").fetchone()[0]
    conn.execute("UPDATE journal SET target = 2 WHERE id = ?", (undo_id,))
    conn.commit()
    conn.close()
    with pytest.raises(DamagedProjectError, match=rf"journal entry {undo_id}\b.*inconsistent"):
        Project.open(path, read_only=True)
