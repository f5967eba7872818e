"""Embedding: ONNX Runtime encoder, model registry and conversion, vector cache.

Public API::

    from workbench.embed import get_encoder, embed_texts
    enc = get_encoder()                      # default all-MiniLM-L6-v2, device auto, precision auto
    vectors, stats = embed_texts(texts, enc)  # cached on disk; stats.encoded / stats.cached

Nothing here imports torch: only :mod:`workbench.embed.convert` does, inside its functions, the
one time a model is converted.
"""

import os

# No network at run time: onnxruntime's native telemetry reads this when it starts, so it is set
# before anything below can import onnxruntime (see workbench.embed.providers).
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

from workbench.embed.cache import EmbeddingCache  # noqa: E402
from workbench.embed.encoder import Encoder, get_encoder  # noqa: E402
from workbench.embed.model_registry import DEFAULT_MODEL, Manifest, add_model, list_models, remove_model  # noqa: E402
from workbench.embed.providers import cuda_status, resolve_device  # noqa: E402
from workbench.embed.runner import EmbedStats, embed_texts  # noqa: E402

__all__ = [
    "DEFAULT_MODEL",
    "EmbedStats",
    "EmbeddingCache",
    "Encoder",
    "Manifest",
    "add_model",
    "cuda_status",
    "embed_texts",
    "get_encoder",
    "list_models",
    "remove_model",
    "resolve_device",
]
