"""The one selection shared by the map, the table and every panel.

A selection is a sorted array of workspace row indices plus the row the curator is looking at
(``current``, shown in the example panel). Views never keep their own notion of what is
selected: they call :meth:`SelectionModel.set` and redraw on ``sig_changed``. The ``origin``
argument names the view that made the change, so that view can skip echoing it back.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore

EMPTY = np.zeros(0, dtype=np.int64)


class SelectionModel(QtCore.QObject):
    """Selected workspace rows (sorted, unique ``int64``) and the current row (or -1)."""

    sig_changed = QtCore.Signal(str)  # origin of the change ("map", "table", "panel", ...)
    sig_current_changed = QtCore.Signal(int, str)  # row (-1 = none), origin

    def __init__(self, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self._rows = EMPTY
        self._mask: np.ndarray | None = None
        self._n = 0
        self._current = -1

    def reset(self, n: int) -> None:
        """Forget the selection; the workspace now has ``n`` rows."""
        self._n = int(n)
        self._rows = EMPTY
        self._mask = None
        changed_current = self._current != -1
        self._current = -1
        self.sig_changed.emit("reset")
        if changed_current:
            self.sig_current_changed.emit(-1, "reset")

    def resize(self, n: int) -> None:
        """The workspace grew (an example was added): keep the selection."""
        self._n = int(n)
        self._mask = None
        self._rows = self._rows[self._rows < n]

    @property
    def n(self) -> int:
        return self._n

    @property
    def rows(self) -> np.ndarray:
        return self._rows

    @property
    def current(self) -> int:
        return self._current

    def __len__(self) -> int:
        return len(self._rows)

    def mask(self) -> np.ndarray:
        """Boolean mask of length n (cached)."""
        if self._mask is None:
            m = np.zeros(self._n, dtype=bool)
            m[self._rows] = True
            self._mask = m
        return self._mask

    def set(self, rows, origin: str = "", current: int | None = None, mode: str = "replace") -> None:
        """Select ``rows`` (any int iterable). ``mode``: replace, add, remove, toggle.

        ``current`` defaults to the first selected row when the selection is one row, or keeps
        the current row if it is still selected.
        """
        new = np.unique(np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows,
                                   dtype=np.int64))
        new = new[(new >= 0) & (new < self._n)]
        if mode == "add":
            new = np.union1d(self._rows, new)
        elif mode == "remove":
            new = np.setdiff1d(self._rows, new, assume_unique=True)
        elif mode == "toggle":
            new = np.setxor1d(self._rows, new, assume_unique=True)
        same = len(new) == len(self._rows) and np.array_equal(new, self._rows)
        if not same:
            self._rows = new
            self._mask = None
            self.sig_changed.emit(origin)
        if current is None:
            if len(new) == 1:
                current = int(new[0])
            elif self._current >= 0 and self._current < self._n and self.mask()[self._current]:
                current = self._current
            else:
                current = int(new[0]) if len(new) else -1
        self.set_current(current, origin)

    def clear(self, origin: str = "") -> None:
        self.set(EMPTY, origin, current=-1)

    def set_current(self, row: int, origin: str = "") -> None:
        row = int(row) if row is not None and 0 <= int(row) < self._n else -1
        if row != self._current:
            self._current = row
            self.sig_current_changed.emit(row, origin)
