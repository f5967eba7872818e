"""The Readiness dialog (Analysis > Readiness…): the same verdict as ``workbench check``.

The verdict comes from :func:`workbench.curate.readiness.assess` on a snapshot of the session
(taken on the GUI thread, as the Export dialog takes it), computed in a background thread so the
window never waits on it. Each check shows its count, why it matters, the app action and the
command that fix it, and every finding it counts; "Write list…" saves the findings as
``SOURCE:LINE`` lines (the input of ``workbench reject --lines``).
"""

from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets

from workbench.ui import dialog_jobs

ROWS_PER_CHECK = 500  # findings listed under a check (the list file has every one)


def _verdict_job(snap, status):
    from workbench.curate.readiness import assess

    return assess(snap, analysis_status=status)


class ReadinessDialog(QtWidgets.QDialog):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("readinessDialog")
        self.setWindowTitle("Ready for fine-tuning?")
        self.session = session
        self.verdict = None
        self._tag = None
        self._signals = dialog_jobs.JobSignals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        lay = QtWidgets.QVBoxLayout(self)
        self.headline = QtWidgets.QLabel("Checking…")
        self.headline.setObjectName("readinessHeadline")
        self.headline.setWordWrap(True)
        f = self.headline.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        self.headline.setFont(f)
        lay.addWidget(self.headline)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setObjectName("readinessChecks")
        self.tree.setHeaderLabels(["check", "count", "found"])
        self.tree.setColumnWidth(0, 220)
        self.tree.setColumnWidth(1, 70)
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)
        lay.addWidget(self.tree, 1)
        note = QtWidgets.QLabel("Thresholds are project settings <code>readiness.*</code>. The same verdict: "
                                "<code>workbench check PROJECT</code> (exit 0 ready, 1 not).")
        note.setWordWrap(True)
        lay.addWidget(note)
        buttons = QtWidgets.QDialogButtonBox()
        self.refresh_btn = buttons.addButton("Check again", QtWidgets.QDialogButtonBox.ActionRole)
        self.list_btn = buttons.addButton("Write list…", QtWidgets.QDialogButtonBox.ActionRole)
        self.list_btn.setToolTip("Save every finding as SOURCE:LINE lines (input of `workbench reject --lines`)")
        self.list_btn.setEnabled(False)
        buttons.addButton(QtWidgets.QDialogButtonBox.Close).clicked.connect(self.close)
        self.refresh_btn.clicked.connect(self.refresh)
        self.list_btn.clicked.connect(self.write_list)
        lay.addWidget(buttons)
        self.resize(900, 600)
        QtCore.QTimer.singleShot(0, self.refresh)

    def refresh(self) -> None:
        from workbench.core.errors import WorkbenchError
        from workbench.ui.export_dialog import snapshot

        s = self.session
        if s.project is None or s.ws is None:
            self.headline.setText("Open a project first.")
            return
        try:
            snap = snapshot(s)
        except WorkbenchError as exc:
            self.headline.setText(exc.user_message)
            return
        status = "none" if s.analysis is None else ("stale" if s.analysis_stale else "current")
        self._tag = s.project.revision
        self.headline.setText("Checking…")
        self.refresh_btn.setEnabled(False)
        dialog_jobs.start(_verdict_job, (snap, status), self._tag, self._signals)

    def _on_failed(self, exc, tag) -> None:
        from workbench.ui.dialogs import error_text

        self.refresh_btn.setEnabled(True)
        msg, _ = error_text(exc)
        self.headline.setText(f"Could not check: {msg}")

    def _on_done(self, verdict, tag) -> None:
        self.refresh_btn.setEnabled(True)
        if tag != self._tag:
            return  # an older check: a newer one is on its way
        self.verdict = verdict
        self.show_verdict(verdict)

    def show_verdict(self, verdict) -> None:
        colour = "#007a52" if verdict.ready else "#b34700"
        self.headline.setText(f"<span style='color:{colour}'>{html.escape(verdict.headline())}</span>")
        self.tree.clear()
        mark = {"pass": "✓", "warn": "✗", "skip": "–"}
        for c in verdict.checks:
            top = QtWidgets.QTreeWidgetItem([f"{mark.get(c.status, '?')} {c.title}", f"{c.count:,}", c.summary])
            top.setToolTip(2, c.summary)
            if c.status == "warn":
                top.setForeground(0, QtGui.QBrush(QtGui.QColor("#b34700")))
                for label, text in (("why", c.why), ("in the app", c.app), ("command", c.fix)):
                    if text:
                        child = QtWidgets.QTreeWidgetItem([label, "", text])
                        child.setToolTip(2, text)
                        top.addChild(child)
                for it in c.items[:ROWS_PER_CHECK]:
                    ref = f"{it['source']}:{it['line']}" if it.get("source") else ""
                    top.addChild(QtWidgets.QTreeWidgetItem([ref, "", it["reason"]]))
                if len(c.items) > ROWS_PER_CHECK:
                    top.addChild(QtWidgets.QTreeWidgetItem(
                        ["…", "", f"{ROWS_PER_CHECK:,} of {len(c.items):,} shown; Write list… saves every one"]))
            self.tree.addTopLevelItem(top)
            top.setExpanded(c.status == "warn" and c.key in ("analysis", "leakage"))
        self.list_btn.setEnabled(any(c.items for c in verdict.checks))

    def write_list(self) -> None:
        from workbench.curate.readiness import write_findings_list

        if self.verdict is None:
            return
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Write the findings list", "findings.txt",
                                                        "Text (*.txt)")
        if path:
            n = write_findings_list(self.verdict, path)
            self.headline.setText(self.headline.text() + f"<br><small>{n:,} examples listed in "
                                  f"{html.escape(path)}</small>")


def show_readiness(win) -> ReadinessDialog:
    """Open (or raise) the window's Readiness dialog."""
    return dialog_jobs.show_once(win, "_readiness_dialog", ReadinessDialog)
