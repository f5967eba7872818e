"""The shared selection model."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def test_modes_and_current(qtbot):
    from workbench.ui.selection import SelectionModel

    s = SelectionModel()
    s.reset(100)
    origins = []
    s.sig_changed.connect(origins.append)
    s.set([5, 3, 3, 200, -1], origin="map")  # duplicates and out-of-range rows are dropped
    assert s.rows.tolist() == [3, 5]
    assert s.current == 3  # first selected row when the old current is gone
    s.set([7], origin="table", mode="add")
    assert s.rows.tolist() == [3, 5, 7]
    assert s.current == 3  # still selected, so it stays current
    s.set([3], origin="table", mode="remove")
    assert s.rows.tolist() == [5, 7]
    s.set([5, 9], mode="toggle")
    assert s.rows.tolist() == [7, 9]
    assert s.mask().sum() == 2 and s.mask()[9]
    s.set([42])
    assert s.current == 42
    s.clear("menu")
    assert len(s) == 0 and s.current == -1
    assert origins[:2] == ["map", "table"]


def test_resize_keeps_selection_inside(qtbot):
    from workbench.ui.selection import SelectionModel

    s = SelectionModel()
    s.reset(10)
    s.set(np.arange(10))
    s.resize(5)
    assert s.rows.tolist() == [0, 1, 2, 3, 4]
    assert len(s.mask()) == 5
