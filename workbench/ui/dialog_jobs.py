"""Background work of the small analysis dialogs (Readiness, Eval set, Drift), in one place.

A dialog hands a plain core function to :func:`start`; it runs on the window's executor for that
dialog (:meth:`~workbench.ui.executors.JobCenter.executor`, one single-thread executor per kind
of job, kind ``dialog:<class name>``), so a newer request supersedes the older one: the older
job's cancel tokens (any :class:`~workbench.core.progress.CancelToken` among its arguments) are
set and its answer is dropped; only one job of a dialog runs at a time, and the status bar shows
it with its Cancel button. The answer (or exception; a cancel arrives as
:class:`~workbench.core.errors.Cancelled`) comes back through the dialog's :class:`JobSignals`
with the tag the dialog gave. A dialog without a window model (a test's bare dialog) falls back
to a private executor of its own with the same rules. :func:`show_once` opens a window's dialog
or raises the open one (refreshing it)."""

from __future__ import annotations

from PySide6 import QtCore

from workbench.core.errors import Cancelled
from workbench.core.progress import CancelToken


class JobSignals(QtCore.QObject):
    done = QtCore.Signal(object, object)  # result, tag
    failed = QtCore.Signal(object, object)  # exception, tag


class _Bridge(QtCore.QObject):
    """Passes an executor's answers to one dialog's signals (a child of them: when the dialog is
    gone, Qt drops these connections with it)."""

    def __init__(self, signals: JobSignals):
        super().__init__(signals)
        self.signals = signals

    @QtCore.Slot(object, object)
    def finished(self, out, tag) -> None:
        self.signals.done.emit(out, tag)

    @QtCore.Slot(object, object)
    def failed(self, exc, tag) -> None:
        self.signals.failed.emit(exc, tag)

    @QtCore.Slot(object)
    def cancelled(self, tag) -> None:
        self.signals.failed.emit(Cancelled("cancelled"), tag)


def _call(fn, args, *, progress=None, cancel=None):  # a worker thread: nothing here touches a widget
    return fn(*args)


def executor_for(signals: JobSignals):
    """The executor that runs ``signals``' dialog's jobs (made and wired on first use)."""
    from workbench.ui.executors import Executor

    dlg = signals.parent()
    kind = f"dialog:{type(dlg).__name__}"
    jobs = getattr(getattr(dlg, "session", None), "jobs", None)
    ex = jobs.executor(kind) if jobs is not None else getattr(signals, "_own_executor", None)
    if ex is None:
        ex = signals._own_executor = Executor(kind, signals)
    if getattr(signals, "_wired", None) is not ex:
        old = getattr(signals, "_bridge", None)
        if old is not None:
            old.setParent(None)
            old.deleteLater()
        bridge = signals._bridge = _Bridge(signals)
        ex.sig_finished.connect(bridge.finished)
        ex.sig_failed.connect(bridge.failed)
        ex.sig_cancelled.connect(bridge.cancelled)
        signals._wired = ex
    return ex


def start(fn, args, tag, signals: JobSignals, label: str = "") -> int:
    """Run ``fn(*args)`` off the GUI thread on the dialog's executor; ``signals`` gets
    ``done``/``failed`` with ``tag``. A running older job of the same dialog is superseded."""
    ex = executor_for(signals)
    tokens = tuple(a for a in args if isinstance(a, CancelToken))
    if ex.busy and any(t is old for t in tokens for old in getattr(ex, "_also", ())):
        ex._also = tuple(t for t in ex._also if not any(t is n for n in tokens))  # reused by the new job: not cancelled
    dlg = signals.parent()
    title = label or (dlg.windowTitle().split(":")[0] if hasattr(dlg, "windowTitle") else "")
    return ex.submit(_call, fn, tuple(args), tag=tag, label=title or ex.kind, also_cancel=tokens)


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
