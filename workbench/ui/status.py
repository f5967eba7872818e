"""The status bar: counts, the encoder device, background work with Cancel, and notices."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class ElidedLabel(QtWidgets.QLabel):
    """A one-line label that never asks for more width than it has: long text ends in "…" (the
    whole text is in the tooltip), so a status message can never widen the window."""

    clicked = QtCore.Signal()

    def __init__(self, text: str = "", parent=None, min_width: int = 40):
        super().__init__(parent)
        self._full = ""
        self._min = min_width
        self.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt naming
        self._full = text or ""
        self.setToolTip(self._full if len(self._full) > 20 else self.toolTip())
        self._elide()
        self.updateGeometry()

    def text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802
        return QtCore.QSize(self._min, super().minimumSizeHint().height())

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802
        w = self.fontMetrics().horizontalAdvance(self._full) + 8
        return QtCore.QSize(max(self._min, w), super().sizeHint().height())

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, QtCore.Qt.ElideRight, max(10, self.width() - 4))
        super().setText(shown)

    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        if ev.button() == QtCore.Qt.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(ev)


def map_info_text(a, provisional: int = 0) -> str:
    """"Map kept: 12 placed" / "Map: fresh layout", plus "· 3 not on the map yet" or, for rows
    drawn where they will land until the next analysis, "· 3 placed for now"."""
    if a is None:
        return ""
    import numpy as np

    info = (getattr(a, "summary", None) or {}).get("map") or {}
    mode = info.get("mode")
    if mode == "kept":
        text = f"Map kept: {int(info.get('placed', 0) or 0):,} placed"
    elif mode in ("fresh", "aligned"):
        text = "Map: fresh layout"
    else:
        text = ""
    x, y = np.asarray(a.x, np.float64), np.asarray(a.y, np.float64)
    missing = int((~(np.isfinite(x) & np.isfinite(y))).sum())
    if missing:
        text += (" · " if text else "") + f"{missing:,} not on the map yet (Ctrl+R)"
    if provisional:
        text += (" · " if text else "") + f"{provisional:,} placed for now (Ctrl+R analyses)"
    return text


class StatusBar(QtWidgets.QStatusBar):
    def __init__(self, session, win):
        super().__init__(win)
        self.setObjectName("statusBar")
        self.session = session
        self.win = win
        self.notice = ElidedLabel(min_width=80)
        self.notice.setObjectName("statusNotice")
        self.notice.setCursor(QtCore.Qt.PointingHandCursor)
        self.notice.setStyleSheet("QLabel#statusNotice { color: #b35900; }")
        self.notice.hide()
        self.notice.clicked.connect(self._on_notice)
        self._notice_kind = ""
        self.counts = ElidedLabel(min_width=120)
        self.counts.setObjectName("statusCounts")
        self.map_info = ElidedLabel(min_width=60)
        self.map_info.setObjectName("statusMap")
        self.device = QtWidgets.QLabel("")
        self.device.setObjectName("statusDevice")
        self.device.setToolTip("Where the embedding model runs (CUDA GPU or CPU)")
        self.phase = ElidedLabel(min_width=60)
        self.phase.setObjectName("statusPhase")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("statusProgress")
        self.progress.setFixedWidth(110)
        self.progress.setTextVisible(False)
        self.cancel = QtWidgets.QPushButton("Cancel")
        self.cancel.setObjectName("statusCancel")
        self.cancel.setToolTip("Stop the running background work")
        self.cancel.clicked.connect(self._on_cancel)
        self.addWidget(self.notice, 1)
        for w, stretch in ((self.phase, 1), (self.progress, 0), (self.cancel, 0), (self.map_info, 1), (self.counts, 1),
                           (self.device, 0)):
            self.addPermanentWidget(w, stretch)
        for w in (self.phase, self.progress, self.cancel):
            w.hide()
        session.jobs.sig_activity.connect(self._on_activity)
        session.sig_device.connect(self._on_device)
        session.sig_placed.connect(self.update_map_info)
        self.update_counts()

    def update_counts(self) -> None:
        ws = self.session.ws
        self.update_map_info()
        if ws is None:
            self.counts.setText("")
            return
        c = ws.counts()
        sel = len(self.session.selection)
        self.counts.setText(f"{c['loaded']:,} loaded · {c['rejected']:,} rejected · {c['edited']:,} edited"
                            + (f" · {c['added']:,} added" if c.get("added") else "")
                            + f" · {sel:,} selected")

    def update_map_info(self) -> None:
        """How the map came about (kept with rows placed into it, or a fresh layout) and how many
        rows are not on it yet (added after the analysis: drawn nowhere until it runs again)."""
        self.map_info.setText(map_info_text(self.session.analysis, len(getattr(self.session, "provisional", ()))))
        info = (getattr(self.session.analysis, "summary", None) or {}).get("map") or {}
        self.map_info.setToolTip(str(info.get("text", "")) or "How the map was made")

    def _on_device(self, device: str) -> None:
        self.device.setText(f"Encoder: {'CUDA GPU' if device == 'cuda' else device.upper()}")

    def _on_activity(self) -> None:
        jobs = self.session.jobs.running()
        if not jobs:
            for w in (self.phase, self.progress, self.cancel):
                w.hide()
            return
        job = jobs[-1]
        more = f" (+{len(jobs) - 1} more)" if len(jobs) > 1 else ""
        self.phase.setText(f"{job.phase or job.label}{more}")
        if job.total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(1.0, job.done / job.total)))
        else:
            self.progress.setRange(0, 0)  # busy indicator: phase of unknown length
        for w in (self.phase, self.progress, self.cancel):
            w.show()

    def _on_cancel(self) -> None:
        jobs = self.session.jobs.running()
        if jobs:
            self.session.jobs[jobs[-1].kind].cancel()
            self.phase.setText("Cancelling…")

    def show_stale(self, message: str) -> None:
        self._notice_kind = "stale"
        self.notice.setText("⚠ " + message)
        self.notice.setToolTip("Click to run the analysis again")
        self.notice.show()

    def show_load_problems(self, n: int) -> None:
        self._notice_kind = "load"
        self.notice.setText(f"⚠ {n:,} lines were not loaded — click to see which and why")
        self.notice.show()

    def show_sources_notice(self, n: int) -> None:
        self._notice_kind = "sources"
        self.notice.setText(f"⚠ {n} source file{'s' if n != 1 else ''} moved or changed — click to settle them")
        self.notice.setToolTip("Locate a moved file, accept a changed one or remove the source (File ▸ Check sources…)")
        self.notice.show()

    def _on_notice(self) -> None:
        self.notice.hide()
        if self._notice_kind == "sources":
            self.win.session.reload()
        elif self._notice_kind == "stale":
            self.win.run_analysis()
        elif self._notice_kind == "load":
            self.win.show_load_problems()

    def clear_notice(self, kind: str | None = None) -> None:
        """Hide the notice (only when it is of ``kind``, if given)."""
        if kind is None or self._notice_kind == kind:
            self.notice.hide()
            self._notice_kind = ""

    def showMessage(self, text: str, timeout: int = 0) -> None:  # noqa: N802 - Qt naming
        """Transient messages go into the (elided) notice area's place, never widening the window."""
        super().showMessage(QtGui.QFontMetrics(self.font()).elidedText(
            text, QtCore.Qt.ElideRight, max(200, self.width() - 600)), timeout)


