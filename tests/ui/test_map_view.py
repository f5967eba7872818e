"""The map widget under real mouse events: a click on a point opens it (through the hover ring),
Shift/Ctrl-click adds, rows without a position are never drawn and never reach a view as NaN."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def map_view(qtbot):
    from workbench.ui.map_view import MapView

    m = MapView()
    qtbot.addWidget(m)
    m.resize(600, 500)
    m.show()
    qtbot.waitExposed(m)
    gx, gy = np.meshgrid(np.arange(10, dtype=np.float32), np.arange(8, dtype=np.float32))
    x, y = gx.ravel(), gy.ravel()
    x = np.append(x, np.float32(np.nan))  # a row added after the analysis: no place on the map
    y = np.append(y, np.float32(np.nan))
    m.set_points(x, y)
    qtbot.wait(50)
    return m


def _pos(m, row):
    from PySide6 import QtCore

    return m.gv.mapFromScene(m.vb.mapViewToScene(QtCore.QPointF(float(m._x[row]), float(m._y[row]))))


def _click(qtbot, m, row, mods=None):
    from PySide6 import QtCore, QtTest

    p = _pos(m, row)
    QtTest.QTest.mouseMove(m.gv.viewport(), p)  # hover first: the ring appears under the cursor
    qtbot.wait(30)
    QtTest.QTest.mouseClick(m.gv.viewport(), QtCore.Qt.LeftButton, mods or QtCore.Qt.NoModifier, p)
    qtbot.wait(30)


def test_click_on_a_hovered_point_opens_it(qtbot, map_view):
    m = map_view
    opened, selected = [], []
    m.sig_activate.connect(opened.append)
    m.sig_select.connect(lambda rows, mode: selected.append((rows.tolist(), mode)))
    _click(qtbot, m, 23)
    assert m._hover_row == 23  # the hover ring sat on the point the click went to
    assert opened == [23]
    assert selected[-1] == ([23], "replace")


@pytest.mark.parametrize("mod", ["ShiftModifier", "ControlModifier"])
def test_shift_or_ctrl_click_adds_to_the_selection(qtbot, map_view, mod):
    from PySide6 import QtCore

    m = map_view
    opened, selected = [], []
    m.sig_activate.connect(opened.append)
    m.sig_select.connect(lambda rows, mode: selected.append((rows.tolist(), mode)))
    _click(qtbot, m, 5, getattr(QtCore.Qt, mod))
    assert selected[-1] == ([5], "toggle")
    assert opened == []  # adding does not open


def test_click_on_empty_space_clears(qtbot, map_view):
    from PySide6 import QtCore, QtTest

    m = map_view
    selected = []
    m.sig_select.connect(lambda rows, mode: selected.append((rows.tolist(), mode)))
    p = _pos(m, 0)
    q = _pos(m, 1)
    mid = QtCore.QPoint((p.x() + q.x()) // 2, p.y())
    QtTest.QTest.mouseClick(m.gv.viewport(), QtCore.Qt.LeftButton, QtCore.Qt.NoModifier, mid)
    assert selected[-1] == ([], "replace")


def test_density_and_zoom_ignore_rows_without_a_position(qtbot, map_view):
    m = map_view
    x, y = m._x.copy(), m._y.copy()
    m.set_density(x, y)  # used to raise "supplied range of [nan, nan] is not finite"
    m.show_density(True)
    assert m.density.isVisible()
    img = m.density.image
    assert img is not None and np.isfinite(img.astype(float)).all() and img[..., 3].max() > 0
    m.zoom_to(np.array([len(x) - 1, 3]))  # the unplaced row is skipped
    r = m.vb.viewRange()
    assert all(np.isfinite(v) for pair in r for v in pair)
    assert m.row_at(float("nan"), float("nan")) == -1
