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
