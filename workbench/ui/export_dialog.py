"""The Export dialog: format, split, weights, replay mix, report — written in the background.

The export itself is :func:`workbench.curate.export.run_export` over a snapshot of the project
taken when "Export" is pressed; it writes to temporary files and renames them into place, so a
cancelled export leaves the previous one untouched.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from workbench.ui import ui_settings


def embed_fn(session):
    """An ``embed(texts, progress=, cancel=)`` function over the session's encoder (or None)."""
    enc = session.encoder
    if enc is None:
        return None

    def embed(texts, progress=None, cancel=None):
        from workbench.embed import embed_texts

        vecs, _ = embed_texts(list(texts), enc, progress=progress, cancel=cancel)
        return vecs

    return embed


def snapshot(session):
    from workbench.curate.snapshot import CurationSnapshot

    # the session's aligned analysis is reused as is (no re-alignment on the GUI thread)
    return CurationSnapshot.capture(session.project, session.analysis, embed=embed_fn(session), workspace=session.ws)


def _export_job(snap, options, *, progress=None, cancel=None):
    from workbench.curate.export import run_export

    return run_export(snap, options, progress=progress, cancel=cancel)


def export_summary(c: dict) -> str:
    """The export's counts in words (a curator reads sentences, not ``key: value`` dumps)."""
    def n(key):
        v = c.get(key)
        return int(v) if isinstance(v, (int, float)) else 0

    out = [f"{n('train_lines'):,} training lines written"]
    if n("validation_lines"):
        out.append(f"{n('validation_lines'):,} validation lines")
    if n("rejected"):
        out.append(f"{n('rejected'):,} rejected left out")
    if n("added_train_examples"):
        out.append(f"{n('added_train_examples'):,} added example{'s' if n('added_train_examples') != 1 else ''} included")
    if n("repeats"):
        out.append(f"{n('repeats'):,} repeats for weights")
    if n("mix"):
        out.append(f"{n('mix'):,} replay-mix lines")
    if c.get("adds_up") is False:
        out.append("the counts do NOT add up — see the manifest")
    return "; ".join(out) + "."


class ExportDialog(QtWidgets.QDialog):
    sig_done = QtCore.Signal(object)  # ExportResult

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export the curated dataset")
        self.session = session
        lay = QtWidgets.QVBoxLayout(self)
        ws = session.ws
        n_train = int(((ws.role == "train") & ~ws.rejected).sum()) if ws is not None else 0
        intro = QtWidgets.QLabel(
            f"Exports the <b>{n_train:,} training examples</b> that are not rejected, with your edits, "
            "plus a manifest of every change (and, if you like, a readiness report).")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QtWidgets.QFormLayout()
        self.folder = QtWidgets.QLineEdit(self._default_folder())
        browse = QtWidgets.QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Folder", row)
        self.format = QtWidgets.QComboBox()
        self.format.addItem("Same format as each source (JSONL)", "source")
        self.format.addItem("OpenAI chat JSONL", "chat")
        self.format.addItem("Parquet", "parquet")
        form.addRow("Format", self.format)
        self.weights = QtWidgets.QComboBox()
        self.weights.addItem("Repeat examples (weight 3 = 3 copies)", "repeat")
        self.weights.addItem("Write a \"weight\" field", "field")
        form.addRow("Weights", self.weights)
        self.split_on = QtWidgets.QCheckBox("Hold out a validation set")
        self.split = QtWidgets.QDoubleSpinBox()
        self.split.setRange(0.5, 0.99)
        self.split.setSingleStep(0.01)
        self.split.setValue(0.9)
        self.split.setPrefix("train fraction ")
        self.split.setEnabled(False)
        self.split_on.toggled.connect(self.split.setEnabled)
        srow = QtWidgets.QHBoxLayout()
        srow.addWidget(self.split_on)
        srow.addWidget(self.split)
        form.addRow("Split", srow)
        self.mix_rows: list[tuple[str, QtWidgets.QDoubleSpinBox]] = []
        refs = [s for s in session.project.sources if s.role == "reference"] if session.project else []
        for s in refs:
            spin = QtWidgets.QDoubleSpinBox()
            spin.setRange(0, 100)
            spin.setSuffix(" %")
            spin.setValue(0)
            spin.setToolTip("Share of the training lines to add from this reference source (replay against forgetting)")
            form.addRow(f"Mix in {s.name}", spin)
            self.mix_rows.append((s.name, spin))
        self.report = QtWidgets.QCheckBox("Write a readiness report (HTML)")
        self.report.setChecked(True)
        form.addRow("", self.report)
        lay.addLayout(form)
        self.progress = QtWidgets.QProgressBar()
        self.progress.hide()
        self.phase = QtWidgets.QLabel()
        self.phase.setWordWrap(True)
        self.phase.setTextInteractionFlags(QtCore.Qt.TextBrowserInteraction)
        self.phase.setOpenExternalLinks(True)
        lay.addWidget(self.progress)
        lay.addWidget(self.phase)
        self.buttons = QtWidgets.QDialogButtonBox()
        self.export_btn = self.buttons.addButton("Export", QtWidgets.QDialogButtonBox.AcceptRole)
        self.cancel_btn = self.buttons.addButton(QtWidgets.QDialogButtonBox.Close)
        self.export_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self._cancel_or_close)
        lay.addWidget(self.buttons)
        ex = session.jobs["export"]
        ex.sig_progress.connect(self._on_progress)
        ex.sig_finished.connect(self._on_done)
        ex.sig_failed.connect(self._on_failed)
        ex.sig_cancelled.connect(self._on_cancelled)
        self.resize(600, self.sizeHint().height())
        self.setMinimumHeight(self.minimumSizeHint().height())

    def _default_folder(self) -> str:
        last = ui_settings.get("export_folder")
        if last:
            return last
        p = self.session.project
        return str(Path(p.path).with_suffix("").parent / (Path(p.path).stem + "-export")) if p else str(Path.home())

    def _browse(self) -> None:
        d = QtWidgets.QFileDialog.getExistingDirectory(self, "Export folder", self.folder.text())
        if d:
            self.folder.setText(d)

    def options(self):
        from workbench.curate.export import ExportOptions
        from workbench.curate.mix import MixSpec

        mix = [MixSpec(name, spin.value() / 100.0) for name, spin in self.mix_rows if spin.value() > 0]
        return ExportOptions(out=Path(self.folder.text()).expanduser(), format=self.format.currentData(),
                             weights=self.weights.currentData(),
                             split=self.split.value() if self.split_on.isChecked() else None,
                             mix=mix, report=self.report.isChecked())

    def start(self) -> None:
        from workbench.core.errors import WorkbenchError

        try:
            opts = self.options()
            opts.validate()
            snap = snapshot(self.session)
        except WorkbenchError as exc:
            self.phase.setText(f"<span style='color:#d62728'>{html.escape(exc.user_message)}</span>")
            return
        ui_settings.put(export_folder=self.folder.text())
        self.export_btn.setEnabled(False)
        self.cancel_btn.setText("Cancel")
        self.progress.show()
        self.progress.setRange(0, 0)
        self.phase.setText("Starting…")
        self.session.jobs["export"].submit(_export_job, snap, opts, label="Exporting")

    def _on_progress(self, info) -> None:
        self.phase.setText(info.phase)
        if info.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * info.done / info.total))
        else:
            self.progress.setRange(0, 0)

    def _on_done(self, result, _tag) -> None:
        self.progress.hide()
        self.export_btn.setEnabled(True)
        self.cancel_btn.setText("Close")
        c = result.counts
        folder = result.manifest_path.parent
        link = QtCore.QUrl.fromLocalFile(str(folder)).toString()
        parts = [f"<b>Exported.</b> {html.escape(export_summary(c))}",
                 f"<a href='{link}'>{html.escape(str(folder))}</a>"]
        if result.report_path is not None:
            parts.append(f"<a href='{QtCore.QUrl.fromLocalFile(str(result.report_path)).toString()}'>Open the report</a>")
        self.phase.setText("<br>".join(parts))
        self.session.sig_message.emit(f"Exported to {folder}")
        self.sig_done.emit(result)

    def _on_failed(self, exc, _tag) -> None:
        from workbench.ui.dialogs import error_text

        msg, _detail = error_text(exc)
        self.progress.hide()
        self.export_btn.setEnabled(True)
        self.cancel_btn.setText("Close")
        self.phase.setText(f"<span style='color:#d62728'>{html.escape(msg)}</span>")

    def _on_cancelled(self, _tag) -> None:
        self.progress.hide()
        self.export_btn.setEnabled(True)
        self.cancel_btn.setText("Close")
        self.phase.setText("Cancelled; any earlier export in that folder is unchanged.")

    def _cancel_or_close(self) -> None:
        if self.session.jobs["export"].busy:
            self.session.jobs["export"].cancel()
        else:
            self.close()


