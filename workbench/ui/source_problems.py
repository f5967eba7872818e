"""A source file moved or changed: the curator chooses what happens, per source.

When the project cannot load because a source file is missing or its content changed, the
window shows :class:`SourceProblemsDialog` instead of a message with only OK. For each source:

* **Locate…** — choose where the file is now: :meth:`Project.relink` (``workbench relink``); a file
  whose content differs is offered as a changed file instead;
* **Accept the change** — read the file as it is now: :meth:`Project.accept_changed`
  (``workbench accept-change``); curation made on the old content is set aside;
* **Remove the source** — :meth:`Project.remove_source` (``workbench remove-source``);
* **Later** — close; the project stays open without data; File ▸ Check sources… asks again.

Each choice runs in the window's load worker (relinking hashes the file, accepting reads it)
followed by the load; a source that still needs attention brings the dialog back with what is
left (:func:`fix_source_job`)."""

from __future__ import annotations

import html

from PySide6 import QtCore, QtWidgets

LOCATE_TIP = "Choose where the file is now. It must have the content that was added (same sha256)."
ACCEPT_TIP = ("Read the file again as it is now and record its new content. Rejections, edits and tags made on "
              "its old content are set aside: kept in the journal, not applied (line numbers may now name "
              "other records).")
REMOVE_TIP = ("Take this source out of the project. Its file is not touched; curation on the other sources is "
              "kept.")
LATER_TIP = "Close this for now; the project stays open without data. File ▸ Check sources… asks again."


def fix_source_job(project, action: str, source_id: int, path: str | None = None, *, progress=None, cancel=None):
    """The curator's choice for one source (the same core calls as the CLI's ``relink``,
    ``accept-change`` and ``remove-source``), then the project's load (worker thread)."""
    from workbench.core.errors import SourceChangedError
    from workbench.core.progress import ensure

    progress, cancel = ensure(progress, cancel)
    if action == "relink":
        try:
            project.relink(source_id, path)
        except SourceChangedError as exc:
            exc.relink_changed = (source_id, path)  # the window offers to accept it as changed
            raise
    elif action == "accept":
        project.accept_changed(source_id, path, progress=progress, cancel=cancel)
    elif action == "remove":
        project.remove_source(source_id)
    else:
        raise ValueError(f"unknown source action {action!r}")
    return project.load(progress=progress, cancel=cancel)


class SourceProblemsDialog(QtWidgets.QDialog):
    """One box per source that needs attention, each with its choices, and Later."""

    def __init__(self, session, problems, parent=None):
        super().__init__(parent)
        self.setObjectName("sourceProblemsDialog")
        self.setWindowTitle("Sources need your attention")
        self.session = session
        self.problems = list(problems)
        self.buttons: list[dict[str, QtWidgets.QPushButton]] = []
        lay = QtWidgets.QVBoxLayout(self)
        n = len(self.problems)
        head = QtWidgets.QLabel(
            f"<b>{n} source file{'s' if n != 1 else ''} of {html.escape(session.title)} "
            f"{'have' if n != 1 else 'has'} moved or changed.</b> The project loads once each is settled; "
            "nothing is changed until you choose.")
        head.setWordWrap(True)
        lay.addWidget(head)
        for k, st in enumerate(self.problems):
            box = QtWidgets.QGroupBox(f"{st.info.name} — {st.info.role}, {st.info.rows:,} rows")
            bl = QtWidgets.QVBoxLayout(box)
            what = ("is missing" if st.state == "missing" else "changed on disk since it was added")
            where = st.path if st.state == "changed" else (st.tried[0] if st.tried else st.info.path)
            msg = QtWidgets.QLabel(f"The file {what}: <code>{html.escape(str(where))}</code>")
            msg.setWordWrap(True)
            msg.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
            bl.addWidget(msg)
            row = QtWidgets.QHBoxLayout()
            btns = {}
            for key, text, tip in (("locate", "Locate…", LOCATE_TIP), ("accept", "Accept the change", ACCEPT_TIP),
                                   ("remove", "Remove the source", REMOVE_TIP)):
                if key == "accept" and st.state != "changed":
                    continue
                b = QtWidgets.QPushButton(text)
                b.setObjectName(f"{key}Source{k}")
                b.setToolTip(tip)
                b.clicked.connect(lambda _=False, key=key, k=k: self.choose(k, key))
                row.addWidget(b)
                btns[key] = b
            row.addStretch(1)
            bl.addLayout(row)
            self.buttons.append(btns)
            lay.addWidget(box)
        bottom = QtWidgets.QDialogButtonBox()
        self.later = bottom.addButton("Later", QtWidgets.QDialogButtonBox.RejectRole)
        self.later.setToolTip(LATER_TIP)
        self.later.clicked.connect(self.reject)
        lay.addWidget(bottom)
        self.setMinimumWidth(560)

    def choose(self, k: int, key: str, path: str | None = None) -> bool:
        """Carry out ``key`` for problem ``k`` (``path``: the located file; asked when None).
        False when the curator backed out."""
        st = self.problems[k]
        if key == "locate":
            if path is None:
                start = str(st.tried[0].parent) if st.tried else ""
                path, _ = QtWidgets.QFileDialog.getOpenFileName(
                    self, f"Where is {st.info.name} now?", start,
                    "Data files (*.jsonl *.json *.csv *.tsv *.parquet *.ndjson);;All files (*)")
            if not path:
                return False
            self.accept()
            self.session.fix_source("relink", st.info.id, path)
            return True
        if key == "remove":
            answer = QtWidgets.QMessageBox.question(
                self, "Remove the source",
                f"Remove the {st.info.role} source '{st.info.name}' from the project?\n\n{REMOVE_TIP}")
            if answer != QtWidgets.QMessageBox.Yes:
                return False
            self.accept()
            self.session.fix_source("remove", st.info.id)
            return True
        if key == "accept":
            self.accept()
            self.session.fix_source("accept", st.info.id, str(st.path) if st.path is not None else None)
            return True
        return False


def ask_accept_instead(win, source_id: int, path: str, message: str) -> None:
    """The located file has other content than the source had: accept it as changed?"""
    s = win.session
    try:
        name = s.project.source(source_id).name
    except Exception:  # noqa: BLE001 - the project was closed meanwhile
        return
    box = QtWidgets.QMessageBox(win)
    box.setIcon(QtWidgets.QMessageBox.Question)
    box.setWindowTitle("The file has changed")
    box.setText(f"{message}\n\nUse it as the changed content of '{name}'?")
    box.setInformativeText(ACCEPT_TIP)
    accept = box.addButton("Accept the change", QtWidgets.QMessageBox.AcceptRole)
    box.addButton("Cancel", QtWidgets.QMessageBox.RejectRole)
    box.setObjectName("acceptInsteadBox")
    box.setAttribute(QtCore.Qt.WA_DeleteOnClose)

    def done(_result) -> None:
        if box.clickedButton() is accept:
            s.fix_source("accept", source_id, path)

    box.finished.connect(done)
    box.open()
