"""The one place that imports the numba-compiled libraries (umap-learn, pynndescent) and hdbscan.

numba compiles UMAP's and pynndescent's functions the first time they run in a process, which
costs tens of seconds per process. To keep that out of the curator's wait:

* ``NUMBA_CACHE_DIR`` is pointed at :func:`workbench.core.paths.numba_cache_dir` before numba is
  first imported, so compiled machine code is written there and loaded by later processes;
* most numba functions of umap-learn and many of pynndescent are compiled without
  ``cache=True``: :func:`umap` and :func:`pynndescent` turn caching on for every module-level
  numba function of those packages, so they are cached too;
* the first analysis of a fresh install fills that cache (benchmarks/bench_analysis.py measures
  the cold and the warm start).

Always import these libraries through this module (``from workbench.analysis import jit;
umap = jit.umap()``), never directly.
"""

from __future__ import annotations

import os
import threading
import warnings
from types import ModuleType

from workbench.core import paths

# numba's default threading layer on Linux is GNU OpenMP, whose idle threads spin: on the busy
# 2-core test machine a small parallel kernel call took ~10 ms with it and 0.5 ms with the
# "workqueue" layer (the IVF graph makes hundreds of such calls). Workqueue aborts the process when
# two threads run numba *parallel* functions at the same time, which the app can do (a dialog's
# job beside an analysis): every call of a parallel function (our ``topk_merge``, UMAP's fit and
# layout optimisation) holds PARALLEL. A NUMBA_THREADING_LAYER set by the user wins.
THREADING_LAYER = "workqueue"

PARALLEL = threading.RLock()
"""Held around every call of a numba parallel function (one at a time per process)."""

_lock = threading.Lock()
_cached_modules: set[str] = set()
# a NUMBA_CACHE_DIR set before the workbench started (e.g. a CI cache) wins
_USER_CACHE_DIR = os.environ.get("NUMBA_CACHE_DIR") or None


def prepare() -> None:
    """Point numba's cache at the workbench cache folder and pick its threading layer
    (idempotent, cheap)."""
    cache_dir = _USER_CACHE_DIR or str(paths.numba_cache_dir())
    os.environ["NUMBA_CACHE_DIR"] = cache_dir
    os.environ.setdefault("NUMBA_THREADING_LAYER", THREADING_LAYER)
    import sys

    if "numba" in sys.modules:  # imported earlier by someone else: update its live config too
        from numba.core import config

        config.CACHE_DIR = cache_dir
        if config.THREADING_LAYER == "default":
            config.THREADING_LAYER = os.environ["NUMBA_THREADING_LAYER"]


def _enable_caching(package: ModuleType) -> None:
    """Turn on on-disk caching for every numba dispatcher defined in ``package``'s modules."""
    import sys

    from numba.core.registry import CPUDispatcher

    prefix = package.__name__ + "."
    for name, module in list(sys.modules.items()):
        if module is None or not (name == package.__name__ or name.startswith(prefix)):
            continue
        if name in _cached_modules:
            continue
        _cached_modules.add(name)
        for obj in list(vars(module).values()):
            if isinstance(obj, CPUDispatcher) and obj._cache.__class__.__name__ == "NullCache":
                try:
                    obj.enable_caching()
                except Exception:  # pragma: no cover - a function numba cannot cache stays uncached
                    pass


def umap() -> ModuleType:
    """The ``umap`` module, with its numba functions cached on disk."""
    with _lock:
        prepare()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import umap as umap_module
            import umap.umap_  # noqa: F401  (make sure submodules are loaded before enabling)
        _enable_caching(umap_module)
        import pynndescent as pynndescent_module  # umap builds its own indexes with it

        _enable_caching(pynndescent_module)
        return umap_module


def pynndescent() -> ModuleType:
    """The ``pynndescent`` module (caches its own numba functions)."""
    with _lock:
        prepare()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pynndescent as module
        _enable_caching(module)
        return module


def kernels() -> ModuleType:
    """The workbench's own numba kernels (:mod:`workbench.analysis.graph_kernels`), cached on disk."""
    with _lock:
        prepare()
        from workbench.analysis import graph_kernels

        return graph_kernels


def hdbscan() -> ModuleType:
    """The ``hdbscan`` module (Cython; imported here so every heavy import has one home)."""
    with _lock:
        prepare()
        import hdbscan as module

        return module
