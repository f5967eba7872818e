"""The snapshot date of a production log, in the app (issue 15): asked when production data is
added (File ▸ Add production data…: default today, or no date = the ``initial`` snapshot) and
changed later (File ▸ Set a log's snapshot date…). Both call the core of ``workbench add
--snapshot``: :func:`workbench.analysis.drift.check_snapshot_arg` validates (a wrong date is
shown in the dialog, which stays open) and :func:`~workbench.analysis.drift.set_snapshot`
records it in the project settings; the map's *Production snapshot* colouring and the Drift
dialog read it from there."""

from __future__ import annotations

import datetime as _dt
import html
from pathlib import Path

from PySide6 import QtWidgets

from workbench.core.errors import WorkbenchError


class SnapshotDateDialog(QtWidgets.QDialog):
    """A date ``YYYY-MM-DD`` (default today) or "no date" (the initial snapshot)."""

    def __init__(self, what: str, current: str | None = None, parent=None, role: str = "production"):
        from workbench.analysis.drift import INITIAL

        super().__init__(parent)
        self.setObjectName("snapshotDateDialog")
        self.setWindowTitle("Production snapshot date")
        self.role = role
        self.value: str | None = None
        lay = QtWidgets.QVBoxLayout(self)
        intro = QtWidgets.QLabel(
            f"{html.escape(what)}<br>The date this log was collected: <b>Drift</b> compares the latest snapshot "
            "with the one before, and the map can be coloured by snapshot. Without a date the log belongs to "
            "the <i>initial</i> snapshot (before every dated one).")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(QtWidgets.QLabel("Date (YYYY-MM-DD):"))
        self.date = QtWidgets.QLineEdit(current if current and current != INITIAL else _dt.date.today().isoformat())
        self.date.setObjectName("snapshotDate")
        row.addWidget(self.date, 1)
        lay.addLayout(row)
        self.no_date = QtWidgets.QCheckBox("No date: the initial snapshot")
        self.no_date.setObjectName("snapshotNoDate")
        self.no_date.toggled.connect(lambda on: self.date.setEnabled(not on))
        self.no_date.setChecked(current == INITIAL)
        lay.addWidget(self.no_date)
        self.error = QtWidgets.QLabel("")
        self.error.setObjectName("snapshotDateError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b34700")
        lay.addWidget(self.error)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Ok | QtWidgets.QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.date.textChanged.connect(lambda _t: self.error.setText(""))

    def accept(self) -> None:
        """Validate with the CLI's rule; a wrong date is shown here and the dialog stays open."""
        from workbench.analysis.drift import check_snapshot_arg

        if self.no_date.isChecked():
            self.value = None
        else:
            try:
                self.value = check_snapshot_arg(self.role, self.date.text())
            except WorkbenchError as exc:
                self.error.setText(exc.user_message)
                return
        super().accept()


def ask(win, what: str, current: str | None = None) -> tuple[bool, str | None]:
    """(accepted, date or None for the initial snapshot)."""
    dlg = SnapshotDateDialog(what, current, win)
    ok = dlg.exec() == QtWidgets.QDialog.Accepted
    return ok, dlg.value


def add_production(win, paths: list[str]) -> bool:
    """File ▸ Add production data…: ask the logs' snapshot date, add them, record the date."""
    names = ", ".join(Path(p).name for p in paths)
    ok, date = ask(win, f"Adding the production log{'s' if len(paths) > 1 else ''} <b>{html.escape(names)}</b>.")
    if not ok:
        return False
    return add_with_date(win.session, paths, date)


def add_with_date(session, paths: list[str], date: str | None) -> bool:
    """Add production ``paths`` (the session's add, in the background: errors shown, nothing
    half-added) and give each added source the snapshot ``date`` (None: initial) right after it is
    added, with :func:`~workbench.analysis.drift.set_snapshot`, as ``workbench add --snapshot``."""
    from workbench.analysis.drift import check_snapshot_arg

    if date is not None:
        try:
            date = check_snapshot_arg("production", date)  # before anything is added
        except WorkbenchError as exc:
            session.sig_error.emit(exc.user_message, "")
            return False
    return session.add_sources(paths, "production", snapshot=date)


def set_date(win) -> None:
    """File ▸ Set a log's snapshot date…: choose a production source, then its date."""
    from workbench.analysis.drift import INITIAL, snapshot_dates

    s = win.session
    prod = [info for info in (s.project.sources if s.project is not None else []) if info.role == "production"]
    if not prod:
        s.sig_message.emit("The project has no production log to date (add one with File ▸ Add production data…).")
        return
    dates = snapshot_dates(s.project)
    names = [f"{info.name} — {dates.get(info.id, INITIAL)}, {info.rows:,} rows (source {info.id})" for info in prod]
    text, ok = QtWidgets.QInputDialog.getItem(win, "Set a log's snapshot date", "Production log:", names, 0, False)
    if not ok or text not in names:
        return
    info = prod[names.index(text)]
    ok, date = ask(win, f"The production log <b>{html.escape(info.name)}</b>.", dates.get(info.id, INITIAL))
    if ok:
        apply_date(win, info.id, date)


def apply_date(win, source_id: int, date: str | None) -> bool:
    """Record ``date`` (None: initial) for production source ``source_id`` through the core;
    errors shown; the map's snapshot colouring follows."""
    from workbench.analysis.drift import set_snapshot

    s = win.session
    try:
        got = set_snapshot(s.project, source_id, date)
    except WorkbenchError as exc:
        s.sig_error.emit(exc.user_message, "")
        return False
    name = next((i.name for i in s.project.sources if i.id == source_id), str(source_id))
    s.sig_message.emit(f"'{name}' is now production snapshot {got}.")
    if getattr(win, "colour_key", None) == "snapshot":
        win.set_colour_by("snapshot")
    return True
