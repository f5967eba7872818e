"""Fixtures for the curate tests: a real project on sample_data with a scripted curation session,
and (module-scoped, computed once) a real analysis of it.

The analysis runs the real pipeline (graph, UMAP, HDBSCAN, findings); only the vectors are
hashed character n-gram vectors of the real texts (tests/curate/helpers.py) instead of the neural encoder, so these tests
need no model. The CLI tests run the real encoder end to end.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLE

SOURCES = [("train_banking_chat.jsonl", "train"), ("train_dolly_alpaca.jsonl", "train"),
           ("production_banking.jsonl", "production"), ("eval_banking_chat.jsonl", "eval")]
SCRIPT = "<script>alert('x')</script>"


def make_project(folder: Path):
    """A project over copies of sample_data (ids 1..4 in SOURCES order)."""
    from workbench.project import Project

    folder.mkdir(parents=True, exist_ok=True)
    for name, _ in SOURCES:
        shutil.copy(SAMPLE / name, folder / name)
    p = Project.create(folder / "bank.wbproj")
    for name, role in SOURCES:
        p.add_source(folder / name, role)
    p.load()
    return p


def scripted_session(p) -> dict:
    """Reject, edit, tag, weight, add an example, undo one step. Returns what was done."""
    from workbench.project.journal import AddExample, Edit, Reject, SetWeight, Tag

    ws = p.workspace
    p.apply(Reject([(1, 3), (1, 4)], "duplicate of line 2"))
    rec = ws.record(ws.index_of((2, 1)))
    rec["output"] = f"{SCRIPT} edited answer"
    p.apply(Edit((2, 1), rec))
    p.apply(Tag([(1, 5)], "checked"))
    p.apply(SetWeight([(1, 6)], 3))
    added = {"messages": [{"role": "user", "content": f"<b>promoted</b> {SCRIPT} where is my card"},
                          {"role": "assistant", "content": "card_arrival"}]}
    p.apply(AddExample(added, "chat", provenance={"source": "production_banking.jsonl", "line": 5}))
    p.apply(Reject([(4, 1)], f"bad eval {SCRIPT}"))
    p.apply(Reject([(2, 10)], "filler"))
    p.undo()  # (2, 10) comes back
    return {"rejected": {(1, 3), (1, 4)}, "edited": {(2, 1): rec}, "weights": {(1, 6): 3}, "added": added}


@pytest.fixture
def session(tmp_path):
    p = make_project(tmp_path / "proj")
    facts = scripted_session(p)
    yield p, facts
    p.close()


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """(project, AnalysisResult) for sample_data with the scripted session; computed once per module."""
    from tests.curate.helpers import text_vectors
    from workbench.analysis.pipeline import AnalysisInput, AnalysisParams, run_analysis

    p = make_project(tmp_path_factory.mktemp("analysed"))
    scripted_session(p)
    ws = p.workspace
    pv = text_vectors(ws.prompt)
    rv = text_vectors(ws.response)
    result = run_analysis(AnalysisInput.from_workspace(ws, pv, rv, encoder="hashed-char-ngrams (test)"),
                          AnalysisParams())
    yield p, result
    p.close()


@pytest.fixture
def loaded(tmp_path_factory, tmp_path):
    """(project, workspace, aligned analysis) of every sample_data file analysed with the real
    model (shared by the curation-action and conflict-resolution tests)."""
    from tests.project.helpers import analysed_project
    from workbench.curate import actions
    from workbench.project import Project

    path = analysed_project(tmp_path_factory, tmp_path / "p.wbproj")
    p = Project.open(path)
    ws = p.load()
    a = actions.stored_analysis(p, ws)
    assert a is not None and a.missing == 0
    yield p, ws, a
    p.close()

