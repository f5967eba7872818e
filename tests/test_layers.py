"""Import contracts: the core is Qt-free, layers run one way, and start-up stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "workbench"
LAYERS = ["core", "io", "embed", "project", "analysis", "curate", "cli", "ui"]
RANK = {name: i for i, name in enumerate(LAYERS)}
QT = ("PySide6", "pyqtgraph", "shiboken6")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        layer = rel.parts[0] if len(rel.parts) > 1 else None
        yield path, layer


def test_qt_only_in_ui():
    offenders = []
    for path, layer in _modules():
        if layer == "ui":
            continue
        for name in _imports(path):
            if name.split(".")[0] in QT:
                offenders.append(f"{path.relative_to(PKG.parent)} imports {name}")
    assert not offenders, "Qt imported outside workbench/ui:\n" + "\n".join(offenders)


def test_layers_run_one_way():
    offenders = []
    for path, layer in _modules():
        if layer not in RANK:
            continue
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "workbench" or len(parts) < 2 or parts[1] not in RANK:
                continue
            target = parts[1]
            if layer == "cli" and target == "ui":
                # the only allowed crossing: `workbench` with no command starts the GUI lazily
                if path.name == "main.py":
                    continue
                offenders.append(f"{path.relative_to(PKG.parent)} imports {name} (cli must not import ui)")
            elif RANK[target] > RANK[layer] and not (layer == "ui" and target == "cli"):
                offenders.append(f"{path.relative_to(PKG.parent)} ({layer}) imports {name} ({target})")
    assert not offenders, "layer violations:\n" + "\n".join(offenders)


@pytest.mark.parametrize("argv", [["--help"], ["inspect", "--help"], ["analyze", "--help"], ["export", "--help"]])
def test_help_does_not_import_heavy_libraries(argv):
    code = (
        "import sys\n"
        "from workbench.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('torch', 'umap', 'hdbscan', 'PySide6', 'onnxruntime', 'sentence_transformers') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = [l for l in out.stdout.splitlines() if l.startswith("HEAVY=")][-1]
    assert line == "HEAVY=", f"`workbench {' '.join(argv)}` imported {line[6:]}"


def test_core_imports_without_qt():
    """Every non-UI module imports in a process where Qt cannot be imported."""
    mods = []
    for path, layer in _modules():
        if layer in (None, "ui"):
            continue
        rel = path.relative_to(PKG.parent).with_suffix("")
        mods.append(".".join(rel.parts).removesuffix(".__init__"))
    code = (
        "import sys, importlib\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'):\n"
        "            raise ImportError('Qt blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "print('OK')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-3000:]
