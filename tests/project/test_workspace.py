"""Workspace on the real sample data: rows, ids, texts, edits re-normalised, added examples,
incremental refresh, and ops refused before they reach the journal."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLE
from tests.project.helpers import make_project, ws_view
from workbench.core.errors import ProjectError
from workbench.io.formats import from_chat
from workbench.io.source_data import Turn
from workbench.project import Project
from workbench.project.journal import AddExample, Batch, Edit, Note, Reject, Restore, SetWeight, Tag


@pytest.fixture
def project(tmp_path):
    p = make_project(tmp_path / "ws.wbproj", fast=True)
    yield p
    p.close()


def test_rows_follow_project_order_with_real_texts(project):
    ws = project.load()
    assert ws.n == 913 + 400 + 539
    assert ws.source_id.dtype.name == "int32" and ws.line.dtype.name == "int64"
    assert list(ws.source_id[[0, 913, 1313]]) == [1, 2, 3]
    assert list(ws.role[[0, 913, 1313]]) == ["train", "train", "production"]
    assert ws.source_name(1313) == "production_banking.jsonl"
    assert ws.prompt[0] == "I am still waiting on my card?" and ws.response[0] == "card_arrival"
    assert ws.system[0].startswith("You are a banking support intent classifier")
    assert ws.prompt[913] == "Why can camels survive for long without water?"
    assert ws.prompt[1313] == "How do I locate my card?" and ws.response[1313] == ""
    assert ws.extra["label"][1313] == "card_arrival" and ws.extra["label"][0] is None
    for i in (0, 500, 913, 1312, 1313, ws.n - 1):
        assert ws.index_of(ws.example_id(i)) == i
    with pytest.raises(KeyError):
        ws.index_of((1, 10_000))
    assert ws.schema_of(0) == "chat" and ws.schema_of(913) == "alpaca" and ws.schema_of(1313) == "text"
    assert [t.role for t in ws.turns(0)] == ["system", "user", "assistant"]
    assert ws.counts() == {"loaded": 1852, "rejected": 0, "edited": 0, "added": 0}
    assert not ws.errors


def test_edit_a_turn_renormalises_and_reverts(project):
    ws = project.load()
    i = ws.index_of((2, 1))
    turns = list(ws.turns(i))
    turns[-1] = Turn("assistant", "Camels store fat, not water, in their humps.")
    new = from_chat(turns, "alpaca", template_record=ws.record(i))
    change = project.apply(Edit((2, 1), new))
    assert change.changed == {"edited": frozenset({(2, 1)})}
    assert change.label == "Edit 1 example" and project.undo_label == "Edit 1 example"
    assert ws.edited[i] and ws.response[i] == "Camels store fat, not water, in their humps."
    assert ws.record(i)["output"] == "Camels store fat, not water, in their humps."
    assert list(ws.record(i)) == list(ws.original_record(i))  # key order kept
    assert '"output": "Camels use the fat' in ws.raw(i)  # the original stays verbatim
    resolved = project.effective_ops()[-1][1]
    assert resolved.before is None and resolved.shas == ((2, project.source(2).sha256),)

    project.apply(Edit((2, 1), None))  # revert to the file's record
    assert not ws.edited[i] and ws.response[i].startswith("Camels use the fat")
    project.undo()
    assert ws.edited[i]
    project.undo()
    assert not ws.edited[i]


def test_promote_a_production_input_into_training(project):
    ws = project.load()
    prod = ws.index_of((3, 9))
    record = {"messages": [{"role": "user", "content": ws.prompt[prod]},
                           {"role": "assistant", "content": ws.extra["label"][prod]}]}
    change = project.apply(AddExample(record, "chat", "train",
                                      {"source": "production_banking.jsonl", "source_id": 3, "line": 9,
                                       "note": "coverage gap"}))
    assert change.structural and change.changed["added"] == {(0, 1)}
    assert ws.n == 1853 and ws.example_id(ws.n - 1) == (0, 1)
    assert ws.role[-1] == "train" and ws.source_name(ws.n - 1) == "added" and ws.is_added(ws.n - 1)
    assert ws.prompt[-1] == ws.prompt[prod] and ws.response[-1] == ws.extra["label"][prod]
    assert ws.provenance(ws.n - 1)["line"] == 9
    project.apply(Batch([Tag([(0, 1)], "promoted"), SetWeight([(0, 1)], 2.0), Note((0, 1), "from prod")], "Promote"))
    assert ws.tags[-1] == {"promoted"} and ws.weight[-1] == 2.0 and ws.note(ws.n - 1) == "from prod"
    project.undo()
    project.undo()
    assert ws.n == 1852
    project.redo()
    assert ws.n == 1853 and ws.example_id(ws.n - 1) == (0, 1)
    project.undo()
    # a new added example never reuses the number of one that was undone
    project.apply(AddExample(record, "chat"))
    assert ws.example_id(ws.n - 1) == (0, 2)
    view = ws_view(ws)
    path = project.path
    project.close()
    with Project.open(path) as again:
        assert ws_view(again.load()) == view
        again.apply(AddExample(record, "chat"))
        assert again.workspace.example_id(again.workspace.n - 1) == (0, 3)


def test_bulk_ops_labels_and_one_undo_step(project):
    ws = project.load()
    ids = [ws.example_id(i) for i in range(100, 112)]
    change = project.apply(Reject(ids, "near-duplicate"))
    assert change.label == "Reject 12 examples (near-duplicate)"
    assert ws.rejected[100:112].all() and ws.reject_reason(100) == "near-duplicate"
    rev = project.revision
    plan = Batch([Restore(ids[:2], "keeper"), Reject([(2, 1)], "filler"), SetWeight(ids[5:7], 3.0)],
                 "Rebalance to production shares")
    change = project.apply(plan)
    assert project.revision > rev
    assert change.label == "Rebalance to production shares"
    assert change.changed["rejected"] == {ids[0], ids[1], (2, 1)}
    assert project.undo_label == "Rebalance to production shares"
    undo = project.undo()
    assert undo.action == "undo" and undo.op_id == change.op_id
    assert ws.rejected[100:112].all() and not ws.rejected[913] and ws.weight[105] == 1.0
    assert project.redo_label == "Rebalance to production shares"
    project.apply(Tag([(1, 1)], "x"))  # a new op clears redo
    assert not project.can_redo and project.redo() is None


def test_bad_ops_are_refused_before_the_journal(project):
    ws = project.load()
    rev = project.revision
    with pytest.raises(ProjectError, match="no example at line"):
        project.apply(Reject([(1, 99_999)], "x"))
    with pytest.raises(ProjectError, match="no source with id"):
        project.apply(Tag([(7, 1)], "x"))
    with pytest.raises(ProjectError, match="no added example"):
        project.apply(Note((0, 1), "x"))
    with pytest.raises(ProjectError, match="not a valid chat record"):
        project.apply(Edit((1, 1), {"messages": [{"role": "assistant", "content": "no user turn"}]}))
    with pytest.raises(ProjectError, match="weight"):
        SetWeight([(1, 1)], -1)
    with pytest.raises(ProjectError, match="not a valid chat record"):
        project.apply(Batch([Reject([(1, 1)], "a"), AddExample({"messages": []}, "chat")], "mixed"))
    assert project.revision == rev and not project.can_undo and not ws.rejected.any()


def test_loading_in_a_worker_thread_while_ops_are_applied(project):
    """The GUI applies ops while a loader thread builds a Workspace: the newest workspace always
    matches the journal."""
    import threading

    project.load()
    errors = []

    def loader():
        try:
            for _ in range(5):
                project.load()
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    t = threading.Thread(target=loader)
    t.start()
    for k in range(40):
        project.apply(Reject([(1, 1 + k)], "x") if k % 2 else Tag([(2, 1 + k)], "t"))
    t.join()
    assert not errors
    current = ws_view(project.workspace)
    path = project.path
    assert current == ws_view(project.load())
    assert sum(current["rejected"]) == 20
    project.close()
    with Project.open(path) as again:
        assert ws_view(again.load()) == current


def test_a_source_added_after_loading_appears_on_the_next_load(tmp_path):
    from tests.project.helpers import SOURCES

    p = make_project(tmp_path / "p.wbproj", sources=SOURCES[:1], fast=True)
    ws = p.load()
    p.add_source(SAMPLE / "eval_banking_chat.jsonl", "eval")
    assert not ws.covers_source(2)
    p.apply(Reject([(2, 3)], "leak"))  # allowed: the source exists, the old workspace skips it
    assert not ws.rejected.any()
    ws2 = p.load()
    assert ws2.n == 913 + 235 and ws2.rejected[ws2.index_of((2, 3))]
    p.close()
