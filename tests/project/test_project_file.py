"""The project file: foreign and damaged files are refused untouched; locking across processes;
read-only access; never overwriting; settings."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLE
from tests.project.helpers import make_project
from workbench.core.errors import ProjectError, ProjectLockedError
from workbench.project import Project
from workbench.project.journal import Reject, Tag


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def _assert_refused_untouched(path, match, read_only=False):
    before = path.read_bytes()
    files = _files(path.parent)
    with pytest.raises(ProjectError, match=match) as info:
        Project.open(path, read_only=read_only)
    assert not isinstance(info.value, ProjectLockedError)
    assert path.read_bytes() == before
    return files


@pytest.mark.parametrize("read_only", [False, True])
def test_non_sqlite_files_are_refused_and_left_alone(tmp_path, read_only):
    jsonl = tmp_path / "data.wbproj"
    jsonl.write_bytes((SAMPLE / "train_banking_chat.jsonl").read_bytes()[:5000])
    files = _assert_refused_untouched(jsonl, "not a Curation Workbench project", read_only)
    assert _files(tmp_path) == files  # no lock or journal files were created beside it

    empty = tmp_path / "empty.wbproj"
    empty.write_bytes(b"")
    _assert_refused_untouched(empty, "empty file", read_only)

    binary = tmp_path / "bin.wbproj"
    binary.write_bytes(bytes(range(256)) * 64)
    _assert_refused_untouched(binary, "not a Curation Workbench project", read_only)


@pytest.mark.parametrize("read_only", [False, True])
def test_foreign_sqlite_database_is_refused_and_left_alone(tmp_path, read_only):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE header (key TEXT, value TEXT)")  # even a look-alike table
    conn.execute("INSERT INTO header VALUES ('app', 'something else')")
    conn.commit()
    conn.close()
    _assert_refused_untouched(path, "SQLite database but not a Curation Workbench project", read_only)


def test_damaged_project_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "p.wbproj"
    p = make_project(path)
    for k in range(200):  # enough journal pages to damage
        p.apply(Reject([(1, 1 + k % 50)], f"reason {k} " + "x" * 200))
    p.close()
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * 4096
    page = 4096
    for k in range(2, 8):  # garbage over the headers and cell pointers of b-tree pages
        data[k * page: k * page + 200] = os.urandom(200)
    path.write_bytes(bytes(data))
    _assert_refused_untouched(path, "damaged")
    _assert_refused_untouched(path, "damaged", read_only=True)

    truncated = tmp_path / "t.wbproj"
    truncated.write_bytes(bytes(data[: 3 * page]))
    _assert_refused_untouched(truncated, "damaged")


def test_newer_file_version_is_refused(tmp_path):
    path = tmp_path / "new.wbproj"
    Project.create(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.commit()
    conn.close()
    _assert_refused_untouched(path, "newer Curation Workbench")


def test_create_never_overwrites(tmp_path):
    path = tmp_path / "x.wbproj"
    path.write_text("precious")
    with pytest.raises(ProjectError, match="exists already"):
        Project.create(path)
    assert path.read_text() == "precious"
    with pytest.raises(ProjectError, match="does not exist"):
        Project.open(tmp_path / "missing.wbproj")


HOLDER = r"""
import sys
from workbench.project import Project
p = Project.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
"""


def test_second_process_gets_locked_error_or_read_only(tmp_path):
    path = tmp_path / "shared.wbproj"
    p = make_project(path)
    p.apply(Reject([(1, 1), (1, 2)], "duplicate"))
    p.close()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(ProjectLockedError, match="open in another Curation Workbench"):
            Project.open(path)
        with Project.open(path, read_only=True) as ro:
            assert ro.read_only
            assert ro.state.rejected == {(1, 1): "duplicate", (1, 2): "duplicate"}
            assert ro.load().rejected.sum() == 2
            with pytest.raises(ProjectError, match="read-only"):
                ro.apply(Tag([(1, 1)], "x"))
            with pytest.raises(ProjectError, match="read-only"):
                ro.settings["k"] = 1
            assert ro.undo_label == "Reject 2 examples (duplicate)" and not ro.can_undo
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with Project.open(path) as again:  # released when the holder exited
        assert again.can_undo


def test_same_process_second_writer_is_refused(tmp_path):
    path = tmp_path / "p.wbproj"
    p = Project.create(path)
    with pytest.raises(ProjectLockedError):
        Project.open(path)
    p.close()
    Project.open(path).close()


def test_settings_are_json_and_durable(tmp_path):
    path = tmp_path / "s.wbproj"
    with Project.create(path) as p:
        assert p.settings.get("analysis.dir") is None
        p.settings["analysis.dir"] = "results/rev7"
        p.settings.set("thresholds", {"near_dup": 0.92, "k": 15, "list": [1, "ü"]})
        p.settings["gone"] = True
        del p.settings["gone"]
        with pytest.raises(ProjectError, match="JSON"):
            p.settings["bad"] = object()
        rev = p.revision
    with Project.open(path) as p:
        assert p.settings["analysis.dir"] == "results/rev7"
        assert p.settings.get("thresholds") == {"near_dup": 0.92, "k": 15, "list": [1, "ü"]}
        assert "gone" not in p.settings
        assert p.revision == rev  # settings are not curation: the data revision stays
        assert p.data_dir.is_dir() and p.data_dir.name == "s.wbproj-data"


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks and hard links need privileges on Windows")
def test_lock_path_that_is_a_link_or_not_a_file_is_refused_and_never_written(tmp_path):
    path = tmp_path / "p.wbproj"
    Project.create(path).close()
    lock = tmp_path / "p.wbproj.lock"
    lock.unlink(missing_ok=True)
    victim = tmp_path / "my_thesis.txt"
    victim.write_text("three years of work\n")
    lock.symlink_to(victim)
    with pytest.raises(ProjectError, match="symbolic link") as info:
        Project.open(path)
    assert not isinstance(info.value, ProjectLockedError)
    assert victim.read_text() == "three years of work\n"
    dangling = tmp_path / "nowhere.txt"
    lock.unlink()
    lock.symlink_to(dangling)  # a dangling link is not followed (nothing created at its target)
    with pytest.raises(ProjectError, match="symbolic link"):
        Project.open(path)
    assert not dangling.exists()
    lock.unlink()
    os.link(victim, lock)  # a hard link would be truncated just the same
    with pytest.raises(ProjectError, match="hard link"):
        Project.open(path)
    assert victim.read_text() == "three years of work\n"
    lock.unlink()
    os.mkfifo(lock)
    with pytest.raises(ProjectError, match="not a plain file"):
        Project.open(path)
    lock.unlink()
    with Project.open(path, read_only=True) as ro:  # read-only needs no lock
        assert ro.read_only
    Project.open(path).close()  # a plain lock file again
    assert lock.is_file() and not lock.is_symlink()


FOLDER_HOLDER = r"""
import sys
from workbench.project.project_file import folder_lock
with folder_lock(sys.argv[1], shared=sys.argv[2] == "shared"):
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="flock shared locks")
def test_results_folder_has_one_writer_at_a_time_across_processes(tmp_path):
    from workbench.project.project_file import folder_lock

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for mode in ("exclusive", "shared"):
        holder = subprocess.Popen([sys.executable, "-c", FOLDER_HOLDER, str(tmp_path), mode], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert holder.stdout.readline().strip() == "held"
            with pytest.raises(ProjectLockedError, match="in use by another"):
                with folder_lock(tmp_path, timeout=0.3):
                    pass
            if mode == "shared":
                with folder_lock(tmp_path, shared=True, timeout=0.3):  # readers share
                    pass
            else:
                with pytest.raises(ProjectLockedError):
                    with folder_lock(tmp_path, shared=True, timeout=0.3):
                        pass
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
        with folder_lock(tmp_path, timeout=5):  # released when the holder finished
            pass
    lock = tmp_path / ".lock"
    lock.unlink()
    victim = tmp_path / "keep.txt"
    victim.write_text("x")
    lock.symlink_to(victim)
    with pytest.raises(ProjectError):
        with folder_lock(tmp_path, timeout=0.3):
            pass
    assert victim.read_text() == "x"
