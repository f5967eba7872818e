"""``workbench resolve``: a conflict's canonical answer from the command line, on a project built
from sample_data and analysed with the real model. The rule is curate/resolve.py (the app's
Majority and Canonical buttons); these tests check the command applies it as one journal entry."""

from __future__ import annotations

import json

import pytest

from tests.project.helpers import analysed_project
from workbench.cli.main import main
from workbench.curate import actions, resolve
from workbench.project import Project


@pytest.fixture
def project(tmp_path_factory, tmp_path):
    return analysed_project(tmp_path_factory, tmp_path / "p.wbproj")


def _open(path):
    p = Project.open(path, read_only=True)
    ws = p.load()
    return p, ws, actions.stored_analysis(p, ws)


def _live_answers(ws, rows):
    return {resolve.normalise_answer(ws.response[int(r)]) for r in rows
            if ws.role[int(r)] in ("train", "reference") and not ws.rejected[int(r)]}


def _unresolved(ws, analysis):
    return [k for k, f in enumerate(analysis.conflicts, 1) if len(_live_answers(ws, f.rows)) > 1]


def test_keep_one_member_rejects_exactly_the_differing_members(project, capsys):
    p, ws, a = _open(project)
    with p:
        k = _unresolved(ws, a)[0]
        f = a.conflicts[k - 1]
        keep = int(f.rows[-1])
        want = {(int(ws.source_id[r]), int(ws.line[r])) for r in resolve.differing(ws, f.rows, keep)}
        ref = f"{ws.sources[[s.id for s in ws.sources].index(int(ws.source_id[keep]))].name}:{int(ws.line[keep])}"
        undo0 = p.undo_count
    assert want
    assert main(["resolve", str(project), "--conflict", str(k), "--keep", ref, "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out
    assert main(["resolve", str(project), "--conflict", str(k), "--keep", ref]) == 0
    assert "Journal entry" in capsys.readouterr().out
    p, ws, a = _open(project)
    with p:
        rejected = {(int(ws.source_id[r]), int(ws.line[r])) for r in range(ws.n) if ws.rejected[r]}
        assert rejected == want and not ws.rejected[keep]
        assert _live_answers(ws, a.conflicts[k - 1].rows) == {resolve.normalise_answer(ws.response[keep])}
        assert p.undo_count == undo0 + 1
        assert all("conflicts with the canonical answer" in r for r in p.state.snapshot()["rejected"].values())
    assert main(["undo", str(project)]) == 0
    p, ws, _ = _open(project)
    with p:
        assert not ws.rejected.any()


def test_all_majority_leaves_no_unresolved_conflict_and_check_agrees(project, capsys):
    p, ws, a = _open(project)
    with p:
        before = _unresolved(ws, a)
    assert len(before) >= 2
    main(["check", str(project), "--json", "--no-model"])
    checks = {c["key"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["conflicts"]["count"] == len(before) and "workbench resolve" in checks["conflicts"]["fix"]
    assert main(["resolve", str(project), "--all", "--majority"]) == 0
    assert "conflict" in capsys.readouterr().out.lower()
    p, ws, a = _open(project)
    with p:
        assert _unresolved(ws, a) == []
        assert ws.rejected.sum() > 0
    main(["check", str(project), "--json", "--no-model"])
    verdict = json.loads(capsys.readouterr().out)
    checks = {c["key"]: c for c in verdict["checks"]}
    assert checks["conflicts"]["count"] == 0
    assert main(["resolve", str(project), "--all", "--majority"]) == 0  # nothing left: a clear no-op
    assert "Nothing to resolve" in capsys.readouterr().out


@pytest.mark.parametrize("argv,needle", [
    (["--conflict", "100000", "--majority"], "There is no conflict 100000"),
    (["--conflict", "1", "--keep", "nosuch.jsonl:3"], "no source 'nosuch.jsonl'"),
    (["--all", "--keep", "x:1"], "--keep names one member"),
])
def test_bad_requests_are_one_clear_line_and_change_nothing(project, capsys, argv, needle):
    p, _, _ = _open(project)
    with p:
        n0 = p.undo_count
    assert main(["resolve", str(project), *argv]) != 0
    assert needle in capsys.readouterr().err
    p, _, _ = _open(project)
    with p:
        assert p.undo_count == n0
