"""Fixtures for the desktop app tests: a real window over the real core, on real sample data.

``small_sample`` is a few hundred real rows of ``sample_data/`` (all 400 Dolly rows, so the
natural duplicate groups are there, plus the first rows of the banking train, production and
eval files) so that embedding and the analysis stay quick on a CPU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLE

SUBSET = [
    ("train_banking_chat.jsonl", 150, "train"),
    ("train_dolly_alpaca.jsonl", None, "train"),
    ("production_banking.jsonl", 150, "production"),
    ("eval_banking_chat.jsonl", 60, "eval"),
]
ANALYSIS_TIMEOUT_MS = 600_000  # the first analysis of a test run converts the model and compiles UMAP


@pytest.fixture
def small_sample(tmp_path) -> list[tuple[Path, str]]:
    out = tmp_path / "data"
    out.mkdir()
    files = []
    for name, n, role in SUBSET:
        lines = (SAMPLE / name).read_bytes().splitlines(keepends=True)
        dest = out / name
        dest.write_bytes(b"".join(lines if n is None else lines[:n]))
        files.append((dest, role))
    return files


@pytest.fixture
def window(qtbot):
    from workbench.ui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1280, 820)
    win.show()
    yield win
    win.session.jobs.cancel_all()
    win.session.jobs.wait_all(30_000)


def open_files(qtbot, win, files, project: Path) -> None:
    """Create ``project`` with ``files`` (path, role) and wait until the workspace is loaded."""
    s = win.session
    assert s.new_project(project)
    for path, role in files:
        s.project.add_source(path, role)
    with qtbot.waitSignal(s.sig_workspace, timeout=60_000):
        s.reload()
    assert s.ws is not None and s.ws.n > 0


def analyse(qtbot, win) -> None:
    """Run the analysis from the menu action and wait for its result to be shown."""
    s = win.session
    errors = []
    s.sig_error.connect(lambda m, d: errors.append((m, d)))
    win.actions.run.trigger()
    qtbot.waitUntil(lambda: s.analysis is not None or bool(errors), timeout=ANALYSIS_TIMEOUT_MS)
    assert not errors, errors
    assert win.map.n_points == s.ws.n
