"""Shared helpers for the project tests: real sample data, read once per test session."""

from __future__ import annotations

import functools
from pathlib import Path

from tests.conftest import SAMPLE

SOURCES = [
    ("train_banking_chat.jsonl", "train"),
    ("train_dolly_alpaca.jsonl", "train"),
    ("production_banking.jsonl", "production"),
]


@functools.lru_cache(maxsize=None)
def sample_source(name: str):
    """SourceData of a sample file (read once; add_source(data=...) reuses it)."""
    from workbench.io.readers import read_source

    return read_source(SAMPLE / name)


def make_project(path: Path, sources=SOURCES, fast: bool = False):
    """A project at ``path`` with the sample sources added. ``fast`` turns off fsync for tests
    that check journal logic, not durability (the durability test keeps it on)."""
    from workbench.project import Project

    p = Project.create(path)
    if fast:
        p._store.conn.execute("PRAGMA synchronous=OFF")
    for name, role in sources:
        p.add_source(SAMPLE / name, role, data=sample_source(name))
    return p


def ws_view(ws) -> dict:
    """Everything a view can show about the workspace, as plain comparable values."""
    return {
        "n": ws.n,
        "ids": [ws.example_id(i) for i in range(ws.n)],
        "rejected": ws.rejected.tolist(),
        "edited": ws.edited.tolist(),
        "weight": ws.weight.tolist(),
        "tags": [sorted(t) for t in ws.tags],
        "prompt": list(ws.prompt),
        "response": list(ws.response),
        "system": list(ws.system),
        "role": ws.role.tolist(),
        "extra": {k: list(v) for k, v in ws.extra.items() if any(x is not None for x in v)},
    }


ANALYSED_SOURCES = SOURCES + [("eval_banking_chat.jsonl", "eval")]
_ANALYSED: dict[str, Path] = {}


def analysed_project(tmp_path_factory, dest: Path) -> Path:
    """A copy (at ``dest``, a ``.wbproj`` path) of a project over every sample_data file, analysed
    once per test session by ``workbench analyze PROJECT`` with the real default model (the
    embedding cache of the session-wide analysis home keeps it warm)."""
    import os
    import shutil

    from tests.analysis.realdata import analysis_home, sample_input

    key = str(tmp_path_factory.getbasetemp())
    if key not in _ANALYSED:
        from workbench.cli.main import main

        sample_input(tmp_path_factory)  # embeds every sample text once into the analysis home
        folder = tmp_path_factory.mktemp("analysed")
        path = folder / "sample.wbproj"
        old = os.environ.get("WORKBENCH_HOME")
        os.environ["WORKBENCH_HOME"] = str(analysis_home(tmp_path_factory))
        try:
            assert main(["new", str(path)]) == 0
            for name, role in ANALYSED_SOURCES:
                assert main(["add", str(path), str(SAMPLE / name), "--role", role]) == 0
            assert main(["analyze", str(path)]) == 0
        finally:
            if old is None:
                os.environ.pop("WORKBENCH_HOME", None)
            else:
                os.environ["WORKBENCH_HOME"] = old
        _ANALYSED[key] = path
    src = _ANALYSED[key]
    shutil.copy(src, dest)
    shutil.copytree(Path(str(src) + "-data"), Path(str(dest) + "-data"))
    return dest
