"""The crash hook: an unhandled exception shows a dialog and loses nothing.

Nothing can be lost because every curator action is written to the project's journal before it
is shown (there is no unsaved state). The hook writes a report to ``paths.logs_dir()`` and shows
it; the curator can keep working or quit. Exceptions from worker threads never reach here:
workers report them to the window as ordinary failures.
"""

from __future__ import annotations

import datetime as _dt
import logging
import platform
import sys
import threading
import traceback

from PySide6 import QtCore, QtWidgets

from workbench import __version__
from workbench.core import paths

log = logging.getLogger(__name__)

_installed = False
_showing = False
reports: list[str] = []  # paths of reports written in this process (tests read it)


def write_report(exc_type, exc, tb) -> str:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    header = (f"Curation Workbench {__version__} crash report {stamp}\n"
              f"Python {platform.python_version()} on {platform.platform()}\n\n")
    try:
        path = paths.logs_dir() / f"crash-{stamp}.txt"
        path.write_text(header + text, encoding="utf-8")
        reports.append(str(path))
        return str(path)
    except OSError:
        return ""


class CrashDialog(QtWidgets.QDialog):
    def __init__(self, summary: str, detail: str, report: str, parent=None):
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle("Curation Workbench — unexpected error")
        lay = QtWidgets.QVBoxLayout(self)
        msg = QtWidgets.QLabel(
            "<b>Something unexpected went wrong.</b><br><br>Nothing was lost: every action you took is "
            "already saved in the project. You can keep working, or quit and reopen the project.<br><br>"
            f"<tt>{summary}</tt>" + (f"<br><br>A report was saved to <tt>{report}</tt>." if report else ""))
        msg.setWordWrap(True)
        msg.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        lay.addWidget(msg)
        details = QtWidgets.QPlainTextEdit(detail)
        details.setReadOnly(True)
        details.setVisible(False)
        lay.addWidget(details, 1)
        buttons = QtWidgets.QDialogButtonBox()
        show = buttons.addButton("Show details", QtWidgets.QDialogButtonBox.ActionRole)
        copy = buttons.addButton("Copy report", QtWidgets.QDialogButtonBox.ActionRole)
        quit_btn = buttons.addButton("Quit", QtWidgets.QDialogButtonBox.DestructiveRole)
        keep = buttons.addButton("Keep working", QtWidgets.QDialogButtonBox.AcceptRole)
        keep.setDefault(True)
        show.clicked.connect(lambda: details.setVisible(not details.isVisible()))
        copy.clicked.connect(lambda: QtWidgets.QApplication.clipboard().setText(detail))
        quit_btn.clicked.connect(self._quit)
        keep.clicked.connect(self.accept)
        lay.addWidget(buttons)
        self.resize(560, 260)

    def _quit(self) -> None:
        self.done(2)
        QtWidgets.QApplication.closeAllWindows()
        QtWidgets.QApplication.quit()


def _hook(exc_type, exc, tb) -> None:
    global _showing
    if issubclass(exc_type, KeyboardInterrupt):
        QtWidgets.QApplication.quit()
        return
    report = write_report(exc_type, exc, tb)
    detail = "".join(traceback.format_exception(exc_type, exc, tb))
    log.error("unhandled exception:\n%s", detail)
    sys.__stderr__.write(detail)
    app = QtWidgets.QApplication.instance()
    if app is None or _showing or threading.current_thread() is not threading.main_thread():
        return
    if app.platformName() == "offscreen" and not getattr(app, "show_crash_dialogs", False):
        return  # headless (tests, smoke test): the report and stderr are enough
    _showing = True
    try:
        summary = f"{exc_type.__name__}: {exc}"[:300]
        CrashDialog(summary, detail, report, app.activeWindow()).exec()
    finally:
        _showing = False


def install() -> None:
    """Route unhandled exceptions (including those raised in Qt slots) to the crash dialog."""
    global _installed
    if _installed:
        return
    sys.excepthook = _hook
    _installed = True
