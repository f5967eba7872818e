"""The Drift dialog (Analysis > Drift of the latest production log…): the table of ``workbench drift``.

The latest production snapshot against the one before, on the project's **stored** analysis
(new inputs are placed into the map by nearest neighbours; nothing is laid out again): clusters
that grew or shrank (share before/after), new regions not seen before, inputs training still
does not cover, earlier gaps now covered. The numbers come from
:func:`workbench.analysis.drift.drift_of_stored` (the CLI calls the same function), computed in a
background thread on a snapshot taken on the GUI thread.
"""

from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets

from workbench.ui import dialog_jobs

LIMIT = 200  # rows listed per section


def _drift_job(data, folder, model, device, encoder, dates, cancel, cluster_edits=()):
    from workbench.analysis import drift
    from workbench.analysis import project_analysis as pa
    from workbench.core.errors import AnalysisError

    try:
        result = pa.AnalysisResult.read(folder, with_graph=False)
    except AnalysisError:
        result = None
    if result is None:
        raise drift.DriftError("The project has no analysis results yet; run the analysis first (Ctrl+R).")
    if encoder is None:
        encoder = pa.get_encoder_for(model, device, cancel=cancel)
    vecs, _ = pa.vectors(data, encoder, cancel=cancel)
    return drift.drift_of_stored(result, data, vecs, dates, cluster_edits=cluster_edits, cancel=cancel)


class DriftDialog(QtWidgets.QDialog):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("driftDialog")
        self.setWindowTitle("Drift: the latest production log against the one before")
        self.session = session
        self.drift = None
        self._tag = 0
        self._cancel = None
        self._signals = dialog_jobs.JobSignals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        lay = QtWidgets.QVBoxLayout(self)
        self.headline = QtWidgets.QLabel("Comparing…")
        self.headline.setObjectName("driftHeadline")
        self.headline.setWordWrap(True)
        f = self.headline.font()
        f.setBold(True)
        self.headline.setFont(f)
        lay.addWidget(self.headline)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setObjectName("driftTable")
        self.tree.setHeaderLabels(["", "before", "after", "change", "status / e.g."])
        self.tree.setColumnWidth(0, 380)
        for c in (1, 2, 3):
            self.tree.setColumnWidth(c, 80)
        lay.addWidget(self.tree, 1)
        note = QtWidgets.QLabel("Add the next log as a dated snapshot with File ▸ Add production data… (or "
                                "<code>workbench add PROJECT FILE --role production --snapshot YYYY-MM-DD</code>); "
                                "File ▸ Set a log's snapshot date… changes a date. The same table: "
                                "<code>workbench drift PROJECT</code>. Colour the map by <i>Production snapshot</i> "
                                "to see where each log lies.")
        note.setWordWrap(True)
        lay.addWidget(note)
        buttons = QtWidgets.QDialogButtonBox()
        self.refresh_btn = buttons.addButton("Compare again", QtWidgets.QDialogButtonBox.ActionRole)
        self.refresh_btn.clicked.connect(self.refresh)
        self.cancel_btn = buttons.addButton("Cancel", QtWidgets.QDialogButtonBox.ActionRole)
        self.cancel_btn.clicked.connect(self.cancel)
        self.cancel_btn.setEnabled(False)
        buttons.addButton(QtWidgets.QDialogButtonBox.Close).clicked.connect(self.close)
        lay.addWidget(buttons)
        self.resize(1000, 640)
        QtCore.QTimer.singleShot(0, self.refresh)

    def _busy(self, busy: bool) -> None:
        self.refresh_btn.setEnabled(not busy)
        self.cancel_btn.setEnabled(busy)

    def refresh(self) -> None:
        from workbench.analysis import drift
        from workbench.analysis import project_analysis as pa
        from workbench.core.progress import CancelToken

        s = self.session
        if s.project is None or s.ws is None:
            self.headline.setText("Open a project first.")
            return
        project = s.project
        self._tag += 1
        self._cancel = CancelToken()
        args = (pa.AnalysisData.capture(s.ws), pa.results_dir(project), pa.project_model(project),
                project.settings.get(pa.DEVICE_SETTING, "auto"), s.encoder, drift.snapshot_dates(project),
                self._cancel, tuple(project.state.cluster_edits))
        self.headline.setText("Comparing the latest production snapshot with the one before…")
        self._busy(True)
        dialog_jobs.start(_drift_job, args, self._tag, self._signals)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    def _on_failed(self, exc, tag) -> None:
        from workbench.ui.dialogs import error_text

        if tag != self._tag:
            return
        self._busy(False)
        msg, _ = error_text(exc)
        self.headline.setText(html.escape(msg))

    def _on_done(self, d, tag) -> None:
        if tag != self._tag:
            return
        self._busy(False)
        self.drift = d
        self.show_drift(d)

    def _section(self, title: str, count: str) -> QtWidgets.QTreeWidgetItem:
        top = QtWidgets.QTreeWidgetItem([f"{title}: {count}"])
        f = top.font(0)
        f.setBold(True)
        top.setFont(0, f)
        self.tree.addTopLevelItem(top)
        top.setFirstColumnSpanned(True)
        top.setExpanded(True)
        return top

    def show_drift(self, d) -> None:
        self.headline.setText(html.escape(f"Production snapshot {d.after} ({d.n_after:,} inputs) against "
                                          f"{d.before} ({d.n_before:,} inputs)"))
        self.tree.clear()
        moved = [r for r in d.clusters if r["status"] != "same"]
        top = self._section("Clusters that grew or shrank", f"{len(moved)} of {len(d.clusters)} clusters")
        colour = {"grew": "#007a52", "shrank": "#b34700"}
        for r in moved[:LIMIT]:
            it = QtWidgets.QTreeWidgetItem([r["label"], f"{r['share_before']:.1%}", f"{r['share_after']:.1%}",
                                            f"{r['change'] * 100:+.1f}p", r["status"]])
            if r["status"] in colour:
                it.setForeground(4, QtGui.QBrush(QtGui.QColor(colour[r["status"]])))
            top.addChild(it)
        top = self._section(f"New regions not seen before (nearest earlier input cosine < {d.novelty_threshold:.2f})",
                            f"{len(d.new_regions)} regions, {d.scattered_new} scattered new inputs")
        for r in d.new_regions[:LIMIT]:
            it = QtWidgets.QTreeWidgetItem([r["label"], "", f"{r['share_after']:.1%}", f"{r['n']:,}",
                                            "e.g. " + (r["examples"][0] if r["examples"] else "")])
            it.setToolTip(4, "\n".join(r["examples"]))
            top.addChild(it)
        if d.scattered_new:
            in_regions = {t for r in d.new_regions for t in r["examples"]}
            shown = [t for t in d.novel if t not in in_regions][:5]
            top.addChild(QtWidgets.QTreeWidgetItem(["scattered new inputs", "", "", f"{d.scattered_new:,}",
                                                    "e.g. " + "; ".join(shown)]))
        u = d.uncovered
        top = self._section(f"Inputs of {d.after} training still does not cover "
                            f"(nearest train cosine < {u.get('gap_sim', 0.5)})", f"{u['n']:,} ({u['share']:.1%})")
        for r in u.get("by_cluster", [])[:LIMIT]:
            top.addChild(QtWidgets.QTreeWidgetItem([r["label"], "", "", f"{r['n']:,}", ""]))
        top = self._section("Earlier gaps now covered by training examples added since",
                            f"{len(d.gaps_now_covered)} gaps")
        for r in d.gaps_now_covered[:LIMIT]:
            top.addChild(QtWidgets.QTreeWidgetItem([r["label"], "", "", f"{r['now_covered']:,}",
                                                    f"{r['now_covered']} of {r['n']} now covered"]))


def show_drift(win) -> DriftDialog:
    """Open (or raise) the window's Drift dialog."""
    return dialog_jobs.show_once(win, "_drift_dialog", DriftDialog)
