"""The default model is built without torch: ONNX graph from the shipped safetensors weights."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT
from workbench.core.errors import ModelError
from workbench.embed import bert_onnx, model_registry, reference
from workbench.embed.convert import CHECK_TEXTS, convert_folder

pytestmark = pytest.mark.slow

BLOCKED = ("torch", "transformers", "optimum", "sentence_transformers")


def test_default_model_builds_and_embeds_with_torch_unimportable(tmp_path):
    """A plain install has no torch: building and using the default model must not need it."""
    code = (
        "import sys, json\n"
        f"for m in {BLOCKED!r}: sys.modules[m] = None  # import raises ImportError\n"
        "from workbench.embed import get_encoder, embed_texts\n"
        "enc = get_encoder(device='cpu', precision='int8')\n"
        "v, stats = embed_texts(['How do I reset my card PIN?', 'Write a haiku about autumn.'], enc)\n"
        "print(json.dumps({'validation': enc.manifest.data['validation'],\n"
        "                  'converter': enc.manifest.data['converter'], 'encoded': stats.encoded,\n"
        "                  'shape': list(v.shape)}))\n"
    )
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["converter"]["builder"].startswith("onnx graph from safetensors")
    assert not set(info["converter"]) & {"torch", "optimum", "sentence-transformers"}
    assert info["validation"]["reference"].startswith("stored vectors of sentence-transformers")
    assert info["validation"]["fp32"]["min_cos"] >= 0.999
    assert info["validation"]["int8"]["mean_cos"] >= 0.98
    assert info["encoded"] == 2 and info["shape"] == [2, 384]


def test_stored_reference_vectors_are_what_sentence_transformers_gives(st_model):
    """The stored vectors the torch-free build is checked against are real torch output."""
    meta, stored = reference.load(model_registry.DEFAULT_MODEL)
    assert meta["texts"] == list(CHECK_TEXTS)
    fresh = st_model.encode(meta["texts"], batch_size=16, normalize_embeddings=True, convert_to_numpy=True)
    assert (fresh.astype(np.float32) * stored).sum(1).min() >= 0.99999


def test_weights_other_than_the_referenced_ones_are_refused(tmp_path, empty_models):
    src = model_registry.default_model_source()
    copy = tmp_path / "minilm"
    shutil.copytree(src, copy)
    with open(copy / "model.safetensors", "r+b") as f:  # change one weight byte near the end
        f.seek(-10, os.SEEK_END)
        b = f.read(1)
        f.seek(-10, os.SEEK_END)
        f.write(bytes([b[0] ^ 0x01]))
    with pytest.raises(ModelError, match="not the ones the reference vectors"):
        convert_folder(copy, model_registry.DEFAULT_MODEL, {"kind": "folder"}, builder="weights")
    assert model_registry.list_models() == [] and not any(empty_models.iterdir())


@pytest.fixture
def empty_models(workbench_home):
    link = workbench_home / "models"
    link.unlink()
    link.mkdir()
    return link


def test_unsupported_architectures_are_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "xlm-roberta", "hidden_act": "gelu"}))
    assert "xlm-roberta" in bert_onnx.supported(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "bert", "hidden_act": "gelu_new", "hidden_size": 384, "num_attention_heads": 12}))
    assert "gelu_new" in bert_onnx.supported(tmp_path)
    with pytest.raises(ModelError, match="cannot be built without torch"):
        bert_onnx.build_bert(tmp_path)
    assert bert_onnx.supported(model_registry.default_model_source()) == ""


def test_add_without_the_convert_extra_says_what_to_install(tmp_path):
    """`models --add` is the one feature that needs torch: without it, one line naming the extra."""
    code = (
        "import sys\n"
        f"for m in {BLOCKED!r}: sys.modules[m] = None\n"
        "from workbench.cli.main import main\n"
        "from workbench.embed.model_registry import default_model_source\n"
        "sys.exit(main(['models', '--add', str(default_model_source()), '--name', 'copy']))\n"
    )
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "curation-workbench[convert]" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "models" / "copy").exists()


def test_torch_free_model_agrees_with_sentence_transformers_on_real_texts(default_encoder, fp32_encoder, st_model):
    """Skipped without torch: the model a plain install builds is the original model."""
    from tests.embed.conftest import reference, sample_texts

    assert fp32_encoder.manifest.data["converter"]["builder"].startswith("onnx graph from safetensors")
    texts = sample_texts(80)  # Dolly prompts and responses, Banking77 queries
    ref = reference(st_model, texts)
    assert (fp32_encoder.encode(texts) * ref).sum(1).min() >= 0.999
    cos8 = (default_encoder.encode(texts) * ref).sum(1)
    assert cos8.mean() >= 0.99 and cos8.min() >= 0.94
