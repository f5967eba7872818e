"""The main window: map in the middle, table below, example on the right, findings on the left.

It only wires views to the :class:`~workbench.ui.window_model.WindowModel`; it owns no data. Menus and
the toolbar are built in :mod:`workbench.ui.actions`; the status bar in
:mod:`workbench.ui.status`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from workbench.ui import colouring, theme, ui_settings
from workbench.ui.dialogs import LoadProblemsDialog, show_error
from workbench.ui.example_panel import ExamplePanel
from workbench.ui.map_view import MapView
from workbench.ui.window_model import WindowModel
from workbench.ui.status import StatusBar
from workbench.ui.table_view import ExamplesTable
from workbench.ui.welcome import WelcomePane

log = logging.getLogger(__name__)

DATA_SUFFIXES = {".jsonl", ".json", ".csv", ".parquet", ".pq", ".ndjson"}
PROJECT_SUFFIX = ".wbproj"


_PREWARM = ("workbench.analysis.project_analysis", "workbench.analysis.pipeline", "workbench.curate.actions",
            "workbench.curate.resolve", "workbench.curate.export", "workbench.curate.rebalance")


def prewarm_imports() -> None:
    """Import what the analysis and the curation need in a background thread once a project is
    open, so the first Ctrl+R / first action does not spend ~0.3 s importing on the GUI thread
    (start-up itself stays light: nothing heavy is imported before a project is opened)."""
    import importlib
    import sys
    import threading

    todo = [m for m in _PREWARM if m not in sys.modules]
    if todo:
        threading.Thread(target=lambda: [importlib.import_module(m) for m in todo], name="prewarm",
                         daemon=True).start()


def cluster_label_positions(a, min_size: int = 5) -> list[tuple[float, float, str, int]]:
    """(x, y, label, size) at the centre (median position) of each cluster with a map position."""
    if a is None:
        return []
    cl = np.asarray(a.cluster)
    x, y = np.asarray(a.x, np.float64), np.asarray(a.y, np.float64)
    ok = (cl >= 0) & np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return []
    order = np.argsort(cl[ok], kind="stable")
    ids, xs, ys = cl[ok][order], x[ok][order], y[ok][order]
    bounds = np.flatnonzero(np.diff(ids)) + 1
    out = []
    for part in np.split(np.arange(len(ids)), bounds):
        if len(part) < min_size:
            continue
        cid = int(ids[part[0]])
        label = a.cluster_labels.get(cid, f"cluster {cid}")
        out.append((float(np.median(xs[part])), float(np.median(ys[part])), label, len(part)))
    return out


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, session: WindowModel | None = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Curation Workbench")
        self.setAcceptDrops(True)
        self.setDockOptions(QtWidgets.QMainWindow.AnimatedDocks | QtWidgets.QMainWindow.AllowTabbedDocks)
        # side panels run the full height; the table sits under the map only
        self.setCorner(QtCore.Qt.BottomLeftCorner, QtCore.Qt.LeftDockWidgetArea)
        self.setCorner(QtCore.Qt.BottomRightCorner, QtCore.Qt.RightDockWidgetArea)
        self.setTabPosition(QtCore.Qt.LeftDockWidgetArea, QtWidgets.QTabWidget.West)
        self.session = session or WindowModel(parent=self)
        self.colour_key = ui_settings.get("colour_by", "cluster")
        self._build_views()
        from workbench.ui import actions

        self.actions = actions.build(self)
        self.status = StatusBar(self.session, self)
        self.setStatusBar(self.status)
        self._connect()
        self._restore_layout()
        self._show_welcome(True)

    # -- layout --------------------------------------------------------------------------------
    def _build_views(self) -> None:
        s = self.session
        self.map = MapView()
        self.map.set_hover_text(self._hover_text)
        self.welcome = WelcomePane()
        from workbench.ui.finding_review import ReviewView

        self.review = ReviewView(s)
        self.review.sig_step.connect(self.step_finding)
        self.review.sig_wide.connect(self.set_wide_review)
        self.tabs = QtWidgets.QTabWidget()  # the map, and the Review of one finding at full width
        self.tabs.setObjectName("centerTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.map, "Map")
        self.tabs.addTab(self.review, "Review")
        self.tabs.setTabToolTip(1, "The selected duplicate group, conflict or leak, members side by side")
        self.center = QtWidgets.QStackedWidget()
        self.center.addWidget(self.welcome)
        self.center.addWidget(self.tabs)
        self.setCentralWidget(self.center)
        self.table = ExamplesTable(s)
        self.example = ExamplePanel(s)
        self.table_dock = self._dock("Examples", "examplesDock", self.table, QtCore.Qt.BottomDockWidgetArea)
        self.example_dock = self._dock("Example", "exampleDock", self.example, QtCore.Qt.RightDockWidgetArea)
        from workbench.ui.finding_panels import make_panels

        self.panels = make_panels(s, self)
        self.panel_docks: list[QtWidgets.QDockWidget] = []
        first = None
        for panel in self.panels:
            dock = self._dock(panel.title, f"{panel.objectName()}Dock", panel, QtCore.Qt.LeftDockWidgetArea)
            if first is None:
                first = dock
            else:
                self.tabifyDockWidget(first, dock)
            self.panel_docks.append(dock)
        if first is not None:
            first.raise_()
        screen = QtGui.QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else QtCore.QRect(0, 0, 1440, 900)
        self.resize(min(1440, avail.width()), min(900, avail.height()))
        self._initial_dock_sizes()
        self._active_panel = None
        for panel in self.panels:
            panel.sig_active.connect(lambda p=panel: setattr(self, "_active_panel", p))

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if not getattr(self, "_sized", False) and not ui_settings.get("window_state"):
            self._sized = True  # first run: give the side panels room for their columns
            self._initial_dock_sizes()

    def _initial_dock_sizes(self) -> None:
        """Side panels of about a quarter of the width each (room for a 1366 px screen), the
        table a third of the height."""
        w, h = self.width(), self.height()
        side = max(280, min(440, int(w * 0.26)))
        self.resizeDocks([self.example_dock] + self.panel_docks[:1], [side, max(260, min(400, int(w * 0.24)))],
                         QtCore.Qt.Horizontal)
        self.resizeDocks([self.table_dock], [max(180, min(280, int(h * 0.32)))], QtCore.Qt.Vertical)

    def _dock(self, title: str, name: str, widget: QtWidgets.QWidget, area) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetMovable | QtWidgets.QDockWidget.DockWidgetClosable
                         | QtWidgets.QDockWidget.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        s = self.session
        s.sig_project.connect(self._on_project)
        s.sig_workspace.connect(self._on_workspace)
        s.sig_analysis.connect(self._on_analysis)
        s.sig_changed.connect(self._on_changed)
        s.sig_placed.connect(self._on_placed)
        s.sig_error.connect(lambda msg, detail: show_error(self, msg, detail))
        s.jobs.sig_activity.connect(self._on_activity)
        s.sig_stale.connect(self._on_stale)
        s.sig_message.connect(lambda m: self.status.showMessage(m, 8000))
        s.sig_load_problems.connect(self._on_load_problems)
        s.sig_source_problems.connect(self.show_source_problems)
        s.sig_relink_changed.connect(self._on_relink_changed)
        s.selection.sig_changed.connect(self._on_selection)
        s.selection.sig_current_changed.connect(self._on_current)
        self.map.sig_select.connect(lambda rows, mode: s.selection.set(rows, "map", mode=mode))
        self.map.sig_activate.connect(lambda row: s.selection.set_current(row, "map"))
        self.map.sig_legend.connect(lambda e, mode: s.selection.set(e.key, "legend", mode=mode))
        self.table.sig_activate.connect(lambda row: self._open_example(row))
        self.welcome.sig_sample.connect(self.open_sample)
        self.welcome.sig_open.connect(self.open_project_dialog)
        self.welcome.sig_new.connect(self.new_project_dialog)
        self.welcome.sig_open_path.connect(self.open_path)
        hints = QtGui.QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._on_scheme)

    def _show_welcome(self, on: bool) -> None:
        self.center.setCurrentWidget(self.welcome if on else self.tabs)
        for dock in [self.table_dock, self.example_dock] + self.panel_docks:
            dock.setVisible(not on and dock.property("wanted") is not False)
        if on:
            self.welcome.refresh()

    # -- session events ------------------------------------------------------------------------
    def _on_project(self) -> None:
        p = self.session.project
        self.setWindowTitle(f"{p.path.name} — Curation Workbench" if p is not None else "Curation Workbench")
        if p is not None:
            self.actions.refresh_recent(ui_settings.add_recent(p.path))
            prewarm_imports()
        self._show_welcome(p is None)
        self._update_actions()

    def _on_workspace(self) -> None:
        self.map.set_points(None, None)
        self._recolour()
        self._update_actions()

    def _on_analysis(self) -> None:
        a = self.session.analysis
        self.actions.refresh_colour_choices()
        if a is None:
            self.map.set_points(None, None)
            self.map.set_labels([])
            self._on_activity()
        else:
            if not self.session.analysis_stale:
                self.status.clear_notice("stale")
                self._stale_since = None
            self.map.set_points(a.x, a.y)
            self._recolour()
            self.map.set_labels(cluster_label_positions(a))
            self._update_dimmed()
            self._on_selection("analysis")
            prod = np.asarray(self.session.ws.role, dtype=object) == "production"
            ok = prod & np.isfinite(a.x)
            self.map.set_density(a.x[ok], a.y[ok])
        self._update_actions()

    def _on_placed(self) -> None:
        a = self.session.analysis
        if a is not None:
            self.map.set_points(a.x, a.y, keep_view=True)
            self._recolour()
            self._update_dimmed()
            self._on_selection("change")

    def _on_changed(self, change) -> None:
        a = self.session.analysis
        if change.structural and a is not None:
            self.map.set_points(a.x, a.y, keep_view=True)  # promoting must not reset the zoom
            self._recolour()
        elif self.colour_key == "state":
            self._recolour()
        self._update_dimmed()
        self._on_selection("change")
        self._update_actions()
        p = self.session.project
        since = getattr(self, "_stale_since", None)
        if since is not None and p is not None and p.undo_count <= since and self.session.analysis is not None:
            # every change since the analysis was undone: the map is up to date again
            self.session.analysis_stale = False
            self._stale_since = None
            self.status.clear_notice("stale")

    def _on_stale(self, message: str) -> None:
        p = self.session.project
        if message.startswith("Examples changed") and p is not None:
            self._stale_since = p.undo_count - 1  # the journal position the analysis matches
        else:
            self._stale_since = None
        self.status.show_stale(message)

    def _on_activity(self) -> None:
        """While an analysis runs the map area says so, with its phase and progress."""
        jobs = [j for j in self.session.jobs.running() if j.kind in ("analyse", "load")]
        if jobs:
            j = jobs[-1]
            frac = (j.done / j.total) if j.total > 0 else None
            self.map.show_progress(j.phase or j.label, frac)
        else:
            self.map.show_progress(None)

    def _on_load_problems(self, problems) -> None:
        self.status.show_load_problems(len(problems))

    def show_source_problems(self, problems) -> None:
        """Files moved or changed: Locate… / Accept the change / Remove the source / Later."""
        from workbench.ui.source_problems import SourceProblemsDialog

        old = getattr(self, "source_problems", None)
        if old is not None:
            old.close()
        dlg = self.source_problems = SourceProblemsDialog(self.session, problems, self)
        dlg.rejected.connect(lambda: self.status.show_sources_notice(len(problems)))
        dlg.accepted.connect(lambda: self.status.clear_notice("sources"))
        dlg.setAttribute(QtCore.Qt.WA_DeleteOnClose)
        dlg.destroyed.connect(lambda *_: setattr(self, "source_problems", None))
        dlg.open()

    def _on_relink_changed(self, source_id: int, path: str, message: str) -> None:
        from workbench.ui.source_problems import ask_accept_instead

        ask_accept_instead(self, source_id, path, message)

    def show_load_problems(self) -> None:
        LoadProblemsDialog(self.session.load_problems, self).show()

    def _on_selection(self, origin: str) -> None:
        sel = self.session.selection
        if self.map.n_points:
            self.map.set_selected(sel.mask() if len(sel) else None)
        self.status.update_counts()
        self._update_actions()

    def _on_current(self, row: int, origin: str) -> None:
        if row >= 0 and origin in ("map", "table", "panel", "finding"):
            self.example_dock.show()
            self.example_dock.raise_()

    def _open_example(self, row: int) -> None:
        self.session.selection.set([row], "table", current=row)

    def _update_dimmed(self) -> None:
        ws = self.session.ws
        if ws is not None and self.map.n_points == ws.n:
            rejected = np.asarray(ws.rejected, bool)
            self.map.set_dimmed(rejected if rejected.any() else None)

    def _recolour(self) -> None:
        if self.session.ws is None:
            return
        colours, title, legend = colouring.colour_by(self.session, self.colour_key)
        if self.map.n_points == len(colours):
            self.map.set_colours(colours, title, legend)

    def set_colour_by(self, key: str) -> None:
        self.colour_key = key
        ui_settings.put(colour_by=key)
        self.actions.check_colour(key)
        self._recolour()

    def _update_actions(self) -> None:
        self.actions.update_state()
        self.status.update_counts()

    def _on_scheme(self, *_args) -> None:
        theme.apply_style(QtWidgets.QApplication.instance())
        self.map.restyle()
        self._recolour()

    def _hover_text(self, row: int) -> str:
        ws = self.session.ws
        if ws is None or row >= ws.n:
            return ""
        import html

        text = " ".join(str(ws.prompt[row]).split())
        text = text if len(text) < 220 else text[:219] + "…"
        head = f"{ws.source_names[row]}:{int(ws.line[row])} · {ws.role[row]}"
        a = self.session.analysis
        if a is not None and row < a.n and a.cluster[row] >= 0:
            head += f" · {a.cluster_labels.get(int(a.cluster[row]), '')}"
        if ws.rejected[row]:
            head += " · rejected"
        return f"<b>{html.escape(head)}</b><br>{html.escape(text)}"

    # -- commands ------------------------------------------------------------------------------
    def open_path(self, path: str) -> None:
        p = Path(path)
        if p.suffix == PROJECT_SUFFIX or p.name.endswith(PROJECT_SUFFIX):
            self.session.open_project(p)
        else:
            self.open_files([p])

    def open_project_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open project", str(ui_settings.projects_dir()),
                                                        "Curation Workbench projects (*.wbproj)")
        if path:
            self.session.open_project(path)

    def new_project_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "New project", str(ui_settings.projects_dir() / "untitled.wbproj"),
                                                        "Curation Workbench projects (*.wbproj)")
        if not path:
            return
        if not path.endswith(PROJECT_SUFFIX):
            path += PROJECT_SUFFIX
        if self.session.new_project(path):
            self.add_data_dialog("train")

    def add_data_dialog(self, role: str) -> None:
        if self.session.project is None:
            self.new_project_dialog()
            return
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self, f"Add {role} data", str(Path.home()),
            "Data files (*.jsonl *.json *.csv *.parquet *.ndjson);;All files (*)")
        if paths and role == "production":  # with its snapshot date (default today, or initial)
            from workbench.ui import snapshot_date

            snapshot_date.add_production(self, paths)
        elif paths:
            self.session.add_sources(paths, role)

    def open_files(self, files: list[Path], roles: dict[str, str] | None = None) -> bool:
        """Open data files: into the open project, or a new project made for them."""
        from workbench.ui.app import guess_role, project_for_files

        if self.session.project is None:
            path = project_for_files(files)
            if not self.session.new_project(path):
                return False
        pairs = [(f, (roles or {}).get(str(f)) or guess_role(f)) for f in files]
        return self.session.add_files(pairs)

    def open_sample(self) -> None:
        from workbench.ui.app import open_sample_project

        open_sample_project(self.session)

    def run_analysis(self) -> None:
        self.session.run_analysis()

    def analysis_settings(self) -> None:
        from workbench.ui.dialogs import AnalysisSettingsDialog

        if self.session.project is None:
            return
        p = self.session.project
        dlg = AnalysisSettingsDialog(self.session.analysis_params(), self,
                                     device=p.settings.get("device", "auto"), unit=p.unit)
        if dlg.exec() == QtWidgets.QDialog.Accepted:
            self.session.save_analysis_params(dlg.values())
            if dlg.device_value() != p.settings.get("device", "auto"):
                p.settings.set("device", dlg.device_value())
            if dlg.unit_value() != p.unit:
                p.settings.set("unit", dlg.unit_value())
                self.session.reload()  # the prompts to analyse changed
            self.status.showMessage("Analysis settings saved; run the analysis (Ctrl+R) to apply them.", 8000)

    def export_dialog(self) -> None:
        from workbench.ui.export_dialog import ExportDialog

        if self.session.ws is None:
            show_error(self, "Open a project with data before exporting.")
            return
        ExportDialog(self.session, self).show()

    def rebalance_dialog(self) -> None:
        from workbench.ui.rebalance_dialog import RebalanceDialog

        if self.session.analysis is None:
            show_error(self, "Run the analysis first (Ctrl+R): rebalancing works on clusters.")
            return
        RebalanceDialog(self.session, self).show()

    def select_all(self) -> None:
        if self.session.ws is not None:
            self.session.selection.set(np.arange(self.session.ws.n), "menu")

    def select_none(self) -> None:
        self.session.selection.clear("menu")

    def reject_selected(self) -> None:
        from workbench.project.journal import Reject

        rows = self.session.selection.rows
        if len(rows):
            reason = self.example.take_reason()
            self.session.apply(Reject(self.session.ids_of(rows), reason))

    # -- the Review tab --------------------------------------------------------------------------
    def show_review(self, panel, finding) -> None:
        self.review.show_finding(panel, finding)

    def open_review(self) -> None:
        self.tabs.setCurrentWidget(self.review)

    def set_wide_review(self, on: bool) -> None:
        """Review at the window's full width: the side panels step aside (and come back)."""
        docks = [self.example_dock, self.table_dock] + self.panel_docks
        if on:
            self._wide_hidden = [d for d in docks if d.isVisible()]
            for d in self._wide_hidden:
                d.hide()
        else:
            for d in getattr(self, "_wide_hidden", []):
                d.show()
            self._wide_hidden = []
            for panel, dock in zip(self.panels, self.panel_docks):
                if panel is self._active_panel:
                    dock.raise_()

    def edit_example(self, row: int) -> None:
        """Open ``row`` in the Example panel with the cursor in its response."""
        self.example_dock.show()
        self.example_dock.raise_()
        if self.example.row == row and self.example.editors:
            ed = next((e for e in reversed(self.example.editors) if e.role == "assistant"), self.example.editors[-1])
            ed.setFocus(QtCore.Qt.OtherFocusReason)

    # -- keyboard-first review -----------------------------------------------------------------
    def _review_panel(self):
        """The finding panel the curator works in: the last one used, else the one on top."""
        for panel, dock in zip(self.panels, self.panel_docks):
            if panel is self._active_panel and dock.isVisible() and not dock.visibleRegion().isEmpty():
                return panel
        for panel, dock in zip(self.panels, self.panel_docks):
            if dock.isVisible() and not dock.visibleRegion().isEmpty():
                return panel
        return self._active_panel

    def step_finding(self, delta: int) -> None:
        """Next (+1) / previous (-1) finding of the panel in use; the table's next row without one."""
        panel = self._review_panel()
        if panel is not None and panel.findings:
            panel.step(delta)
            return
        self.table.step(delta)

    def reject_and_next(self) -> None:
        """Reject the open example (with the typed reason) and go to the next finding."""
        row = self.session.selection.current
        if row < 0 or self.session.ws is None:
            return
        from workbench.project.journal import Reject

        if not self.session.ws.rejected[row]:
            self.session.apply(Reject(self.session.ids_of([row]), self.example.take_reason()))
        self.step_finding(+1)

    def restore_current(self) -> None:
        row = self.session.selection.current
        if row >= 0 and self.session.ws is not None and self.session.ws.rejected[row]:
            from workbench.project.journal import Restore

            self.session.apply(Restore(self.session.ids_of([row]), self.example.take_reason()))

    def find(self) -> None:
        self.table_dock.show()
        self.table_dock.raise_()
        self.table.focus_search()

    # -- drag and drop -------------------------------------------------------------------------
    def dragEnterEvent(self, ev: QtGui.QDragEnterEvent) -> None:
        if ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()

    def dropEvent(self, ev: QtGui.QDropEvent) -> None:
        files = [Path(u.toLocalFile()) for u in ev.mimeData().urls() if u.isLocalFile()]
        projects = [f for f in files if f.suffix == PROJECT_SUFFIX]
        if projects:
            self.session.open_project(projects[0])
        data = [f for f in files if f.suffix.lower() in DATA_SUFFIXES]
        if data and not projects:
            self.open_files(data)
        ev.acceptProposedAction()

    # -- persistence ---------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geom = ui_settings.decode(ui_settings.get("geometry"))
        state = ui_settings.decode(ui_settings.get("window_state"))
        if geom:
            self.restoreGeometry(QtCore.QByteArray(geom))
        if state:
            self.restoreState(QtCore.QByteArray(state))

    def save_layout(self) -> None:
        ui_settings.put(geometry=ui_settings.encode(self.saveGeometry().data()),
                        window_state=ui_settings.encode(self.saveState().data()))

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        if self.center.currentWidget() is self.tabs:
            self.save_layout()
        self.session.close()
        self.session.jobs.wait_all(5000)
        super().closeEvent(ev)
