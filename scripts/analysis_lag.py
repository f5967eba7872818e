"""Event-loop lag of the real window WHILE AN ANALYSIS RUNS (issue 13 item 11).

    xvfb-run -s "-screen 0 1366x768x24" python scripts/analysis_lag.py [child|thread] [RUNS]

Each run opens the sample project in a fresh folder (so the whole analysis is computed; the
embedding cache is shared and warm, as for a curator) in a fresh process, and records with the
10 ms ``QTimer`` of ``scripts/real_window_session.py`` how late the GUI thread ticks from the
submit of the analysis until its result is shown. ``child`` is the app as shipped (the analysis
in a child process); ``thread`` is the baseline, the same job run in the worker thread
(``analyse_job``, the previous path). Prints one JSON line per run and the mean ± spread.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_run(mode: str) -> dict:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    from real_window_session import LagMonitor, _shared_home

    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "WORKBENCH_HOME" not in os.environ:
        _shared_home()
    from workbench.ui import app as app_module
    from workbench.ui import window_model
    from workbench.ui.background_jobs import analyse_job
    from workbench.ui.main_window import MainWindow

    if mode == "thread":  # the baseline: the previous in-thread job
        window_model.analyse_child_job = lambda *a, project_path=None, **k: analyse_job(*a, **k)
    app = app_module._app()
    win = MainWindow()
    win.resize(1366, 768)
    win.show()
    lag = LagMonitor()
    lag.context = lambda: ", ".join(f"{j.kind}:{j.phase or j.label}" for j in win.session.jobs.running())
    s = win.session
    errors = []
    s.sig_error.connect(lambda m, d: errors.append(m))
    lag.start()
    lag.set_step("open")
    t0 = time.monotonic()
    app_module.open_sample_project(s, Path(tempfile.mkdtemp(prefix="wb-lag-")))
    while not s.jobs["analyse"].busy and s.analysis is None and not errors:
        app.processEvents()
        time.sleep(0.002)
    lag.set_step("analysis")
    t1 = time.monotonic()
    while (s.analysis is None or s.jobs.running()) and not errors and time.monotonic() - t0 < 900:
        app.processEvents()
        time.sleep(0.002)
    lag.set_step("end")
    lag.stop()
    r = lag.report()
    return {"mode": mode, "errors": errors, "examples": int(s.ws.n) if s.ws is not None else 0,
            "analysis_s": round(time.monotonic() - t1, 1),
            "longest_stall_during_analysis_ms": r["by_step_ms"].get("analysis", 0.0),
            "stalls_over_200ms": [st for st in r["stalls_over_100ms"] if st[1] > 0.2],
            "where_stalled": r["where_stalled"]}


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] == "--one":
        print(json.dumps(one_run(args[1])), flush=True)
        return 0
    modes = [args[0]] if args else ["thread", "child"]
    runs = int(args[1]) if len(args) > 1 else 3
    for mode in modes:
        worst = []
        for _ in range(runs):
            out = subprocess.run([sys.executable, __file__, "--one", mode], capture_output=True, text=True)
            line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
            print(line, flush=True)
            worst.append(json.loads(line).get("longest_stall_during_analysis_ms", float("nan")))
        sd = statistics.stdev(worst) if len(worst) > 1 else 0.0
        print(f"{mode}: longest stall during the analysis {statistics.mean(worst):.0f} ± {sd:.0f} ms "
              f"(min {min(worst):.0f}, max {max(worst):.0f}, {runs} runs)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
