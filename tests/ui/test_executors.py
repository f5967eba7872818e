"""Background executors: progress, cancel, supersede, failures — and the GUI keeps running."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from workbench.core.errors import WorkbenchError

pytestmark = pytest.mark.gui


def runner(n_batches, *, progress=None, cancel=None, gate: threading.Event | None = None):
    """A plain runner in the core's style: work in batches, check cancel between them."""
    total = 0
    for i in range(n_batches):
        cancel.check()
        if gate is not None:
            gate.wait(5)
        total += int(np.arange(1000).sum())
        progress(i + 1, n_batches, "summing")
    return total


def test_result_and_progress(qtbot):
    from workbench.ui.executors import Executor

    ex = Executor("test")
    seen = []
    ex.sig_progress.connect(lambda info: seen.append((info.done, info.total, info.phase)))
    with qtbot.waitSignal(ex.sig_finished, timeout=10_000) as blocker:
        ex.submit(runner, 5, tag="rev-1")
    result, tag = blocker.args
    assert result == 5 * int(np.arange(1000).sum())
    assert tag == "rev-1"
    assert seen and seen[-1] == (5, 5, "summing")
    assert not ex.busy


def test_cancel_stops_the_runner_quietly(qtbot):
    from workbench.ui.executors import Executor

    ex = Executor("test")
    gate = threading.Event()
    finished = []
    ex.sig_finished.connect(lambda r, t: finished.append(r))
    with qtbot.waitSignal(ex.sig_started, timeout=5000):
        ex.submit(runner, 1000, gate=gate)
    with qtbot.waitSignal(ex.sig_cancelled, timeout=10_000):
        ex.cancel()
        gate.set()
    assert not finished
    assert not ex.busy


def test_newer_request_supersedes_older(qtbot):
    from workbench.ui.executors import Executor

    ex = Executor("test")
    gate = threading.Event()
    results = []
    ex.sig_finished.connect(lambda r, t: results.append((r, t)))
    cancelled = []
    ex.sig_cancelled.connect(lambda t: cancelled.append(t))
    ex.submit(runner, 1000, gate=gate, tag="old")
    with qtbot.waitSignal(ex.sig_finished, timeout=10_000):
        ex.submit(runner, 2, tag="new")
        gate.set()
    ex.wait(5000)
    assert results == [(2 * int(np.arange(1000).sum()), "new")]  # the old answer never arrives
    assert not cancelled  # superseded jobs are dropped silently


def test_failure_is_reported_once_with_traceback(qtbot):
    from workbench.ui.executors import Executor

    def broken(*, progress=None, cancel=None):
        raise WorkbenchError("The file is not a dataset.")

    ex = Executor("test")
    with qtbot.waitSignal(ex.sig_failed, timeout=5000) as blocker:
        ex.submit(broken)
    exc, _tag = blocker.args
    assert isinstance(exc, WorkbenchError) and exc.user_message == "The file is not a dataset."
    assert "broken" in exc.__wb_traceback__


def test_event_loop_keeps_running_during_a_job(qtbot):
    """Timers fire on the GUI thread while the worker is busy."""
    from PySide6 import QtCore

    from workbench.ui.executors import Executor

    ex = Executor("test")
    gate = threading.Event()
    ticks = []
    timer = QtCore.QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    ex.submit(runner, 3, gate=gate)
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=5000)
    assert ex.busy  # the job is still waiting on its gate while the GUI ticks
    with qtbot.waitSignal(ex.sig_finished, timeout=10_000):
        gate.set()
    timer.stop()


def test_job_center_reports_running_jobs_and_cancels(qtbot):
    from workbench.ui.executors import JobCenter

    jc = JobCenter()
    gate = threading.Event()
    jc["analyse"].submit(runner, 1000, gate=gate, label="Analysing")
    qtbot.waitUntil(lambda: bool(jc.running()), timeout=5000)
    assert [j.kind for j in jc.running()] == ["analyse"]
    with qtbot.waitSignal(jc["analyse"].sig_cancelled, timeout=10_000):
        jc.cancel_all()
        gate.set()
    assert jc.running() == []


def test_analysis_child_process_reports_progress_its_result_and_a_clear_error(tmp_path):
    """The analysis child (the CLI's core on the project file, read-only, while this process holds
    the project open for writing) reports progress as JSON lines and ends with the cache key of
    the results it wrote; a project it cannot open comes back as a clear message."""
    from tests.analysis.twin_project import make_twin_project
    from workbench.analysis import project_analysis as pa
    from workbench.analysis.child_process import DeferredEncoder, run_child
    from workbench.analysis.results_store import read_cache_meta
    from workbench.core.errors import AnalysisError
    from workbench.project import Project

    path = make_twin_project(tmp_path)
    phases = []
    with Project.open(path) as project:  # the app's write lock is held
        folder = tmp_path / "results"
        params = pa.project_params(project, {"near_dup_threshold": 0.96})
        report = run_child(path, folder, params.to_dict(), progress=lambda d, t, p: phases.append(p))
    meta = read_cache_meta(folder)
    assert report["ok"] and meta is not None and report["cache_key"] == meta["cache_key"]
    assert meta["params"]["near_dup_threshold"] == 0.96  # the parameters passed, explicitly
    assert any(p.startswith("Embedding") for p in phases) and len(set(phases)) >= 4
    # the parent reads the child's vectors from the cache by the reported encoder identity,
    # without loading the model (which would hold the GUI process' GIL)
    enc = DeferredEncoder(report["encoder"])
    with Project.open(path, read_only=True) as project:
        data = pa.AnalysisData.capture(project.load())
    opened = pa.open_stored(data, params, folder, encoder=enc)
    assert opened.current and opened.embed_stats[0] == 0 and enc._real is None
    assert opened.prompt_vecs.shape == (data.n, report["encoder"]["dim"])
    with pytest.raises(AnalysisError) as err:
        run_child(tmp_path / "missing.wbproj", tmp_path / "r2", {})
    assert "missing.wbproj" in str(err.value) and not (tmp_path / "r2" / "cache.json").exists()
