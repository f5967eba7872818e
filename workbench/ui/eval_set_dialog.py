"""The Eval set dialog (Analysis > Eval set from production…): the same draw as ``workbench eval-set``.

Size, per-cluster floor and seed; a preview of the drawn inputs (cluster label, paraphrase group,
coverage-gap mark, source:line) and the per-cluster counts; "Write…" writes ``eval_set.jsonl`` and
``manifest.json`` into a folder, all or nothing, by the same destination rules as the CLI (the
folder must be new, empty or an earlier output of this tool). "Write reference answer…" opens the
editor of Promote to training (:class:`~workbench.ui.dialogs.PromoteDialog`) for the selected
input and records the answer as a journal op (:class:`~workbench.project.journal.EvalAnswer`,
undoable; the written set then carries it as the input's assistant turn). Every rule lives in
:mod:`workbench.curate.eval_set`; the draw and the write run in a background thread on a
snapshot taken on the GUI thread, so the window never waits on them.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from workbench.ui import dialog_jobs

PREVIEW_ROWS = 1000  # rows listed in the preview (the written file has every one)


def _draw_job(data, params, folder, model, device, encoder, rejected, marks, options, cancel, answers=None):
    """Worker: bring the analysis up to date (stored results are reused when current), then draw."""
    from workbench.analysis import project_analysis as pa
    from workbench.curate import eval_set as es

    if encoder is None:
        encoder = pa.get_encoder_for(model, device, cancel=cancel)
    analysis = pa.analyse(data, params, folder, encoder=encoder, cancel=cancel)
    if analysis.result is None:
        raise es.EvalSetError("The project has no analysis results; run the analysis first (Ctrl+R).")
    inp = es.inputs_from_result(analysis.result, analysis.data, analysis.prompt_vecs, rejected=rejected,
                                marks=marks, answers=answers)
    drawn = es.draw_eval_set(inp, options, cancel=cancel)
    res = analysis.result
    info = {"revision": res.revision, "cache_key": res.cache_key, "encoder": res.summary.get("encoder", "")}
    return inp, drawn, info


def _write_job(out, inp, drawn, project, info, protected):
    from workbench.curate.eval_set import write_eval_set

    return write_eval_set(out, inp, drawn, project=project, analysis=info, protected=protected)


def _reference_editor_class():
    from workbench.ui.dialogs import PromoteDialog

    class ReferenceAnswerDialog(PromoteDialog):
        """Promote to training's editor, for the reference answer of one eval-set input: the input
        (and its own system turn) shown read-only, the answer below; saving an empty answer clears it."""

        def __init__(self, session, row: int, parent=None):
            super().__init__(session, row, parent)
            ws = session.ws
            self.eid = ws.example_id(row)
            self.current = session.project.state.eval_answers.get(self.eid, "")
            self.setWindowTitle("Reference answer")
            self.setObjectName("referenceAnswerDialog")
            self.intro.setText(
                f"The reference answer for this production input from <b>{html.escape(str(ws.source_names[row]))}"
                f"</b> line {int(ws.line[row])}: the eval set writes it as the input's assistant turn "
                "(<code>\"reference\": true</code>) so an evaluation can compare the model's answer with it. "
                "Recorded in the journal (undo with Ctrl+Z); an empty answer clears it.")
            self.system.setPlainText(ws.system[row] if ws.system is not None else "")
            for box in (self.system, self.prompt):
                box.setReadOnly(True)
            self.response_label.setText("<b>Assistant</b> — the reference answer")
            self.response.setPlaceholderText("Write the reference answer…")
            self.response.setPlainText(self.current)
            self.ok.setText("Save reference answer")
            self.response.textChanged.connect(self._enable)  # after the promote rule: this one decides
            self._enable()

        def _enable(self) -> None:
            text = self.response.toPlainText().strip()
            self.ok.setEnabled(text != self.current.strip() and bool(text or self.current))

        def op(self):
            from workbench.curate.eval_answers import answer_op  # the CLI's --answers makes the same op

            return answer_op([(self.eid, self.response.toPlainText())])

    return ReferenceAnswerDialog


class EvalSetDialog(QtWidgets.QDialog):
    def __init__(self, session, parent=None):
        from workbench.curate import eval_set as es

        super().__init__(parent)
        self.setObjectName("evalSetDialog")
        self.setWindowTitle("Eval set from production")
        self.session = session
        self.inputs = self.drawn = self.info = None
        self.records: list[dict] = []
        self.manifest = None
        self._tag = 0
        self._cancel = None
        self._context = None  # (project path, protected paths) of the drawn set
        self._signals = dialog_jobs.JobSignals(self)
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        lay = QtWidgets.QVBoxLayout(self)
        form = QtWidgets.QHBoxLayout()
        self.size_box = QtWidgets.QSpinBox()
        self.size_box.setRange(1, 10_000_000)
        self.size_box.setValue(es.DEFAULT_SIZE)
        self.size_box.setToolTip("Number of inputs (the per-cluster floor may add more)")
        self.floor_box = QtWidgets.QSpinBox()
        self.floor_box.setRange(0, 100_000)
        self.floor_box.setValue(es.DEFAULT_PER_CLUSTER)
        self.floor_box.setToolTip("At least this many inputs from every production cluster and coverage gap")
        self.seed_box = QtWidgets.QSpinBox()
        self.seed_box.setRange(0, 2_147_483_647)
        self.seed_box.setToolTip("Same project, analysis, marks and seed: the same file, byte for byte")
        for label, box in (("Size", self.size_box), ("Per-cluster floor", self.floor_box), ("Seed", self.seed_box)):
            form.addWidget(QtWidgets.QLabel(label))
            form.addWidget(box)
        self.preview_btn = QtWidgets.QPushButton("Preview")
        self.preview_btn.clicked.connect(self.refresh)
        form.addWidget(self.preview_btn)
        self.cancel_btn = QtWidgets.QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel)
        form.addWidget(self.cancel_btn)
        form.addStretch(1)
        lay.addLayout(form)
        self.summary = QtWidgets.QLabel("")
        self.summary.setObjectName("evalSetSummary")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        split = QtWidgets.QSplitter(QtCore.Qt.Vertical)
        self.table = QtWidgets.QTableWidget(0, 6)
        self.table.setObjectName("evalSetPreview")
        self.table.setHorizontalHeaderLabels(["input", "cluster", "group", "gap", "source:line", "reference answer"])
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.ExtendedSelection)
        self.table.itemSelectionChanged.connect(self._update_answer_btn)
        self.table.itemDoubleClicked.connect(lambda _item: self.write_answer())
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.Stretch)
        for col, width in ((1, 160), (2, 45), (3, 120), (4, 150), (5, 150)):  # fixed: no measuring of every row
            self.table.setColumnWidth(col, width)
        split.addWidget(self.table)
        self.clusters = QtWidgets.QTableWidget(0, 6)
        self.clusters.setObjectName("evalSetClusters")
        self.clusters.setHorizontalHeaderLabels(["cluster", "production", "share", "near train", "floor", "drawn"])
        self.clusters.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self.clusters.verticalHeader().setVisible(False)
        self.clusters.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.Stretch)
        split.addWidget(self.clusters)
        split.setSizes([400, 200])
        lay.addWidget(split, 1)
        note = QtWidgets.QLabel("The same draw: <code>workbench eval-set PROJECT --out DIR --size N "
                                "--per-cluster MIN --seed S</code>. <i>Exclude</i> takes the selected inputs out, "
                                "<i>Pin the window's selection</i> always draws the production inputs selected on the "
                                "map or in the table (CLI: <code>--pin/--exclude FILE</code>); reference answers: "
                                "<code>--answers FILE</code>. All undoable (Ctrl+Z).")
        note.setWordWrap(True)
        lay.addWidget(note)
        buttons = QtWidgets.QDialogButtonBox()
        self.write_btn = buttons.addButton("Write…", QtWidgets.QDialogButtonBox.ActionRole)
        self.write_btn.setToolTip("Write eval_set.jsonl and manifest.json into a new or empty folder")
        self.write_btn.setEnabled(False)
        self.write_btn.clicked.connect(self.choose_folder)
        self.answer_btn = buttons.addButton("Write reference answer…", QtWidgets.QDialogButtonBox.ActionRole)
        self.answer_btn.setObjectName("evalSetAnswer")
        self.answer_btn.setToolTip("The answer the selected input should get, written into the eval set as its "
                                   "assistant turn (the editor of Promote to training; undoable)")
        self.answer_btn.setEnabled(False)
        self.answer_btn.clicked.connect(self.write_answer)
        self.exclude_btn = buttons.addButton("Exclude", QtWidgets.QDialogButtonBox.ActionRole)
        self.exclude_btn.setObjectName("evalSetExclude")
        self.exclude_btn.setToolTip("Never draw the selected inputs (a journal op; undo with Ctrl+Z)")
        self.exclude_btn.setEnabled(False)
        self.exclude_btn.clicked.connect(lambda: self.mark(self.selected_rows(), "exclude"))
        self.pin_btn = buttons.addButton("Pin the window's selection", QtWidgets.QDialogButtonBox.ActionRole)
        self.pin_btn.setObjectName("evalSetPin")
        self.pin_btn.setToolTip("Always draw the production inputs selected on the map or in the table "
                                "(a journal op; undo with Ctrl+Z)")
        self.pin_btn.clicked.connect(self.pin_window_selection)
        self.editor = None
        buttons.addButton(QtWidgets.QDialogButtonBox.Close).clicked.connect(self.close)
        lay.addWidget(buttons)
        self.resize(1000, 680)
        if hasattr(session, "sig_changed"):  # answers and pins saved, undone or redone: draw again
            session.sig_changed.connect(self._on_project_changed)
        QtCore.QTimer.singleShot(0, self.refresh)

    # -- drawing ---------------------------------------------------------------------------------
    def options(self):
        from workbench.curate.eval_set import EvalSetOptions

        return EvalSetOptions(size=self.size_box.value(), per_cluster=self.floor_box.value(),
                              seed=self.seed_box.value())

    def _busy(self, busy: bool) -> None:
        self.preview_btn.setEnabled(not busy)
        self.cancel_btn.setEnabled(busy)
        self.write_btn.setEnabled(not busy and self.drawn is not None)
        self._update_answer_btn()

    def refresh(self) -> None:
        from workbench.analysis import project_analysis as pa
        from workbench.core.progress import CancelToken

        s = self.session
        if s.project is None or s.ws is None:
            self.summary.setText("Open a project first.")
            return
        if s.analysis is None or s.analysis_stale:
            self.summary.setText("The eval set is drawn from the project's analysis: run the analysis first (Ctrl+R).")
            return
        if s.jobs["analyse"].busy:
            self.summary.setText("The analysis is running; preview again when it has finished.")
            return
        self.drawn = None
        self._tag += 1
        self._cancel = CancelToken()
        project, ws = s.project, s.ws
        data = pa.AnalysisData.capture(ws)  # the job's immutable snapshot
        args = (data, s.analysis_params(), pa.results_dir(project), pa.project_model(project),
                project.settings.get(pa.DEVICE_SETTING, "auto"), s.encoder, np.array(ws.rejected, bool),
                dict(project.state.eval_marks), self.options(), self._cancel, dict(project.state.eval_answers))
        self._context = (str(project.path), [project.path, *(src.path for src in ws.sources)])
        self.summary.setText("Drawing the eval set…")
        self._busy(True)
        dialog_jobs.start(_draw_job, args, ("draw", self._tag), self._signals)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    def _on_failed(self, exc, tag) -> None:
        from workbench.ui.dialogs import error_text

        if tag[1] != self._tag:
            return
        self._busy(False)
        msg, _ = error_text(exc)
        what = "draw the eval set" if tag[0] == "draw" else "write the eval set"
        self.summary.setText(f"Could not {what}: {html.escape(msg)}")

    def _on_done(self, out, tag) -> None:
        if tag[1] != self._tag:
            return  # an older draw: a newer one is on its way
        if tag[0] == "write":
            self.manifest = out
            self._busy(False)
            c = out["counts"]
            extra = "".join(f"<br>warning: {html.escape(w)}" for w in out["warnings"])
            self.summary.setText(f"Wrote {c['drawn']:,} inputs to {html.escape(str(self._written))} "
                                 f"(eval_set.jsonl and manifest.json, seed {out['options']['seed']}).{extra}")
            return
        self.inputs, self.drawn, self.info = out
        from workbench.curate.eval_set import records

        self.records = records(self.inputs, self.drawn)
        self._busy(False)
        self.show_preview()

    def show_preview(self) -> None:
        if self.drawn is None:  # drawing (again) right now: its answer shows the preview
            return
        c = self.drawn.counts
        text = (f"<b>{c['drawn']:,}</b> production inputs from {c['clusters']} clusters "
                f"({c['in_groups']:,} in {c['groups']} paraphrase groups, {c['gap_inputs']:,} coverage-gap inputs, "
                f"{c['pinned']} pinned, {c['reference_answers']:,} with a reference answer). Left out: {c['near_train']:,} near a training prompt, "
                f"{c['rejected']:,} rejected, {c['excluded_by_curator']:,} excluded by the curator.")
        for w in self.drawn.warnings[:5]:
            text += f"<br><small>warning: {html.escape(w)}</small>"
        if len(self.drawn.warnings) > 5:
            text += f"<br><small>… {len(self.drawn.warnings) - 5} more warnings (in the manifest)</small>"
        if len(self.records) > PREVIEW_ROWS:
            text += f"<br><small>The first {PREVIEW_ROWS:,} are listed; Write… writes every one.</small>"
        self.summary.setText(text)
        shown = self.records[:PREVIEW_ROWS]
        self.table.setRowCount(len(shown))
        for i, r in enumerate(shown):
            user = next((m["content"] for m in r["messages"] if m["role"] == "user"), "")
            gap = ("gap: " + (r.get("gap_label") or "")) if r["gap"] else ""
            ref = f"{r['source']}:{r['line']}" if "source" in r else ""
            answer = r["messages"][-1]["content"] if r.get("reference") else ""
            for j, v in enumerate((user, r["cluster_label"], r["group"] or "", gap, ref, answer)):
                item = QtWidgets.QTableWidgetItem(str(v))
                if j in (0, 5):
                    item.setToolTip(str(v))
                self.table.setItem(i, j, item)
        strata = self.drawn.strata
        self.clusters.setRowCount(len(strata))
        for i, st in enumerate(strata):
            vals = (st["label"], f"{st['production']:,}", f"{st['share']:.1%}", f"{st['near_train']:,}",
                    str(st["floor"]), f"{st['drawn']:,}")
            for j, v in enumerate(vals):
                item = QtWidgets.QTableWidgetItem(v)
                if j:
                    item.setTextAlignment(QtCore.Qt.AlignRight | QtCore.Qt.AlignVCenter)
                self.clusters.setItem(i, j, item)

    # -- the curator's marks and reference answers ---------------------------------------------
    def selected_rows(self) -> list[int]:
        """The session workspace rows (by identity) of the selected preview inputs, in table order."""
        s = self.session
        sel = self.table.selectionModel().selectedRows() if self.drawn is not None else []
        if not sel or s.ws is None or self.inputs is None:
            return []
        out = []
        for i in sorted(ix.row() for ix in sel):
            if i >= len(self.drawn.rows):
                continue
            ref = self.inputs.ref_of(int(self.drawn.rows[i]))
            try:
                row = s.ws.index_of((int(ref["source_id"]), int(ref["line"])))
            except (KeyError, ValueError, IndexError):
                continue
            if row is not None and str(s.ws.role[row]) == "production":
                out.append(int(row))
        return out

    def selected_row(self) -> int | None:
        """The one selected preview input's workspace row (None when none or several)."""
        rows = self.selected_rows()
        return rows[0] if len(rows) == 1 else None

    def _update_answer_btn(self) -> None:
        ready = self.preview_btn.isEnabled()
        self.answer_btn.setEnabled(ready and self.selected_row() is not None)
        self.exclude_btn.setEnabled(ready and bool(self.selected_rows()))

    def mark(self, rows, mark: str) -> None:
        """Pin (``"pin"``) or exclude (``"exclude"``) workspace ``rows`` as ONE journal op, the
        op of ``workbench eval-set --pin/--exclude``; the preview is drawn again on sig_changed."""
        from workbench.curate.eval_set import mark_op

        s = self.session
        if not len(rows) or s.project is None:
            return
        change = s.apply(mark_op(s.ids_of(rows), mark))
        if change is not None:
            s.sig_message.emit(f"{change.label}. Undo with Ctrl+Z.")

    def pin_window_selection(self) -> None:
        s = self.session
        if s.ws is None:
            return
        rows = [int(r) for r in s.selection.rows.tolist() if str(s.ws.role[r]) == "production"]
        if not rows:
            self.summary.setText("Select production inputs on the map or in the table first; "
                                 "<i>Pin the window's selection</i> then always draws them.")
            return
        self.mark(rows, "pin")

    def write_answer(self) -> None:
        """Open the answer editor for the selected input; saving records the journal op and draws
        the preview again (the same draw: answers do not change which inputs are drawn)."""
        row = self.selected_row()
        if row is None or self.session.project is None:
            return
        self.editor = _reference_editor_class()(self.session, row, self)
        self.editor.accepted.connect(self._answer_saved)
        self.editor.open()

    def _answer_saved(self) -> None:
        editor, self.editor = self.editor, None
        if editor is None:
            return
        change = self.session.apply(editor.op())  # the preview is drawn again on sig_changed
        if change is not None:
            self.session.sig_message.emit(f"{change.label} (eval set). Undo with Ctrl+Z.")

    def _on_project_changed(self, change) -> None:
        if self.isVisible() and (change.changed.get("eval_answer") or change.changed.get("eval_mark")):
            self.refresh()

    # -- writing ---------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Write the eval set into a new or empty folder")
        if path:
            self.write_to(path)

    def write_to(self, path: str | Path) -> None:
        """Write the previewed set into folder ``path`` in the background (all or nothing)."""
        if self.drawn is None:
            return
        self._written = Path(path)
        project, protected = self._context
        self._tag += 1
        self.manifest = None
        self.summary.setText(f"Writing to {html.escape(str(path))}…")
        self._busy(True)
        dialog_jobs.start(_write_job, (str(path), self.inputs, self.drawn, project, self.info, protected),
                          ("write", self._tag), self._signals)


def show_eval_set(win) -> EvalSetDialog:
    """Open (or raise) the window's Eval set dialog."""
    return dialog_jobs.show_once(win, "_eval_set_dialog", EvalSetDialog)
