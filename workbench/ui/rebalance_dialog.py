"""The Rebalance dialog: choose a target, preview before/after per cluster, apply as one step.

The plan comes from :func:`workbench.curate.rebalance.plan_project_rebalance` (run in the
background); the preview is a bar chart of each cluster's share of the training data before,
after and at the target, with the clusters that need new data listed. "Apply" writes the plan to
the journal as one undoable step.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from workbench.ui import theme

TOP = 15  # clusters shown in the chart (largest change first)


def _plan_job(snap, mode, max_weight, *, progress=None, cancel=None):
    from workbench.curate.rebalance import plan_project_rebalance

    return plan_project_rebalance(snap, mode, max_weight=max_weight, progress=progress, cancel=cancel)


class RebalanceDialog(QtWidgets.QDialog):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("rebalanceDialog")
        self.setWindowTitle("Rebalance clusters")
        self.session = session
        self.plan = None
        self._rev = None
        lay = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel(
            "Bring each cluster's share of the training data toward a target. Over-represented clusters "
            "keep their most representative and diverse members (the rest are rejected); under-represented "
            "ones are weighted up to a limit, and listed as needing new data when weighting would only repeat.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        row = QtWidgets.QHBoxLayout()
        self.mode = QtWidgets.QComboBox()
        self.mode.addItem("Production shares", "production")
        self.mode.addItem("Uniform", "uniform")
        self.max_weight = QtWidgets.QSpinBox()
        self.max_weight.setRange(1, 20)
        self.max_weight.setValue(3)
        self.max_weight.setPrefix("max weight ")
        self.preview_btn = QtWidgets.QPushButton("Preview")
        row.addWidget(QtWidgets.QLabel("Target"))
        row.addWidget(self.mode)
        row.addWidget(self.max_weight)
        row.addWidget(self.preview_btn)
        row.addStretch(1)
        lay.addLayout(row)
        self.chart = pg.PlotWidget(background=theme.map_background())
        self.chart.setObjectName("rebalanceChart")
        self.chart.setMinimumHeight(260)
        self.chart.showGrid(x=True, alpha=0.2)
        self.chart.setLabel("bottom", "share of the training data (%)")  # a plain %: no SI prefix ("k%")
        self.chart.getAxis("bottom").enableAutoSIPrefix(False)
        self.chart.setMouseEnabled(x=False, y=False)
        self.chart.setMenuEnabled(False)
        self.legend = self.chart.addLegend(offset=(-10, 10))
        lay.addWidget(self.chart, 2)
        self.text = QtWidgets.QTextBrowser()
        self.text.setMaximumHeight(170)
        lay.addWidget(self.text, 1)
        self.buttons = QtWidgets.QDialogButtonBox()
        self.apply_btn = self.buttons.addButton("Apply (one undoable step)", QtWidgets.QDialogButtonBox.AcceptRole)
        self.apply_btn.setEnabled(False)
        close = self.buttons.addButton(QtWidgets.QDialogButtonBox.Close)
        close.clicked.connect(self.close)
        self.apply_btn.clicked.connect(self.apply)
        lay.addWidget(self.buttons)
        self.preview_btn.clicked.connect(self.preview)
        ex = session.jobs["plan"]
        ex.sig_finished.connect(self._on_plan)
        ex.sig_failed.connect(self._on_failed)
        self.resize(900, 620)
        QtCore.QTimer.singleShot(0, self.preview)

    def preview(self) -> None:
        from workbench.core.errors import WorkbenchError
        from workbench.ui.export_dialog import snapshot

        self.apply_btn.setEnabled(False)
        try:
            snap = snapshot(self.session)
        except WorkbenchError as exc:
            self.text.setHtml(f"<span style='color:#d62728'>{html.escape(exc.user_message)}</span>")
            return
        self._rev = self.session.project.revision
        self.text.setHtml("Planning…")
        self.session.jobs["plan"].submit(_plan_job, snap, self.mode.currentData(), self.max_weight.value(),
                                         tag=self._rev, label="Planning the rebalance")

    def _on_plan(self, plan, tag) -> None:
        if tag != self.session.project.revision:
            self.text.setHtml("The data changed while planning; press Preview again.")
            return
        self.plan = plan
        self._draw(plan)
        self.apply_btn.setEnabled(not plan.is_empty)

    def _on_failed(self, exc, _tag) -> None:
        from workbench.ui.dialogs import error_text

        msg, _ = error_text(exc)
        self.text.setHtml(f"<span style='color:#d62728'>{html.escape(msg)}</span>")

    @staticmethod
    def chart_rows(plan, top: int = TOP) -> list[tuple[str, float, float, float]]:
        """(label, before %, after %, target %) of the ``top`` clusters that change most, largest
        target first: shares of the (weighted) training data, all three on the same 0-100 scale."""
        ch = list(plan.clusters)
        tot_b = sum(c.before for c in ch) or 1.0
        tot_a = sum(c.after for c in ch) or 1.0
        rows = [((c.label or f"cluster {c.cluster}"), 100.0 * c.before / tot_b, 100.0 * c.after / tot_a,
                 100.0 * float(c.target_share)) for c in ch]
        rows.sort(key=lambda r: -max(abs(r[2] - r[1]), abs(r[3] - r[1])))
        rows = rows[:top]
        rows.sort(key=lambda r: -r[3])
        return rows

    def _draw(self, plan) -> None:
        rows = self.chart_rows(plan)
        self.chart.clear()
        if self.legend is not None:
            self.legend.clear()
        # horizontal bars: one row per cluster, its name readable on the left
        n = len(rows)
        y = np.arange(n, dtype=float)[::-1]  # the largest target on top
        before = np.array([r[1] for r in rows])
        after = np.array([r[2] for r in rows])
        target = np.array([r[3] for r in rows])
        h = 0.38
        b1 = pg.BarGraphItem(x0=np.zeros(n), y=y + h / 2, height=h, width=before, brush=theme.NEUTRAL, pen=None)
        b2 = pg.BarGraphItem(x0=np.zeros(n), y=y - h / 2, height=h, width=after, brush=theme.ROLE_COLOURS["train"],
                             pen=None)
        self.chart.addItem(b1)
        self.chart.addItem(b2)
        tgt = self.chart.plot(target, y, pen=None, symbol="|", symbolSize=18,
                              symbolPen=pg.mkPen(theme.ALERT, width=3))
        if self.legend is not None:
            self.legend.addItem(b1, "before")
            self.legend.addItem(b2, "after")
            self.legend.addItem(tgt, "target")
        ax = self.chart.getAxis("left")
        ticks = [(float(y[i]), (r[0] if len(r[0]) <= 28 else r[0][:27] + "…")) for i, r in enumerate(rows)]
        ax.setTicks([ticks])
        ax.setWidth(min(240, 16 + max([self.fontMetrics().horizontalAdvance(t) for _y, t in ticks] + [60])))
        top = float(max([1.0] + list(before) + list(after) + list(target)))
        self.chart.setXRange(0, top * 1.08, padding=0)
        self.chart.setYRange(-0.7, n - 0.3, padding=0)
        needs = "".join(f"<li><b>{html.escape(n.label or f'cluster {n.cluster}')}</b>: {html.escape(n.reason)}</li>"
                        for n in plan.needs_new_data[:12])
        self.text.setHtml(
            f"<p>Rejects <b>{plan.n_rejected:,}</b> examples and re-weights <b>{plan.n_reweighted:,}</b>. "
            f"Distance to the target (total variation): <b>{plan.distance_before:.3f} → {plan.distance_after:.3f}</b>. "
            f"The chart shows the {len(rows)} clusters that change most.</p>"
            + (f"<p><b>Needs new data</b> (weighting alone would only repeat):</p><ul>{needs}</ul>" if needs else ""))

    def apply(self) -> None:
        from workbench.core.errors import WorkbenchError

        if self.plan is None:
            return
        if self._rev != self.session.project.revision:  # a plan of older data is dropped, not applied
            self.text.setHtml("The data changed since the preview; press Preview again.")
            self.apply_btn.setEnabled(False)
            return
        try:
            op = self.plan.to_batch(self.session.ws.example_id)
        except WorkbenchError as exc:
            self.text.setHtml(html.escape(exc.user_message))
            return
        if self.session.apply(op) is not None:
            self.session.sig_message.emit(f"Applied: {op.label}. Undo with Ctrl+Z.")
            self.accept()
