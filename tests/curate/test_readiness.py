"""The readiness verdict (workbench.curate.readiness) on analysed sample_data: each check follows
the journal (reject, resolve, promote, undo), its count matches what it lists, thresholds are
project settings, and the leak check uses the analysis' one leak rule."""

from __future__ import annotations

import numpy as np
import pytest

from tests.analysis.realdata import analysis_home
from tests.project.helpers import analysed_project
from workbench.curate import actions, readiness, resolve
from workbench.curate.snapshot import CurationSnapshot
from workbench.project import Project


@pytest.fixture
def opened(tmp_path_factory, tmp_path, monkeypatch):
    path = analysed_project(tmp_path_factory, tmp_path / "r.wbproj")
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
    with Project.open(path) as p:
        ws = p.load()
        yield p, ws, actions.stored_analysis(p, ws)


def _verdict(p, a, **kw):
    snap = CurationSnapshot.capture(p, a, workspace=p.workspace)
    return readiness.assess(snap, project_name=p.path.name, **kw)


def _check(verdict, key):
    return next(c for c in verdict.checks if c.key == key)


def test_every_warning_says_why_and_how_to_fix_and_lists_its_findings(opened):
    p, ws, a = opened
    v = _verdict(p, a)
    assert not v.ready and v.context == "check"
    assert [c.key for c in v.checks] == ["analysis", "leakage", "duplicates", "conflicts", "mismatches", "flags",
                                         "gaps", "replay", "small_clusters"]
    for c in v.warnings:
        assert c.why and c.fix and c.app and c.summary, c.key
        assert "PROJECT" not in c.fix and p.path.name in c.fix  # a command to paste, not a template
    flags = _check(v, "flags")
    assert flags.count == len(flags.items) == len({(i["source"], i["line"]) for i in flags.items})
    assert flags.items[0]["reason"].startswith("flagged pii_")  # PII first
    dups = _check(v, "duplicates")
    assert dups.count == len(actions.duplicates(ws, a).parts)
    assert len(dups.items) == len(actions.duplicates(ws, a))
    d = v.to_dict()
    assert d["ready"] is False and d["headline"].startswith("NOT READY")
    assert "[WARN] duplicates left:" in v.text()


def test_checks_follow_the_journal(opened):
    p, ws, a = opened
    v0 = _verdict(p, a)
    # duplicates: rejecting the removable copies clears the check; undo brings it back
    p.apply(actions.reject(ws, actions.duplicates(ws, a), "dedupe").op)
    v1 = _verdict(p, a)
    assert _check(v1, "duplicates").status == "pass" and _check(v1, "duplicates").count == 0
    p.undo()
    assert _check(_verdict(p, a), "duplicates").count == _check(v0, "duplicates").count
    # conflicts: resolving one by its majority answer leaves one fewer unresolved
    before = _check(v0, "conflicts").count
    f = next(f for f in a.conflicts if len(resolve.differing(ws, f.rows, resolve.majority(ws, f.rows))))
    p.apply(actions.reject(ws, resolve.canonical(ws, f.rows, resolve.majority(ws, f.rows)), "majority").op)
    assert _check(_verdict(p, a), "conflicts").count <= before - 1
    # gaps: promoting one production input of a gap closes that gap
    gaps = _check(v0, "gaps").count
    row = int(next(r for r in a.gaps[0].rows if ws.role[int(r)] == "production"))
    p.apply(actions.promote_op(ws, row, "Here is how to do that: ..."))
    v2 = _verdict(p, a)
    assert _check(v2, "gaps").count == gaps - 1
    # ... and the analysis no longer covers every example: stale
    assert _check(v2, "analysis").status == "warn" and "stale" in _check(v2, "analysis").summary


def test_thresholds_are_project_settings(opened):
    p, ws, a = opened
    flags = _check(_verdict(p, a), "flags")
    assert flags.status == "warn" and flags.count > 1
    p.settings.set("readiness.max_flagged", flags.count)
    p.settings.set("readiness.max_pii", flags.count)
    assert _check(_verdict(p, a), "flags").status == "pass"
    p.settings.set("readiness.min_replay_share", 0)
    assert _check(_verdict(p, a), "replay").status == "pass"
    assert readiness.thresholds({"readiness.max_gaps": 3, "readiness.bogus": 1, "other": 2})["max_gaps"] == 3


def test_leak_check_uses_the_analysis_leak_rule(opened):
    p, ws, a = opened
    v = _verdict(p, a)
    leak = _check(v, "leakage")
    analysis_leaks = {(ws.source_names[int(f.rows[0])], int(ws.line[int(f.rows[0])])) for f in a.leakage}
    # without embeddings the text tests run on the data itself and the analysis' own leaks are added
    assert {(i["source"], i["line"]) for i in leak.items} == analysis_leaks
    assert leak.count == len(leak.items) == int(a.summary["leakage"]["n_leaked"])
    kinds = {i["kind"] for i in leak.items}
    assert "exact" in kinds
    # the leaked-copy selection leaves no leak behind
    snap = CurationSnapshot.capture(p, a, workspace=ws)
    p.apply(actions.reject(ws, readiness.leaked_selection(ws, a, snap), "eval leak").op)
    assert _check(_verdict(p, a), "leakage").status == "pass"


def test_no_analysis_is_never_ready(opened):
    p, ws, _ = opened
    v = _verdict(p, None)
    assert not v.ready and _check(v, "analysis").status == "warn"
    assert {c.key for c in v.checks if c.status == "skip"} >= {"duplicates", "conflicts", "gaps"}
    assert np.all([c.status in ("pass", "warn", "skip") for c in v.checks])
