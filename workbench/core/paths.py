"""The one place that resolves where the workbench keeps things.

Layout under :func:`home` (override with the ``WORKBENCH_HOME`` environment variable, which is
what tests and ``--temp-basedir`` style runs use)::

    home/
      settings.json      user settings (typed, versioned, human-readable)
      models/<name>/     converted ONNX models, each with manifest.json
      cache/embeddings/  vector cache, keyed by model fingerprint and text hash
      cache/numba/       numba's compiled-function cache (UMAP, pynndescent)
      logs/              crash reports

Default home: ``$XDG_DATA_HOME/curation-workbench`` (``~/.local/share/curation-workbench``) on
Linux, ``~/Library/Application Support/Curation Workbench`` on macOS, ``%LOCALAPPDATA%\\Curation
Workbench`` on Windows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_HOME = "WORKBENCH_HOME"


def home() -> Path:
    env = os.environ.get(ENV_HOME)
    if env:
        path = Path(env).expanduser()
    elif sys.platform == "darwin":
        path = Path.home() / "Library" / "Application Support" / "Curation Workbench"
    elif os.name == "nt":
        path = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / "Curation Workbench"
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        path = Path(base) / "curation-workbench"
    return path


def _dir(*parts: str) -> Path:
    path = home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    return _dir("models")


def embedding_cache_dir() -> Path:
    return _dir("cache", "embeddings")


def numba_cache_dir() -> Path:
    return _dir("cache", "numba")


def logs_dir() -> Path:
    return _dir("logs")


def settings_file() -> Path:
    return _dir() / "settings.json"


def package_root() -> Path:
    """The folder holding the ``workbench`` package (works frozen and unfrozen)."""
    if getattr(sys, "frozen", False):  # PyInstaller
        return Path(getattr(sys, "_MEIPASS"))
    return Path(__file__).resolve().parents[2]


def sample_data_dir() -> Path:
    return package_root() / "sample_data"


def resources_dir() -> Path:
    return package_root() / "resources"
