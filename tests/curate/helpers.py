"""Real-text helpers for curate tests that need vectors but not the embedding model.

``text_vectors`` hashes character 2-4-grams of the real texts (stateless, so vectors from
separate calls are comparable, like an encoder's), log-scales the counts and L2-normalises:
cheap, deterministic, and close enough to an embedding for sampling, planning and the analysis
pipeline in tests. The CLI tests use the real encoder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DIM = 4096


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def text_vectors(texts, dim: int = DIM) -> np.ndarray:
    from sklearn.feature_extraction.text import HashingVectorizer

    hv = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 4), n_features=dim, alternate_sign=False,
                           norm=None, lowercase=True)
    m = hv.transform([t or " " for t in texts])
    m.data = np.log1p(m.data)
    v = m.toarray().astype(np.float32)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    return v


def embed(texts, progress=None, cancel=None) -> np.ndarray:
    """An ``embed`` function for CurationSnapshot (same contract as the encoder-backed one)."""
    return text_vectors(list(texts))
