"""The app as a whole: start-up imports, welcome pane, files dropped on the window, layout
persistence, the crash hook, and ``workbench --smoke-test``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE

pytestmark = pytest.mark.gui

HEAVY = ("torch", "umap", "hdbscan", "onnxruntime", "pynndescent", "numba", "sklearn", "transformers")


def test_gui_start_up_does_not_import_heavy_libraries(tmp_path):
    code = (
        "import sys\n"
        "from workbench.ui.app import _app\n"
        "app = _app()\n"
        "from workbench.ui.main_window import MainWindow\n"
        "w = MainWindow(); w.show(); app.processEvents()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_welcome_pane_first(qtbot):
    from workbench.ui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    assert win.center.currentWidget() is win.welcome
    assert win.welcome.sample_btn.text() == "Open sample project"
    assert not win.table_dock.isVisible()
    assert not win.actions.run.isEnabled() and not win.actions.undo.isEnabled()


def test_dropped_files_open_in_a_new_project_and_layout_persists(qtbot, tmp_path):
    from PySide6 import QtCore, QtGui

    from workbench.ui import ui_settings
    from workbench.ui.main_window import MainWindow

    data = tmp_path / "production_logs.jsonl"
    data.write_bytes(b"".join((SAMPLE / "production_banking.jsonl").read_bytes().splitlines(keepends=True)[:40]))
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(data))])
    ev = QtGui.QDropEvent(QtCore.QPointF(100, 100), QtCore.Qt.CopyAction, mime, QtCore.Qt.LeftButton,
                          QtCore.Qt.NoModifier)
    win.dropEvent(ev)
    s = win.session
    qtbot.waitUntil(lambda: s.ws is not None, timeout=30_000)
    assert s.ws.n == 40
    assert [(src.name, src.role) for src in s.project.sources] == [("production_logs.jsonl", "production")]
    assert s.project.path.parent == ui_settings.projects_dir()
    assert win.center.currentWidget() is win.tabs and win.tabs.currentWidget() is win.map
    assert str(s.project.path.resolve()) in ui_settings.recent()
    win.resize(701, 503)  # inside the offscreen screen (800 x 600): restoreGeometry clamps to it
    win.close()
    assert ui_settings.get("window_state")
    win2 = MainWindow()
    qtbot.addWidget(win2)
    assert win2.size().height() == 503  # (the width is held at the toolbar's minimum)


def test_table_filter_keyword_and_regex(qtbot, tmp_path):
    from PySide6 import QtCore

    from workbench.ui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    s = win.session
    assert s.new_project(tmp_path / "f.wbproj")
    s.project.add_source(SAMPLE / "eval_banking_chat.jsonl", "eval")
    with qtbot.waitSignal(s.sig_workspace, timeout=30_000):
        s.reload()
    t = win.table
    t.search.setText("exchange rate")
    t._on_return()
    rows = t.model.rows
    assert 0 < len(rows) < s.ws.n
    assert all("exchange rate" in (s.ws.prompt[r] + s.ws.response[r]).lower() for r in rows)
    t.mode.setCurrentIndex(1)
    t.search.setText(r"^why\b")
    t._on_return()
    assert len(t.model.rows) and all(s.ws.prompt[r].lower().startswith("why") for r in t.model.rows)
    t.search.setText("([unclosed")
    t._on_return()
    assert "bad pattern" in t.count.text()  # told, not crashed
    # sorting by line descending
    t.search.clear()
    t.mode.setCurrentIndex(0)
    t._on_return()
    t.model.sort(t.model.column_index("line"), QtCore.Qt.DescendingOrder)
    lines = [int(s.ws.line[r]) for r in t.model.rows[:5]]
    assert lines == sorted(lines, reverse=True)


def test_crash_hook_writes_a_report_and_keeps_the_window(qtbot):
    from workbench.core import paths
    from workbench.ui import crash

    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        exc_type, exc, tb = sys.exc_info()
    crash._hook(exc_type, exc, tb)
    report = Path(crash.reports[-1])
    assert report.parent == paths.logs_dir()
    text = report.read_text(encoding="utf-8")
    assert "RuntimeError: boom in a slot" in text and "Traceback" in text
    from PySide6 import QtWidgets

    dlg = crash.CrashDialog("RuntimeError: boom", text, str(report))
    qtbot.addWidget(dlg)
    labels = " ".join(lab.text() for lab in dlg.findChildren(QtWidgets.QLabel))
    assert "Nothing was lost" in labels and str(report) in labels


@pytest.mark.slow
def test_smoke_test_passes(qapp, capsys):
    """``workbench --smoke-test``: the window on sample_data, a small analysis, exit 0."""
    from workbench.cli.main import main

    code = main(["--smoke-test"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "smoke test: ok" in out
