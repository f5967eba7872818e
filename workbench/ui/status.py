"""The status bar: counts, the encoder device, background work with Cancel, and notices."""

from __future__ import annotations

from PySide6 import QtWidgets


class StatusBar(QtWidgets.QStatusBar):
    def __init__(self, session, win):
        super().__init__(win)
        self.setObjectName("statusBar")
        self.session = session
        self.win = win
        self.notice = QtWidgets.QPushButton()
        self.notice.setObjectName("statusNotice")
        self.notice.setFlat(True)
        self.notice.setStyleSheet("QPushButton#statusNotice { color: #b35900; text-align: left; }")
        self.notice.hide()
        self.notice.clicked.connect(self._on_notice)
        self._notice_kind = ""
        self.counts = QtWidgets.QLabel()
        self.counts.setObjectName("statusCounts")
        self.device = QtWidgets.QLabel("Encoder: not loaded")
        self.device.setObjectName("statusDevice")
        self.device.setToolTip("Where the embedding model runs (CUDA GPU or CPU)")
        self.phase = QtWidgets.QLabel()
        self.phase.setObjectName("statusPhase")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("statusProgress")
        self.progress.setFixedWidth(160)
        self.progress.setTextVisible(False)
        self.cancel = QtWidgets.QPushButton("Cancel")
        self.cancel.setObjectName("statusCancel")
        self.cancel.setToolTip("Stop the running background work")
        self.cancel.clicked.connect(self._on_cancel)
        self.addWidget(self.notice)
        for w in (self.phase, self.progress, self.cancel, self.counts, self.device):
            self.addPermanentWidget(w)
        for w in (self.phase, self.progress, self.cancel):
            w.hide()
        session.jobs.sig_activity.connect(self._on_activity)
        session.sig_device.connect(self._on_device)
        self.update_counts()

    def update_counts(self) -> None:
        ws = self.session.ws
        if ws is None:
            self.counts.setText("")
            return
        c = ws.counts()
        sel = len(self.session.selection)
        self.counts.setText(f"{c['loaded']:,} loaded · {c['rejected']:,} rejected · {c['edited']:,} edited"
                            + (f" · {c['added']:,} added" if c.get("added") else "")
                            + f" · {sel:,} selected")

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

    def _on_notice(self) -> None:
        self.notice.hide()
        if self._notice_kind == "stale":
            self.win.run_analysis()
        elif self._notice_kind == "load":
            self.win.show_load_problems()

    def clear_notice(self) -> None:
        self.notice.hide()


