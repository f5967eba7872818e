"""Real sample data, embedded once per test session with the real default model.

``sample_input(tmp_path_factory)`` returns an :class:`AnalysisInput` over every file of
``sample_data/`` (913 Banking77 chat train rows, 400 Dolly Alpaca train rows, 539 Banking77
production queries, 235 Banking77 chat eval rows). The vectors are computed once per session in a
session-wide WORKBENCH_HOME (``analysis_home()``, models shared with the rest of the suite) and
kept in memory; later calls are free.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
FILES = [
    ("train_banking_chat.jsonl", "train"),
    ("train_dolly_alpaca.jsonl", "train"),
    ("production_banking.jsonl", "production"),
    ("eval_banking_chat.jsonl", "eval"),
]
_CACHE: dict[str, object] = {}


def analysis_home(tmp_path_factory) -> Path:
    """A WORKBENCH_HOME shared by the analysis tests (its embedding cache stays warm)."""
    base = tmp_path_factory.getbasetemp()
    home = base / "analysis_home"
    if not home.exists():
        shared_models = base / "shared_models"
        shared_models.mkdir(exist_ok=True)
        home.mkdir()
        (home / "models").symlink_to(shared_models, target_is_directory=True)
    return home


def _embed_all(tmp_path_factory):
    from workbench.analysis.project_analysis import embed_rows, get_encoder_for
    from workbench.io.readers import read_source

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
        sources = [(read_source(SAMPLE / name), role) for name, role in FILES]
        encoder = get_encoder_for(None)
        prompts = [p for d, _ in sources for p in d.prompt]
        responses = [r for d, _ in sources for r in d.response]
        pv, rv, _ = embed_rows(prompts, responses, encoder)  # the one embedding rule
    return sources, pv, rv, encoder.fingerprint


def sample_input(tmp_path_factory):
    """AnalysisInput over all of sample_data (a fresh object each call; vectors shared)."""
    from workbench.analysis.pipeline import AnalysisInput

    if "sample" not in _CACHE:
        _CACHE["sample"] = _embed_all(tmp_path_factory)
    sources, pv, rv, fp = _CACHE["sample"]
    return AnalysisInput.from_sources(sources, pv.copy(), rv.copy(), encoder=fp)


def banking_intents(inp) -> np.ndarray:
    """Intent label of every Banking77 row of the sample (None for Dolly rows): the assistant
    turn of the chat files, the ``label`` field of the production file."""
    out = []
    for src, response, label in zip(inp.source, inp.response, inp.extra.get("label", [None] * inp.n)):
        if src == "production_banking.jsonl":
            out.append(label)
        elif "banking" in src:
            out.append(response)
        else:
            out.append(None)
    return np.asarray(out, dtype=object)


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
