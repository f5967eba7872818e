"""The app and the CLI share one project analysis: the window's analysis job (the real worker) and
`workbench analyze PROJECT` give identical results on the same project, each reuses the other's,
and a finding in a project with two sources named train.jsonl selects the right rows."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.analysis.twin_project import COPIED, COPY, copied_text, twin_group, write_twin_files
from tests.ui.conftest import analyse, open_files

pytestmark = [pytest.mark.gui, pytest.mark.slow]

VOLATILE = ("timings", "created")  # the only parts of summary.json that may differ between runs


def _summary(folder):
    s = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return {k: v for k, v in s.items() if k not in VOLATILE}


def test_gui_job_and_cli_give_identical_results_and_findings_select_the_right_rows(qtbot, window, tmp_path, capsys):
    from PySide6 import QtCore

    from workbench.analysis import project_analysis as pa
    from workbench.cli.main import main

    win, s = window, window.session
    files = write_twin_files(tmp_path / "data")
    project = tmp_path / "twin.wbproj"
    open_files(qtbot, win, files, project)
    analyse(qtbot, win)  # the real analysis job in the real worker
    folder = pa.results_dir(s.project)
    assert not s.analysis_stale and not (folder / "ui_key.json").exists()

    # a duplicate finding across a/train.jsonl and b/train.jsonl selects exactly its own rows
    group = twin_group(s.analysis.summary)
    panel = next(p for p in win.panels if p.title == "Duplicates")
    k = next(i for i, f in enumerate(panel.findings) if f.data.get("group") == group["group"])
    item = next(panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())
                if panel.tree.topLevelItem(i).data(0, QtCore.Qt.UserRole + 1) == k)
    panel.tree.setCurrentItem(item)
    ws = s.ws
    selected = {ws.example_id(int(r)) for r in s.selection.rows}
    assert selected == {(m["source_id"], m["line"]) for m in group["members"]}
    assert {(1, COPIED[1]), (2, COPY[1])} <= selected
    text = copied_text(tmp_path)
    assert all(text in ws.prompt[int(r)] for r in s.selection.rows)
    a5 = ws.index_of((1, COPY[1]))  # a's line 5: same line number as the copy in b, other text
    assert a5 not in set(s.selection.rows.tolist()) and text not in ws.prompt[a5]
    shown = {(m["source"], m["line"]) for m in group["members"]}
    assert ("a/train.jsonl", COPIED[1]) in shown and ("b/train.jsonl", COPY[1]) in shown
    s.close()

    # the CLI on the same project, computed afresh elsewhere: identical results
    assert main(["analyze", str(project), "--out", str(tmp_path / "cli")]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cli" / "examples.parquet"),
                                  pd.read_parquet(folder / "examples.parquet"))
    assert _summary(tmp_path / "cli") == _summary(folder)
    # ... and into the project's own folder it reuses what the app wrote
    capsys.readouterr()
    assert main(["analyze", str(project)]) == 0
    assert "Results reused" in capsys.readouterr().out

    # a CLI override is saved into the settings: the app shows those results as current
    assert main(["analyze", str(project), "--near-dup", "0.97"]) == 0
    with qtbot.waitSignal(s.sig_analysis, timeout=120_000, check_params_cb=lambda: s.analysis is not None):
        assert s.open_project(project)
    assert s.analysis_params().near_dup_threshold == 0.97
    assert s.analysis.params["near_dup_threshold"] == 0.97 and not s.analysis_stale
    # changing the setting in the app makes them not current
    stale = []
    s.sig_stale.connect(stale.append)
    s.save_analysis_params({"near_dup_threshold": 0.95})
    assert s.analysis_stale and stale


def test_a_background_answer_about_older_data_is_dropped(qtbot, window, tmp_path):
    """The vectors job works on a snapshot; when the curator edits while it runs, its answer
    (about the data before the edit) is dropped instead of applied."""
    from workbench.project.journal import Edit

    win, s = window, window.session
    open_files(qtbot, win, write_twin_files(tmp_path / "data"), tmp_path / "twin.wbproj")
    s.jobs.wait_all(60_000)
    s.vectors = None
    with qtbot.waitSignal(s.jobs["embed"].sig_finished, timeout=300_000):
        assert not s.ensure_vectors()  # submitted with a snapshot of the rows as they are now
        row = s.ws.index_of((1, 3))
        rec = s.ws.record(row)
        rec["instruction"] = "Edited while the vectors were computed"
        assert s.apply(Edit((1, 3), rec)) is not None
    assert s.vectors is None  # dropped: it described the data before the edit
    with qtbot.waitSignal(s.sig_vectors, timeout=300_000):
        assert not s.ensure_vectors()
    assert s.vectors is not None and len(s.vectors[0]) == s.ws.n


def test_the_window_analyses_in_a_child_process_that_reports_progress_and_cancel_kills(qtbot, window, tmp_path,
                                                                                      caplog):
    """The window's analysis runs in a child process (its native code never holds the GUI's GIL):
    progress arrives from it, Cancel terminates it and leaves no result behind, and a full run
    shows a current analysis."""
    import psutil

    from workbench.analysis import project_analysis as pa
    from workbench.analysis.child_process import MODULE
    from workbench.analysis.results_store import read_cache_meta

    win, s = window, window.session
    open_files(qtbot, win, write_twin_files(tmp_path / "data"), tmp_path / "twin.wbproj")
    s.jobs.wait_all(120_000)
    me = psutil.Process()

    def child():
        for c in me.children(recursive=True):
            try:
                if MODULE in " ".join(c.cmdline()):
                    return c
            except psutil.Error:
                continue
        return None

    phases, seen = [], []
    ex = s.jobs["analyse"]
    ex.sig_progress.connect(lambda info: (phases.append(info.phase), seen.append(child())))
    s.run_analysis()
    qtbot.waitUntil(lambda: any(seen), timeout=120_000)
    proc = next(c for c in seen if c)
    with qtbot.waitSignal(ex.sig_cancelled, timeout=30_000):
        ex.cancel()
    assert not proc.is_running() and child() is None  # terminated and reaped
    assert read_cache_meta(pa.results_dir(s.project)) is None and s.analysis is None

    phases.clear()
    analyse(qtbot, win)
    assert not s.analysis_stale and any(p.startswith("Embedding") for p in phases)
    assert "not those of the window's snapshot" not in caplog.text  # the child's result was used
