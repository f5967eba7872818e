"""A whole curator session in the window, on real sample data with the real encoder and analysis:

open -> embed -> analyse -> select a duplicate group -> reject all but keeper -> undo -> redo ->
edit a turn -> export -> the exported files reflect exactly those actions; then reopening the
project restores everything.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.ui.conftest import analyse, open_files

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def _exported_lines(folder, source_name):
    path = folder / (source_name.rsplit(".", 1)[0] + ".train.jsonl")
    return path.read_text(encoding="utf-8").splitlines()


def test_whole_curator_session(qtbot, window, small_sample, tmp_path):
    from PySide6 import QtCore

    win, s = window, window.session
    project = tmp_path / "session.wbproj"
    open_files(qtbot, win, small_sample, project)
    assert win.center.currentWidget() is win.tabs and win.tabs.currentWidget() is win.map  # the welcome pane gave way
    n = s.ws.n

    # embed + analyse (Ctrl+R); the status bar names the encoder device
    analyse(qtbot, win)
    assert win.status.device.text() in ("Encoder: CPU", "Encoder: CUDA GPU")
    assert win.table.model.rowCount() == n

    # select a duplicate group in the Duplicates panel: the map, table and example follow
    panel = next(p for p in win.panels if p.title == "Duplicates")
    k = next(i for i, f in enumerate(panel.findings) if len(panel.removable(f)) > 0)
    group = panel.findings[k]
    item = next(panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())
                if panel.tree.topLevelItem(i).data(0, QtCore.Qt.UserRole + 1) == k)
    panel.tree.setCurrentItem(item)
    assert s.selection.rows.tolist() == sorted(group.rows.tolist())
    assert s.selection.current == group.keeper
    assert win.example.row == group.keeper
    assert np.array_equal(np.flatnonzero(win.map.points._selected), np.sort(group.rows))
    shown = {int(win.table.model.rows[i.row()]) for i in win.table.view.selectionModel().selectedRows()}
    assert shown == set(group.rows.tolist())

    # reject all but the keeper (one undoable step named after the action)
    removable = panel.removable(group)
    panel.reject_one.click()
    assert set(np.flatnonzero(s.ws.rejected).tolist()) == set(removable.tolist())
    assert not s.ws.rejected[group.keeper]
    assert win.actions.undo.text().startswith("&Undo Reject")
    assert "rejected" in win.status.counts.text() and f"{len(removable)} rejected" in win.status.counts.text()

    # undo / redo through the menu actions
    win.actions.undo.trigger()
    assert not s.ws.rejected.any()
    assert win.actions.redo.isEnabled()
    win.actions.redo.trigger()
    assert set(np.flatnonzero(s.ws.rejected).tolist()) == set(removable.tolist())

    # edit a turn of a banking chat example in the example panel
    row = next(i for i in range(n) if s.ws.source_names[i] == "train_banking_chat.jsonl" and not s.ws.rejected[i])
    s.selection.set([row], origin="table", current=row)
    assert win.example.row == row
    assistant = next(e for e in win.example.editors if e.role == "assistant")
    old_answer = assistant.toPlainText()
    assistant.setPlainText("card_arrival_checked")
    assert win.example.save_btn.isEnabled()
    win.example.save_btn.click()
    assert s.ws.edited[row] and s.ws.response[row] == "card_arrival_checked"
    assert win.actions.undo.text() == "&Undo Edit 1 example"

    # export through the Export dialog (source format, no split)
    from workbench.ui.export_dialog import ExportDialog

    out = tmp_path / "export"
    dlg = ExportDialog(s, win)
    qtbot.addWidget(dlg)
    dlg.folder.setText(str(out))
    dlg.report.setChecked(False)
    with qtbot.waitSignal(dlg.sig_done, timeout=120_000) as blocker:
        dlg.export_btn.click()
    result = blocker.args[0]
    assert result.manifest_path.exists()

    # the exported files are exactly the sources minus the rejected rows, with the edit
    for src in s.project.sources:
        if src.role != "train":
            continue
        rows = np.flatnonzero(s.ws.source_id == src.id)
        kept = [int(r) for r in rows if not s.ws.rejected[r]]
        lines = _exported_lines(out, src.name)
        assert len(lines) == len(kept)
        raw = open(src.path, encoding="utf-8").read().splitlines()
        for r, line in zip(kept, lines):
            original = raw[int(s.ws.line[r]) - 1]
            if r == row:
                rec = json.loads(line)
                assert rec["messages"][-1]["content"] == "card_arrival_checked"
                assert json.loads(original)["messages"][-1]["content"] == old_answer
            else:
                assert json.loads(line) == json.loads(original)
    rejected_rows = np.flatnonzero(s.ws.rejected)
    assert result.manifest["counts"]  # the manifest accounts for the session
    assert len(rejected_rows) == len(removable)

    # reopening restores the curation state and the analysis without recomputing it
    rejected_ids = set(s.ids_of(rejected_rows))
    edited_id = s.ws.example_id(row)
    s.close()
    with qtbot.waitSignal(s.sig_analysis, timeout=60_000, check_params_cb=lambda: s.analysis is not None):
        assert s.open_project(project)
    assert set(s.ids_of(np.flatnonzero(s.ws.rejected))) == rejected_ids
    r2 = s.ws.index_of(edited_id)
    assert s.ws.edited[r2] and s.ws.response[r2] == "card_arrival_checked"
    assert not s.jobs["analyse"].busy  # shown from the saved result, not re-run
    assert win.map.n_points == s.ws.n
    assert s.project.undo_label == "Edit 1 example"


@pytest.mark.filterwarnings("error:overflow encountered in cast:RuntimeWarning")
def test_map_and_table_selection_are_linked(qtbot, window, small_sample, tmp_path):
    from PySide6 import QtCore

    win, s = window, window.session
    open_files(qtbot, win, small_sample, tmp_path / "link.wbproj")
    analyse(qtbot, win)
    a = s.analysis
    # lasso on the map: a polygon around the first cluster's centre
    rows_c0 = a.clusters[0].rows
    cx, cy = float(np.median(a.x[rows_c0])), float(np.median(a.y[rows_c0]))
    r = 0.6
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    poly = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)
    win.map._on_region("lasso", poly, "replace")
    want = np.flatnonzero((a.x - cx) ** 2 + (a.y - cy) ** 2 < (r * 0.98) ** 2)
    got = s.selection.rows
    assert len(want) > 0 and set(want.tolist()) <= set(got.tolist())
    table_rows = {int(win.table.model.rows[i.row()]) for i in win.table.view.selectionModel().selectedRows()}
    assert table_rows == set(got.tolist())
    # box selection adds with Shift
    rect = QtCore.QRectF(float(a.x[0]) - 0.05, float(a.y[0]) - 0.05, 0.1, 0.1)
    win.map._on_region("box", rect, "add")
    assert 0 in set(s.selection.rows.tolist()) and set(got.tolist()) <= set(s.selection.rows.tolist())

    # selecting rows in the table selects them on the map
    view, model = win.table.view, win.table.model
    pick = [3, 4, 10]
    sel = QtCore.QItemSelection()
    for p in pick:
        sel.select(model.index(p, 0), model.index(p, model.columnCount() - 1))
    view.selectionModel().select(sel, QtCore.QItemSelectionModel.ClearAndSelect | QtCore.QItemSelectionModel.Rows)
    want = sorted(int(model.rows[p]) for p in pick)
    assert s.selection.rows.tolist() == want
    assert np.flatnonzero(win.map.points._selected).tolist() == want

    # clicking a point selects it and opens it in the example panel
    row = int(want[0])
    win.map.zoom_to(np.array([row]), pad=0.0)  # onto one point: a finite, float64 view range
    qtbot.wait(50)
    (vx0, vx1), (vy0, vy1) = win.map.vb.viewRange()
    assert all(np.isfinite([vx0, vx1, vy0, vy1])) and vx0 < float(a.x[row]) < vx1 and vy0 < float(a.y[row]) < vy1
    qtbot.waitUntil(lambda: win.map.row_at(float(a.x[row]), float(a.y[row])) >= 0, timeout=5000)
    hit = win.map.row_at(float(a.x[row]), float(a.y[row]))
    win.map._on_click(float(a.x[hit]), float(a.y[hit]), QtCore.Qt.NoModifier)
    assert s.selection.rows.tolist() == [hit] and win.example.row == hit
    # hovering shows the prompt
    win.map._on_hover(float(a.x[hit]), float(a.y[hit]))
    assert win.map._hover_row == hit
    assert " ".join(s.ws.prompt[hit].split())[:40] in " ".join(win._hover_text(hit).split())
    # the legend selects a whole category
    entry = win.map.legend._entries[0]
    win.map.sig_legend.emit(entry, "replace")
    assert s.selection.rows.tolist() == sorted(np.asarray(entry.key).tolist())
    # production-density overlay
    win.actions.density.setChecked(True)
    assert win.map.density.isVisible() and win.map.density.image is not None

    # find similar: a typed query, embedded with the same encoder, ranks matching examples first
    qtbot.waitUntil(lambda: s.vectors is not None, timeout=60_000)
    # typed first as a keyword (few examples hold the phrase), then switched to Meaning: the query
    # runs at once and the keyword mask typed before no longer hides its hits
    win.table.search.setText("my card has not arrived yet")
    win.table._on_return()
    assert win.table.model.rowCount() < 10
    win.table.mode.setCurrentIndex(2)
    qtbot.waitUntil(lambda: win.table.model.similarity is not None, timeout=60_000)
    assert win.table.model.rowCount() == 500
    win.table._on_return()  # Enter asks again
    qtbot.waitUntil(lambda: win.table.model.rowCount() == 500, timeout=60_000)
    top = [s.ws.prompt[int(r)].lower() for r in win.table.model.rows[:5]]
    assert sum("card" in t for t in top) >= 3, top
    assert win.table.model.columns[0].key == "similarity"
    sims = win.table.model.similarity[win.table.model.rows[:20]]
    assert np.all(np.diff(sims) <= 1e-6)  # closest first


def test_cancel_analysis_and_event_loop_keeps_running(qtbot, window, small_sample, tmp_path):
    from PySide6 import QtCore

    win, s = window, window.session
    open_files(qtbot, win, small_sample, tmp_path / "cancel.wbproj")
    ticks = []
    timer = QtCore.QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    win.actions.run.trigger()
    qtbot.waitUntil(lambda: win.status.cancel.isVisible(), timeout=30_000)
    start = len(ticks)
    qtbot.waitUntil(lambda: len(ticks) >= start + 5, timeout=30_000)  # the GUI keeps processing
    with qtbot.waitSignal(s.jobs["analyse"].sig_cancelled, timeout=ANALYSIS_CANCEL_MS):
        win.status.cancel.click()
    timer.stop()
    assert s.analysis is None
    assert not win.status.cancel.isVisible()
    # the window is still usable: the analysis runs to the end when asked again
    analyse(qtbot, win)


ANALYSIS_CANCEL_MS = 600_000


def test_result_arriving_after_an_edit_is_marked_stale(qtbot, window, small_sample, tmp_path):
    from workbench.project.journal import Edit

    win, s = window, window.session
    open_files(qtbot, win, small_sample, tmp_path / "stale.wbproj")
    stale = []
    s.sig_stale.connect(stale.append)
    win.actions.run.trigger()
    qtbot.waitUntil(lambda: s.jobs["analyse"].busy, timeout=10_000)
    row = 0
    record = s.ws.record(row)
    record["messages"][-1]["content"] = "edited while the analysis ran"
    assert s.apply(Edit(s.ws.example_id(row), record)) is not None
    qtbot.waitUntil(lambda: bool(stale), timeout=600_000)
    assert s.analysis is None  # not applied
    assert "changed" in stale[0]
    assert win.status.notice.isVisible()
