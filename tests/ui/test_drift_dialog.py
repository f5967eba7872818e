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
