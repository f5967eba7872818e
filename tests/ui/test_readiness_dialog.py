"""Analysis > Readiness…: the app shows the same verdict as ``workbench check`` on the same project."""

from __future__ import annotations

import json

from tests.analysis.realdata import analysis_home
from tests.project.helpers import analysed_project


def test_readiness_dialog_shows_the_cli_verdict(qtbot, window, tmp_path_factory, tmp_path, monkeypatch, capsys):
    from workbench.cli.main import main

    project = analysed_project(tmp_path_factory, tmp_path / "ui.wbproj")
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
    capsys.readouterr()
    assert main(["check", str(project), "--json"]) == 1
    cli = json.loads(capsys.readouterr().out)

    s = window.session
    with qtbot.waitSignal(s.sig_analysis, timeout=120_000, check_params_cb=lambda: s.analysis is not None):
        assert s.open_project(project)
    from PySide6 import QtGui

    action = next(a for a in window.findChildren(QtGui.QAction) if a.text() == "Rea&diness…")
    from workbench.ui.readiness_dialog import ReadinessDialog

    action.trigger()
    dlg = window.findChild(ReadinessDialog)
    assert dlg is not None
    qtbot.waitUntil(lambda: dlg.verdict is not None, timeout=60_000)
    app = dlg.verdict.to_dict(limit=None)
    assert app["headline"] == cli["headline"]
    assert [(c["key"], c["status"], c["count"]) for c in app["checks"]] == \
        [(c["key"], c["status"], c["count"]) for c in cli["checks"]]
    assert dlg.tree.topLevelItemCount() == len(cli["checks"])
    assert "NOT READY" in dlg.headline.text()
