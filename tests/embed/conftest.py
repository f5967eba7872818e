"""Fixtures for the encoder tests: the default model converted once per session, real texts,
and the sentence-transformers (torch) reference vectors they are compared with."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.conftest import SAMPLE


def sample_texts(per_kind: int = 60) -> list[str]:
    """Real texts of mixed length from sample_data: Dolly prompts, Dolly responses, Banking77 queries."""
    prompts, responses, queries = [], [], []
    with open(SAMPLE / "train_dolly_alpaca.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            prompts.append(r["instruction"])
            responses.append(r["output"])
    with open(SAMPLE / "production_banking.jsonl", encoding="utf-8") as f:
        queries = [json.loads(line)["text"] for line in f]
    return prompts[:per_kind] + responses[:per_kind] + queries[:per_kind]


@pytest.fixture(scope="session")
def default_encoder(tmp_path_factory):
    """The default model (converted on first use into the session-wide model folder), int8 on CPU."""
    from workbench.embed import get_encoder

    home = tmp_path_factory.mktemp("encoder_home")
    shared_models = tmp_path_factory.getbasetemp() / "shared_models"
    shared_models.mkdir(exist_ok=True)
    (home / "models").symlink_to(shared_models, target_is_directory=True)
    old = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    try:
        return get_encoder(device="cpu", precision="int8")
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_HOME", None)
        else:
            os.environ["WORKBENCH_HOME"] = old


@pytest.fixture(scope="session")
def fp32_encoder(default_encoder):
    from workbench.embed import Encoder

    return Encoder(default_encoder.manifest, "fp32", "cpu")


@pytest.fixture(scope="session")
def st_model():
    """sentence-transformers on torch, the reference the ONNX encoder must agree with.

    Torch is an optional extra (``[convert]``): without it these comparisons are skipped, and the
    default model is still checked against its stored reference vectors when it is built."""
    pytest.importorskip("sentence_transformers", reason="sentence-transformers/torch not installed "
                        "(pip install 'curation-workbench[convert]'); comparison with torch skipped")
    from sentence_transformers import SentenceTransformer

    from workbench.embed.model_registry import default_model_source

    return SentenceTransformer(str(default_model_source()), device="cpu", local_files_only=True)


def reference(st_model, texts: list[str]) -> np.ndarray:
    return st_model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
