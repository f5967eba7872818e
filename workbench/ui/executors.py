"""Background work: one single-thread executor per kind of job (load, embed, analyse, export ...).

The core's long operations are plain runners ``fn(inputs, *, progress, cancel)``. An
:class:`Executor` runs them on its own one-thread pool so the window never freezes:

* a newer request supersedes an older one of the same kind: the older one's cancel token is set
  and, whatever it returns, its answer is dropped (request ids, as in napari / Orange);
* progress is throttled (at most ~20 updates a second, phase changes always pass);
* every result comes back with the ``tag`` it was submitted with (the data revision the job saw),
  so the receiver can mark a result that arrives after the data changed as stale instead of
  applying it;
* :class:`~workbench.core.errors.Cancelled` is quiet; other exceptions are reported once through
  ``sig_failed`` with their traceback attached, and the window stays usable.

:class:`JobCenter` owns the executors and tells the status bar what is running.
"""

from __future__ import annotations

import itertools
import logging
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from PySide6 import QtCore

from workbench.core.errors import Cancelled
from workbench.core.progress import CancelToken

log = logging.getLogger(__name__)

_ids = itertools.count(1)


@dataclass
class JobInfo:
    """What the status bar shows about a running job."""

    kind: str
    request: int
    label: str
    done: int = 0
    total: int = 0
    phase: str = ""
    started: float = 0.0


class _Relay(QtCore.QObject):
    """Lives in the GUI thread; the worker thread emits through it (queued connections)."""

    progress = QtCore.Signal(int, int, int, str)  # request, done, total, phase
    finished = QtCore.Signal(int, object)  # request, result
    failed = QtCore.Signal(int, object)  # request, exception
    cancelled = QtCore.Signal(int)


class _Job(QtCore.QRunnable):
    def __init__(self, request: int, fn: Callable, args: tuple, kwargs: dict, token: CancelToken,
                 relay: _Relay, with_progress: bool):
        super().__init__()
        self.setAutoDelete(True)
        self.request, self.fn, self.args, self.kwargs = request, fn, args, kwargs
        self.token, self.relay, self.with_progress = token, relay, with_progress
        self._last = 0.0
        self._phase = None

    def _progress(self, done: int, total: int, phase: str) -> None:
        now = time.monotonic()
        if phase != self._phase or now - self._last >= 0.05 or (total and done >= total):
            self._phase, self._last = phase, now
            self.relay.progress.emit(self.request, int(done), int(total), str(phase))

    def run(self) -> None:  # worker thread
        try:
            if self.token.cancelled:
                raise Cancelled("cancelled before start")
            kwargs = dict(self.kwargs)
            if self.with_progress:
                kwargs.setdefault("progress", self._progress)
                kwargs.setdefault("cancel", self.token)
            result = self.fn(*self.args, **kwargs)
            if self.token.cancelled:
                raise Cancelled("cancelled")
        except Cancelled:
            self.relay.cancelled.emit(self.request)
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never lost
            exc.__wb_traceback__ = traceback.format_exc()  # type: ignore[attr-defined]
            log.warning("job %s failed: %s", self.request, exc)
            self.relay.failed.emit(self.request, exc)
        else:
            self.relay.finished.emit(self.request, result)


class Executor(QtCore.QObject):
    """Runs one kind of job at a time; a newer submit supersedes (cancels) the running one."""

    sig_started = QtCore.Signal(object)  # JobInfo
    sig_progress = QtCore.Signal(object)  # JobInfo
    sig_finished = QtCore.Signal(object, object)  # result, tag
    sig_failed = QtCore.Signal(object, object)  # exception, tag
    sig_cancelled = QtCore.Signal(object)  # tag
    sig_idle = QtCore.Signal()

    def __init__(self, kind: str, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.kind = kind
        self._pool = QtCore.QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.progress.connect(self._on_progress)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._relay.cancelled.connect(self._on_cancelled)
        self._current: JobInfo | None = None
        self._token: CancelToken | None = None
        self._tag: Any = None
        self._pending = 0  # jobs handed to the pool that have not reported back yet

    # -- control -------------------------------------------------------------------------------
    def submit(self, fn: Callable, *args: Any, tag: Any = None, label: str = "",
               with_progress: bool = True, also_cancel: tuple = (), **kwargs: Any) -> int:
        """Run ``fn(*args, progress=..., cancel=..., **kwargs)`` off the GUI thread.

        Returns the request id. Any running job of this executor is cancelled and its answer
        will be dropped. ``also_cancel``: cancel tokens of the job's own (a dialog's) that are set
        with it (Cancel in the status bar, or a newer request).
        """
        self.cancel()
        self._also = tuple(also_cancel)
        request = next(_ids)
        self._token = CancelToken()
        self._tag = tag
        self._current = JobInfo(self.kind, request, label or self.kind, started=time.monotonic())
        self._pending += 1
        self._pool.start(_Job(request, fn, args, kwargs, self._token, self._relay, with_progress))
        self.sig_started.emit(self._current)
        return request

    def cancel(self) -> None:
        """Ask the running job to stop at its next check (it reports ``sig_cancelled``)."""
        if self._token is not None:
            self._token.cancel()
            for t in getattr(self, "_also", ()):
                t.cancel()

    @property
    def busy(self) -> bool:
        return self._current is not None

    @property
    def current(self) -> JobInfo | None:
        return self._current

    def wait(self, msecs: int = -1) -> bool:
        """Block until every job of this executor has finished (shutdown and tests)."""
        return self._pool.waitForDone(msecs)

    # -- relay slots (GUI thread) --------------------------------------------------------------
    def _is_current(self, request: int) -> bool:
        return self._current is not None and self._current.request == request

    def _done(self, request: int) -> bool:
        self._pending = max(0, self._pending - 1)
        if not self._is_current(request):
            return False  # superseded: drop
        self._current = None
        self._token = None
        return True

    def _on_progress(self, request: int, done: int, total: int, phase: str) -> None:
        if self._is_current(request):
            info = self._current
            info.done, info.total, info.phase = done, total, phase
            self.sig_progress.emit(info)

    def _on_finished(self, request: int, result: object) -> None:
        tag = self._tag
        if self._done(request):
            self.sig_finished.emit(result, tag)
            self.sig_idle.emit()

    def _on_failed(self, request: int, exc: object) -> None:
        tag = self._tag
        if self._done(request):
            self.sig_failed.emit(exc, tag)
            self.sig_idle.emit()

    def _on_cancelled(self, request: int) -> None:
        tag = self._tag
        if self._done(request):
            self.sig_cancelled.emit(tag)
            self.sig_idle.emit()


class JobCenter(QtCore.QObject):
    """All executors of the window; tells the status bar what is running and cancels it."""

    sig_activity = QtCore.Signal()  # something started, progressed or ended

    KINDS = ("load", "embed", "analyse", "export", "search", "filter", "plan")

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._executors: dict[str, Executor] = {}
        for kind in self.KINDS:
            self.executor(kind)

    def executor(self, kind: str) -> Executor:
        """The executor of ``kind``, made on first use (e.g. one per analysis dialog)."""
        ex = self._executors.get(kind)
        if ex is None:
            ex = Executor(kind, self)
            for sig in (ex.sig_started, ex.sig_progress):
                sig.connect(lambda *_: self.sig_activity.emit())
            ex.sig_idle.connect(self.sig_activity.emit)
            self._executors[kind] = ex
        return ex

    def __getitem__(self, kind: str) -> Executor:
        return self._executors[kind]

    def running(self) -> list[JobInfo]:
        """Running jobs, most recently started last."""
        jobs = [ex.current for ex in self._executors.values() if ex.current is not None]
        return sorted(jobs, key=lambda j: j.started)

    def cancel_all(self) -> None:
        for ex in self._executors.values():
            ex.cancel()

    def wait_all(self, msecs: int = 30000) -> bool:
        ok = True
        for ex in self._executors.values():
            ok = ex.wait(msecs) and ok
        return ok
