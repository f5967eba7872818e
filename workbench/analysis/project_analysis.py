"""The project analysis service: the one place that decides how a project is analysed.

The desktop app, ``workbench analyze PROJECT`` and ``workbench export`` all go through this
module, so they embed the same texts, use the same parameters, write to the same folder and agree
on whether stored results are current. It owns:

* **What is analysed** — :class:`AnalysisData`, an immutable snapshot of the workspace columns the
  analysis reads (identity, role, the analysis unit's prompt, response, system prompt, turns,
  extra fields), taken on the thread that owns the workspace; background jobs only ever see the
  snapshot, tagged with the project revision it was taken at.
* **The embedding rule** — :func:`embed_rows`: every row's prompt (the project's analysis unit:
  ``unit`` setting, last user turn by default) is embedded; a response is embedded only when it
  holds more than whitespace (:func:`has_response`), other rows get zero vectors; when no row has
  a response there are no response vectors at all (conflicts are then skipped).
* **The parameters** — :class:`~workbench.analysis.pipeline.AnalysisParams` resolved as
  defaults <- the project's ``analysis_params`` setting <- command-line overrides
  (:func:`project_params`). Overrides given to ``workbench analyze PROJECT`` are **saved into the
  project settings** (:func:`save_params`), exactly like a change in the app's Analysis settings,
  so the app, the CLI and the export always agree on the project's parameters. (When the project
  is open for writing elsewhere the override cannot be saved; the results then carry parameters
  that differ from the settings and every front end reports them as not current.)
* **Where results live** — :func:`results_dir`: setting ``analysis.dir``, else
  ``NAME.wbproj-data/analysis``.
* **The cache key and staleness** — stored results are current when their cache key
  (:func:`workbench.analysis.pipeline.cache_key` over the input revision — texts, identities,
  roles, vectors, encoder — and every parameter) equals the key of the project's data and
  parameters now (:func:`stored_status`, through :func:`workbench.analysis.pipeline.is_current`,
  the same check ``analyze`` uses to reuse results). Nothing else (no second key file) decides it.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from workbench.analysis.inputs import MULTI_TURN_SCHEMAS
from workbench.analysis.pipeline import (CACHE_FILE, AnalysisInput, AnalysisParams, AnalysisResult, analyze,
                                         is_current)
from workbench.core.errors import AnalysisError
from workbench.core.progress import CancelToken, ProgressFn, ensure

log = logging.getLogger(__name__)

PARAMS_SETTING = "analysis_params"
MODEL_SETTING = "model"
DEVICE_SETTING = "device"
DIR_SETTING = "analysis.dir"
DEFAULT_DIR = "analysis"


# --------------------------------------------------------------------------------------------
# parameters, model and folder
# --------------------------------------------------------------------------------------------
def _coerce(values: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the known parameter names; raise AnalysisError on a value of the wrong kind."""
    fields = {f.name: f for f in dataclasses.fields(AnalysisParams)}
    defaults = AnalysisParams()
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in fields:
            continue  # a parameter of another version
        default = getattr(defaults, name)
        if value is None:
            ok = "None" in str(fields[name].type)
        elif isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(default, bool) and isinstance(value, bool)
        elif isinstance(default, str):
            ok = isinstance(value, str)
        elif isinstance(default, int) or "int" in str(fields[name].type):
            ok = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
            value = int(value) if ok else value
        else:
            ok = isinstance(value, (int, float))
        if not ok:
            raise AnalysisError(f"Invalid analysis parameter {name} = {value!r}.")
        out[name] = value
    return out


def saved_params(project: Any) -> dict[str, Any]:
    """The parameters the project's settings change from the defaults (may be empty)."""
    saved = project.settings.get(PARAMS_SETTING, None) if project is not None else None
    if not isinstance(saved, dict):
        return {}
    try:
        return _coerce(saved)
    except AnalysisError:
        log.warning("ignoring invalid saved analysis parameters: %r", saved)
        return {}


def project_params(project: Any, overrides: Mapping[str, Any] | None = None) -> AnalysisParams:
    """defaults <- the project's ``analysis_params`` setting <- ``overrides`` (None values are
    "not given")."""
    values = saved_params(project)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return AnalysisParams(**_coerce(values))


def save_params(project: Any, changes: Mapping[str, Any] | AnalysisParams) -> AnalysisParams:
    """Merge ``changes`` into the project's parameters and save them (only the values that differ
    from the defaults are stored, so better defaults of a later version still apply). Returns the
    resulting parameters."""
    if isinstance(changes, AnalysisParams):
        changes = changes.to_dict()
    params = project_params(project, changes)
    default = AnalysisParams().to_dict()
    diff = {k: v for k, v in params.to_dict().items() if default[k] != v}
    if diff != saved_params(project) or (not diff and PARAMS_SETTING in project.settings):
        if diff:
            project.settings.set(PARAMS_SETTING, diff)
        else:
            project.settings.delete(PARAMS_SETTING)
    return params


def project_model(project: Any, override: str | None = None) -> str | None:
    """The embedding model: ``override``, else the project's ``model`` setting, else the default."""
    if override:
        return override
    return project.settings.get(MODEL_SETTING, None) if project is not None else None


def results_dir(project: Any) -> Path:
    """Where a project's analysis results live (setting ``analysis.dir``, else
    ``<data dir>/analysis``)."""
    configured = project.settings.get(DIR_SETTING, None)
    if configured:
        p = Path(configured)
        return p if p.is_absolute() else project.path.parent / p
    return project.data_dir / DEFAULT_DIR


def load_stored(project: Any) -> AnalysisResult | None:
    """The project's stored analysis result as it is on disk (current or not), or None."""
    try:
        return AnalysisResult.read(results_dir(project), with_graph=False)
    except AnalysisError:
        return None


# --------------------------------------------------------------------------------------------
# the snapshot of what the analysis reads
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class AnalysisData:
    """Immutable snapshot of the workspace columns the analysis reads (see the module doc).

    Take it with :meth:`capture` on the thread that owns the workspace (cheap: copies of the
    columns, plus the records of edited and added rows); everything else (turns, embedding,
    analysis) runs on it in a worker while the workspace keeps changing.
    """

    revision: int  # the project revision the snapshot was taken at
    unit: str
    source_id: np.ndarray
    line: np.ndarray
    role: np.ndarray
    source: np.ndarray  # per-row source label (for people), see aligned.source_labels
    prompt: tuple[str, ...]
    response: tuple[str, ...]
    system: tuple[str, ...]
    extra: Mapping[str, tuple[Any, ...]]
    _datas: Mapping[int, Any]  # source id -> SourceData (immutable once read)
    _starts: Mapping[int, int]
    _special: Mapping[int, tuple[dict, str, Any]]  # row -> (record, schema, mapping): edited/added

    @property
    def n(self) -> int:
        return len(self.prompt)

    @classmethod
    def capture(cls, ws: Any) -> "AnalysisData":
        from workbench.analysis.aligned import row_labels

        sid = np.array(ws.source_id, dtype=np.int32)
        names = row_labels(ws)
        special = {}
        for i in np.flatnonzero(np.asarray(ws.edited, bool) | (sid == 0)).tolist():
            special[i] = (copy.deepcopy(ws.record(i)), ws.schema_of(i), ws.mapping_of(i))
        arrays = [sid, np.array(ws.line, dtype=np.int64), np.array(ws.role, dtype=object), names]
        for a in arrays:
            a.flags.writeable = False
        return cls(revision=int(getattr(ws, "revision", 0)), unit=str(getattr(ws, "unit", "last_user")),
                   source_id=arrays[0], line=arrays[1], role=arrays[2], source=arrays[3],
                   prompt=tuple(ws.prompt), response=tuple(ws.response), system=tuple(ws.system),
                   extra={k: tuple(v) for k, v in ws.extra.items()},
                   _datas={s.id: ws.source_data(s.id) for s in ws.sources},
                   _starts={s.id: ws.rows_of_source(s.id).start for s in ws.sources},
                   _special=special)

    def turns(self) -> list[Any]:
        """Each row's turns (None for schemas that hold one turn), edits applied."""
        from workbench.io.formats import normalise

        out: list[Any] = []
        for i, s in enumerate(self.source_id.tolist()):
            if i in self._special:
                record, schema, mapping = self._special[i]
            else:
                data = self._datas[s]
                schema, mapping = data.schema, data.mapping
                record = None
            if schema not in MULTI_TURN_SCHEMAS:
                out.append(None)
                continue
            if record is None:
                record = self._datas[s].record(i - self._starts[s])
            try:
                out.append(normalise(record, schema, self.unit, mapping=mapping).turns)
            except Exception:  # noqa: BLE001 - a record that loaded once always normalises
                out.append(None)
        return out

    def to_input(self, prompt_vecs: np.ndarray, response_vecs: np.ndarray | None, *,
                 encoder: str = "") -> AnalysisInput:
        return AnalysisInput(source=self.source, source_id=self.source_id, line=self.line, role=self.role,
                             prompt=list(self.prompt), response=list(self.response),
                             prompt_vecs=prompt_vecs, response_vecs=response_vecs, system=list(self.system),
                             turns=self.turns(), extra={k: list(v) for k, v in self.extra.items()},
                             encoder=encoder)


# --------------------------------------------------------------------------------------------
# the embedding rule
# --------------------------------------------------------------------------------------------
def has_response(responses: Sequence[str | None]) -> np.ndarray:
    """Rows whose response is embedded: more than whitespace."""
    return np.fromiter(((r or "").strip() != "" for r in responses), dtype=bool, count=len(responses))


def get_encoder_for(model: str | None = None, device: str | None = "auto", precision: str = "auto", *,
                    progress: ProgressFn | None = None, cancel: CancelToken | None = None):
    """The encoder of a project's model (converted offline on first use)."""
    from workbench.embed import get_encoder

    progress, cancel = ensure(progress, cancel)

    def sub(d, t, phase):
        progress(d, t, f"Preparing the embedding model: {phase}")

    return get_encoder(model, device=device or "auto", precision=precision or "auto", progress=sub,
                       cancel=cancel)


def embed_rows(prompts: Sequence[str], responses: Sequence[str], encoder: Any, *,
               progress: ProgressFn | None = None,
               cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """Prompt vectors (every row), response vectors (zeros where :func:`has_response` is False;
    None when it is False everywhere) and ``(texts encoded, texts from the cache)``."""
    from workbench.embed import embed_texts

    progress, cancel = ensure(progress, cancel)

    def sub(label):
        return lambda d, t, _p: progress(d, t, label)

    pv, st = embed_texts(list(prompts), encoder, progress=sub("Embedding prompts"), cancel=cancel)
    pv = np.asarray(pv, dtype=np.float32)
    encoded, cached = st.encoded, st.cached
    has = has_response(responses)
    rv = None
    if has.any():
        rv = np.zeros_like(pv)
        vecs, st2 = embed_texts([responses[i] for i in np.flatnonzero(has)], encoder,
                                progress=sub("Embedding responses"), cancel=cancel)
        rv[has] = vecs
        encoded, cached = encoded + st2.encoded, cached + st2.cached
    return pv, rv, (encoded, cached)


# --------------------------------------------------------------------------------------------
# running and opening
# --------------------------------------------------------------------------------------------
@dataclass
class ProjectAnalysis:
    """What the service hands back: the result and everything it was computed from."""

    result: AnalysisResult | None
    data: AnalysisData
    params: AnalysisParams
    prompt_vecs: np.ndarray
    response_vecs: np.ndarray | None
    encoder: Any
    current: bool  # the result is current for the snapshot's data and these parameters
    embed_stats: tuple[int, int] = (0, 0)
    aligned: Any = None  # an AlignedAnalysis over the snapshot's rows, when a front end asks for it

    @property
    def revision(self) -> int:
        """The project revision the snapshot was taken at."""
        return self.data.revision

    @property
    def n(self) -> int:
        return self.data.n


def prepare_input(data: AnalysisData, encoder: Any, *, progress: ProgressFn | None = None,
                  cancel: CancelToken | None = None) -> tuple[AnalysisInput, tuple[int, int]]:
    """Embed ``data`` by the rule and build the pipeline's input."""
    pv, rv, stats = embed_rows(data.prompt, data.response, encoder, progress=progress, cancel=cancel)
    ensure(progress, cancel)[1].check()
    return data.to_input(pv, rv, encoder=str(getattr(encoder, "fingerprint", ""))), stats


def stored_status(folder: str | Path, inp: AnalysisInput, params: AnalysisParams) -> str:
    """``"current"`` (the results in ``folder`` are those of ``inp`` with ``params``),
    ``"stale"`` (results of other data or parameters) or ``"none"``."""
    from workbench.analysis.results_store import read_cache_meta

    meta = read_cache_meta(Path(folder))
    if meta is None:
        return "none"
    return "current" if is_current(meta, inp, params) else "stale"


def analyse(data: AnalysisData, params: AnalysisParams, folder: str | Path, *, encoder: Any,
            force: bool = False, relayout: bool = False, progress: ProgressFn | None = None,
            cancel: CancelToken | None = None) -> ProjectAnalysis:
    """Bring the results in ``folder`` up to date for ``data`` and ``params``: reused when current,
    else computed (reusing the graph, map and clusters of the same data; continuing the stored
    map and cluster ids of earlier data, see :mod:`workbench.analysis.map_continuity`) and
    written. ``relayout``: lay the map out afresh (aligned to the stored one) even when the
    stored results are current: the app's "Re-lay out map" and ``workbench analyze --relayout``."""
    progress, cancel = ensure(progress, cancel)
    inp, stats = prepare_input(data, encoder, progress=progress, cancel=cancel)
    folder = Path(folder)
    if force:
        (folder / CACHE_FILE).unlink(missing_ok=True)
    result = analyze(inp, params, folder, relayout=relayout, progress=progress, cancel=cancel)
    return ProjectAnalysis(result, data, params, inp.prompt_vecs, inp.response_vecs, encoder, True, stats)


def open_stored(data: AnalysisData, params: AnalysisParams, folder: str | Path, *, encoder: Any,
                progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> ProjectAnalysis:
    """The stored results (``result`` None when there are none or they are unreadable) and
    whether they are current; the vectors come from the embedding cache."""
    progress, cancel = ensure(progress, cancel)
    inp, stats = prepare_input(data, encoder, progress=progress, cancel=cancel)
    status = stored_status(folder, inp, params)
    result = None
    if status != "none":
        try:
            result = AnalysisResult.read(Path(folder), with_graph=False)
        except AnalysisError as exc:
            log.warning("stored analysis not used: %s", exc)
    return ProjectAnalysis(result, data, params, inp.prompt_vecs, inp.response_vecs, encoder,
                           result is not None and status == "current", stats)


def vectors(data: AnalysisData, encoder: Any, *, progress: ProgressFn | None = None,
            cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The vectors of ``data`` by the embedding rule (from the cache when unchanged)."""
    pv, rv, _ = embed_rows(data.prompt, data.response, encoder, progress=progress, cancel=cancel)
    return pv, rv
