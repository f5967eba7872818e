"""Analysis > Eval set from production…: the app draws and writes the same eval set as ``workbench eval-set``."""

from __future__ import annotations

import json

from tests.analysis.realdata import analysis_home
from tests.project.helpers import analysed_project


def test_eval_set_dialog_previews_and_writes_the_cli_set(qtbot, window, tmp_path_factory, tmp_path, monkeypatch,
                                                          capsys):
    from PySide6 import QtGui

    from workbench.cli.main import main
    from workbench.ui.eval_set_dialog import EvalSetDialog

    project = analysed_project(tmp_path_factory, tmp_path / "ui.wbproj")
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
    cli_out = tmp_path / "cli_set"
    assert main(["eval-set", str(project), "--out", str(cli_out), "--size", "60", "--per-cluster", "2",
                 "--seed", "7"]) == 0
    capsys.readouterr()
    cli_manifest = json.loads((cli_out / "manifest.json").read_text())
    cli_lines = (cli_out / "eval_set.jsonl").read_bytes()

    s = window.session
    with qtbot.waitSignal(s.sig_analysis, timeout=120_000, check_params_cb=lambda: s.analysis is not None):
        assert s.open_project(project)
    qtbot.waitUntil(lambda: s.analysis is not None and not s.jobs["analyse"].busy, timeout=120_000)
    action = next(a for a in window.findChildren(QtGui.QAction) if a.text() == "&Eval set from production…")
    action.trigger()
    dlg = window.findChild(EvalSetDialog)
    assert dlg is not None
    qtbot.waitUntil(lambda: dlg.preview_btn.isEnabled() and dlg.drawn is not None, timeout=120_000)
    # a new draw with the CLI's options
    dlg.size_box.setValue(60)
    dlg.floor_box.setValue(2)
    dlg.seed_box.setValue(7)
    dlg.refresh()
    assert dlg.drawn is None and not dlg.preview_btn.isEnabled()  # the GUI thread did not wait for the draw
    qtbot.waitUntil(lambda: dlg.drawn is not None and dlg.preview_btn.isEnabled(), timeout=120_000)

    c = dlg.drawn.counts
    assert c == cli_manifest["counts"] and c["drawn"] > 0
    assert dlg.table.rowCount() == c["drawn"]
    assert dlg.clusters.rowCount() == len(cli_manifest["clusters"])
    for i, st in enumerate(cli_manifest["clusters"]):
        assert dlg.clusters.item(i, 0).text() == st["label"]
        assert dlg.clusters.item(i, 5).text() == f"{st['drawn']:,}"
    cli_recs = [json.loads(x) for x in cli_lines.decode("utf-8").splitlines()]
    for i, r in enumerate(cli_recs):
        assert dlg.table.item(i, 0).text() == r["messages"][-1]["content"]
        assert dlg.table.item(i, 1).text() == r["cluster_label"]
        assert dlg.table.item(i, 2).text() == (r["group"] or "")
        assert dlg.table.item(i, 3).text().startswith("gap") == r["gap"]
        assert dlg.table.item(i, 4).text() == f"{r['source']}:{r['line']}"
    assert str(c["drawn"]) in dlg.summary.text()

    # Write: the same file, byte for byte; all or nothing, never into a folder it did not create
    out = tmp_path / "app_set"
    dlg.write_to(out)
    qtbot.waitUntil(lambda: dlg.write_btn.isEnabled(), timeout=60_000)
    assert dlg.manifest is not None, dlg.summary.text()
    assert (out / "eval_set.jsonl").read_bytes() == cli_lines
    assert json.loads((out / "manifest.json").read_text())["counts"] == cli_manifest["counts"]
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    dlg.write_to(foreign)
    qtbot.waitUntil(lambda: dlg.write_btn.isEnabled(), timeout=60_000)
    assert dlg.manifest is None and "Could not write" in dlg.summary.text()
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]

    # Write reference answer…: the editor of Promote to training, one undoable journal op; the
    # redrawn set carries the answer as the input's assistant turn, as `workbench eval-set` writes it
    from workbench.ui.dialogs import PromoteDialog

    assert not dlg.answer_btn.isEnabled()  # nothing selected
    dlg.table.selectRow(2)
    assert dlg.answer_btn.isEnabled()
    first = cli_recs[2]
    dlg.answer_btn.click()
    editor = dlg.editor
    assert isinstance(editor, PromoteDialog) and editor.isVisible()
    assert editor.prompt.toPlainText() == first["messages"][-1]["content"] and editor.prompt.isReadOnly()
    assert not editor.ok.isEnabled()  # nothing written yet
    editor.response.setPlainText("  You can top up by card in the app.  ")
    assert editor.ok.isEnabled()
    editor.ok.click()
    qtbot.waitUntil(lambda: dlg.drawn is not None and dlg.preview_btn.isEnabled(), timeout=120_000)
    ident = (3, first["line"])
    assert s.project.state.eval_answers == {ident: "You can top up by card in the app."}
    assert dlg.drawn.counts["reference_answers"] == 1
    assert dlg.table.item(2, 5).text() == "You can top up by card in the app."
    assert dlg.records[2]["reference"] and dlg.records[2]["messages"][-1]["role"] == "assistant"
    out2 = tmp_path / "app_set_answered"
    dlg.write_to(out2)
    qtbot.waitUntil(lambda: dlg.write_btn.isEnabled(), timeout=60_000)
    cli_out2 = tmp_path / "cli_set_answered"
    assert main(["eval-set", str(project), "--out", str(cli_out2), "--size", "60", "--per-cluster", "2",
                 "--seed", "7"]) == 0
    capsys.readouterr()
    assert (out2 / "eval_set.jsonl").read_bytes() == (cli_out2 / "eval_set.jsonl").read_bytes() != cli_lines
    # editing it again starts from the answer; Ctrl+Z takes the answer back
    dlg.table.selectRow(2)
    dlg.write_answer()
    assert dlg.editor.response.toPlainText() == "You can top up by card in the app."
    dlg.editor.reject()
    s.undo()  # from the window: the open dialog draws again, without the answer
    assert s.project.state.eval_answers == {} and dlg.drawn is None
    qtbot.waitUntil(lambda: dlg.drawn is not None and dlg.preview_btn.isEnabled(), timeout=120_000)
    assert dlg.drawn.counts["reference_answers"] == 0 and dlg.table.item(2, 5).text() == ""

    # Exclude the selected inputs / Pin the window's selection: the journal ops of --exclude / --pin
    import numpy as np
    from PySide6 import QtCore

    lines = [r["line"] for r in dlg.records]
    dlg.table.clearSelection()
    dlg.table.selectRow(0)
    flags = QtCore.QItemSelectionModel.SelectionFlag
    dlg.table.selectionModel().select(dlg.table.model().index(1, 0), flags.Select | flags.Rows)
    assert dlg.exclude_btn.isEnabled() and not dlg.answer_btn.isEnabled()  # two rows: no single answer
    dlg.exclude_btn.click()
    qtbot.waitUntil(lambda: dlg.drawn is not None and dlg.preview_btn.isEnabled(), timeout=120_000)
    assert s.project.state.eval_marks == {(3, lines[0]): "exclude", (3, lines[1]): "exclude"}
    now = [r["line"] for r in dlg.records]
    assert lines[0] not in now and lines[1] not in now and dlg.drawn.counts["excluded_by_curator"] == 2
    inp, drawn = dlg.inputs, dlg.drawn
    free = [int(r) for r in np.flatnonzero(drawn.eligible) if r not in set(drawn.rows.tolist())]
    ref = inp.ref_of(free[0])
    row = s.ws.index_of((ref["source_id"], ref["line"]))
    s.selection.set([row])
    dlg.pin_btn.click()
    qtbot.waitUntil(lambda: dlg.drawn is not None and dlg.preview_btn.isEnabled(), timeout=120_000)
    assert s.project.state.eval_marks[(3, ref["line"])] == "pin"
    assert any(r["line"] == ref["line"] and r["pinned"] for r in dlg.records)
    s.undo()
    s.undo()
    assert s.project.state.eval_marks == {}

    # the README's screenshot: WORKBENCH_SCREENSHOTS=docs/screenshots pytest tests/ui/test_eval_set_dialog.py
    import os

    shots = os.environ.get("WORKBENCH_SCREENSHOTS")
    if shots:
        qtbot.waitUntil(lambda: dlg.drawn is not None and dlg.preview_btn.isEnabled(), timeout=120_000)
        dlg.show_preview()
        dlg.grab().save(os.path.join(shots, "eval_set_dialog.png"))
