"""Analysis > Drift of the latest production log…: the app shows the table of ``workbench drift``,
and the map can be coloured by production snapshot."""

from __future__ import annotations

import json

from tests.analysis.realdata import analysis_home
from tests.analysis.test_drift import NEW_TOPIC
from tests.conftest import SAMPLE
from tests.project.helpers import analysed_project


def _texts(tree, top):
    item = tree.topLevelItem(top)
    return [[item.child(i).text(c) for c in range(5)] for i in range(item.childCount())]


def test_drift_dialog_shows_the_cli_table(qtbot, window, tmp_path_factory, tmp_path, monkeypatch, capsys):
    from PySide6 import QtGui

    from workbench.cli.main import main
    from workbench.ui import colouring
    from workbench.ui.drift_dialog import DriftDialog

    project = analysed_project(tmp_path_factory, tmp_path / "drift.wbproj")
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
    prod = [json.loads(x) for x in (SAMPLE / "production_banking.jsonl").read_text().splitlines()][:150]
    key = next(k for k in prod[0] if isinstance(prod[0][k], str) and k != "label")
    log = tmp_path / "production_2026-11.jsonl"
    log.write_text("".join(json.dumps({key: t}) + "\n" for t in [r[key] for r in prod] + NEW_TOPIC))
    assert main(["add", str(project), str(log), "--role", "production", "--snapshot", "2026-11-01"]) == 0
    out_json = tmp_path / "drift.json"
    assert main(["drift", str(project), "--json", str(out_json)]) == 0
    capsys.readouterr()
    cli = json.loads(out_json.read_text())

    s = window.session
    with qtbot.waitSignal(s.sig_analysis, timeout=120_000, check_params_cb=lambda: s.analysis is not None):
        assert s.open_project(project)
    action = next(a for a in window.findChildren(QtGui.QAction) if a.text() == "Dri&ft of the latest production log…")
    action.trigger()
    dlg = window.findChild(DriftDialog)
    assert dlg is not None
    dlg.refresh()
    assert dlg.drift is None and not dlg.refresh_btn.isEnabled()  # computed off the GUI thread
    qtbot.waitUntil(lambda: dlg.drift is not None, timeout=120_000)
    app = dlg.drift.to_dict()
    assert app == cli
    assert "2026-11-01 (162 inputs) against initial" in dlg.headline.text()

    moved = [r for r in cli["clusters"] if r["status"] != "same"]
    rows = _texts(dlg.tree, 0)
    assert len(rows) == len(moved) > 0
    for row, r in zip(rows, moved):
        assert row == [r["label"], f"{r['share_before']:.1%}", f"{r['share_after']:.1%}",
                       f"{r['change'] * 100:+.1f}p", r["status"]]
    new = _texts(dlg.tree, 1)
    assert len(new) == len(cli["new_regions"]) + (1 if cli["scattered_new"] else 0)
    assert cli["scattered_new"] and new[-1][3] == f"{cli['scattered_new']:,}"
    assert f"{cli['uncovered']['n']:,} ({cli['uncovered']['share']:.1%})" in dlg.tree.topLevelItem(2).text(0)
    assert len(_texts(dlg.tree, 3)) == len(cli["gaps_now_covered"])

    # colour by snapshot: one legend entry per snapshot, with its inputs
    assert ("snapshot", "Production snapshot") in colouring.choices(s)
    _, title, legend = colouring.colour_by(s, "snapshot")
    counts = {e.label: e.count for e in legend}
    assert title == "Production snapshot"
    assert counts["2026-11-01"] == cli["n_after"] and counts["initial"] == cli["n_before"]
    assert counts["not production"] == s.ws.n - cli["n_after"] - cli["n_before"]

    import os

    shots = os.environ.get("WORKBENCH_SCREENSHOTS")  # WORKBENCH_SCREENSHOTS=docs/screenshots pytest ...
    if shots:
        dlg.grab().save(os.path.join(shots, "drift_dialog.png"))


def test_snapshot_date_in_the_app_uses_the_cli_rules(qtbot, window, small_sample, tmp_path):
    """File ▸ Add production data… asks the log's snapshot date (default today, or none = initial);
    File ▸ Set a log's snapshot date… changes it; both through drift.check_snapshot_arg /
    set_snapshot (the core of `workbench add --snapshot`); a wrong date is shown in the dialog."""
    import datetime as dt

    from PySide6 import QtGui, QtWidgets

    from tests.ui.conftest import open_files
    from workbench.analysis import drift
    from workbench.ui import colouring, snapshot_date

    open_files(qtbot, window, small_sample, tmp_path / "snap.wbproj")
    s = window.session
    assert any(a.text() == "Set a log's snapshot &date…" for a in window.findChildren(QtGui.QAction))

    # the dialog: today by default; a wrong date is explained and the dialog stays open
    dlg = snapshot_date.SnapshotDateDialog("A log.", None, window)
    assert dlg.date.text() == dt.date.today().isoformat() and not dlg.no_date.isChecked()
    dlg.show()
    dlg.date.setText("2026-13-01")
    dlg.accept()
    assert dlg.result() != QtWidgets.QDialog.Accepted and dlg.isVisible()
    assert "YYYY-MM-DD" in dlg.error.text()
    dlg.date.setText(" 2026-11-01 ")
    dlg.accept()
    assert dlg.result() == QtWidgets.QDialog.Accepted and dlg.value == "2026-11-01"
    dlg = snapshot_date.SnapshotDateDialog("A log.", drift.INITIAL, window)
    assert dlg.no_date.isChecked() and not dlg.date.isEnabled()
    dlg.accept()
    assert dlg.value is None

    # adding the next log with its date: the same setting `workbench add --snapshot` writes
    prod = next(p for p, role in small_sample if role == "production")
    log = tmp_path / "production_2026-11.jsonl"
    log.write_bytes(b"".join(prod.read_bytes().splitlines(keepends=True)[:39]))
    errors = []
    s.sig_error.connect(lambda msg, detail: errors.append(msg))
    n_sources = len(s.project.sources)
    assert not snapshot_date.add_with_date(s, [str(log)], "1 Nov 2026")  # refused before anything is added
    assert errors and "YYYY-MM-DD" in errors[-1] and len(s.project.sources) == n_sources
    with qtbot.waitSignal(s.sig_workspace, timeout=60_000):
        assert snapshot_date.add_with_date(s, [str(log)], "2026-11-01")
    new = next(i for i in s.project.sources if i.name == log.name)
    first = next(i for i in s.project.sources if i.role == "production" and i.id != new.id)
    assert drift.snapshot_dates(s.project) == {new.id: "2026-11-01"}
    _, _, legend = colouring.colour_by(s, "snapshot")
    counts = {e.label: e.count for e in legend}
    assert counts["2026-11-01"] == 39 and counts["initial"] == first.rows

    # changing it later: a date for the first log, then back to initial; a train source is refused
    assert snapshot_date.apply_date(window, first.id, "2026-10-01")
    assert drift.snapshot_dates(s.project) == {new.id: "2026-11-01", first.id: "2026-10-01"}
    _, _, legend = colouring.colour_by(s, "snapshot")
    assert {e.label: e.count for e in legend if e.label != "not production"} == {"2026-10-01": first.rows,
                                                                                "2026-11-01": 39}
    assert snapshot_date.apply_date(window, first.id, None)
    assert drift.snapshot_dates(s.project) == {new.id: "2026-11-01"}
    train = next(i for i in s.project.sources if i.role == "train")
    n_err = len(errors)
    assert not snapshot_date.apply_date(window, train.id, "2026-11-01")
    assert len(errors) == n_err + 1 and "production source" in errors[-1]
    assert drift.snapshot_dates(s.project) == {new.id: "2026-11-01"}
