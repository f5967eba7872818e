"""``workbench reject/restore/undo/redo/history/relink/accept-change`` end to end on a project
built from sample_data, analysed with the real model; the lock across processes; damage named."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLE
from tests.project.helpers import analysed_project
from workbench.cli.main import main
from workbench.project import Project

SELECTORS = [
    (["--duplicates"], "duplicate copies"),
    (["--leaked"], "training copies of eval examples"),
    (["--flag", "very_long_response"], "flagged very_long_response"),
    (["--cluster", "0", "--role", "train"], "in cluster 0"),
    (["--query", "card", "--role", "train"], "containing 'card'"),
]


@pytest.fixture
def project(tmp_path_factory, tmp_path):
    return analysed_project(tmp_path_factory, tmp_path / "p.wbproj")


def _state(path):
    with Project.open(path, read_only=True) as p:
        return p.state.snapshot(), p.undo_count, p.revision


@pytest.mark.parametrize("selector,what", SELECTORS, ids=lambda s: s[0] if isinstance(s, list) else "")
def test_reject_then_restore_then_undo_each_one_entry(project, capsys, selector, what):
    start, n0, rev0 = _state(project)
    assert main(["reject", str(project), *selector, "--reason", "cli test", "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out
    assert _state(project) == (start, n0, rev0)  # a dry run changes nothing

    assert main(["reject", str(project), *selector, "--reason", "cli test"]) == 0
    out = capsys.readouterr().out
    assert what in out and "Journal entry" in out and "workbench undo" in out
    rejected, n1, _ = _state(project)
    assert n1 == n0 + 1 and len(rejected["rejected"]) > 0
    assert all("cli test" in r for r in rejected["rejected"].values())

    assert main(["restore", str(project), *selector, "--reason", "second thoughts"]) == 0
    assert "Restored" in capsys.readouterr().out
    restored, n2, _ = _state(project)
    assert n2 == n1 + 1 and restored["rejected"] == {}

    assert main(["undo", str(project), "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("Undone:") == 2
    assert _state(project)[0] == start
    assert main(["redo", str(project)]) == 0
    assert _state(project)[0] == rejected


def test_lines_history_and_undo_redo_counts(project, tmp_path, capsys):
    listing = tmp_path / "drop.txt"
    listing.write_text("train_banking_chat.jsonl:5\ntrain_dolly_alpaca.jsonl:7\n")
    assert main(["reject", str(project), "--lines", str(listing), "--reason", "manual"]) == 0
    assert main(["reject", str(project), "--duplicates", "--reason", "dedupe"]) == 0
    assert main(["undo", str(project)]) == 0
    assert main(["reject", str(project), "--flag", "pii_email", "--reason", "pii"]) == 0
    capsys.readouterr()
    assert main(["history", str(project)]) == 0
    lines = capsys.readouterr().out.splitlines()
    ids = [int(line.split()[0].lstrip("#")) for line in lines]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert "pii" in lines[0] and "[in effect]" in lines[0]
    assert any("dedupe" in line and "[discarded]" in line for line in lines)  # undone, then replaced
    assert any(" undo " in line for line in lines)
    assert any("manual; listed in drop.txt" in line and "[in effect]" in line for line in lines)
    assert sum(" source " in line for line in lines) == 4
    assert main(["history", str(project), "--limit", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    # more undo steps than there are: says so, exit 0
    assert main(["undo", str(project), "9"]) == 0
    out = capsys.readouterr().out
    assert "Nothing more to undo (2 of 9" in out
    assert _state(project)[0]["rejected"] == {}
    assert main(["redo", str(project), "5"]) == 0
    assert "Nothing more to redo (2 of 5" in capsys.readouterr().out


def test_bad_invocations_fail_with_one_clear_line(project, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("train_banking_chat.jsonl:5\nno_such_file.jsonl:1\n")
    cases = [
        (["reject", str(project), "--lines", str(bad), "--reason", "x"], f"{bad}:2: no source 'no_such_file.jsonl'"),
        (["reject", str(project), "--flag", "nonsense", "--reason", "x"], "No examples carry the flag 'nonsense'"),
        (["reject", str(project), "--cluster", "4242", "--reason", "x"], "no cluster 4242"),
        (["reject", str(tmp_path / "none.wbproj"), "--duplicates", "--reason", "x"], "does not exist"),
        (["relink", str(project), "nope.jsonl", str(bad)], "No source 'nope.jsonl'"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    for argv, message in ((["reject", str(project), "--duplicates"], "required: --reason"),
                          (["reject", str(project), "--duplicates", "--leaked", "--reason", "x"], "not allowed with"),
                          (["undo", str(project), "0"], "must be at least 1")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    # no analysis yet: a clear hint
    fresh = tmp_path / "fresh.wbproj"
    assert main(["new", str(fresh)]) == 0
    assert main(["add", str(fresh), str(SAMPLE / "train_banking_chat.jsonl"), "--role", "train"]) == 0
    capsys.readouterr()
    assert main(["reject", str(fresh), "--duplicates", "--reason", "x"]) == 2
    assert "workbench analyze" in capsys.readouterr().err


def test_relink_and_accept_change(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    src = data / "train.jsonl"
    shutil.copy(SAMPLE / "train_banking_chat.jsonl", src)
    proj = tmp_path / "r.wbproj"
    assert main(["new", str(proj)]) == 0
    assert main(["add", str(proj), str(src), "--role", "train"]) == 0
    listing = tmp_path / "l.txt"
    listing.write_text("train.jsonl:3\ntrain.jsonl:4\n")
    assert main(["reject", str(proj), "--lines", str(listing), "--reason", "r"]) == 0
    moved = tmp_path / "elsewhere" / "train.jsonl"
    moved.parent.mkdir()
    src.rename(moved)
    capsys.readouterr()
    assert main(["history", str(proj)]) == 0  # read-only: works while a source is missing
    assert main(["reject", str(proj), "--query", "card", "--reason", "x"]) == 2
    assert "missing" in capsys.readouterr().err
    # a file with other content cannot be relinked
    other = tmp_path / "other.jsonl"
    other.write_text((SAMPLE / "train_banking_chat.jsonl").read_text().replace("card", "kard", 1))
    assert main(["relink", str(proj), "train.jsonl", str(other)]) == 2
    assert "accept the changed file" in capsys.readouterr().err
    assert main(["relink", str(proj), str(src), str(moved)]) == 0  # OLD given as the former path
    assert f"now reads {moved}" in capsys.readouterr().out
    state, _, _ = _state(proj)
    assert set(state["rejected"]) == {(1, 3), (1, 4)}
    # the file changes on disk: loading refuses; accept-change sets the old curation aside
    lines = moved.read_text().splitlines(keepends=True)
    moved.write_text("".join(lines[:2] + lines[5:]))
    assert main(["reject", str(proj), "--query", "card", "--reason", "x"]) == 2
    assert "changed on disk" in capsys.readouterr().err
    assert main(["accept-change", str(proj), str(moved)]) == 0
    out = capsys.readouterr().out
    assert f"{len(lines) - 3:,} rows (was {len(lines):,})" in out and "set aside" in out
    state, _, _ = _state(proj)
    assert state["rejected"] == {}  # never applied to whatever records now sit on lines 3 and 4
    assert main(["history", str(proj), "--limit", "1"]) == 0
    assert "Accept changed source train.jsonl" in capsys.readouterr().out


HOLDER = r"""
import sys
from workbench.project import Project
p = Project.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
"""


def _cli(*argv, env):
    return subprocess.run([sys.executable, "-m", "workbench", *argv], capture_output=True, text=True,
                          env=env, timeout=300)


def test_second_process_gets_a_clear_lock_error_and_changes_nothing(project):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    before = _state(project)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(project)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "ready"
        for argv in (["reject", str(project), "--query", "card", "--reason", "x"], ["undo", str(project)],
                     ["redo", str(project)], ["relink", str(project), "1", str(SAMPLE / "train_banking_chat.jsonl")],
                     ["accept-change", str(project), "1"], ["add", str(project), str(SAMPLE / "eval_banking_chat.jsonl"),
                                                             "--role", "eval"]):
            r = _cli(*argv, env=env)
            assert r.returncode == 2, (argv, r.stdout, r.stderr)
            assert "is open in another Curation Workbench" in r.stderr and "Traceback" not in r.stderr, argv
        r = _cli("history", str(project), env=env)  # reading needs no lock
        assert r.returncode == 0 and "Add eval source" in r.stdout
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert _state(project) == before
    r = _cli("reject", str(project), "--query", "card", "--role", "train", "--reason", "x", env=env)
    assert r.returncode == 0, r.stderr  # released when the holder exited


def test_damaged_entry_is_a_clear_error_naming_it(project, capsys):
    assert main(["reject", str(project), "--duplicates", "--reason", "dedupe"]) == 0
    conn = sqlite3.connect(project)
    entry = conn.execute("SELECT MAX(id) FROM journal").fetchone()[0]
    conn.execute("UPDATE journal SET payload = replace(payload, '\"reject\"', '\"rejecT\"') WHERE id = ?", (entry,))
    conn.commit()
    conn.close()
    capsys.readouterr()
    for argv in (["history", str(project)], ["undo", str(project)], ["export", str(project), "--out", str(project.parent / "x")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"is damaged: journal entry {entry} ('Reject duplicate copies" in err, err
        assert "Traceback" not in err
