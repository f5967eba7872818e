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


def add_files_job(project, pairs, *, snapshot=None, progress=None, cancel=None):
    """Add data files ``pairs`` = [(path, role)] to ``project`` (each read, checked and hashed
    here, off the GUI thread), then load the workspace. Returns ``(workspace or None when nothing
    was added, [(name, role)] added, [WorkbenchError] of the files that were not)``. ``snapshot``:
    the date given to each added production log (``workbench add --snapshot``; ui/snapshot_date.py)."""
    from pathlib import Path

    from workbench.core.errors import WorkbenchError

    progress, cancel = ensure(progress, cancel)
    added, errors = [], []
    for k, (path, role) in enumerate(pairs):
        cancel.check()

        def sub(done, total, _phase, _name=Path(path).name, _k=k):
            progress(done, total, f"Reading {_name} ({_k + 1}/{len(pairs)})")

        try:
            info = project.add_source(path, role, progress=sub, cancel=cancel)
        except WorkbenchError as exc:
            errors.append(exc)
        else:
            added.append((info.name, role))
            if snapshot and role == "production":
                from workbench.analysis.drift import set_snapshot

                set_snapshot(project, info.id, snapshot)
    ws = project.load(progress=progress, cancel=cancel) if added else None
    return ws, added, errors


def _encoder(encoder, model, device, progress, cancel):
    from workbench.analysis.project_analysis import get_encoder_for

    return encoder if encoder is not None else get_encoder_for(model, device, progress=progress, cancel=cancel)


def _unloaded(encoder) -> bool:
    """``encoder`` is only an identity (a DeferredEncoder whose model is not loaded here)."""
    from workbench.analysis.child_process import DeferredEncoder

    return isinstance(encoder, DeferredEncoder) and encoder._real is None


def _all_cached(data, encoder, texts=()) -> bool:
    """Every vector ``data`` (by the service's embedding rule) and ``texts`` need is in the cache."""
    from workbench.analysis.project_analysis import has_response
    from workbench.embed.cache import EmbeddingCache, text_keys

    wanted = list(texts)
    if data is not None:
        wanted += list(data.prompt)
        wanted += [data.response[i] for i in np.flatnonzero(has_response(data.response))]
    uniq = list(dict.fromkeys(wanted))
    if not uniq:
        return True
    try:
        store = EmbeddingCache().store(encoder.fingerprint, encoder.dim, encoder.name)
        return bool(store.lookup(text_keys(uniq), np.empty((len(uniq), encoder.dim), np.float32)).all())
    except OSError:
        return False


def _cached_encoder(data, encoder, project_path, model, device, progress, cancel, texts=()):
    """An encoder for ``data`` (and ``texts``) that does not load the model in this (the GUI's)
    process when it can be helped: loading it holds the GIL for 1-2 s. A loaded encoder is used
    as is; otherwise a child process (:mod:`workbench.analysis.embed_child`) prepares the model,
    puts the vectors in the cache and names the encoder, and the vectors are read from there."""
    if encoder is not None and (not _unloaded(encoder) or _all_cached(data, encoder, texts)):
        return encoder
    if project_path is None and not texts:
        return _encoder(encoder, model, device, progress, cancel)
    from workbench.analysis.embed_child import deferred_encoder

    return deferred_encoder(project_path, texts=texts, model=model, device=device, progress=progress, cancel=cancel)


def _aligned(outcome):
    """Align the result to the snapshot's rows here, off the GUI thread (the session applies it
    only while the workspace is still at the snapshot's revision, so the rows are the same)."""
    from workbench.analysis.aligned import AlignedAnalysis

    if outcome is not None and outcome.result is not None:
        d = outcome.data
        outcome.aligned = AlignedAnalysis(outcome.result, d.source_id, d.line, d.role)
    return outcome


def analyse_job(data, params, folder, *, model=None, device="auto", encoder=None, relayout=False, progress=None,
                cancel=None):
    """Embed ``data`` (an :class:`~workbench.analysis.project_analysis.AnalysisData` snapshot)
    through the vector cache and bring the project's results in ``folder`` up to date."""
    from workbench.analysis import project_analysis as pa

    progress, cancel = ensure(progress, cancel)
    encoder = _encoder(encoder, model, device, progress, cancel)
    return _aligned(pa.analyse(data, params, folder, encoder=encoder, relayout=relayout, progress=progress,
                               cancel=cancel))


def _any_phase_cancels(progress):
    """In a child process every phase can be cancelled (the child is terminated): the core's
    "(cannot be interrupted)" note, true in a thread, is not shown beside the Cancel button."""
    def shown(done, total, phase):
        progress(done, total, str(phase).replace(" (cannot be interrupted)", ""))

    return shown


def analyse_child_job(data, params, folder, *, project_path, model=None, device="auto", encoder=None,
                      relayout=False, progress=None, cancel=None):
    """Like :func:`analyse_job`, but the analysis itself runs in a child process
    (:mod:`workbench.analysis.child_process`, the CLI's core on the project file, read-only), so
    its native code never holds the GUI process' GIL; cancel terminates the child. The stored
    results are then opened the usual way; their cache key must be that of ``data`` (the window's
    snapshot) and ``params``. When it is not (the project file held other data than the snapshot,
    or the child's encoder differs), the analysis of the snapshot runs here as before."""
    from workbench.analysis import project_analysis as pa
    from workbench.analysis.child_process import DeferredEncoder, run_child

    progress, cancel = ensure(progress, cancel)
    progress = _any_phase_cancels(progress)
    report = run_child(project_path, folder, params.to_dict(), model=model, device=device, relayout=relayout,
                       progress=progress, cancel=cancel)
    if encoder is None:  # the child's vectors are in the cache: no model load here (it holds the GIL)
        encoder = DeferredEncoder(report["encoder"], model, device)
    outcome = pa.open_stored(data, params, folder, encoder=encoder, progress=progress, cancel=cancel)
    if not outcome.current:
        log.warning("the analysis process' results are not those of the window's snapshot; analysing here")
        outcome = pa.analyse(data, params, folder, encoder=encoder, relayout=relayout, progress=progress,
                             cancel=cancel)
    return _aligned(outcome)


def open_stored_job(data, params, folder, *, project_path=None, model=None, device="auto", encoder=None,
                    progress=None, cancel=None):
    """The project's stored results and whether they are current for ``data`` and ``params``
    (vectors from the cache; with ``project_path`` the model is prepared in a child process,
    see :func:`_cached_encoder`); None when there are no stored results."""
    from workbench.analysis import project_analysis as pa
    from workbench.analysis.results_store import read_cache_meta

    progress, cancel = ensure(progress, cancel)
    if read_cache_meta(folder) is None:
        return None
    encoder = _cached_encoder(data, encoder, project_path, model, device, progress, cancel)
    return _aligned(pa.open_stored(data, params, folder, encoder=encoder, progress=progress, cancel=cancel))


def vectors_job(data, model=None, device="auto", encoder=None, *, project_path=None, progress=None, cancel=None):
    """Vectors of the ``data`` snapshot by the service's embedding rule, and the encoder used."""
    from workbench.analysis import project_analysis as pa

    progress, cancel = ensure(progress, cancel)
    encoder = _cached_encoder(data, encoder, project_path, model, device, progress, cancel)
    pv, rv = pa.vectors(data, encoder, progress=progress, cancel=cancel)
    return pv, rv, encoder


def query_job(text: str, encoder, model=None, device="auto", *, progress=None, cancel=None):
    """The vector of a typed query (for "find similar"). Unless the model is loaded here already
    or the query's vector is cached, the window's encoder server (a child process that keeps the
    model loaded, :class:`~workbench.analysis.embed_child.EncoderServer`) embeds it: milliseconds
    a query instead of a child process per query (about 3 s)."""
    from workbench.embed import embed_texts

    progress, cancel = ensure(progress, cancel)
    if encoder is not None and _unloaded(encoder) and not _all_cached(None, encoder, [text]):
        from workbench.analysis.embed_child import shared_server

        progress(0, 1, "Embedding the query")
        vecs, identity = shared_server(model, device).encode([text], cancel=cancel)
        if identity.get("fingerprint") == encoder.fingerprint:
            return np.asarray(vecs[0], dtype=np.float32), encoder
    encoder = _cached_encoder(None, encoder, None, model, device, progress, cancel, texts=[text])
    vec, _ = embed_texts([text], encoder, progress=progress, cancel=cancel)
    return np.asarray(vec, dtype=np.float32)[0], encoder


def place_job(vecs, query, base, x, y, cluster, *, progress=None, cancel=None):
    """Positions for rows added since the analysis (``query``) beside their nearest analysed rows
    (``base``), by the map's one placement rule (:func:`workbench.analysis.map_continuity.place`),
    for display until the next analysis places them for good."""
    from workbench.analysis.map_continuity import place

    progress, cancel = ensure(progress, cancel)
    px, py, _, _ = place(vecs, query, base, x, y, cluster, cancel=cancel)
    return np.asarray(query, np.int64), px, py
