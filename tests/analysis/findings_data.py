"""Real data and real vectors for the finding-module tests (duplicates, conflicts, coverage,
queue, leakage, flags).

Vectors come from the real default encoder (``workbench.embed.get_encoder()``, converted once per
test session into the session-wide model folder that ``tests/conftest.py`` sets up) and are kept
in memory for the session, so the coverage and queue tests embed the CLINC150 subset once.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from tests.conftest import SAMPLE, shared_data

_VECTORS: dict[tuple[str, str], np.ndarray] = {}
_ENCODERS: dict[str, Any] = {}


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def chat_part(record: dict, role: str) -> str:
    """Content of the last turn of ``role`` in an OpenAI chat record ("" when none)."""
    turns = [t["content"] for t in record["messages"] if t["role"] == role]
    return turns[-1] if turns else ""


@contextmanager
def _home(tmp_path_factory):
    """WORKBENCH_HOME in a temp folder whose models/ is the session-wide model folder."""
    base = tmp_path_factory.getbasetemp()
    shared_models = base / "shared_models"
    shared_models.mkdir(exist_ok=True)
    home = base / "findings_home"
    if not home.exists():
        home.mkdir()
        (home / "models").symlink_to(shared_models, target_is_directory=True)
    old = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_HOME", None)
        else:
            os.environ["WORKBENCH_HOME"] = old


def embed(tmp_path_factory, texts: list[str], precision: str = "auto") -> np.ndarray:
    """Real vectors (L2-normalised float32) for ``texts`` with the default model."""
    import hashlib

    key = (precision, hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest())
    if key not in _VECTORS:
        with _home(tmp_path_factory):
            from workbench.embed import get_encoder

            if precision not in _ENCODERS:
                _ENCODERS[precision] = get_encoder(device="cpu", precision=precision)
            _VECTORS[key] = np.asarray(_ENCODERS[precision].encode(texts), dtype=np.float32)
    return _VECTORS[key]


def sample(name: str) -> list[dict]:
    return read_jsonl(SAMPLE / name)


def banking_train_eval(tmp_path_factory):
    """sample_data's Banking77 chat train + eval rows (natural train/eval overlap): prompts,
    responses, roles ("train"/"eval") and prompt vectors from the default encoder."""
    train, ev = sample("train_banking_chat.jsonl"), sample("eval_banking_chat.jsonl")
    prompts = [chat_part(r, "user") for r in train + ev]
    responses = [chat_part(r, "assistant") for r in train + ev]
    roles = np.array(["train"] * len(train) + ["eval"] * len(ev), dtype=object)
    return prompts, responses, roles, embed(tmp_path_factory, prompts)


def clinc_split(n_intents: int = 20, n_removed: int = 4, n_oos: int = 150, seed: int = 3):
    """CLINC150 subset for the coverage tests: ``n_intents`` intents (every 7th of the sorted
    intent names, so several domains), train = their train queries minus ``n_removed`` whole
    intents, production = their test queries + ``n_oos`` out-of-scope test queries.

    Returns (texts, roles, labels, removed) with train rows first, then production.
    """
    train = read_jsonl(shared_data("clinc150", "clinc150_train.jsonl"))
    test = read_jsonl(shared_data("clinc150", "clinc150_test.jsonl"))
    oos = read_jsonl(shared_data("clinc150", "clinc150_oos_test.jsonl"))
    intents = sorted({r["label"] for r in train})[::7][:n_intents]
    rng = np.random.default_rng(seed)
    removed = sorted(rng.choice(intents, n_removed, replace=False).tolist())
    tr = [r for r in train if r["label"] in intents and r["label"] not in removed]
    pr = [r for r in test if r["label"] in intents] + oos[:n_oos]
    texts = [r["text"] for r in tr] + [r["text"] for r in pr]
    roles = np.array(["train"] * len(tr) + ["production"] * len(pr), dtype=object)
    labels = np.array([r["label"] for r in tr] + [r["label"] for r in pr], dtype=object)
    return texts, roles, labels, removed
