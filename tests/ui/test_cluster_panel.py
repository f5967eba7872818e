"""The Clusters panel's Rename and Merge on a real window over a real analysis of sample data:
journalled, shown at once in the panel, the map's labels and colouring, undone by Ctrl+Z."""

from __future__ import annotations

from PySide6 import QtWidgets

from tests.ui.conftest import analyse, open_files


def _select(panel, findings):
    panel.tree.clearSelection()
    for k in range(panel.tree.topLevelItemCount()):
        it = panel.tree.topLevelItem(k)
        if any(panel.findings[it.data(0, 0x0100 + 1)] is f for f in findings):
            it.setSelected(True)


def test_rename_and_merge_from_the_clusters_panel(qtbot, window, small_sample, tmp_path, monkeypatch):
    win = window
    s = win.session
    open_files(qtbot, win, small_sample, tmp_path / "p.wbproj")
    analyse(qtbot, win)
    panel = next(p for p in win.panels if p.title == "Clusters")
    n0 = len(panel.findings)
    assert n0 >= 3
    big = sorted(panel.findings, key=lambda f: -len(f.rows))[:2]
    ids = [panel._cid(f) for f in big]
    members = sum(len(f.rows) for f in big)

    answers = iter([("Everyday questions", True), ("Merged topics", True)])
    monkeypatch.setattr(QtWidgets.QInputDialog, "getText", staticmethod(lambda *a, **k: next(answers)))
    _select(panel, [big[1]])
    assert panel.rename_btn.isEnabled() and not panel.merge_btn.isEnabled()
    panel.rename_btn.click()
    assert s.analysis.cluster_labels[ids[1]] == "Everyday questions"
    assert any(f.title == "Everyday questions" for f in panel.findings)

    big = [next(f for f in panel.findings if panel._cid(f) == c) for c in ids]  # the list was redrawn
    _select(panel, big)
    assert panel.merge_btn.isEnabled()
    panel.merge_btn.click()
    a = s.analysis
    assert len(panel.findings) == n0 - 1
    assert int((a.cluster == ids[0]).sum()) == members and not (a.cluster == ids[1]).any()
    assert a.cluster_labels[ids[0]] == "Merged topics" == a.cluster_labels[ids[1]]
    assert s.project.undo_label.startswith("Merge clusters")

    s.undo()
    assert len(panel.findings) == n0 and s.analysis.cluster_labels[ids[1]] == "Everyday questions"
    s.undo()
    assert s.analysis.cluster_labels[ids[1]] == s.analysis.analysis_labels[ids[1]]
