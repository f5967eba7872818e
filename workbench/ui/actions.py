"""Menus, toolbar and keyboard shortcuts of the main window.

Every command is a ``QAction`` with a shortcut where it helps (listed in Help → Keyboard
shortcuts). Undo and Redo carry the name of what they will undo ("Undo Reject 3 examples").
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from workbench.ui import colouring, drift_dialog, eval_set_dialog, readiness_dialog

SHORTCUTS_HELP = """
<table cellpadding=3>
<tr><td><b>Ctrl+O</b></td><td>Open project</td></tr>
<tr><td><b>Ctrl+R</b></td><td>Run the analysis</td></tr>
<tr><td><b>Ctrl+Z / Ctrl+Shift+Z</b></td><td>Undo / redo (named after the action)</td></tr>
<tr><td><b>Ctrl+F</b></td><td>Find in the table</td></tr>
<tr><td><b>Ctrl+A / Esc</b></td><td>Select all / none</td></tr>
<tr><td><b>Delete</b></td><td>Reject the selected examples (with the reason typed, then the box is cleared)</td></tr>
<tr><td><b>J / K</b></td><td>Next / previous finding in the panel you work in</td></tr>
<tr><td><b>X</b></td><td>Reject the open example and go to the next finding</td></tr>
<tr><td><b>R</b></td><td>Restore the open example</td></tr>
<tr><td><b>Ctrl+Return</b></td><td>Save the edit of the open example</td></tr>
<tr><td><b>Ctrl+E</b></td><td>Export</td></tr>
<tr><td><b>P / B / L</b></td><td>Map: pan, box select, lasso select (Shift adds, Alt removes)</td></tr>
<tr><td><b>F</b></td><td>Map: fit everything</td></tr>
<tr><td><b>1 … 8</b></td><td>Colour the map by cluster, role, gap, flag, state, duplicate, source, production
snapshot</td></tr>
</table>
"""


class Actions(QtCore.QObject):
    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.colour_actions: dict[str, QtGui.QAction] = {}

    def act(self, text: str, slot, shortcut=None, tip: str = "", parent=None) -> QtGui.QAction:
        a = QtGui.QAction(text, parent or self.win)
        if shortcut:
            a.setShortcuts(shortcut if isinstance(shortcut, list) else [QtGui.QKeySequence(shortcut)])
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(lambda _=False: slot())
        return a

    # -- state ---------------------------------------------------------------------------------
    def update_state(self) -> None:
        s = self.win.session
        p = s.project
        has_project = p is not None
        has_data = s.ws is not None and s.ws.n > 0
        can_undo = bool(has_project and p.can_undo)
        can_redo = bool(has_project and p.can_redo)
        self.undo.setEnabled(can_undo)
        self.redo.setEnabled(can_redo)
        self.undo.setText(f"&Undo {p.undo_label}" if can_undo else "&Undo")
        self.redo.setText(f"&Redo {p.redo_label}" if can_redo else "&Redo")
        self.undo.setIconText("Undo")
        self.redo.setIconText("Redo")
        self.undo.setToolTip(self.undo.text().replace("&", "") + " (Ctrl+Z)")
        self.redo.setToolTip(self.redo.text().replace("&", "") + " (Ctrl+Shift+Z)")
        for a in self.needs_project:
            a.setEnabled(has_project)
        for a in self.needs_data:
            a.setEnabled(has_data)
        self.rebalance.setEnabled(s.analysis is not None)
        self.reject.setEnabled(len(s.selection) > 0)

    def refresh_recent(self, items: list[str]) -> None:
        self.recent_menu.clear()
        for path in items:
            if not Path(path).exists():
                continue
            a = self.recent_menu.addAction(Path(path).name)
            a.setToolTip(path)
            a.triggered.connect(lambda _=False, p=path: self.win.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    def refresh_colour_choices(self) -> None:
        menu = self.colour_menu
        menu.clear()
        self.colour_actions.clear()
        group = QtGui.QActionGroup(menu)
        combo = self.colour_combo
        combo.blockSignals(True)
        combo.clear()
        for key, text in colouring.choices(self.win.session):
            a = QtGui.QAction(text, menu, checkable=True)
            if key in colouring.SHORTCUT_KEYS:  # explicit per choice: stable when choices are added
                a.setShortcut(QtGui.QKeySequence(colouring.SHORTCUT_KEYS[key]))
                a.setShortcutContext(QtCore.Qt.WindowShortcut)
            a.triggered.connect(lambda _=False, kk=key: self.win.set_colour_by(kk))
            group.addAction(a)
            menu.addAction(a)
            self.colour_actions[key] = a
            combo.addItem(text, key)
        combo.blockSignals(False)
        self.check_colour(self.win.colour_key)

    def check_colour(self, key: str) -> None:
        if key in self.colour_actions:
            self.colour_actions[key].setChecked(True)
        i = self.colour_combo.findData(key)
        if i >= 0:
            self.colour_combo.blockSignals(True)
            self.colour_combo.setCurrentIndex(i)
            self.colour_combo.blockSignals(False)


def build(win) -> Actions:
    A = Actions(win)
    mb = win.menuBar()
    # File
    m = mb.addMenu("&File")
    A.new = A.act("&New project…", win.new_project_dialog, QtGui.QKeySequence.New, "Create a project, then add data")
    A.open = A.act("&Open project…", win.open_project_dialog, QtGui.QKeySequence.Open, "Open a .wbproj project")
    A.sample = A.act("Open &sample project", win.open_sample, tip="Banking and Dolly samples with production and eval data")
    m.addActions([A.new, A.open, A.sample])
    A.recent_menu = m.addMenu("Open &recent")
    m.addSeparator()
    A.add = {}
    for role, text in (("train", "Add &train data…"), ("production", "Add &production data…"),
                       ("eval", "Add &eval data…"), ("reference", "Add r&eference data…")):
        a = A.act(text, lambda r=role: win.add_data_dialog(r), tip=f"Add files as {role} data")
        A.add[role] = a
        m.addAction(a)
    from workbench.ui import source_actions

    m.addAction(A.act("Re&move a source…", lambda: source_actions.remove_source(win),
                      tip="Take a wrongly added source out of the project (its file is not touched)"))
    m.addAction(A.act("Change a source's &role…", lambda: source_actions.change_role(win),
                      tip="Make a source train, production, eval or reference data"))
    m.addAction(A.act("Chec&k sources…", lambda: win.session.reload(),
                      tip="Read every source again; a moved or changed file asks what to do (locate, accept, remove)"))
    from workbench.ui import snapshot_date

    m.addAction(A.act("Set a log's snapshot &date…", lambda: snapshot_date.set_date(win),
                      tip="The date of a production log (its snapshot for Drift and Colour by ▸ Production snapshot)"))
    A.reload = A.act("Re&load data", lambda: win.session.reload(), tip="Read every source file again")
    m.addAction(A.reload)
    A.problems = A.act("Lines &not loaded…", win.show_load_problems,
                       tip="The lines of the data files that could not be loaded, with file, line and reason")
    m.addAction(A.problems)
    m.addSeparator()
    A.export = A.act("&Export…", win.export_dialog, "Ctrl+E", "Export the curated dataset with a manifest and report (Ctrl+E)")
    m.addAction(A.export)
    m.addSeparator()
    A.quit = A.act("&Quit", win.close, QtGui.QKeySequence.Quit)
    m.addAction(A.quit)
    # Edit
    m = mb.addMenu("&Edit")
    A.undo = A.act("&Undo", lambda: win.session.undo(), [QtGui.QKeySequence("Ctrl+Z")])
    A.redo = A.act("&Redo", lambda: win.session.redo(), [QtGui.QKeySequence("Ctrl+Shift+Z"), QtGui.QKeySequence("Ctrl+Y")])
    A.undo.setIconText("Undo")  # the toolbar stays short; the menu and tooltip name the action
    A.redo.setIconText("Redo")
    m.addActions([A.undo, A.redo])
    m.addSeparator()
    A.select_all = A.act("Select &all", win.select_all, "Ctrl+A")
    A.select_none = A.act("Select &none", win.select_none, [QtGui.QKeySequence("Ctrl+Shift+A"), QtGui.QKeySequence("Esc")])
    A.select_all.setShortcutContext(QtCore.Qt.WidgetWithChildrenShortcut)
    win.map.addAction(A.select_all)
    A.reject = A.act("&Reject selected", win.reject_selected, QtGui.QKeySequence.Delete,
                     "Leave the selected examples out of the export (they stay visible, dimmed) (Delete)")
    A.reject.setShortcutContext(QtCore.Qt.WidgetWithChildrenShortcut)
    win.map.addAction(A.reject)
    win.table.view.addAction(A.reject)
    A.find = A.act("&Find…", win.find, QtGui.QKeySequence.Find)
    m.addActions([A.select_all, A.select_none, A.reject])
    m.addSeparator()
    m.addAction(A.find)
    # Review: keyboard-first (single keys work wherever the focus is not in a text field)
    m = mb.addMenu("Re&view")
    A.next_finding = A.act("&Next finding", lambda: win.step_finding(+1), [QtGui.QKeySequence("J")],
                           "Select the next finding in the panel you work in (J)")
    A.prev_finding = A.act("&Previous finding", lambda: win.step_finding(-1), [QtGui.QKeySequence("K")],
                           "Select the previous finding (K)")
    A.reject_next = A.act("Reject and &next", win.reject_and_next, [QtGui.QKeySequence("X")],
                          "Reject the open example (with the reason typed, if any) and go to the next finding (X)")
    A.restore = A.act("&Restore", win.restore_current, [QtGui.QKeySequence("R")],
                      "Bring the open rejected example back into the export (R)")
    for a in (A.next_finding, A.prev_finding, A.reject_next, A.restore):
        a.setShortcutContext(QtCore.Qt.WindowShortcut)
        win.addAction(a)
    m.addActions([A.next_finding, A.prev_finding])
    m.addSeparator()
    m.addActions([A.reject_next, A.restore])
    # View
    m = mb.addMenu("&View")
    for dock in [win.table_dock, win.example_dock] + win.panel_docks:
        m.addAction(dock.toggleViewAction())
    m.addSeparator()
    A.colour_menu = m.addMenu("&Colour by")
    m.addSeparator()
    for a in win.map.mode_actions.values():
        m.addAction(a)
    m.addAction(win.map.fit_action)
    A.density = QtGui.QAction("Production &density overlay", win, checkable=True)
    A.density.setIconText("Density")
    A.density.setShortcut(QtGui.QKeySequence("D"))
    A.density.setShortcutContext(QtCore.Qt.WidgetWithChildrenShortcut)
    A.density.setToolTip("Show where production inputs concentrate (D)")
    A.density.toggled.connect(win.map.show_density)
    win.map.addAction(A.density)
    m.addAction(A.density)
    A.labels = QtGui.QAction("Cluster &names on the map", win, checkable=True)
    A.labels.setChecked(True)
    A.labels.setShortcut(QtGui.QKeySequence("N"))
    A.labels.setShortcutContext(QtCore.Qt.WidgetWithChildrenShortcut)
    A.labels.setToolTip("Show each cluster's name at its centre; zoom in to see more of them (N)")
    A.labels.toggled.connect(win.map.show_labels)
    win.map.addAction(A.labels)
    m.addAction(A.labels)
    # Analysis
    m = mb.addMenu("&Analysis")
    A.run = A.act("&Run analysis", win.run_analysis, "Ctrl+R",
                  "Embed every example and find clusters, duplicates, conflicts, gaps, leakage and flags (Ctrl+R)")
    A.settings = A.act("&Settings…", win.analysis_settings, tip="Thresholds used by the analysis")
    A.rebalance = A.act("Re&balance…", win.rebalance_dialog, tip="Plan cluster sizes to match production or uniform shares")
    A.relayout = A.act("Re-lay &out the map", lambda: win.session.run_analysis(relayout=True),
                       tip="Analyse again with a fresh map layout (otherwise the map is kept and new rows are "
                           "placed into it; = workbench analyze --relayout)")
    m.addActions([A.run, A.relayout, A.settings])
    m.addSeparator()
    m.addAction(A.rebalance)
    m.addAction(A.act("Rea&diness…", lambda: readiness_dialog.show_readiness(win),
                      tip="Ready for fine-tuning? Each check, why it matters and how to fix it (= workbench check)"))
    m.addAction(A.act("&Eval set from production…", lambda: eval_set_dialog.show_eval_set(win),
                      tip="Draw an eval set from production inputs: stratified, leak-free, paraphrase groups (= workbench eval-set)"))
    m.addAction(A.act("Dri&ft of the latest production log…", lambda: drift_dialog.show_drift(win),
                      tip="What changed in the latest production snapshot against the one before (= workbench drift)"))
    # Help
    m = mb.addMenu("&Help")
    m.addAction(A.act("&Keyboard shortcuts", lambda: QtWidgets.QMessageBox.information(
        win, "Keyboard shortcuts", SHORTCUTS_HELP)))
    m.addAction(A.act("&About", lambda: _about(win)))
    # toolbar
    tb = win.addToolBar("Main")
    tb.setObjectName("mainToolbar")
    tb.setMovable(False)
    tb.setToolButtonStyle(QtCore.Qt.ToolButtonTextOnly)
    tb.addAction(A.open)
    add_btn = QtWidgets.QToolButton()
    add_btn.setText("Add data")
    add_btn.setPopupMode(QtWidgets.QToolButton.InstantPopup)
    add_menu = QtWidgets.QMenu(add_btn)
    add_menu.addActions(list(A.add.values()))
    add_btn.setMenu(add_menu)
    tb.addWidget(add_btn)
    tb.addAction(A.run)
    tb.addSeparator()
    tb.addAction(A.undo)
    tb.addAction(A.redo)
    tb.addSeparator()
    tb.addWidget(QtWidgets.QLabel(" Colour by "))
    A.colour_combo = QtWidgets.QComboBox()
    A.colour_combo.setObjectName("colourBy")
    A.colour_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.AdjustToContents)
    A.colour_combo.activated.connect(lambda i: win.set_colour_by(A.colour_combo.itemData(i)))
    tb.addWidget(A.colour_combo)
    tb.addSeparator()
    for a in win.map.mode_actions.values():
        tb.addAction(a)
    tb.addAction(A.density)
    spacer = QtWidgets.QWidget()
    spacer.setSizePolicy(QtWidgets.QSizePolicy.Expanding, QtWidgets.QSizePolicy.Preferred)
    tb.addWidget(spacer)
    tb.addAction(A.export)
    A.needs_project = [*A.add.values(), A.reload, A.settings, A.problems]
    A.needs_data = [A.export, A.run, A.relayout, A.select_all, A.find]
    A.refresh_recent(__import__("workbench.ui.ui_settings", fromlist=["recent"]).recent())
    A.refresh_colour_choices()
    A.update_state()
    return A


def _about(win) -> None:
    from workbench import __version__

    QtWidgets.QMessageBox.about(
        win, "About Curation Workbench",
        f"<b>Curation Workbench {__version__}</b><br>See, fix and export LLM fine-tuning datasets.<br><br>"
        "Default embedding model: all-MiniLM-L6-v2 (Apache-2.0), run with ONNX Runtime.")
