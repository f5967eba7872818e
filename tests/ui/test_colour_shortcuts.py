"""The colour-by number keys are fixed per choice: adding a choice never moves the others' keys."""

from __future__ import annotations

from PySide6 import QtCore, QtTest

from tests.ui.conftest import open_files


def test_colour_by_number_keys_are_explicit_and_stable(qtbot, window, small_sample, tmp_path):
    from workbench.ui import actions, colouring

    open_files(qtbot, window, small_sample, tmp_path / "keys.wbproj")
    acts = window.actions
    acts.refresh_colour_choices()

    def keys():
        return {k: a.shortcut().toString() for k, a in acts.colour_actions.items() if not a.shortcut().isEmpty()}

    assert keys() == colouring.SHORTCUT_KEYS  # every base choice has its own key, by name
    # a choice added in front of the others (as "snapshot" once was, in the middle) moves no key
    base = list(colouring.BASE_CHOICES)
    try:
        colouring.BASE_CHOICES.insert(1, ("extra:topic", "Column: topic"))
        acts.refresh_colour_choices()
        assert keys() == colouring.SHORTCUT_KEYS
    finally:
        colouring.BASE_CHOICES[:] = base
    acts.refresh_colour_choices()
    shown = [a.shortcut().toString() for a in acts.colour_actions.values() if not a.shortcut().isEmpty()]
    assert len(shown) == len(set(shown))  # no key twice
    assert "1 … 8" in actions.SHORTCUTS_HELP and str(len(colouring.SHORTCUT_KEYS)) == "8"

    window.activateWindow()
    QtTest.QTest.qWaitForWindowActive(window, 2000)
    window.map.gv.setFocus()
    QtTest.QTest.keyClick(window.map.gv, QtCore.Qt.Key_2)
    qtbot.waitUntil(lambda: window.colour_key == "role", timeout=3000)
    QtTest.QTest.keyClick(window.map.gv, QtCore.Qt.Key_8)
    qtbot.waitUntil(lambda: window.colour_key == "snapshot", timeout=3000)
    QtTest.QTest.keyClick(window.map.gv, QtCore.Qt.Key_1)
    qtbot.waitUntil(lambda: window.colour_key == "cluster", timeout=3000)
