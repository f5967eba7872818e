"""How to run ``workbench`` again from here: the command a hint should print.

A hint that says ``workbench ...`` fails for a newcomer who ran ``./run.sh`` or
``.venv/bin/workbench``: the virtual environment is not on their PATH. :func:`launcher` gives the
command that works in the current shell: ``workbench`` when that name on the PATH is this very
installation, else the script beside this Python (relative to the current folder when it is below
it, e.g. ``.venv/bin/workbench``), else ``PYTHON -m workbench``. ``./run.sh`` sets
``WORKBENCH_LAUNCHER`` to the script's path as seen from the folder it was started in.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def _same(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def launcher() -> str:
    """The shell command that starts this installation's ``workbench`` (see the module doc)."""
    given = os.environ.get("WORKBENCH_LAUNCHER", "").strip()  # set by ./run.sh for the caller's folder
    if given:
        return shlex.quote(given)
    name = "workbench.exe" if os.name == "nt" else "workbench"
    scripts = Path(sys.executable).parent
    script = scripts / name
    on_path = shutil.which("workbench")
    if on_path and script.exists() and _same(on_path, script):
        return "workbench"
    if script.exists():
        try:
            rel = os.path.relpath(script)
        except ValueError:  # another drive (Windows)
            rel = str(script)
        shown = rel if not rel.startswith("..") else str(script)
        if os.sep not in shown and "/" not in shown:
            shown = f".{os.sep}{shown}"
        return shlex.quote(shown)
    return f"{shlex.quote(sys.executable)} -m workbench"
