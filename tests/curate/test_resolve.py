"""Choosing a conflict's canonical answer (curate/resolve.py) on the analysed sample project:
the members answering differently are rejected in ONE undoable op, the same answers stay."""

from __future__ import annotations

import numpy as np

from workbench.curate import actions, resolve


def test_canonical_answer_rejects_exactly_the_differing_members(loaded):
    p, ws, a = loaded
    assert a.conflicts, "the sample has conflicts"
    roles = np.asarray(ws.role, dtype=object)
    checked = 0
    for f in a.conflicts[:10]:
        rows = [int(r) for r in f.rows]
        canon = resolve.majority(ws, rows)
        assert canon in rows
        want = resolve.normalise_answer(ws.response[canon])
        n_same = sum(resolve.normalise_answer(ws.response[r]) == want for r in rows)
        assert all(sum(resolve.normalise_answer(ws.response[r]) == resolve.normalise_answer(ws.response[q])
                       for q in rows) <= n_same for r in rows)  # nobody's answer is more common
        sel = resolve.canonical(ws, rows, canon)
        out = set(sel.rows.tolist())
        for r in rows:
            differs = resolve.normalise_answer(ws.response[r]) != want
            expected = r != canon and differs and roles[r] in ("train", "reference") and not ws.rejected[r]
            assert (r in out) == expected
        if out:
            plan = actions.reject(ws, sel)
            n = p.undo_count
            plan.apply(p)
            assert p.undo_count == n + 1
            ws2 = p.load()
            assert all(ws2.rejected[r] for r in out) and not ws2.rejected[canon]
            assert "canonical answer" in ws2.reject_reason(next(iter(out)))
            p.undo()
            assert not any(p.load().rejected[r] for r in out)
            checked += 1
    assert checked, "no conflict had a differing member to reject"


def test_normalise_answer_ignores_case_space_and_trailing_punctuation():
    assert resolve.normalise_answer("  Card_Arrival. ") == resolve.normalise_answer("card_arrival")
    assert resolve.normalise_answer("yes") != resolve.normalise_answer("no")
