"""File ▸ Remove a source… and Change a source's role… in a real window on sample data: the
project changes (journalled), the workspace and the stored analysis are read again."""

from __future__ import annotations

from PySide6 import QtWidgets

from tests.ui.conftest import analyse, open_files


def _menu_action(win, text):
    for a in win.menuBar().actions()[0].menu().actions():
        if a.text().replace("&", "") == text:
            return a
    raise AssertionError(f"no File action {text!r}")


def test_remove_source_and_change_role_from_the_file_menu(qtbot, window, small_sample, tmp_path, monkeypatch):
    win = window
    s = win.session
    open_files(qtbot, win, small_sample, tmp_path / "p.wbproj")
    analyse(qtbot, win)
    n0 = s.ws.n
    prod = next(i for i in s.project.sources if i.role == "production")
    ev = next(i for i in s.project.sources if i.role == "eval")

    def pick(name, then=None):
        def get_item(parent, title, label, items, *a, **k):
            if then is not None and "New role" in label:
                return then, True
            return next(t for t in items if t.startswith(name + " ")), True
        return get_item

    monkeypatch.setattr(QtWidgets.QInputDialog, "getItem", staticmethod(pick(prod.name)))
    monkeypatch.setattr(QtWidgets.QMessageBox, "question", staticmethod(lambda *a, **k: QtWidgets.QMessageBox.Yes))
    with qtbot.waitSignal(s.sig_workspace, timeout=60_000):
        _menu_action(win, "Remove a source…").trigger()
    assert s.ws.n == n0 - prod.rows and prod.id not in {i.id for i in s.project.sources}
    qtbot.waitUntil(lambda: s.analysis is not None and s.analysis.n == s.ws.n, timeout=120_000)
    assert any(e.label.startswith("Remove production source") for e in s.project.history())

    monkeypatch.setattr(QtWidgets.QInputDialog, "getItem", staticmethod(pick(ev.name, then="production")))
    with qtbot.waitSignal(s.sig_workspace, timeout=60_000):
        _menu_action(win, "Change a source's role…").trigger()
    assert s.project.source(ev.id).role == "production"
    assert set(s.ws.role[s.ws.source_id == ev.id]) == {"production"}
