"""The runner protocol: long work is a plain function ``fn(inputs, *, progress, cancel)``.

``progress(done, total, phase)`` is called with counts (``total`` may be 0 when unknown);
``cancel`` is a :class:`CancelToken` the runner polls between batches via ``cancel.check()``,
which raises :class:`~workbench.core.errors.Cancelled`. Both are optional; use
:func:`ensure` to get no-op defaults. Phases that cannot be interrupted (UMAP, HDBSCAN) say so
with ``progress(0, 0, "layout (cannot be interrupted)")``.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol

from workbench.core.errors import Cancelled


class ProgressFn(Protocol):
    def __call__(self, done: int, total: int, phase: str) -> None: ...


def null_progress(done: int, total: int, phase: str) -> None:
    """A progress callback that ignores everything."""


class CancelToken:
    """Thread-safe cancellation flag shared between a front end and a runner."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


def ensure(progress: ProgressFn | None, cancel: CancelToken | None) -> tuple[ProgressFn, CancelToken]:
    """Return usable (progress, cancel) objects, substituting no-ops for ``None``."""
    return (progress or null_progress), (cancel or CancelToken())


def throttled(progress: ProgressFn, min_interval: float = 0.1) -> ProgressFn:
    """Wrap ``progress`` so it fires at most every ``min_interval`` seconds (and always at the end)."""
    last = [0.0]

    def call(done: int, total: int, phase: str) -> None:
        now = time.monotonic()
        if done >= total > 0 or now - last[0] >= min_interval:
            last[0] = now
            progress(done, total, phase)

    return call


PhaseTimer = Callable[[str], None]
