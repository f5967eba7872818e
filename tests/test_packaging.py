"""The PyInstaller spec names only paths that exist, and the smoke test passes unfrozen."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "workbench.spec"


def _spec_assignments() -> dict[str, object]:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def test_spec_data_folders_exist():
    values = _spec_assignments()
    assert values["DATAS"], "the spec names no data folders"
    for src, _dst in values["DATAS"]:
        assert (ROOT / src).exists(), f"spec names {src}, which does not exist"
    for pkg in values["PACKAGE_DATA"]:
        assert importlib.util.find_spec(pkg) is not None, f"spec collects data of {pkg}, which is not installed"


def test_spec_files_exist():
    text = SPEC.read_text(encoding="utf-8")
    assert (ROOT / "packaging" / "launcher.py").exists()
    assert (ROOT / "resources" / "icons" / "workbench-256.png").exists()
    assert '"packaging", "launcher.py"' in text
    desktop = (ROOT / "packaging" / "curation-workbench.desktop").read_text()
    assert "Exec=workbench" in desktop and "Icon=curation-workbench" in desktop


def test_icon_set_complete():
    icons = ROOT / "resources" / "icons"
    assert (icons / "workbench.svg").exists()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        png = icons / f"workbench-{size}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


@pytest.mark.gui
def test_smoke_test_passes_unfrozen(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", WORKBENCH_HOME=os.environ["WORKBENCH_HOME"])
    out = subprocess.run([sys.executable, "-m", "workbench", "--smoke-test"], capture_output=True, text=True,
                         env=env, timeout=900, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
