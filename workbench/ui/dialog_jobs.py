"""Background work of the small analysis dialogs (Readiness, Eval set, Drift), in one place.

A dialog hands a plain core function to :func:`start`; it runs on Qt's global thread pool and its
answer (or exception) comes back through the dialog's :class:`JobSignals` with the tag the dialog
gave, so an answer for an older request can be told apart and dropped. :func:`show_once` opens a
window's dialog or raises the open one (refreshing it)."""

from __future__ import annotations

from PySide6 import QtCore


class JobSignals(QtCore.QObject):
    done = QtCore.Signal(object, object)  # result, tag
    failed = QtCore.Signal(object, object)  # exception, tag


class _Run(QtCore.QRunnable):
    def __init__(self, fn, args, tag, signals):
        super().__init__()
        self.fn, self.args, self.tag, self.signals = fn, args, tag, signals

    def run(self) -> None:  # a worker thread: nothing here touches a widget
        try:
            out = self.fn(*self.args)
        except Exception as exc:  # shown in the dialog, never lost
            self.signals.failed.emit(exc, self.tag)
        else:
            self.signals.done.emit(out, self.tag)


def start(fn, args, tag, signals: JobSignals) -> None:
    """Run ``fn(*args)`` off the GUI thread; ``signals`` gets ``done``/``failed`` with ``tag``."""
    QtCore.QThreadPool.globalInstance().start(_Run(fn, args, tag, signals))


def show_once(win, attr: str, cls):
    """The window's dialog ``cls`` (kept as ``win.<attr>``): created and shown the first time,
    refreshed and raised afterwards."""
    dlg = getattr(win, attr, None)
    if dlg is None:
        dlg = cls(win.session, win)
        setattr(win, attr, dlg)
    else:
        dlg.refresh()
    dlg.show()
    dlg.raise_()
    return dlg
