"""A module as it was at an earlier commit, for studies that compare a finding with its own
earlier version in the same run (the baseline is the real old code, not a re-implementation)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def module_at(rev: str, relpath: str, name: str) -> ModuleType:
    """Import ``relpath`` (e.g. ``workbench/analysis/coverage.py``) as of git revision ``rev``
    under the module name ``name`` (its imports resolve against today's tree)."""
    src = subprocess.run(["git", "show", f"{rev}:{relpath}"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod
