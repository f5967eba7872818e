"""GUI entry point: ``workbench`` (welcome pane), ``workbench FILE...``, ``workbench PROJECT``,
``workbench --smoke-test``.

Start-up imports Qt and pyqtgraph only; the embedding model, UMAP and HDBSCAN are imported by
the background jobs when an analysis runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_SOURCES = [
    ("train_banking_chat.jsonl", "train"),
    ("train_dolly_alpaca.jsonl", "train"),
    ("production_banking.jsonl", "production"),
    ("eval_banking_chat.jsonl", "eval"),
]
SMOKE_TIMEOUT_S = 900


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workbench",
        description="Open the Curation Workbench app, optionally with data files or a .wbproj project.")
    p.add_argument("paths", nargs="*", help="data files (role guessed from the name; train by default) or one .wbproj project")
    p.add_argument("--train", action="append", default=[], metavar="FILE", help="add FILE as training data")
    p.add_argument("--production", action="append", default=[], metavar="FILE", help="add FILE as production inputs")
    p.add_argument("--eval", action="append", default=[], metavar="FILE", help="add FILE as eval data")
    p.add_argument("--reference", action="append", default=[], metavar="FILE", help="add FILE as reference data")
    p.add_argument("--no-analysis", action="store_true", help="do not start the analysis after loading files")
    p.add_argument("--sample", action="store_true",
                   help="open the sample project (sample_data: Banking77 + Dolly train, production, eval) and analyse it")
    p.add_argument("--smoke-test", action="store_true",
                   help="open the window offscreen on sample_data, run a small analysis, exit 0 when it works")
    p.add_argument("--screenshot", metavar="PNG", help="with --smoke-test: save the window to PNG at the end")
    return p


def guess_role(path: str | Path) -> str:
    """A role from a file name: production/prod/logs, eval/test, reference/replay; else train."""
    name = Path(path).name.lower()
    if any(k in name for k in ("production", "prod_", "_prod", "logs", "traffic")):
        return "production"
    if any(k in name for k in ("eval", "test", "heldout", "held_out")):
        return "eval"
    if any(k in name for k in ("reference", "replay", "safety", "general")):
        return "reference"
    return "train"


def project_for_files(files: list[Path]) -> Path:
    """A new project path for files opened without a project (in the workbench's projects folder)."""
    from workbench.ui.ui_settings import projects_dir

    stem = Path(files[0]).stem if files else "untitled"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = projects_dir() / f"{stem}-{stamp}.wbproj"
    k = 1
    while base.exists():
        k += 1
        base = projects_dir() / f"{stem}-{stamp}-{k}.wbproj"
    return base


def open_sample_project(session, folder: Path | None = None) -> bool:
    """Open (or create) the sample project: banking train/production/eval plus Dolly; analyse."""
    from workbench.core import paths
    from workbench.core.errors import WorkbenchError
    from workbench.project import Project
    from workbench.ui.ui_settings import projects_dir

    data = paths.sample_data_dir()
    folder = folder or projects_dir()
    path = folder / "sample.wbproj"
    if path.exists():
        try:
            with Project.open(path, read_only=True) as probe:
                ok = all(Path(s.path).exists() for s in probe.sources)
        except WorkbenchError:
            ok = False
        if ok:
            return session.open_project(path, analyse=True)
        path = folder / f"sample-{time.strftime('%Y%m%d-%H%M%S')}.wbproj"
    if not session.new_project(path):
        return False
    return session.add_files([(data / name, role) for name, role in SAMPLE_SOURCES], analyse=True)


def _app():
    from PySide6 import QtCore, QtGui, QtWidgets

    QtCore.QCoreApplication.setOrganizationName("Curation Workbench")
    QtCore.QCoreApplication.setApplicationName("Curation Workbench")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    from workbench.core import paths

    icon = paths.resources_dir() / "icons" / "workbench.svg"
    if icon.exists():
        app.setWindowIcon(QtGui.QIcon(str(icon)))
    from workbench.ui import theme

    theme.apply_style(app)
    return app


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.INFO if args.smoke_test else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.smoke_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    app = _app()
    from workbench.ui import crash
    from workbench.ui.main_window import MainWindow

    crash.install()
    win = MainWindow()
    if args.smoke_test:
        return smoke_test(app, win, args.screenshot)
    win.show()
    files = [Path(p) for p in args.paths]
    projects = [f for f in files if f.suffix == ".wbproj"]
    roles = {str(Path(f)): r for r, group in (("train", args.train), ("production", args.production),
                                               ("eval", args.eval), ("reference", args.reference)) for f in group}
    data = [f for f in files if f.suffix != ".wbproj"] + [Path(f) for f in roles]
    if args.sample:
        open_sample_project(win.session)
    elif projects:
        win.session.open_project(projects[0], analyse=not args.no_analysis)
    elif data:
        missing = [str(f) for f in data if not f.exists()]
        if missing:
            print(f"workbench: error: no such file: {', '.join(missing)}", file=sys.stderr)
            return 2
        if win.open_files(data, roles) and not args.no_analysis:
            _analyse_after_load(win)
    return app.exec()


def _analyse_after_load(win) -> None:
    """Start the analysis once the freshly added files are loaded."""
    def go():
        win.session.sig_workspace.disconnect(go)
        if win.session.ws is not None and win.session.ws.n:
            win.session.run_analysis()

    win.session.sig_workspace.connect(go)


def smoke_test(app, win, screenshot: str | None = None) -> int:
    """Open sample_data in a throwaway project, analyse it, check the window shows it; 0 = pass."""
    from PySide6 import QtCore

    state = {"code": None, "t0": time.monotonic()}
    # closing the window after exec() returned would leave Qt "quitting" (every later event loop
    # in this process, e.g. the next test's, would return at once): close it inside the loop
    quit_on_close = app.quitOnLastWindowClosed()
    app.setQuitOnLastWindowClosed(False)
    tmp = tempfile.TemporaryDirectory(prefix="workbench-smoke-")
    s = win.session

    def finish(code: int, message: str) -> None:
        if state["code"] is not None:
            return
        state["code"] = code
        print(f"smoke test: {message}", flush=True)
        if screenshot:
            win.grab().save(screenshot)
        win.close()
        app.quit()

    def on_analysis() -> None:
        a = s.analysis
        if a is None:
            return
        n_points = win.map.n_points
        if n_points != s.ws.n or win.table.model.rowCount() != s.ws.n:
            finish(1, f"window shows {n_points} points / {win.table.model.rowCount()} rows for {s.ws.n} examples")
            return
        finish(0, f"ok — {s.ws.n} examples, {len(a.clusters)} clusters, {len(a.duplicates)} duplicate groups, "
                  f"{len(a.gaps)} gaps, device {getattr(s.encoder, 'device', '?')}, "
                  f"{time.monotonic() - state['t0']:.1f} s")

    def on_error(message: str, detail: str) -> None:
        finish(1, f"failed: {message}\n{detail}")

    s.sig_analysis.connect(on_analysis)
    s.sig_error.connect(on_error)
    s.sig_stale.connect(lambda m: finish(1, f"stale: {m}"))
    s.jobs["analyse"].sig_cancelled.connect(lambda _t: finish(1, "analysis cancelled"))
    s.jobs.sig_activity.connect(lambda: _print_phase(s))
    win.resize(1400, 900)
    win.show()
    QtCore.QTimer.singleShot(0, lambda: open_sample_project(s, Path(tmp.name)) or finish(1, "could not open sample data"))
    QtCore.QTimer.singleShot(SMOKE_TIMEOUT_S * 1000, lambda: finish(1, f"timed out after {SMOKE_TIMEOUT_S} s"))
    app.exec()
    app.setQuitOnLastWindowClosed(quit_on_close)
    tmp.cleanup()
    return int(state["code"] if state["code"] is not None else 1)


_last_phase = [""]


def _print_phase(session) -> None:
    jobs = session.jobs.running()
    if jobs and jobs[-1].phase and jobs[-1].phase != _last_phase[0]:
        _last_phase[0] = jobs[-1].phase
        print(f"  {jobs[-1].phase}", flush=True)
