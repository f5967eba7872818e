"""The example panel: one conversation, turn by turn, where the curator fixes it.

Every turn (system / user / assistant / tool) is an editor; "Save edit" (Ctrl+Return) writes the
whole record back in its source's own format (``from_chat`` with the original as template, so
untouched fields and turns stay verbatim) as one journal op. Reject / restore take a reason;
tags, a note and a weight can be set. Below, what the analysis knows: flags, cluster, duplicate
group, conflicts, nearest neighbours (click to go there). Production inputs can be promoted
into training by writing their response. With several examples selected, a bar on top acts on
all of them at once (one undoable step).
"""

from __future__ import annotations

import html

from PySide6 import QtCore, QtGui, QtWidgets

from workbench.core.errors import WorkbenchError

REASONS = ["duplicate", "wrong answer", "low quality", "off-topic", "contains personal data",
           "leaks eval data", "harmful", "inconsistent with similar examples"]
ROLE_TITLES = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}


class TurnEditor(QtWidgets.QTextEdit):
    """A turn's text (plain) that grows with its content, up to a limit, instead of scrolling."""

    MAX_LINES = 18

    def __init__(self, role: str, text: str, parent=None):
        super().__init__(parent)
        self.role = role
        self.setObjectName(f"turn_{role}")
        self.setAcceptRichText(False)
        self.setPlainText(text)
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QtWidgets.QTextEdit.WidgetWidth)
        self.setSizePolicy(QtWidgets.QSizePolicy.Expanding, QtWidgets.QSizePolicy.Fixed)
        self.document().setDocumentMargin(4)
        self.document().contentsChanged.connect(self._fit)
        self._fit()

    def toPlainText(self) -> str:  # noqa: N802 - Qt naming
        return super().toPlainText()

    def _fit(self) -> None:
        doc = self.document()
        doc.setTextWidth(max(50, self.viewport().width()))
        line = self.fontMetrics().lineSpacing()
        h = min(doc.size().height(), self.MAX_LINES * line + 8)
        h = max(h, line + 8)
        self.setFixedHeight(int(h + 2 * self.frameWidth() + 2))

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if ev.oldSize().width() != ev.size().width():
            QtCore.QTimer.singleShot(0, self, self._fit)


class ExamplePanel(QtWidgets.QWidget):
    """Shows and edits the current example; bulk actions for the selection."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("examplePanel")
        self.setFocusPolicy(QtCore.Qt.ClickFocus)
        self.setMinimumWidth(280)
        self.session = session
        self.row = -1
        self.editors: list[TurnEditor] = []
        self._build()
        session.selection.sig_current_changed.connect(lambda row, _o: self.show_row(row))
        session.selection.sig_changed.connect(lambda _o: self._update_bulk())
        session.sig_changed.connect(self._on_changed)
        session.sig_workspace.connect(lambda: self.show_row(-1))
        session.sig_analysis.connect(lambda: self.show_row(self.row, force=True))
        session.sig_vectors.connect(lambda: self._fill_info())
        self.show_row(-1)

    # -- layout --------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(6)
        # bulk bar
        self.bulk = QtWidgets.QFrame()
        self.bulk.setObjectName("bulkBar")
        self.bulk.setFrameShape(QtWidgets.QFrame.StyledPanel)
        bl = QtWidgets.QHBoxLayout(self.bulk)
        bl.setContentsMargins(6, 4, 6, 4)
        self.bulk_label = QtWidgets.QLabel()
        self.bulk_reject = QtWidgets.QPushButton("Reject all")
        self.bulk_restore = QtWidgets.QPushButton("Restore all")
        self.bulk_tag = QtWidgets.QPushButton("Tag all…")
        for w in (self.bulk_label, self.bulk_reject, self.bulk_restore, self.bulk_tag):
            bl.addWidget(w)
        bl.addStretch(1)
        self.bulk_reject.clicked.connect(self.reject_selection)
        self.bulk_restore.clicked.connect(self.restore_selection)
        self.bulk_tag.clicked.connect(self.tag_selection)
        outer.addWidget(self.bulk)
        # header
        self.header = QtWidgets.QLabel()
        self.header.setObjectName("exampleHeader")
        self.header.setTextFormat(QtCore.Qt.RichText)
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
        outer.addWidget(self.header)
        # the conversation (scrolls when long) above what the analysis knows, split by a handle;
        # the curation controls stay visible below
        self.scroll = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        self.scroll.setChildrenCollapsible(False)
        turns_area = QtWidgets.QScrollArea()
        turns_area.setWidgetResizable(True)
        turns_area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        turns_area.setFrameShape(QtWidgets.QFrame.NoFrame)
        turns_holder = QtWidgets.QWidget()
        self.turns_box = QtWidgets.QVBoxLayout(turns_holder)
        self.turns_box.setContentsMargins(0, 0, 4, 0)
        self.turns_box.setSpacing(4)
        self.turns_box.addStretch(1)
        turns_area.setWidget(turns_holder)
        self.scroll.addWidget(turns_area)
        controls = QtWidgets.QWidget()
        self.body = QtWidgets.QVBoxLayout(controls)
        self.body.setContentsMargins(0, 4, 0, 0)
        edit_row = QtWidgets.QHBoxLayout()
        self.save_btn = QtWidgets.QPushButton("Save edit")
        self.save_btn.setToolTip("Write the edited turns back to this example (Ctrl+Return). Undo with Ctrl+Z.")
        self.revert_btn = QtWidgets.QPushButton("Discard")
        self.revert_btn.setToolTip("Throw away the changes typed here (nothing was saved yet)")
        self.original_btn = QtWidgets.QPushButton("Original")
        self.original_btn.setToolTip("Back to the original: undo every saved edit of this example and use the "
                                     "record as it is in its file")
        self.promote_btn = QtWidgets.QPushButton("Promote…")
        self.promote_btn.setToolTip("Promote to training: write a response for this production input and add it "
                                    "to the training set")
        for w in (self.save_btn, self.revert_btn, self.original_btn, self.promote_btn):
            edit_row.addWidget(w)
        edit_row.addStretch(1)
        self.body.addLayout(edit_row)
        self.save_btn.clicked.connect(self.save_edit)
        self.revert_btn.clicked.connect(lambda: self.show_row(self.row, force=True))
        self.original_btn.clicked.connect(self.revert_to_original)
        self.promote_btn.clicked.connect(self.promote)
        sc = QtGui.QShortcut(QtGui.QKeySequence("Ctrl+Return"), self, activated=self.save_edit)
        sc.setContext(QtCore.Qt.WidgetWithChildrenShortcut)
        # curation controls, one row each so the panel stays narrow
        def row(*widgets, stretch_index=0):
            h = QtWidgets.QHBoxLayout()
            h.setSpacing(6)
            for k, w in enumerate(widgets):
                h.addWidget(w, 1 if k == stretch_index else 0)
            self.body.addLayout(h)

        self.reason = QtWidgets.QComboBox()
        self.reason.setEditable(True)
        self.reason.addItems(REASONS)
        self.reason.setCurrentText("")
        self.reason.lineEdit().setPlaceholderText("reason (optional)")
        self.reason.setToolTip("Why you reject this example (optional; shown in the table, the manifest and the "
                               "report). Cleared after each reject, so a reason is never reused by mistake.")
        self.reason.setSizeAdjustPolicy(QtWidgets.QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.reason.setMinimumContentsLength(8)
        self.reject_btn = QtWidgets.QPushButton("Reject")
        self.reject_btn.setToolTip("Leave this example out of the export (stays visible, dimmed) — Delete. "
                                   "Reject and go to the next finding: X. Undo: Ctrl+Z")
        self.restore_btn = QtWidgets.QPushButton("Restore")
        self.restore_btn.setToolTip("Bring this rejected example back into the export — R")
        row(self.reason, self.reject_btn, self.restore_btn)
        self.tag_edit = QtWidgets.QLineEdit()
        self.tag_edit.setPlaceholderText("tag")
        self.tag_btn = QtWidgets.QPushButton("Tag")
        self.tag_btn.setToolTip("Add this tag to the example (Enter in the tag field)")
        self.untag_btn = QtWidgets.QPushButton("Untag")
        self.untag_btn.setToolTip("Remove this tag from the example")
        row(self.tag_edit, self.tag_btn, self.untag_btn)
        self.note = QtWidgets.QLineEdit()
        self.note.setPlaceholderText("note for yourself or a colleague")
        self.note_btn = QtWidgets.QPushButton("Note")
        self.note_btn.setToolTip("Save the note (Enter in the note field)")
        self.weight = QtWidgets.QDoubleSpinBox()
        self.weight.setRange(0, 1000)
        self.weight.setDecimals(2)
        self.weight.setSingleStep(0.5)
        self.weight.setPrefix("weight ")
        self.weight.setToolTip("How many times this example counts in training (exported as repeats or a field)")
        self.weight_btn = QtWidgets.QPushButton("Set")
        self.weight_btn.setToolTip("Set this weight")
        row(self.note, self.note_btn)
        row(self.weight, self.weight_btn, stretch_index=-1)
        self.reject_btn.clicked.connect(self.reject_current)
        self.restore_btn.clicked.connect(self.restore_current)
        self.tag_btn.clicked.connect(lambda: self._tag(True))
        self.tag_edit.returnPressed.connect(lambda: self._tag(True))
        self.untag_btn.clicked.connect(lambda: self._tag(False))
        self.weight_btn.clicked.connect(self._set_weight)
        self.note_btn.clicked.connect(self._save_note)
        self.note.returnPressed.connect(self._save_note)
        # analysis info
        self.info = QtWidgets.QTextBrowser()
        self.info.setObjectName("exampleInfo")
        self.info.setOpenLinks(False)
        self.info.anchorClicked.connect(self._on_link)
        self.info.setMinimumHeight(120)
        self.scroll.addWidget(self.info)
        self.scroll.setStretchFactor(0, 3)
        self.scroll.setStretchFactor(1, 2)
        self.content = QtWidgets.QWidget()
        cl = QtWidgets.QVBoxLayout(self.content)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.scroll, 1)
        cl.addWidget(controls)
        outer.addWidget(self.content, 1)
        self.placeholder = QtWidgets.QLabel("Click a point on the map or a row in the table to open an example.")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(QtCore.Qt.AlignCenter)
        outer.addWidget(self.placeholder)

    # -- showing -------------------------------------------------------------------------------
    def show_row(self, row: int, force: bool = False) -> None:
        ws = self.session.ws
        if ws is None or row is None or row < 0 or row >= ws.n:
            self.row = -1
            self.content.hide()
            self.header.hide()
            self.placeholder.show()
            self._update_bulk()
            return
        if row == self.row and not force and not self._dirty():
            self._fill_info()
            return
        if row != self.row and self._dirty():
            # moving on keeps what was typed: saved as an edit (durable, Ctrl+Z undoes it)
            ws0 = self.session.ws
            where = f"{ws0.source_names[self.row]}:{int(ws0.line[self.row])}"
            if self.save_edit():
                self.session.sig_message.emit(f"Saved your edit of {where} (Ctrl+Z undoes it)")
        if row != self.row:
            self.reason.setCurrentText("")  # a reason belongs to the example it was typed for
        self.row = row
        self.placeholder.hide()
        self.content.show()
        self.header.show()
        self._fill_header()
        self._fill_turns()
        self._fill_controls()
        self._fill_info()
        self._update_bulk()

    def _fill_header(self) -> None:
        ws, i = self.session.ws, self.row
        state = []
        if ws.rejected[i]:
            reason = ws.reject_reason(i)
            state.append(f"<b style='color:#d62728'>rejected</b>{': ' + html.escape(reason) if reason else ''}")
        if ws.edited[i]:
            state.append("<b>edited</b>")
        if ws.is_added(i):
            state.append("<b>added</b>")
        tags = sorted(ws.tags[i]) if i < len(ws.tags) else []
        if tags:
            state.append("tags: " + ", ".join(f"<span style='background:rgba(37,99,235,40)'>&nbsp;{html.escape(t)}"
                                              "&nbsp;</span>" for t in tags))
        src = html.escape(str(ws.source_names[i]))
        self.header.setText(
            f"<span style='font-size:11pt'><b>{src}</b> line {int(ws.line[i])}</span> · {html.escape(str(ws.role[i]))}"
            + (" · " + " · ".join(state) if state else ""))

    def _fill_turns(self) -> None:
        while self.turns_box.count() > 1:  # keep the trailing stretch
            item = self.turns_box.takeAt(0)
            if item.widget():
                item.widget().hide()
                item.widget().deleteLater()
        self.editors = []
        ws, i = self.session.ws, self.row
        try:
            turns = list(ws.turns(i))
        except Exception as exc:  # noqa: BLE001 - a record that no longer normalises: show, don't crash
            lab = QtWidgets.QLabel(f"This record cannot be shown turn by turn: {exc}")
            lab.setWordWrap(True)
            self.turns_box.insertWidget(self.turns_box.count() - 1, lab)
            return
        for t in turns:
            title = QtWidgets.QLabel(ROLE_TITLES.get(t.role, t.role.title()))
            f = title.font()
            f.setBold(True)
            title.setFont(f)
            ed = TurnEditor(t.role, t.content)
            ed.textChanged.connect(self._on_edit)
            self.turns_box.insertWidget(self.turns_box.count() - 1, title)
            self.turns_box.insertWidget(self.turns_box.count() - 1, ed)
            self.editors.append(ed)
        self._on_edit()
        QtCore.QTimer.singleShot(0, self, self._balance)

    def _balance(self) -> None:
        """Give the conversation the room it needs (up to 70 %), the rest to the analysis facts."""
        total = sum(self.scroll.sizes())
        if total <= 0:
            return
        need = self.turns_box.sizeHint().height() + 8
        top = int(min(max(need, 80), total * 0.7))
        self.scroll.setSizes([top, total - top])

    def _fill_controls(self) -> None:
        ws, i = self.session.ws, self.row
        self.reject_btn.setEnabled(not ws.rejected[i])
        self.restore_btn.setEnabled(bool(ws.rejected[i]))
        self.weight.setValue(float(ws.weight[i]))
        self.note.setText(ws.note(i))
        self.original_btn.setEnabled(bool(ws.edited[i]))
        self.promote_btn.setVisible(str(ws.role[i]) == "production")

    def _fill_info(self) -> None:
        if self.row < 0 or self.session.ws is None:
            return
        from workbench.ui.example_info import info_html

        self.info.setHtml(info_html(self.session, self.row))

    def _on_link(self, url: QtCore.QUrl) -> None:
        if url.scheme() == "row":
            row = int(url.path().strip("/") or url.host() or -1)
            self.session.selection.set([row], origin="panel", current=row)

    def _update_bulk(self) -> None:
        n = len(self.session.selection)
        self.bulk.setVisible(n > 1)
        if n > 1:
            self.bulk_label.setText(f"<b>{n:,}</b> selected")

    # -- editing -------------------------------------------------------------------------------
    def _dirty(self) -> bool:
        if self.row < 0 or not self.editors or self.session.ws is None:
            return False
        try:
            turns = list(self.session.ws.turns(self.row))
        except Exception:  # noqa: BLE001
            return False
        return [e.toPlainText() for e in self.editors] != [t.content for t in turns]

    def _on_edit(self) -> None:
        dirty = self._dirty()
        self.save_btn.setEnabled(dirty)
        self.revert_btn.setEnabled(dirty)

    def edited_messages(self) -> list[dict]:
        return [{"role": e.role, "content": e.toPlainText()} for e in self.editors]

    def save_edit(self) -> bool:
        """Write the edited turns as a new record (one undoable op)."""
        if self.row < 0 or not self._dirty():
            return False
        from workbench.io.formats import from_chat
        from workbench.project.journal import Edit

        ws, i = self.session.ws, self.row
        try:
            record = from_chat(self.edited_messages(), ws.schema_of(i), template_record=ws.record(i),
                               mapping=ws.mapping_of(i))
        except (ValueError, WorkbenchError) as exc:
            self.session.sig_error.emit(f"This edit does not fit the {ws.schema_of(i)} format: {exc}", "")
            return False
        return self.session.apply(Edit(ws.example_id(i), record)) is not None

    def revert_to_original(self) -> None:
        from workbench.project.journal import Edit

        if self.row >= 0:
            self.session.apply(Edit(self.session.ws.example_id(self.row), None))

    def _on_changed(self, change) -> None:
        ws = self.session.ws
        if self.row < 0 or ws is None:
            return
        if self.row >= ws.n:
            self.show_row(-1)
            return
        if ws.example_id(self.row) in change.ids or change.structural:
            self.show_row(self.row, force=True)
        else:
            self._fill_info()
        self._update_bulk()

    # -- curation ------------------------------------------------------------------------------
    def _ids(self, rows) -> list:
        return self.session.ids_of(rows)

    def take_reason(self) -> str:
        """The typed reason, once: the box is emptied so a later reject never reuses it unseen."""
        text = self.reason.currentText().strip()
        self.reason.setCurrentText("")
        return text

    def _keep_focus_sane(self) -> None:
        """After a button that disables itself, Qt would move the focus to the next field (the tag
        box), where Ctrl+Z undoes typing instead of the action: park it on the Restore/Reject
        button instead, where the window's shortcuts (Ctrl+Z, Delete, X, J/K) keep working."""
        fw = QtWidgets.QApplication.focusWidget()
        if fw is None or fw in (self.tag_edit, self.note, self.reason.lineEdit(), self.weight) or not fw.isEnabled():
            for b in (self.restore_btn, self.reject_btn):
                if b.isEnabled() and b.isVisible():
                    b.setFocus(QtCore.Qt.OtherFocusReason)
                    return
            self.setFocus(QtCore.Qt.OtherFocusReason)

    def reject_current(self) -> None:
        from workbench.project.journal import Reject

        if self.row >= 0:
            self.session.apply(Reject(self._ids([self.row]), self.take_reason()))
            self._keep_focus_sane()

    def restore_current(self) -> None:
        from workbench.project.journal import Restore

        if self.row >= 0:
            self.session.apply(Restore(self._ids([self.row]), self.take_reason()))
            self._keep_focus_sane()

    def reject_selection(self) -> None:
        from workbench.project.journal import Reject

        rows = self.session.selection.rows
        if len(rows):
            self.session.apply(Reject(self._ids(rows), self.take_reason()))

    def restore_selection(self) -> None:
        from workbench.project.journal import Restore

        rows = self.session.selection.rows
        if len(rows):
            self.session.apply(Restore(self._ids(rows), self.take_reason()))

    def tag_selection(self) -> None:
        from workbench.project.journal import Tag

        rows = self.session.selection.rows
        tag, ok = QtWidgets.QInputDialog.getText(self, "Tag selected examples", f"Tag for {len(rows):,} examples:")
        if ok and tag.strip() and len(rows):
            self.session.apply(Tag(self._ids(rows), tag.strip()))

    def _tag(self, add: bool) -> None:
        from workbench.project.journal import Tag, Untag

        tag = self.tag_edit.text().strip()
        if self.row < 0 or not tag:
            return
        self.session.apply((Tag if add else Untag)(self._ids([self.row]), tag))
        self.tag_edit.clear()

    def _set_weight(self) -> None:
        from workbench.project.journal import SetWeight

        if self.row >= 0:
            self.session.apply(SetWeight(self._ids([self.row]), float(self.weight.value())))

    def _save_note(self) -> None:
        from workbench.project.journal import Note

        if self.row >= 0:
            self.session.apply(Note(self.session.ws.example_id(self.row), self.note.text()))

    def promote(self) -> None:
        """Turn a production input into a training example with a curator-written response."""
        from workbench.ui.dialogs import PromoteDialog

        if self.row < 0:
            return
        PromoteDialog.run(self.session, self.row, self)
