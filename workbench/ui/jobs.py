"""The jobs the window runs in the background: plain functions over the core, no Qt.

Each takes what it needs as arguments plus ``progress``/``cancel`` (the runner protocol) and
returns a value; :mod:`workbench.ui.workers` runs them off the GUI thread. Heavy libraries
(onnxruntime, umap, hdbscan) are imported here, inside the functions, never at start-up.

The analysis is saved beside the project (``NAME.wbproj-data/analysis/``) with a key over
everything it read (source hashes, edited and added texts, parameters, model). Reopening the
project with the same key shows it again without recomputing anything.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.progress import ensure

log = logging.getLogger(__name__)

ANALYSIS_DIR = "analysis"
KEY_FILE = "ui_key.json"


@dataclass
class AnalysisOutcome:
    result: Any  # workbench.analysis.pipeline.AnalysisResult
    prompt_vecs: np.ndarray | None
    response_vecs: np.ndarray | None
    encoder: Any
    n: int
    stale: bool = False  # a saved result whose inputs changed since it was computed


def load_job(project, *, progress=None, cancel=None):
    """Read every source of ``project`` and build its workspace."""
    return project.load(progress=progress, cancel=cancel)


def params_from_settings(project):
    """Analysis parameters: defaults overridden by the project's ``analysis_params`` setting."""
    from workbench.analysis.pipeline import AnalysisParams

    saved = project.settings.get("analysis_params", None) if project is not None else None
    if isinstance(saved, dict):
        try:
            return AnalysisParams.from_dict(saved)
        except (TypeError, ValueError):
            log.warning("ignoring invalid saved analysis parameters")
    return AnalysisParams()


def _params_json(params) -> str:
    from dataclasses import asdict, is_dataclass

    d = asdict(params) if is_dataclass(params) else dict(getattr(params, "__dict__", {}))
    return json.dumps(d, sort_keys=True, default=str)


def analysis_key(ws, params, model: str | None) -> str:
    """A fingerprint of everything the analysis reads (changes when any input changes)."""
    h = hashlib.blake2b(digest_size=20)
    h.update(f"n={ws.n}|model={model or 'default'}|unit={getattr(ws, 'unit', '')}".encode())
    for info in getattr(ws, "sources", []) or []:
        h.update(f"|{info.id}:{info.sha256}:{info.role}".encode())
    h.update(_params_json(params).encode())
    edited = np.flatnonzero(np.asarray(ws.edited)) if len(ws.edited) else []
    for i in edited:
        h.update(f"|e{int(i)}\x00{ws.prompt[i]}\x00{ws.response[i]}".encode("utf-8", "surrogatepass"))
    roles = np.asarray(ws.role, dtype=object)
    sid = np.asarray(ws.source_id)
    for i in np.flatnonzero(sid == 0):
        h.update(f"|a{int(i)}:{roles[i]}\x00{ws.prompt[i]}\x00{ws.response[i]}".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def embed_workspace(ws, encoder, *, progress=None, cancel=None):
    """Prompt vectors for every row and response vectors (zeros where there is no response)."""
    from workbench.embed import embed_texts

    progress, cancel = ensure(progress, cancel)
    prompts = list(ws.prompt)
    responses = list(ws.response)

    def sub(label):
        return lambda d, t, _p: progress(d, t, label)

    pv, _ = embed_texts(prompts, encoder, progress=sub("Embedding prompts"), cancel=cancel)
    pv = np.asarray(pv, dtype=np.float32)
    rv = np.zeros_like(pv)
    with_resp = [i for i, r in enumerate(responses) if r]
    if with_resp:
        vecs, _ = embed_texts([responses[i] for i in with_resp], encoder,
                              progress=sub("Embedding responses"), cancel=cancel)
        rv[np.asarray(with_resp)] = vecs
    return pv, rv


def get_encoder_for(model, device, *, progress=None, cancel=None):
    from workbench.embed import get_encoder

    progress, cancel = ensure(progress, cancel)

    def sub(d, t, phase):
        progress(d, t, f"Preparing the embedding model (first use converts it once): {phase}")

    return get_encoder(model, device=device or "auto", progress=sub, cancel=cancel)


def analyse_job(ws, params, data_dir: Path, *, model=None, device="auto", encoder=None,
                progress=None, cancel=None) -> AnalysisOutcome:
    """Embed (through the vector cache) and run the analysis pipeline; save the result."""
    from workbench.analysis.pipeline import AnalysisInput, analyze

    progress, cancel = ensure(progress, cancel)
    n = ws.n
    key = analysis_key(ws, params, model)
    if encoder is None:
        encoder = get_encoder_for(model, device, progress=progress, cancel=cancel)
    cancel.check()
    pv, rv = embed_workspace(ws, encoder, progress=progress, cancel=cancel)
    cancel.check()
    inp = AnalysisInput.from_workspace(ws, pv, rv, encoder=str(getattr(encoder, "fingerprint", "")))
    out = Path(data_dir) / ANALYSIS_DIR
    # analyze() reuses a stored result of the same inputs and parameters, and the graph, map and
    # clusters of the same inputs when only thresholds changed; it writes the result into ``out``
    result = analyze(inp, params, out, progress=progress, cancel=cancel)
    try:
        (out / KEY_FILE).write_text(json.dumps({"key": key, "n": n}), encoding="utf-8")
    except OSError as exc:  # a read-only folder must not lose the result on screen
        log.warning("could not save the analysis key beside the project: %s", exc)
    return AnalysisOutcome(result, pv, rv, encoder, n)


def open_cached_analysis(project, ws) -> AnalysisOutcome | None:
    """The saved analysis of this project, or None. ``outcome.stale`` is True when its inputs
    changed since (edits, added examples, other parameters): it is still shown, rows aligned by
    source and line, and the window offers to run it again."""
    try:
        from workbench.analysis.pipeline import AnalysisResult

        folder = Path(project.data_dir) / ANALYSIS_DIR
        meta = folder / KEY_FILE
        if not meta.exists():
            return None
        saved = json.loads(meta.read_text(encoding="utf-8"))
        params = params_from_settings(project)
        fresh = saved.get("key") == analysis_key(ws, params, project.settings.get("model", None))
        result = AnalysisResult.read(folder)
        return AnalysisOutcome(result, None, None, None, ws.n, stale=not fresh)
    except Exception as exc:  # noqa: BLE001 - a damaged cache just means "analyse again"
        log.warning("saved analysis not used: %s", exc)
        return None


def vectors_job(ws, model=None, device="auto", encoder=None, *, progress=None, cancel=None):
    """Vectors of the workspace (from the cache when unchanged) and the encoder used."""
    if encoder is None:
        encoder = get_encoder_for(model, device, progress=progress, cancel=cancel)
    pv, rv = embed_workspace(ws, encoder, progress=progress, cancel=cancel)
    return pv, rv, encoder


def query_job(text: str, encoder, model=None, device="auto", *, progress=None, cancel=None):
    """The vector of a typed query (for "find similar")."""
    if encoder is None:
        encoder = get_encoder_for(model, device, progress=progress, cancel=cancel)
    vec = encoder.encode([text])
    return np.asarray(vec, dtype=np.float32)[0], encoder
