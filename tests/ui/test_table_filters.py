"""The table's filters on real sample data: role, state and tag filters combine (and) with each
other and with the keyword search; choices of one kind add up (or)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.ui.conftest import open_files

pytestmark = pytest.mark.gui


def test_filters_combine_with_each_other_and_with_search(qtbot, window, small_sample, tmp_path):
    from workbench.project.journal import Reject, Tag

    win, s = window, window.session
    open_files(qtbot, win, small_sample, tmp_path / "f.wbproj")
    ws = s.ws
    roles = np.asarray(ws.role, dtype=object)
    card = np.array(["card" in (p or "").lower() or "card" in (r or "").lower() for p, r in zip(ws.prompt, ws.response)])
    train_card = np.flatnonzero((roles == "train") & card)
    s.apply(Reject(s.ids_of(train_card[:5]), "test"))
    s.apply(Tag(s.ids_of(train_card[3:9]), "check"))
    t = win.table
    menu = t.filters

    def shown():
        return set(int(r) for r in t.model.rows)

    menu.set_choice("role", "train")
    assert shown() == set(np.flatnonzero(roles == "train").tolist())
    menu.set_choice("role", "eval")  # same kind: or
    assert shown() == set(np.flatnonzero(np.isin(roles, ["train", "eval"])).tolist())
    menu.set_choice("role", "eval", False)
    menu.set_choice("state", "rejected")  # another kind: and
    assert shown() == set(train_card[:5].tolist())
    menu.set_choice("tag", "check")
    assert shown() == set(train_card[3:5].tolist())
    assert "train" in t.filter_btn.text() and "rejected" in t.filter_btn.text()
    menu.set_choice("state", "rejected", False)
    menu.set_choice("state", "kept")
    assert shown() == set(train_card[5:9].tolist())
    t.search.setText("card")  # the search combines with the filters
    t._run_filter()
    assert shown() == set(train_card[5:9].tolist())
    t.search.setText("zzzz-not-there")
    t._run_filter()
    assert shown() == set()
    t.search.setText("")
    t._run_filter()
    menu.clear_all()
    assert len(shown()) == ws.n and t.filter_btn.text() == "Filter"


def test_search_box_still_applies_after_rows_are_added(qtbot, window, small_sample, tmp_path):
    """Promoting an input adds a row: the keyword filter typed in the box is run again over the
    new rows, and a meaning query shown is asked again (before, the list silently showed every
    example under the old text)."""
    from workbench.project.journal import AddExample

    win, s = window, window.session
    open_files(qtbot, win, small_sample, tmp_path / "again.wbproj")
    t = win.table
    ws = s.ws
    n0 = ws.n
    t.search.setText("card")
    t._run_filter()
    want = {i for i in range(n0) if "card" in (ws.prompt[i] or "").lower() or "card" in (ws.response[i] or "").lower()}
    assert {int(r) for r in t.model.rows} == want
    record = {"messages": [{"role": "user", "content": "My card is stuck in the machine"},
                           {"role": "assistant", "content": "card_swallowed"}]}
    s.apply(AddExample(record, "chat"))
    assert s.ws.n == n0 + 1
    assert {int(r) for r in t.model.rows} == want | {s.ws.n - 1}  # the new row matches too

    qtbot.waitUntil(lambda: s.vectors is not None or not s.jobs.running(), timeout=120_000)
    t.mode.setCurrentIndex(2)
    qtbot.waitUntil(lambda: t.model.similarity is not None and t.model.rowCount() > 0, timeout=120_000)
    s.apply(AddExample({"messages": [{"role": "user", "content": "Where is my new card?"},
                                     {"role": "assistant", "content": "card_arrival"}]}, "chat"))
    qtbot.waitUntil(lambda: t.model.similarity is not None and len(t.model.similarity) == s.ws.n
                    and t.model.rowCount() > 0, timeout=120_000)
    assert t.model.rowCount() < s.ws.n  # the query's closest examples, not every row
    assert t.model.columns[0].key == "similarity"
