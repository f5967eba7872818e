"""Curation actions (curate/actions.py) on every sample_data file, analysed with the real model:
each rule selects what it says, each action is ONE journal op, and undo takes it back."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.analysis.duplicates import REMOVABLE_ROLES
from workbench.core.errors import InputError
from workbench.curate import actions
from workbench.project import Project


def _one_step(p, plan):
    """Apply a plan; it must be exactly one journal op, taken back by one undo."""
    before = p.state.snapshot()
    n_before = p.undo_count
    change = plan.apply(p)
    assert p.undo_count == n_before + 1
    after = p.state.snapshot()
    assert after != before
    p.undo()
    assert p.state.snapshot() == before
    p.redo()
    assert p.state.snapshot() == after
    return change


def test_removable_duplicate_rule_is_the_analysis_rule(loaded):
    p, ws, a = loaded
    assert a.duplicates, "the sample has duplicate groups"
    roles = np.asarray(ws.role, dtype=object)
    listed = [g for g in a.duplicates if "removable" in g.data]
    assert listed
    for g in listed:  # with nothing rejected, the core rule gives the analysis' own removable list
        assert set(actions.removable_rows(ws, g.rows, g.keeper).tolist()) == set(a.rows(g.data["removable"]).tolist())
    sel = actions.duplicates(ws, a)
    rows = sel.rows
    assert len(rows) > 0
    assert set(roles[rows]) <= REMOVABLE_ROLES  # eval and production rows are never removed
    assert not np.isin(rows, [g.keeper for g in a.duplicates]).any()
    change = _one_step(p, actions.reject(ws, sel, "dedupe"))
    assert ws.rejected[rows].all()
    assert len(change.changed["rejected"]) == len(rows)
    # every group keeps its keeper; a second run has nothing left to do
    assert not ws.rejected[[g.keeper for g in a.duplicates]].any()
    again = actions.reject(ws, actions.duplicates(ws, a), "dedupe")
    assert again.op is None and "Nothing to reject" in again.message
    # restore takes exactly those back (also one op)
    restored = actions.restore(ws, actions.duplicates(ws, a, include_rejected=True), "keep them")
    assert set(restored.ids) == {ws.example_id(int(r)) for r in rows}
    _one_step(p, restored)
    assert not ws.rejected.any()


def test_leaked_copies_are_training_rows_and_every_named_match_goes(loaded):
    p, ws, a = loaded
    roles = np.asarray(ws.role, dtype=object)
    assert a.leaked.any()
    rows = actions.leaked_copies(ws, a)
    assert len(rows) > 0 and set(roles[rows]) <= REMOVABLE_ROLES
    for f in a.leakage:  # the finding's training match is always among them
        for r in f.rows:
            if roles[r] in REMOVABLE_ROLES:
                assert r in rows
    _one_step(p, actions.reject(ws, actions.leaked(ws, a), "eval hygiene"))
    assert ws.rejected[rows].all()
    assert not ws.rejected[roles == "eval"].any()  # the yardstick stays
    # the chosen findings only (as the app's Leakage panel does)
    p.undo()
    some = actions.leaked_copies(ws, a, a.leakage[:1])
    assert 1 <= len(some) <= len(rows)
    assert len(a.leakage) > 1 and len(some) < len(rows)  # one finding's rows, not every finding's
    # exactly: the first finding's training rows, plus the trainable members of its eval row's
    # duplicate group — and nothing of the other findings
    first = a.leakage[0]
    want = {int(r) for r in first.rows if roles[r] in REMOVABLE_ROLES}
    for r in first.rows:
        if roles[r] == "eval" and a.dup_group[r] >= 0:
            want |= {int(j) for j in np.flatnonzero(np.asarray(a.dup_group) == a.dup_group[r])
                     if roles[j] in REMOVABLE_ROLES}
    assert set(some.tolist()) == want and set(some.tolist()) <= set(rows.tolist())


def test_flag_cluster_query_and_lines_select_what_they_name(loaded, tmp_path):
    p, ws, a = loaded
    name = max(a.flag_counts, key=a.flag_counts.get)
    sel = actions.flagged(ws, a, [name])
    assert all(name in a.flags[r] for r in sel.rows) and len(sel) == a.flag_counts[name]
    with pytest.raises(InputError, match="no_such_flag"):
        actions.flagged(ws, a, ["no_such_flag"])
    _one_step(p, actions.reject(ws, sel, "flag"))

    cid = int(a.cluster[a.cluster >= 0][0])
    sel = actions.in_clusters(ws, a, [cid], roles=["train"])
    assert (a.cluster[sel.rows] == cid).all() and (np.asarray(ws.role)[sel.rows] == "train").all()
    with pytest.raises(InputError, match="no cluster 9999"):
        actions.in_clusters(ws, a, [9999])

    sel = actions.matching(ws, "CARD", roles=["train"])
    assert len(sel) > 0 and all("card" in (ws.prompt[r] + ws.response[r]).lower() for r in sel.rows)

    listing = tmp_path / "lines.txt"
    listing.write_text("# rows to drop\ntrain_banking_chat.jsonl:5\n2:7\n"
                       '{"source": "train_banking_chat.jsonl", "line": 6}\n\n', encoding="utf-8")
    sel = actions.read_refs(ws, listing)
    assert sorted(ws.example_id(int(r)) for r in sel.rows) == [(1, 5), (1, 6), (2, 7)]
    change = _one_step(p, actions.reject(ws, sel, "manual"))
    assert change.label == "Reject 3 examples (manual; listed in lines.txt)"
    bad = tmp_path / "bad.txt"
    bad.write_text("train_banking_chat.jsonl:5\nnope.jsonl:1\ntrain_banking_chat.jsonl:999999\n1:x\n")
    with pytest.raises(InputError) as info:
        actions.read_refs(ws, bad)
    msg = info.value.user_message
    assert f"{bad}:2: no source 'nope.jsonl'" in msg and f"{bad}:3:" in msg and f"{bad}:4: line 'x'" in msg


def test_promote_a_production_input_with_a_written_response(loaded):
    p, ws, a = loaded
    row = int(np.flatnonzero(np.asarray(ws.role) == "production")[0])
    with pytest.raises(InputError, match="must not be empty"):
        actions.promote_op(ws, row, "   ")
    op = actions.promote_op(ws, row, "Your card arrives within 3 working days.", system="Be brief.")
    n = ws.n
    change = p.apply(op)
    assert ws.n == n + 1 and change.structural
    new = ws.n - 1
    assert ws.role[new] == "train" and ws.prompt[new] == ws.prompt[row]
    assert ws.response[new] == "Your card arrives within 3 working days."
    prov = ws.provenance(new)
    assert (prov["source_id"], prov["line"]) == ws.example_id(row) and prov["role"] == "production"
    p.undo()
    assert ws.n == n


def test_lines_tell_same_named_sources_apart(tmp_path):
    import shutil

    from tests.conftest import SAMPLE

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(SAMPLE / "train_banking_chat.jsonl", tmp_path / folder / "train.jsonl")
    with Project.create(tmp_path / "two.wbproj") as p:
        a = p.add_source(tmp_path / "a" / "train.jsonl", "train")
        b = p.add_source(tmp_path / "b" / "train.jsonl", "train")
        ws = p.load()
        listing = tmp_path / "l.txt"
        listing.write_text(f"b/train.jsonl:3\na/train.jsonl:4\n{a.id}:5\n")
        sel = actions.read_refs(ws, listing)
        assert sorted(ws.example_id(int(r)) for r in sel.rows) == [(a.id, 4), (a.id, 5), (b.id, 3)]
        listing.write_text("train.jsonl:3\n")
        with pytest.raises(InputError, match="names several sources"):
            actions.read_refs(ws, listing)
