"""Ops: JSON round trip, labels, inverses that restore exactly the previous values."""

from __future__ import annotations

import json

import pytest

from workbench.core.errors import ProjectError
from workbench.project.journal import (
    AddExample, Batch, Edit, Note, Op, Reject, RemoveAdded, Restore, SetWeight, Tag, Untag,
)
from workbench.project.curation_state import CurationState

SHAS = {1: "a" * 64, 2: "b" * 64}
REC = {"messages": [{"role": "user", "content": "Wo ist meine Karte? ü"}, {"role": "assistant", "content": "card_arrival"}]}

ALL_OPS = [
    Reject([(1, 2), (2, 3)], "duplicate"),
    Restore([(1, 2)], "kept"),
    Edit((1, 4), REC),
    Edit((1, 4), None),
    AddExample(REC, "chat", "train", {"source": "prod.jsonl", "line": 3, "note": "gap"}),
    Tag([(1, 1), (1, 2)], "review"),
    Untag([(1, 1)], "review"),
    SetWeight([(2, 3)], 2.5),
    Note((2, 3), "check the label"),
    Batch([Reject([(1, 5)], "a"), Tag([(1, 5)], "b")], "Reject all but keeper in 1 group"),
]


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda o: o.kind)
def test_json_round_trip_and_inverse_restores_state(op):
    assert Op.from_json(op.to_json()) == op
    json.loads(op.to_json())  # plain JSON
    state = CurationState(SHAS)
    # some prior state so inverses must restore values, not just clear them
    state.apply(Reject([(1, 2)], "old reason"))
    state.apply(Tag([(1, 2)], "review"))
    state.apply(SetWeight([(2, 3)], 4.0))
    state.apply(Note((2, 3), "old note"))
    state.apply(Edit((1, 4), {"messages": [{"role": "user", "content": "older"}]}))
    before = state.snapshot()
    resolved, changed = state.apply(op)
    assert Op.from_json(resolved.to_json()) == resolved  # the journal form round-trips too
    state.apply(resolved.inverse())
    assert state.snapshot() == before
    again, _ = state.apply(resolved)
    assert state.snapshot() != before or not changed


def test_labels_say_what_and_how_many():
    assert Reject([(1, i) for i in range(12)], "near-duplicate").label == "Reject 12 examples (near-duplicate)"
    assert Reject([(1, 1)]).label == "Reject 1 example"
    assert Restore([(1, 1), (1, 2)], "").label == "Restore 2 examples"
    assert Tag([(1, 1)], "pii").label == "Tag 1 example 'pii'"
    assert SetWeight([(1, 1), (1, 2)], 3).label == "Set weight 3 on 2 examples"
    assert AddExample(REC, "chat").label == "Add 1 train example"
    assert Batch([Reject([(1, 1)])], "Apply rebalance plan").label == "Apply rebalance plan"
    assert RemoveAdded(1, REC, "chat").label == "Remove 1 added example"


def test_ids_are_normalised_and_validated():
    import numpy as np

    op = Reject([(np.int32(1), np.int64(5)), [1, 5], (1, 6)], "x")
    assert op.ids == ((1, 5), (1, 6))  # plain ints, duplicates dropped, order kept
    with pytest.raises(ProjectError, match="Not an example id"):
        Reject([(1,)], "x")
    with pytest.raises(ProjectError, match="tag"):
        Tag([(1, 1)], "  ")
    with pytest.raises(ProjectError, match="Unknown schema"):
        AddExample(REC, "jsonl")
    with pytest.raises(ProjectError, match="Unknown op kind"):
        Op.from_json('{"kind": "teleport"}')


def test_ops_on_another_files_content_are_set_aside():
    state = CurationState(SHAS)
    resolved, _ = state.apply(Reject([(1, 1), (2, 1)], "x"))
    assert resolved.shas == ((1, SHAS[1]), (2, SHAS[2]))
    other = CurationState({1: "c" * 64, 2: SHAS[2]})  # source 1 changed since
    _, changed = other.apply(resolved)
    assert changed["rejected"] == {(2, 1)} and other.set_aside == 1
