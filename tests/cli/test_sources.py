"""``workbench remove-source`` and ``workbench set-role`` on a project built from sample_data:
journalled as source entries (history), curation on the other sources kept (and still
undoable), the removed source's curation set aside, never applied to another source."""

from __future__ import annotations

import pytest

from tests.project.helpers import analysed_project
from workbench.cli.main import main
from workbench.curate import actions
from workbench.project import Project


@pytest.fixture
def project(tmp_path_factory, tmp_path):
    return analysed_project(tmp_path_factory, tmp_path / "p.wbproj")


def _by_name(p):
    return {s.name: s for s in p.sources}


def test_remove_source_keeps_other_curation(project, capsys):
    with Project.open(project, read_only=True) as p:
        src = _by_name(p)
        n_rows = p.load().n
    prod, train = src["production_banking.jsonl"], src["train_banking_chat.jsonl"]
    for s in (prod, train):
        lines = project.parent / f"lines{s.id}.txt"
        lines.write_text(f"{s.id}:1\n{s.id}:2\n")
        assert main(["reject", str(project), "--lines", str(lines), "--reason", f"bad {s.name}"]) == 0
    capsys.readouterr()

    assert main(["remove-source", str(project), "production_banking.jsonl"]) == 0
    out = capsys.readouterr().out
    assert "Removed production source" in out and "not touched" in out
    with Project.open(project, read_only=True) as p:
        assert "production_banking.jsonl" not in _by_name(p)
        ws = p.load()
        assert ws.n == n_rows - prod.rows
        assert set(p.state.rejected) == {(train.id, 1), (train.id, 2)}  # the other source's curation is kept
        assert ws.rejected.sum() == 2
        a = actions.stored_analysis(p, ws)  # the stored analysis still aligns to what is left
        assert a is not None and a.missing == 0 and a.n == ws.n
    assert main(["history", str(project)]) == 0
    assert "Remove production source production_banking.jsonl" in capsys.readouterr().out

    assert main(["undo", str(project)]) == 0  # the newest curation step (on the train source) is undone
    with Project.open(project, read_only=True) as p:
        assert p.state.rejected == {}
    assert main(["redo", str(project)]) == 0
    # the file added again is a new source: the old entries on it stay set aside
    assert main(["add", str(project), prod.path, "--role", "production"]) == 0
    with Project.open(project, read_only=True) as p:
        again = _by_name(p)["production_banking.jsonl"]
        assert again.id != prod.id
        assert set(p.state.rejected) == {(train.id, 1), (train.id, 2)}


def test_set_role_is_journalled_and_shown(project, capsys):
    assert main(["set-role", str(project), "eval_banking_chat.jsonl", "production"]) == 0
    assert "now production (was eval)" in capsys.readouterr().out
    with Project.open(project, read_only=True) as p:
        s = _by_name(p)["eval_banking_chat.jsonl"]
        ws = p.load()
        assert s.role == "production"
        assert set(ws.role[ws.source_id == s.id]) == {"production"}
    assert main(["history", str(project)]) == 0
    assert "Set role of source eval_banking_chat.jsonl to production (was eval)" in capsys.readouterr().out
    assert main(["set-role", str(project), "eval_banking_chat.jsonl", "production"]) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_bad_source_or_role_is_a_clear_error(project, capsys):
    assert main(["remove-source", str(project), "nope.jsonl"]) != 0
    assert "No source 'nope.jsonl'" in capsys.readouterr().err
    assert main(["set-role", str(project), "1", "teacher"]) == 2
    assert "invalid choice: 'teacher'" in capsys.readouterr().err
