"""Property test of the journal: random curator sessions on real sample records.

For any sequence of ops (with undo/redo mixed in): undoing everything gives back the original
state, redoing everything gives back the state before the undo, closing and reopening gives the
same state, and the workspace kept current incrementally equals a freshly loaded one.
"""

from __future__ import annotations

import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.project.helpers import make_project, ws_view
from workbench.core.errors import ProjectError
from workbench.project import Project
from workbench.project.journal import AddExample, Batch, Edit, Note, Reject, Restore, SetWeight, Tag, Untag

# A small pool of real ids so ops collide: lines 1..6 of each source, plus added examples 1..3.
POOL = [(s, line) for s in (1, 2, 3) for line in range(1, 7)] + [(0, 1), (0, 2), (0, 3)]
TEXT = st.text(alphabet=string.ascii_letters + " ", min_size=0, max_size=12).map(lambda t: "x" + t)
IDS = st.lists(st.sampled_from(POOL), min_size=1, max_size=5)


def _edit_record(ws, eid, text):
    """A real record of the example with its response (or text) replaced by ``text``."""
    rec = ws.record(ws.index_of(eid))
    schema = ws.schema_of(ws.index_of(eid))
    if schema == "chat":
        rec["messages"][-1]["content"] = text
    elif schema == "alpaca":
        rec["output"] = text
    else:
        rec["text"] = text
    return rec


simple_op = st.one_of(
    st.builds(lambda ids, r: ("reject", ids, r), IDS, st.sampled_from(["duplicate", "off-topic", ""])),
    st.builds(lambda ids, r: ("restore", ids, r), IDS, st.sampled_from(["kept after review", ""])),
    st.builds(lambda ids, t: ("tag", ids, t), IDS, st.sampled_from(["review", "pii", "good"])),
    st.builds(lambda ids, t: ("untag", ids, t), IDS, st.sampled_from(["review", "pii", "good"])),
    st.builds(lambda ids, w: ("weight", ids, w), IDS, st.sampled_from([0.0, 1.0, 2.0, 3.5])),
    st.builds(lambda i, t: ("note", i, t), st.sampled_from(POOL), st.one_of(TEXT, st.just(""))),
    st.builds(lambda i, t: ("edit", i, t), st.sampled_from(POOL), st.one_of(TEXT, st.none())),
    st.builds(lambda row, t: ("add", row, t), st.integers(0, 538), TEXT),
)
action = st.one_of(
    simple_op,
    st.builds(lambda ops: ("batch", ops), st.lists(simple_op, min_size=1, max_size=3)),
    st.just(("undo",)),
    st.just(("redo",)),
)


def _build(ws, spec):
    kind = spec[0]
    if kind == "reject":
        return Reject(spec[1], spec[2])
    if kind == "restore":
        return Restore(spec[1], spec[2])
    if kind == "tag":
        return Tag(spec[1], spec[2])
    if kind == "untag":
        return Untag(spec[1], spec[2])
    if kind == "weight":
        return SetWeight(spec[1], spec[2])
    if kind == "note":
        return Note(spec[1], spec[2])
    if kind == "edit":
        eid, text = spec[1], spec[2]
        if not ws.has(eid):
            return Edit(eid, {"messages": []})  # refused: unknown example
        return Edit(eid, None if text is None else _edit_record(ws, eid, text))
    if kind == "add":
        prod = ws.rows_of_source(3).start + spec[1]
        record = {"messages": [{"role": "user", "content": ws.prompt[prod]},
                               {"role": "assistant", "content": spec[2]}], "label": ws.extra["label"][prod]}
        return AddExample(record, "chat", "train", {"source": "production_banking.jsonl",
                                                    "line": int(ws.line[prod]), "note": "promoted"})
    if kind == "batch":
        return Batch([_build(ws, s) for s in spec[1]], f"batch of {len(spec[1])}")
    raise AssertionError(kind)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(action, min_size=1, max_size=25))
def test_random_sessions_undo_redo_reopen(actions):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prop.wbproj"
        p = make_project(path, fast=True)
        ws = p.load()
        original_state = p.state.snapshot()
        original_view = ws_view(ws)
        for spec in actions:
            before_rev, before_state = p.revision, p.state.snapshot()
            if spec[0] == "undo":
                p.undo()
            elif spec[0] == "redo":
                p.redo()
            else:
                try:
                    p.apply(_build(ws, spec))
                except ProjectError:
                    # refused (an id that does not exist): nothing journalled, nothing changed
                    assert p.revision == before_rev
                    assert p.state.snapshot() == before_state
        final_state, final_view = p.state.snapshot(), ws_view(ws)
        # the incrementally refreshed workspace equals a fresh load
        assert ws_view(p.load()) == final_view
        ws = p.workspace

        n_done, n_redo = p.undo_count, p.redo_count
        while p.can_undo:
            assert p.undo() is not None
        assert p.undo() is None
        assert p.state.snapshot() == original_state
        assert ws_view(ws) == original_view

        assert p.redo_count == n_done + n_redo
        for _ in range(n_done):
            p.redo()
        assert p.redo_count == n_redo
        assert p.state.snapshot() == final_state
        assert ws_view(ws) == final_view
        p.close()

        with Project.open(path) as q:
            assert q.state.snapshot() == final_state
            assert ws_view(q.load()) == final_view
            # the undo stack survives reopening
            while q.can_undo:
                q.undo()
            assert q.state.snapshot() == original_state
        with Project.open(path, read_only=True) as r:
            assert r.state.snapshot() == original_state
            assert r.can_redo is False  # read-only: no changes, but the stack is there
            assert r.redo_count == n_done + n_redo
