"""The analysis dialogs' background work runs on the window's one-executor-per-job-kind: a newer
request supersedes (cancels and drops) the older one, and opening the Drift dialog starts one job."""

from __future__ import annotations

import threading

from PySide6 import QtWidgets

from tests.analysis.realdata import analysis_home
from tests.project.helpers import analysed_project


class _Dialog(QtWidgets.QDialog):
    def __init__(self, session):
        super().__init__()
        self.session = session
        self.setWindowTitle("Probe: a dialog")


def test_a_newer_dialog_request_cancels_and_drops_the_older_one(qtbot, window):
    from workbench.core.progress import CancelToken
    from workbench.ui import dialog_jobs

    dlg = _Dialog(window.session)
    qtbot.addWidget(dlg)
    signals = dialog_jobs.JobSignals(dlg)
    done, failed = [], []
    signals.done.connect(lambda out, tag: done.append((out, tag)))
    signals.failed.connect(lambda exc, tag: failed.append((exc, tag)))
    started, release = threading.Event(), threading.Event()
    running, most = [0], [0]
    lock = threading.Lock()

    def job(name, token):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            started.set()
            release.wait(10)
            return f"{name} (cancelled={token.cancelled})"
        finally:
            with lock:
                running[0] -= 1

    first, second = CancelToken(), CancelToken()
    dialog_jobs.start(job, ("first", first), 1, signals)
    assert started.wait(10)
    ex = window.session.jobs["dialog:_Dialog"]
    assert ex.busy and any(j.kind == "dialog:_Dialog" for j in window.session.jobs.running())
    dialog_jobs.start(job, ("second", second), 2, signals)
    assert first.cancelled and not second.cancelled  # the older job was told to stop
    release.set()
    qtbot.waitUntil(lambda: bool(done) or bool(failed), timeout=10_000)
    ex.wait(10_000)
    qtbot.wait(50)
    assert done == [("second (cancelled=False)", 2)]  # the older answer was dropped
    assert failed == []
    assert most[0] == 1  # never two jobs of one dialog at once
    assert not ex.busy


def test_a_cancelled_dialog_job_reports_cancelled(qtbot, window):
    from workbench.core.errors import Cancelled
    from workbench.core.progress import CancelToken
    from workbench.ui import dialog_jobs

    dlg = _Dialog(window.session)
    qtbot.addWidget(dlg)
    signals = dialog_jobs.JobSignals(dlg)
    failed = []
    signals.failed.connect(lambda exc, tag: failed.append((exc, tag)))
    token = CancelToken()
    token.cancel()
    dialog_jobs.start(lambda t: t.check(), (token,), "x", signals)
    qtbot.waitUntil(lambda: bool(failed), timeout=10_000)
    assert isinstance(failed[0][0], Cancelled) and failed[0][1] == "x"


def test_opening_the_drift_dialog_starts_one_job(qtbot, window, tmp_path_factory, tmp_path, monkeypatch):
    from workbench.ui import drift_dialog

    project = analysed_project(tmp_path_factory, tmp_path / "drift.wbproj")
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
    s = window.session
    with qtbot.waitSignal(s.sig_analysis, timeout=120_000, check_params_cb=lambda: s.analysis is not None):
        assert s.open_project(project)
    qtbot.waitUntil(lambda: not s.jobs.running(), timeout=120_000)
    ex = s.jobs.executor("dialog:DriftDialog")
    starts = []
    ex.sig_started.connect(starts.append)
    dlg = drift_dialog.show_drift(window)
    qtbot.waitUntil(lambda: bool(starts) and not ex.busy, timeout=120_000)
    qtbot.wait(200)
    assert len(starts) == 1
    assert "Comparing" not in dlg.headline.text()  # the answer (or the reason there is none) is shown


def test_cancel_in_the_status_bar_stops_a_dialog_job(qtbot, window):
    from workbench.core.errors import Cancelled
    from workbench.core.progress import CancelToken
    from workbench.ui import dialog_jobs

    dlg = _Dialog(window.session)
    qtbot.addWidget(dlg)
    signals = dialog_jobs.JobSignals(dlg)
    failed = []
    signals.failed.connect(lambda exc, tag: failed.append((exc, tag)))
    started = threading.Event()

    def job(token):
        started.set()
        for _ in range(1000):  # a long job that checks its own (the dialog's) token
            token.check()
            threading.Event().wait(0.01)
        return "finished"

    token = CancelToken()
    dialog_jobs.start(job, (token,), "long", signals)
    assert started.wait(10)
    assert any(j.kind == "dialog:_Dialog" for j in window.session.jobs.running())
    window.status._on_cancel()  # the status bar's Cancel button
    assert token.cancelled
    qtbot.waitUntil(lambda: bool(failed), timeout=10_000)
    assert isinstance(failed[0][0], Cancelled) and failed[0][1] == "long"
