"""File ▸ Remove a source… / Change a source's role…: the app's front to
:meth:`~workbench.project.project.Project.remove_source` and :meth:`~workbench.project.project.Project.set_role`
(the same core calls as ``workbench remove-source`` / ``set-role``); the workspace and the
stored analysis are then read again in the background (the session's reload)."""

from __future__ import annotations

from PySide6 import QtWidgets

from workbench.core.errors import WorkbenchError


def _choose_source(win, title: str):
    s = win.session
    if s.project is None or not s.project.sources:
        s.sig_message.emit("Open a project with data first.")
        return None
    sources = s.project.sources
    names = [f"{info.name} — {info.role}, {info.rows:,} rows (source {info.id})" for info in sources]
    text, ok = QtWidgets.QInputDialog.getItem(win, title, "Source:", names, 0, False)
    return sources[names.index(text)] if ok and text in names else None


def remove_source(win) -> None:
    info = _choose_source(win, "Remove a source")
    if info is None:
        return
    answer = QtWidgets.QMessageBox.question(
        win, "Remove a source",
        f"Remove the {info.role} source '{info.name}' from the project?\n\nIts file is not touched. Curation on the "
        "other sources is kept; rejections and edits on this source stay in the journal but no longer apply "
        "(adding the file again does not bring them back).")
    if answer != QtWidgets.QMessageBox.Yes:
        return
    _run(win, lambda: win.session.project.remove_source(info.id), f"Removed {info.role} source {info.name}.")


def change_role(win) -> None:
    from workbench.io.source_data import ROLES

    info = _choose_source(win, "Change a source's role")
    if info is None:
        return
    roles = [r for r in ROLES if r != info.role]
    role, ok = QtWidgets.QInputDialog.getItem(win, "Change a source's role",
                                              f"New role for '{info.name}' (now {info.role}):", roles, 0, False)
    if ok and role in roles:
        _run(win, lambda: win.session.project.set_role(info.id, role),
             f"'{info.name}' is now {role} data; run the analysis again (Ctrl+R): findings depend on roles.")


def _run(win, change, message: str) -> None:
    s = win.session
    try:
        change()
    except WorkbenchError as exc:
        s.sig_error.emit(exc.user_message, "")
        return
    s.sig_message.emit(message)
    s.reload()
