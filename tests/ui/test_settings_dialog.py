"""Analysis settings: the wheel never changes an unfocused field; every field has a plain label and
a tooltip; device and analysis unit are there and round-trip."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def _wheel(widget, steps: int = -3):
    from PySide6 import QtCore, QtGui, QtWidgets

    pos = QtCore.QPointF(widget.rect().center())
    ev = QtGui.QWheelEvent(pos, QtCore.QPointF(widget.mapToGlobal(widget.rect().center())), QtCore.QPoint(0, 0),
                           QtCore.QPoint(0, 120 * steps), QtCore.Qt.NoButton, QtCore.Qt.NoModifier,
                           QtCore.Qt.NoScrollPhase, False)
    QtWidgets.QApplication.sendEvent(widget, ev)


def test_wheel_over_unfocused_threshold_changes_nothing(qtbot):
    from workbench.analysis.pipeline import AnalysisParams
    from workbench.ui.settings_dialog import AnalysisSettingsDialog

    dlg = AnalysisSettingsDialog(AnalysisParams(), device="cpu", unit="all_user")
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    ed = dlg.editors["near_dup_threshold"]
    before = ed.value()
    dlg.device.setFocus()
    _wheel(ed)
    assert ed.value() == before  # 0.95 stays 0.95
    ed.setFocus()
    qtbot.waitUntil(ed.hasFocus)
    _wheel(ed, -1)
    assert ed.value() != before  # focused: the wheel is for this field now


def test_labels_tooltips_device_unit_round_trip(qtbot):
    from PySide6 import QtWidgets

    from workbench.analysis.pipeline import AnalysisParams
    from workbench.ui.settings_dialog import AnalysisSettingsDialog

    params = AnalysisParams()
    dlg = AnalysisSettingsDialog(params, device="cpu", unit="all_user")
    qtbot.addWidget(dlg)
    form = dlg.findChild(QtWidgets.QFormLayout)
    labels = [form.itemAt(i, QtWidgets.QFormLayout.LabelRole).widget().text() for i in range(form.rowCount())]
    assert "Encoder device" in labels and "Analysis unit" in labels
    assert not any("_" in t for t in labels)  # plain words, not parameter names
    assert all(ed.toolTip() for ed in dlg.editors.values())
    assert dlg.device_value() == "cpu" and dlg.unit_value() == "all_user"
    values = dlg.values()
    assert AnalysisParams.from_dict(values) == params  # unchanged fields give the same parameters back
    dlg.editors["near_dup_threshold"].setValue(0.9)
    assert dlg.values()["near_dup_threshold"] == pytest.approx(0.9)
