"""The jobs the window runs in the background: plain functions over the core, no Qt.

Each takes an immutable snapshot of what it reads (never the live workspace the GUI thread keeps
changing) plus ``progress``/``cancel`` (the runner protocol) and returns a value;
:mod:`workbench.ui.executors` runs them off the GUI thread and hands the answer back with the data
revision it was submitted at, so the session drops answers about data that has changed since.

Everything about *how* a project is analysed — the embedding rule, the parameters, the results
folder, the cache key and whether stored results are current — is decided by
:mod:`workbench.analysis.project_analysis`, the same service ``workbench analyze PROJECT`` and
``workbench export`` use, so the app and the CLI read and write the same results. Heavy
libraries (onnxruntime, umap, hdbscan) are imported inside the functions, never at start-up.
"""

from __future__ import annotations

import logging

import numpy as np

from workbench.core.progress import ensure

log = logging.getLogger(__name__)


def load_job(project, *, progress=None, cancel=None):
    """Read every source of ``project`` and build its workspace."""
    return project.load(progress=progress, cancel=cancel)


def _encoder(encoder, model, device, progress, cancel):
    from workbench.analysis.project_analysis import get_encoder_for

    return encoder if encoder is not None else get_encoder_for(model, device, progress=progress, cancel=cancel)


def _aligned(outcome):
    """Align the result to the snapshot's rows here, off the GUI thread (the session applies it
    only while the workspace is still at the snapshot's revision, so the rows are the same)."""
    from workbench.analysis.aligned import AlignedAnalysis

    if outcome is not None and outcome.result is not None:
        d = outcome.data
        outcome.aligned = AlignedAnalysis(outcome.result, d.source_id, d.line, d.role)
    return outcome


def analyse_job(data, params, folder, *, model=None, device="auto", encoder=None, progress=None, cancel=None):
    """Embed ``data`` (an :class:`~workbench.analysis.project_analysis.AnalysisData` snapshot)
    through the vector cache and bring the project's results in ``folder`` up to date."""
    from workbench.analysis import project_analysis as pa

    progress, cancel = ensure(progress, cancel)
    encoder = _encoder(encoder, model, device, progress, cancel)
    return _aligned(pa.analyse(data, params, folder, encoder=encoder, progress=progress, cancel=cancel))


def analyse_child_job(data, params, folder, *, project_path, model=None, device="auto", encoder=None,
                      progress=None, cancel=None):
    """Like :func:`analyse_job`, but the analysis itself runs in a child process
    (:mod:`workbench.analysis.child_process`, the CLI's core on the project file, read-only), so
    its native code never holds the GUI process' GIL; cancel terminates the child. The stored
    results are then opened the usual way; their cache key must be that of ``data`` (the window's
    snapshot) and ``params``. When it is not (the project file held other data than the snapshot,
    or the child's encoder differs), the analysis of the snapshot runs here as before."""
    from workbench.analysis import project_analysis as pa
    from workbench.analysis.child_process import DeferredEncoder, run_child

    progress, cancel = ensure(progress, cancel)
    report = run_child(project_path, folder, params.to_dict(), model=model, device=device, progress=progress,
                       cancel=cancel)
    if encoder is None:  # the child's vectors are in the cache: no model load here (it holds the GIL)
        encoder = DeferredEncoder(report["encoder"], model, device)
    outcome = pa.open_stored(data, params, folder, encoder=encoder, progress=progress, cancel=cancel)
    if not outcome.current:
        log.warning("the analysis process' results are not those of the window's snapshot; analysing here")
        outcome = pa.analyse(data, params, folder, encoder=encoder, progress=progress, cancel=cancel)
    return _aligned(outcome)


def open_stored_job(data, params, folder, *, model=None, device="auto", encoder=None, progress=None,
                    cancel=None):
    """The project's stored results and whether they are current for ``data`` and ``params``
    (vectors from the cache); None when there are no stored results."""
    from workbench.analysis import project_analysis as pa
    from workbench.analysis.results_store import read_cache_meta

    progress, cancel = ensure(progress, cancel)
    if read_cache_meta(folder) is None:
        return None
    encoder = _encoder(encoder, model, device, progress, cancel)
    return _aligned(pa.open_stored(data, params, folder, encoder=encoder, progress=progress, cancel=cancel))


def vectors_job(data, model=None, device="auto", encoder=None, *, progress=None, cancel=None):
    """Vectors of the ``data`` snapshot by the service's embedding rule, and the encoder used."""
    from workbench.analysis import project_analysis as pa

    progress, cancel = ensure(progress, cancel)
    encoder = _encoder(encoder, model, device, progress, cancel)
    pv, rv = pa.vectors(data, encoder, progress=progress, cancel=cancel)
    return pv, rv, encoder


def query_job(text: str, encoder, model=None, device="auto", *, progress=None, cancel=None):
    """The vector of a typed query (for "find similar")."""
    encoder = _encoder(encoder, model, device, progress, cancel)
    vec = encoder.encode([text])
    return np.asarray(vec, dtype=np.float32)[0], encoder
