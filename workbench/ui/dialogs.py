"""Small dialogs: promote a production input, load problems, analysis settings."""

from __future__ import annotations

import html

from PySide6 import QtCore, QtWidgets

from workbench.core.errors import WorkbenchError


class PromoteDialog(QtWidgets.QDialog):
    """Write the response a production input should have had; it becomes a training example."""

    def __init__(self, session, row: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Promote to training")
        self.setObjectName("promoteDialog")
        self.session, self.row = session, row
        ws = session.ws
        lay = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel(
            f"This production input from <b>{html.escape(str(ws.source_names[row]))}</b> line {int(ws.line[row])} "
            "becomes a new training example (chat format) with the response you write. Its origin is recorded.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.intro = intro  # the reference-answer editor (ui/eval_set_dialog.py) says what it is for
        lay.addWidget(QtWidgets.QLabel("<b>System</b> (optional)"))
        self.system = QtWidgets.QPlainTextEdit(self._default_system())
        self.system.setFixedHeight(60)
        lay.addWidget(self.system)
        lay.addWidget(QtWidgets.QLabel("<b>User</b>"))
        self.prompt = QtWidgets.QPlainTextEdit(ws.prompt[row])
        self.prompt.setFixedHeight(90)
        lay.addWidget(self.prompt)
        self.response_label = QtWidgets.QLabel("<b>Assistant</b> — the response it should get")
        lay.addWidget(self.response_label)
        self.response = QtWidgets.QPlainTextEdit()
        self.response.setObjectName("promoteResponse")
        self.response.setPlaceholderText("Write the ideal response…")
        lay.addWidget(self.response, 1)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Ok | QtWidgets.QDialogButtonBox.Cancel)
        self.ok = buttons.button(QtWidgets.QDialogButtonBox.Ok)
        self.ok.setText("Add to training")
        self.ok.setEnabled(False)
        self.response.textChanged.connect(lambda: self.ok.setEnabled(bool(self.response.toPlainText().strip())))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.resize(620, 560)

    def _default_system(self) -> str:
        """The system prompt most training examples use (so the new one matches them)."""
        ws = self.session.ws
        counts: dict[str, int] = {}
        for s, r in zip(ws.system, ws.role):
            if r == "train" and s:
                counts[s] = counts.get(s, 0) + 1
        return max(counts, key=counts.get) if counts else ""

    def op(self):
        from workbench.curate.actions import promote_op  # the one promote rule (CLI and app)

        return promote_op(self.session.ws, self.row, self.response.toPlainText(),
                          prompt=self.prompt.toPlainText(), system=self.system.toPlainText())

    @classmethod
    def run(cls, session, row: int, parent=None) -> bool:
        dlg = cls(session, row, parent)
        if dlg.exec() == QtWidgets.QDialog.Accepted:
            change = session.apply(dlg.op())
            if change is not None:
                session.sig_message.emit("Added a training example (promoted from production). Undo with Ctrl+Z.")
                return True
        return False


class LoadProblemsDialog(QtWidgets.QDialog):
    """Lines that were not loaded, as ``file:line: reason``, with counts per reason."""

    def __init__(self, problems: list, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Lines that were not loaded")
        lay = QtWidgets.QVBoxLayout(self)
        by_reason: dict[str, int] = {}
        for p in problems:
            key = str(getattr(p, "reason", p)).split(":")[0]
            by_reason[key] = by_reason.get(key, 0) + 1
        summary = ", ".join(f"{n:,} × {html.escape(r)}" for r, n in sorted(by_reason.items(), key=lambda kv: -kv[1]))
        head = QtWidgets.QLabel(f"<b>{len(problems):,} lines</b> were not loaded: {summary}.<br>"
                                "Everything else was loaded. Fix the files and reload (File → Reload) to include them.")
        head.setWordWrap(True)
        lay.addWidget(head)
        text = QtWidgets.QPlainTextEdit()
        text.setReadOnly(True)
        text.setObjectName("loadProblems")
        shown = problems[:5000]
        text.setPlainText("\n".join(str(p) for p in shown)
                          + (f"\n… and {len(problems) - len(shown):,} more" if len(problems) > len(shown) else ""))
        lay.addWidget(text, 1)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Close)
        copy = buttons.addButton("Copy", QtWidgets.QDialogButtonBox.ActionRole)
        copy.clicked.connect(lambda: QtWidgets.QApplication.clipboard().setText(text.toPlainText()))
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.resize(760, 420)


from workbench.ui.settings_dialog import AnalysisSettingsDialog  # noqa: E402,F401 - its home is settings_dialog


def show_error(parent, message: str, detail: str = "") -> None:
    """A failure shown once, non-modally, with details on request."""
    box = QtWidgets.QMessageBox(parent)
    box.setIcon(QtWidgets.QMessageBox.Warning)
    box.setWindowTitle("Curation Workbench")
    box.setText(message)
    if detail:
        box.setDetailedText(detail)
    box.setWindowModality(QtCore.Qt.NonModal)
    box.setAttribute(QtCore.Qt.WA_DeleteOnClose)
    box.show()


def error_text(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, WorkbenchError):
        return exc.user_message, exc.detail or ""
    return f"Something went wrong: {exc}", getattr(exc, "__wb_traceback__", "") or repr(exc)


