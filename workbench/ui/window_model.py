"""The window's model: the open project, its workspace, vectors, the analysis and the selection.

Views never talk to the core directly for changes: they call :meth:`WindowModel.apply` (which goes
through :meth:`Project.apply`, durable before it returns) and redraw on the signals. Long work
goes through the executors of :class:`~workbench.ui.executors.JobCenter`.

Snapshots and revisions: every background job gets an immutable snapshot taken on the GUI
thread (:class:`~workbench.analysis.project_analysis.AnalysisData` for the analysis and vectors,
``CurationSnapshot`` for export and rebalance) and its answer comes back tagged with
``content_rev``, which counts changes to what the analysis reads (rows and their text: loads,
edits, added examples). Curation marks (reject, tag, weight, note) do not change it, so a curator
can keep working while an analysis runs. An answer about an older ``content_rev`` is *stale*: it
is dropped, and the window says so and offers to run the analysis again.

The analysis shown is an :class:`~workbench.analysis.aligned.AlignedAnalysis` (rows matched by
example identity). Whether stored results are current is decided by the project analysis service
(same cache key as ``workbench analyze``): results of other data or other parameters than the
project's settings are shown marked as not current.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore

from workbench.analysis.aligned import AlignedAnalysis
from workbench.core.errors import WorkbenchError
from workbench.ui.background_jobs import analyse_child_job, analyse_job, load_job, open_stored_job
from workbench.ui.selection import SelectionModel
from workbench.ui.executors import JobCenter

log = logging.getLogger(__name__)

CONTENT_KINDS = ("edited", "added", "removed")


class WindowModel(QtCore.QObject):
    """Everything one window shows, and the only way the window changes the project."""

    sig_project = QtCore.Signal()  # a project was opened or closed
    sig_workspace = QtCore.Signal()  # rows were (re)loaded: everything redraws
    sig_changed = QtCore.Signal(object)  # Change after apply / undo / redo
    sig_analysis = QtCore.Signal()  # the analysis was applied or cleared
    sig_stale = QtCore.Signal(str)  # an answer arrived after the data changed
    sig_error = QtCore.Signal(str, str)  # user message, detail
    sig_message = QtCore.Signal(str)  # a transient status-bar message
    sig_load_problems = QtCore.Signal(object)  # list[LoadError] of the last load
    sig_device = QtCore.Signal(str)  # encoder device in use ("cpu"/"cuda")
    sig_vectors = QtCore.Signal()  # vectors became available (neighbours, find similar)
    sig_placed = QtCore.Signal()  # rows added since the analysis got a provisional map position
    sig_source_problems = QtCore.Signal(object)  # [SourceStatus]: files moved or changed, the load stopped
    sig_relink_changed = QtCore.Signal(int, str, str)  # source id, located file, why it is not the same content

    def __init__(self, jobs: JobCenter | None = None, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.jobs = jobs or JobCenter(self)
        self.selection = SelectionModel(self)
        self.project = None
        self.ws = None
        self.vectors: tuple[np.ndarray, np.ndarray] | None = None
        self.analysis: AlignedAnalysis | None = None
        self.encoder = None
        self.content_rev = 0
        self.analysis_stale = False
        self.load_problems: list = []
        self.jobs["load"].sig_finished.connect(self._on_loaded)
        self.jobs["load"].sig_failed.connect(self._on_load_failed)
        self.jobs["analyse"].sig_finished.connect(self._on_analysed)
        self.jobs["analyse"].sig_failed.connect(self._on_analyse_failed)
        self.jobs["embed"].sig_finished.connect(self._on_vectors)
        self.jobs["embed"].sig_failed.connect(self._on_failed)
        self.jobs["search"].sig_finished.connect(self._on_query)
        self.jobs["search"].sig_failed.connect(self._on_failed)
        self.jobs.executor("place").sig_finished.connect(self._on_placed)
        self._after_vectors: list = []
        self.provisional = np.zeros(0, np.int64)  # rows drawn where they will land, until the next analysis

    # -- project -------------------------------------------------------------------------------
    @property
    def title(self) -> str:
        return self.project.path.name if self.project is not None else ""

    def open_project(self, path: str | Path, *, analyse: bool = False) -> bool:
        """Open a project and load its data in the background. False (and a message) on error."""
        from workbench.project import Project

        try:
            project = Project.open(path)
        except WorkbenchError as exc:
            self.sig_error.emit(exc.user_message, exc.detail or "")
            return False
        self._set_project(project)
        self.reload(analyse=analyse)
        return True

    def new_project(self, path: str | Path) -> bool:
        from workbench.project import Project

        try:
            project = Project.create(path)
        except WorkbenchError as exc:
            self.sig_error.emit(exc.user_message, exc.detail or "")
            return False
        self._set_project(project)
        self._set_workspace(None)
        return True

    def _set_project(self, project) -> None:
        self.close()
        self.project = project
        self.sig_project.emit()

    def close(self) -> None:
        """Close the project (every action is already durable: nothing to save)."""
        self.jobs.cancel_all()
        if self.project is not None:
            try:
                self.project.close()
            except Exception:  # noqa: BLE001 - closing must never block quitting
                log.exception("closing project")
        self.project = None
        self.ws = None
        self.vectors = None
        self.analysis = None
        self.analysis_stale = False
        self.selection.reset(0)
        self.sig_project.emit()

    def add_sources(self, paths: list[str | Path], role: str, *, analyse: bool = False,
                    snapshot: str | None = None) -> bool:
        """Add data files with a role, then reload (in the background). Errors are shown, nothing
        is half-added. True when the files were handed to the loader. ``snapshot``: the production
        logs' snapshot date (validated by the caller, ui/snapshot_date.py)."""
        return self.add_files([(p, role) for p in paths], analyse=analyse, snapshot=snapshot)

    def add_files(self, pairs: list[tuple[str | Path, str]], *, analyse: bool = False,
                  snapshot: str | None = None) -> bool:
        """Add data files ``[(path, role)]``: each is read, checked and hashed in the background
        (a 1M-row file takes seconds), then the workspace is loaded again."""
        if self.project is None:
            self.sig_error.emit("Open or create a project first.", "")
            return False
        if not pairs:
            return False
        from workbench.ui.background_jobs import add_files_job

        self.content_rev += 1
        names = ", ".join(Path(p).name for p, _ in pairs)
        self.jobs["load"].submit(add_files_job, self.project, [(str(p), r) for p, r in pairs], snapshot=snapshot,
                                 tag=(self.content_rev, analyse, "add"), label=f"Adding {names}")
        return True

    def reload(self, *, analyse: bool = False) -> None:
        """Read every source again (in the background) and rebuild the workspace."""
        if self.project is None:
            return
        self.content_rev += 1
        self.jobs["load"].submit(load_job, self.project, tag=(self.content_rev, analyse),
                                 label=f"Loading {self.project.path.name}")

    def _on_loaded(self, ws, tag) -> None:
        rev, analyse = tag[:2]
        if len(tag) > 2:  # add_files: (workspace or None, added, errors)
            ws, added, errors = ws
            if errors:
                self.sig_error.emit("\n\n".join(e.user_message for e in errors),
                                    "\n".join(e.detail or "" for e in errors).strip())
            if added:
                roles = sorted({r for _, r in added})
                self.sig_message.emit(f"Added {', '.join(n for n, _ in added)} as {' / '.join(roles)}")
            if ws is None:
                return
        if rev != self.content_rev:
            return
        self._set_workspace(ws)
        if ws is not None and self.project is not None and ws.n:
            if analyse:
                self.run_analysis()  # reuses the stored results when they are current
            else:
                self.open_stored_analysis()

    def fix_source(self, action: str, source_id: int, path: str | Path | None = None) -> None:
        """The curator's choice for a moved or changed source — ``relink`` (to ``path``),
        ``accept`` (its changed content, at ``path`` or where it was found) or ``remove`` — then
        the load, in the background (:func:`~workbench.ui.source_problems.fix_source_job`)."""
        if self.project is None:
            return
        from workbench.ui.source_problems import fix_source_job

        self.content_rev += 1
        self.jobs["load"].submit(fix_source_job, self.project, action, int(source_id),
                                 str(path) if path is not None else None, tag=(self.content_rev, False),
                                 label=f"Loading {self.project.path.name}")

    def _on_load_failed(self, exc, tag) -> None:
        problems = getattr(exc, "problems", None)
        relinked = getattr(exc, "relink_changed", None)
        if problems:
            self.sig_source_problems.emit(list(problems))
        elif relinked:
            self.sig_relink_changed.emit(int(relinked[0]), str(relinked[1]), exc.user_message)
        else:
            self._on_failed(exc, tag)

    def _analysis_job_args(self):
        from workbench.analysis import project_analysis as pa

        data = pa.AnalysisData.capture(self.ws)  # the job's immutable snapshot
        return (data, self.analysis_params(), pa.results_dir(self.project)), dict(
            model=pa.project_model(self.project), device=self.project.settings.get(pa.DEVICE_SETTING, "auto"),
            encoder=self.encoder)

    def open_stored_analysis(self) -> None:
        """Show the project's stored analysis (in the background: vectors come from the cache and
        decide, with the settings, whether it is current)."""
        args, kwargs = self._analysis_job_args()
        if self.project.path.exists():  # the model is prepared in a child process, not here
            kwargs["project_path"] = self.project.path
        self.jobs["analyse"].submit(open_stored_job, *args, tag=(self.content_rev, "open"),
                                    label="Opening the saved analysis", **kwargs)

    def _set_workspace(self, ws) -> None:
        self.ws = ws
        self.vectors = None
        self.analysis = None
        self.analysis_stale = False
        self.selection.reset(ws.n if ws is not None else 0)
        self.load_problems = list(_load_errors(ws))
        _freeze_gc()
        self.sig_workspace.emit()
        self.sig_analysis.emit()
        if self.load_problems:
            self.sig_load_problems.emit(self.load_problems)

    # -- curation ------------------------------------------------------------------------------
    def apply(self, op) -> Any:
        """Apply one op through the journal (durable on return); None and a message on error."""
        if self.project is None:
            return None
        try:
            change = self.project.apply(op)
        except WorkbenchError as exc:
            self.sig_error.emit(exc.user_message, exc.detail or "")
            return None
        self._after_change(change)
        return change

    def undo(self):
        return self._step(self.project.undo if self.project is not None else None)

    def redo(self):
        return self._step(self.project.redo if self.project is not None else None)

    def _step(self, fn):
        if fn is None:
            return None
        try:
            change = fn()
        except WorkbenchError as exc:
            self.sig_error.emit(exc.user_message, exc.detail or "")
            return None
        if change is not None:
            self._after_change(change)
        return change

    def _after_change(self, change) -> None:
        if any(change.changed.get(k) for k in CONTENT_KINDS):
            self.content_rev += 1
            if self.analysis is not None and not self.analysis_stale:
                self.analysis_stale = True
                self.sig_stale.emit("Examples changed since the analysis; the map shows the analysis from "
                                    "before. Run it again (Ctrl+R) to include your changes.")
        if change.structural and self.ws is not None:
            self.selection.resize(self.ws.n)
            if self.analysis is not None:
                self.analysis = self.analysis.resized(self.ws.source_id, self.ws.line, self.ws.role)
                self.provisional = np.zeros(0, np.int64)
        self.sig_changed.emit(change)
        if change.structural:
            self.place_new_rows()

    def place_new_rows(self) -> None:
        """Draw rows added since the analysis (a promoted input) where they will land: beside their
        nearest analysed rows, by the map's placement rule, in the background. Display only — the
        stored analysis is not changed; the next analysis places them for good (kept map)."""
        a = self.analysis
        if a is None or self.ws is None or a.n != self.ws.n:
            return
        shown = np.isfinite(np.asarray(a.x, np.float64)) & np.isfinite(np.asarray(a.y, np.float64))
        if shown.all() or not shown.any():
            return
        if not self.ensure_vectors(self.place_new_rows):
            return
        from workbench.ui.background_jobs import place_job

        self.jobs.executor("place").submit(
            place_job, self.vectors[0], np.flatnonzero(~shown), np.flatnonzero(shown),
            np.asarray(a.x, np.float32).copy(), np.asarray(a.y, np.float32).copy(),
            np.asarray(a.cluster, np.int64).copy(), tag=(self.content_rev, self.ws.n, id(a)),
            label="Placing new rows on the map")

    def _on_placed(self, out, tag) -> None:
        a = self.analysis
        if a is None or self.ws is None or tag != (self.content_rev, self.ws.n, id(a)):
            return  # the rows or the analysis changed meanwhile: a newer request follows
        rows, px, py = out
        ok = np.isfinite(px) & np.isfinite(py)
        a.x[rows[ok]] = px[ok]
        a.y[rows[ok]] = py[ok]
        self.provisional = rows[ok]
        self.sig_placed.emit()

    def rows_of(self, ids) -> np.ndarray:
        """Workspace rows of example ids (ids not in the workspace are skipped)."""
        out = []
        for i in ids:
            try:
                out.append(self.ws.index_of(tuple(i)))
            except (KeyError, ValueError, IndexError):
                continue
        return np.asarray(out, dtype=np.int64)

    def ids_of(self, rows) -> list[tuple[int, int]]:
        return [tuple(self.ws.example_id(int(r))) for r in rows]

    # -- analysis ------------------------------------------------------------------------------
    def analysis_params(self):
        """The project's analysis parameters (defaults <- project settings)."""
        from workbench.analysis.project_analysis import project_params

        return project_params(self.project)

    def save_analysis_params(self, values) -> None:
        """Save changed analysis parameters into the project settings; an analysis shown with
        other parameters is marked as not current."""
        from workbench.analysis.project_analysis import save_params

        params = save_params(self.project, values)
        if self.analysis is not None and not self.analysis_stale and self.analysis.params != params.to_dict():
            self.analysis_stale = True
            self.sig_stale.emit("The analysis settings changed; the map shows the analysis made with the "
                                "previous settings. Run it again (Ctrl+R) to apply them.")

    def run_analysis(self, params=None, *, relayout: bool = False) -> None:
        """Embed (cached) and analyse everything in the background; progress in the status bar.
        ``params`` (optional) are saved into the project settings first, as the CLI's are.
        The project's map is kept (new rows placed into it) unless ``relayout`` asks for a fresh
        layout (:mod:`workbench.analysis.map_continuity`, as ``workbench analyze --relayout``)."""
        if self.ws is None or self.project is None:
            self.sig_error.emit("Load data first: File → Add train data…", "")
            return
        if self.ws.n == 0:
            self.sig_error.emit("There are no examples to analyse yet.", "")
            return
        if params is not None:
            self.save_analysis_params(params)
        args, kwargs = self._analysis_job_args()
        if relayout:
            kwargs["relayout"] = True
        if self.project.path.exists():  # in a child process: its native code never holds our GIL
            kwargs["project_path"] = self.project.path
            self.jobs["analyse"].submit(analyse_child_job, *args, tag=(self.content_rev, "run"), label="Analysing",
                                        **kwargs)
        else:
            self.jobs["analyse"].submit(analyse_job, *args, tag=(self.content_rev, "run"), label="Analysing",
                                        **kwargs)

    def _on_analysed(self, outcome, tag) -> None:
        rev, kind = tag
        if outcome is None:  # no stored analysis
            return
        if outcome.encoder is not None:
            self.encoder = outcome.encoder
            self.sig_device.emit(str(getattr(outcome.encoder, "device", "cpu")))
        if rev != self.content_rev or self.ws is None or outcome.n != self.ws.n:
            if kind == "open":  # the data changed while the saved analysis was being opened
                if self.ws is not None and self.project is not None:
                    self.open_stored_analysis()
                return
            self.sig_stale.emit("The analysis finished, but the data changed while it ran; "
                                "its result was not applied. Run the analysis again (Ctrl+R).")
            return
        self._apply_analysis(outcome, kind)

    def _apply_analysis(self, outcome, kind: str = "open") -> None:
        self.vectors = (outcome.prompt_vecs, outcome.response_vecs)
        if outcome.result is not None:
            aligned = outcome.aligned  # built in the worker over the snapshot (same rows: same revision)
            if aligned is None or aligned.n != self.ws.n:
                aligned = AlignedAnalysis(outcome.result, self.ws.source_id, self.ws.line, self.ws.role)
            self.analysis = aligned
            self.provisional = np.zeros(0, np.int64)
            _freeze_gc()
            self.analysis_stale = not outcome.current
            self.sig_analysis.emit()
            info = (getattr(aligned, "summary", None) or {}).get("map") or {}
            if kind == "run" and info.get("text"):  # how the map came about: kept (rows placed) or fresh
                self.sig_message.emit(f"Analysis done — map {info['text']}")
            if self.analysis_stale:
                self.sig_stale.emit("The data or the analysis settings changed since the last analysis; the map "
                                    "shows that analysis. Run it again (Ctrl+R) to bring it up to date.")
        self.sig_vectors.emit()
        self.place_new_rows()  # rows added after that analysis (an added file, a promoted input)

    def _on_analyse_failed(self, exc, tag) -> None:
        if tag[0] != self.content_rev:
            self.sig_stale.emit("The analysis stopped because the data changed while it ran. "
                                "Run it again (Ctrl+R).")
            return
        self._on_failed(exc, tag)

    def _on_failed(self, exc, tag) -> None:
        if isinstance(exc, WorkbenchError):
            self.sig_error.emit(exc.user_message, exc.detail or "")
        else:
            detail = getattr(exc, "__wb_traceback__", "") or repr(exc)
            self.sig_error.emit(f"Something went wrong: {exc}", detail)


    # -- vectors and semantic search ------------------------------------------------------------
    def ensure_vectors(self, then=None) -> bool:
        """True when vectors are in memory; else fetch them (from the cache) and call ``then``."""
        if self.vectors is not None and self.ws is not None and len(self.vectors[0]) == self.ws.n:
            return True
        if self.ws is None or self.project is None:
            return False
        if then is not None:
            self._after_vectors.append(then)
        if not self.jobs["embed"].busy:
            from workbench.analysis import project_analysis as pa
            from workbench.ui.background_jobs import vectors_job

            self.jobs["embed"].submit(vectors_job, pa.AnalysisData.capture(self.ws), pa.project_model(self.project),
                                      self.project.settings.get(pa.DEVICE_SETTING, "auto"), self.encoder,
                                      project_path=self.project.path if self.project.path.exists() else None,
                                      tag=self.content_rev, label="Loading vectors")
        return False

    def _on_vectors(self, out, tag) -> None:
        pv, rv, encoder = out
        self.encoder = encoder
        self.sig_device.emit(str(getattr(encoder, "device", "cpu")))
        if tag != self.content_rev or self.ws is None or len(pv) != self.ws.n:
            self._after_vectors.clear()
            return
        self.vectors = (pv, rv)
        self.sig_vectors.emit()
        self._start_encoder_server()
        todo, self._after_vectors = self._after_vectors, []
        for fn in todo:
            fn()

    def find_similar(self, *, row: int | None = None, text: str | None = None, callback=None) -> None:
        """Cosine similarity of every example to ``row``'s prompt or to a typed ``text``;
        ``callback(sims)`` receives one float per workspace row."""
        if not self.ensure_vectors(lambda: self.find_similar(row=row, text=text, callback=callback)):
            return
        pv = self.vectors[0]
        if row is not None:
            callback(pv @ pv[row])
            return
        from workbench.ui.background_jobs import query_job

        self._query_callback = callback
        model, device = self._encoder_choice()
        self.jobs["search"].submit(query_job, text, self.encoder, model, device, tag=self.content_rev,
                                   label="Searching")

    def _encoder_choice(self) -> tuple[str | None, str]:
        """The project's model and device, as the analysis resolves them."""
        from workbench.analysis import project_analysis as pa

        return pa.project_model(self.project), self.project.settings.get(pa.DEVICE_SETTING, "auto")

    def _start_encoder_server(self) -> None:
        """With the vectors read from the cache (model not loaded here), start the child that keeps
        the model loaded for typed queries now, so the first "find similar" does not wait for it."""
        from workbench.ui.background_jobs import _unloaded

        if self.project is None or not _unloaded(self.encoder):
            return
        from workbench.analysis.embed_child import shared_server

        try:
            shared_server(*self._encoder_choice()).start()
        except OSError:
            pass  # a query will say why when it needs the server

    def _on_query(self, out, tag) -> None:
        vec, encoder = out
        self.encoder = encoder
        cb = getattr(self, "_query_callback", None)
        if cb is None or self.vectors is None or tag != self.content_rev:
            return
        cb(self.vectors[0] @ vec)

    def neighbours(self, row: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """The k examples closest in meaning to ``row`` (rows, similarities); empty without vectors."""
        if self.vectors is None or self.ws is None or len(self.vectors[0]) != self.ws.n:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        pv = self.vectors[0]
        sims = pv @ pv[row]
        sims[row] = -np.inf
        k = min(k, len(sims) - 1)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        best = np.argpartition(-sims, k - 1)[:k]
        best = best[np.argsort(-sims[best])]
        return best.astype(np.int64), sims[best]


def _freeze_gc() -> None:
    """Move every object alive now (the workspace, the analysis: millions at 100k rows) out of the
    cyclic garbage collector's sight. Its full collections walk every tracked object while holding
    the GIL; with a 100k-row project each took 0.1-0.23 s, freezing the window, whichever thread
    set them off. Frozen objects are still freed by reference counting when they go."""
    import gc

    gc.freeze()


def _load_errors(ws) -> list:
    if ws is None:
        return []
    errors = getattr(ws, "errors", None)
    if errors is not None:
        return list(errors)
    out = []
    for data in getattr(ws, "datas", []) or []:
        out.extend(getattr(data, "errors", []))
    return out
