"""The welcome pane: what the app is for, in a minute, and the ways to start."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from workbench.ui import ui_settings

INTRO = (
    "See your fine-tuning data before you spend GPU money on it: every example on one map, "
    "with duplicates, conflicting answers, production inputs your data does not cover, eval "
    "leakage and quality flags. Fix what you find — reject, edit, tag, promote production "
    "failures into training — and export a clean dataset with a record of every change. "
    "Every action is saved as you make it; Ctrl+Z undoes it."
)
FIRST_RUN = (
    "The first analysis converts the default embedding model (all-MiniLM-L6-v2, shipped with the "
    "app) once, offline — about a minute. After that, analyses start immediately."
)


class WelcomePane(QtWidgets.QWidget):
    sig_sample = QtCore.Signal()
    sig_open = QtCore.Signal()
    sig_new = QtCore.Signal()
    sig_open_path = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("welcomePane")
        outer = QtWidgets.QVBoxLayout(self)
        outer.addStretch(1)
        box = QtWidgets.QWidget()
        box.setMaximumWidth(680)
        lay = QtWidgets.QVBoxLayout(box)
        title = QtWidgets.QLabel("Curation Workbench")
        f = title.font()
        f.setPointSizeF(f.pointSizeF() * 2.0)
        f.setBold(True)
        title.setFont(f)
        lay.addWidget(title)
        intro = QtWidgets.QLabel(INTRO)
        intro.setWordWrap(True)
        lay.addWidget(intro)
        lay.addSpacing(12)
        self.sample_btn = QtWidgets.QPushButton("Open sample project")
        self.sample_btn.setObjectName("openSample")
        self.sample_btn.setDefault(True)
        self.sample_btn.setMinimumHeight(36)
        self.sample_btn.setToolTip("Banking support queries (train), real production queries and an eval set: "
                                   "loads them and runs the analysis")
        open_btn = QtWidgets.QPushButton("Open project…")
        new_btn = QtWidgets.QPushButton("New project from data files…")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.sample_btn)
        row.addWidget(open_btn)
        row.addWidget(new_btn)
        lay.addLayout(row)
        hint = QtWidgets.QLabel(f"<span style='color:gray'>{html.escape(FIRST_RUN)}<br>"
                                "You can also drop data files or a .wbproj project onto this window.</span>")
        hint.setWordWrap(True)
        lay.addWidget(hint)
        lay.addSpacing(12)
        self.recent_title = QtWidgets.QLabel("<b>Recent projects</b>")
        lay.addWidget(self.recent_title)
        self.recent = QtWidgets.QListWidget()
        self.recent.setMaximumHeight(160)
        self.recent.itemActivated.connect(lambda it: self.sig_open_path.emit(it.data(QtCore.Qt.UserRole)))
        lay.addWidget(self.recent)
        h = QtWidgets.QHBoxLayout()
        h.addStretch(1)
        h.addWidget(box)
        h.addStretch(1)
        outer.addLayout(h)
        outer.addStretch(2)
        self.sample_btn.clicked.connect(self.sig_sample.emit)
        open_btn.clicked.connect(self.sig_open.emit)
        new_btn.clicked.connect(self.sig_new.emit)
        self.refresh()

    def refresh(self) -> None:
        self.recent.clear()
        items = [p for p in ui_settings.recent() if Path(p).exists()]
        for p in items:
            it = QtWidgets.QListWidgetItem(f"{Path(p).name}  —  {Path(p).parent}")
            it.setData(QtCore.Qt.UserRole, p)
            self.recent.addItem(it)
        self.recent.setVisible(bool(items))
        self.recent_title.setVisible(bool(items))
