"""Reference vectors of the default model, computed once by sentence-transformers on torch.

A torch-free install builds the default model's ONNX graph from its weights
(:mod:`workbench.embed.bert_onnx`) and must still prove that it computes what the original
model computes. ``all-MiniLM-L6-v2.npy`` holds the vectors that sentence-transformers (on torch,
CPU) gives for :data:`workbench.embed.convert.CHECK_TEXTS`; ``all-MiniLM-L6-v2.json`` says which
weights file (sha256) and which library versions produced them. The build compares its fp32 and
int8 vectors with these, with the same thresholds as a conversion checked against torch.

Regenerate (needs the ``[convert]`` extra)::

    python -m workbench.embed.reference
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from workbench.core.errors import ModelError

HERE = Path(__file__).resolve().parent


def load(name: str) -> tuple[dict, np.ndarray]:
    """(metadata, vectors) stored for model ``name``; a ModelError when there are none."""
    meta_path, vec_path = HERE / f"{name}.json", HERE / f"{name}.npy"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        vecs = np.load(vec_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"no usable reference vectors for {name} in {HERE}", detail=str(exc)) from exc
    if vecs.shape != (len(meta["texts"]), meta["dimension"]) or vecs.dtype != np.float32:
        raise ModelError(f"the reference vectors for {name} in {HERE} do not match their description")
    return meta, vecs


def generate(name: str, source: Path) -> None:
    """Compute and store the reference vectors of the sentence-transformers folder ``source``."""
    from importlib import metadata

    from sentence_transformers import SentenceTransformer

    from workbench.core.hashing import file_sha256
    from workbench.embed.convert import CHECK_TEXTS

    st = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    vecs = st.encode(CHECK_TEXTS, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    np.save(HERE / f"{name}.npy", vecs.astype(np.float32), allow_pickle=False)
    (HERE / f"{name}.json").write_text(json.dumps({
        "model": name,
        "weights_sha256": file_sha256(source / "model.safetensors"),
        "dimension": int(vecs.shape[1]),
        "max_seq_length": int(st.max_seq_length),
        "texts": list(CHECK_TEXTS),
        "computed_by": {d: metadata.version(d) for d in ("sentence-transformers", "torch", "transformers")},
        "device": "cpu",
    }, indent=2) + "\n", encoding="utf-8")

