"""Shared fixtures. Every test runs with WORKBENCH_HOME in a temporary folder, except the model
folder, which is shared across the session so the default model is converted once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def workbench_home(tmp_path_factory, monkeypatch):
    """A fresh WORKBENCH_HOME per test; models/ is a link to one session-wide folder."""
    home = tmp_path_factory.mktemp("wbhome")
    shared_models = tmp_path_factory.getbasetemp() / "shared_models"
    shared_models.mkdir(exist_ok=True)
    (home / "models").symlink_to(shared_models, target_is_directory=True)
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data, skipping the test when that folder is absent (fresh clone)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/data is not beside this checkout ({path} missing); extra real-data test skipped")
    return path


def real_jsonl_files() -> list:
    """``pytest.param`` per real JSONL file: sample_data/*.jsonl, then ../shared/data/*/*.jsonl
    (none of those in a fresh clone)."""
    params = [pytest.param(p, id=f"sample/{p.name}") for p in sorted(SAMPLE.glob("*.jsonl"))]
    if SHARED_DATA.is_dir():
        params += [pytest.param(p, id=f"shared/{p.relative_to(SHARED_DATA)}")
                   for p in sorted(SHARED_DATA.glob("*/*.jsonl"))]
    return params
