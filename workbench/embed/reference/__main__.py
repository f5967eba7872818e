"""``python -m workbench.embed.reference``: regenerate the default model's reference vectors (needs torch)."""

from workbench.embed.model_registry import DEFAULT_MODEL, default_model_source
from workbench.embed.reference import HERE, generate

generate(DEFAULT_MODEL, default_model_source())
print(f"wrote {HERE / (DEFAULT_MODEL + '.npy')} and {HERE / (DEFAULT_MODEL + '.json')}")
