"""The ONNX encoder agrees with sentence-transformers on torch and behaves as a runner."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, shared_data
from tests.embed.conftest import reference, sample_texts
from workbench.core.errors import Cancelled, ModelError
from workbench.core.progress import CancelToken

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def texts():
    return sample_texts()


@pytest.fixture(scope="module")
def ref(st_model, texts):
    return reference(st_model, texts)


def _cos(a, b):
    return (a * b).sum(1)


def test_fp32_agrees_with_torch(fp32_encoder, texts, ref):
    v = fp32_encoder.encode(texts)
    assert v.dtype == np.float32 and v.shape == (len(texts), 384)
    cos = _cos(v, ref)
    assert cos.min() >= 0.999, f"worst fp32 text: {texts[int(cos.argmin())][:80]!r} cos={cos.min():.5f}"


def test_int8_agrees_with_torch(default_encoder, texts, ref):
    assert default_encoder.precision == "int8" and default_encoder.device == "cpu"
    cos = _cos(default_encoder.encode(texts), ref)
    assert cos.mean() >= 0.99
    assert cos.min() >= 0.94, f"worst int8 text: {texts[int(cos.argmin())][:80]!r} cos={cos.min():.4f}"


def test_agreement_on_shared_data(default_encoder, fp32_encoder, st_model):
    """Other real domains: CLINC150 assistant queries and Self-Instruct tasks (with inputs)."""
    texts = []
    with open(shared_data("clinc150", "clinc150_test.jsonl"), encoding="utf-8") as f:
        texts += [json.loads(line)["text"] for _, line in zip(range(40), f)]
    with open(shared_data("self_instruct", "self_instruct_user_oriented_alpaca.jsonl"), encoding="utf-8") as f:
        for _, line in zip(range(40), f):
            r = json.loads(line)
            texts.append((r["instruction"] + "\n" + r.get("input", "")).strip())
    ref = reference(st_model, texts)
    assert _cos(fp32_encoder.encode(texts), ref).min() >= 0.999
    cos8 = _cos(default_encoder.encode(texts), ref)
    assert cos8.mean() >= 0.99 and cos8.min() >= 0.94


def test_vectors_are_unit_length_and_in_input_order(default_encoder, fp32_encoder, texts):
    few = texts[::4]
    perm = np.random.default_rng(0).permutation(len(few))
    v = fp32_encoder.encode(few)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert np.allclose(fp32_encoder.encode([few[i] for i in perm]), v[perm], atol=2e-5)
    # int8 quantises activations per batch, so a vector depends slightly on its batch-mates
    # (documented); it must still be the same text's vector, in the same place.
    v8 = default_encoder.encode(few)
    cos = _cos(default_encoder.encode([few[i] for i in perm]), v8[perm])
    assert cos.mean() >= 0.99 and cos.min() >= 0.94


def test_batch_size_does_not_change_vectors(fp32_encoder, texts):
    few = texts[:40]
    a = fp32_encoder.encode(few, batch_size=1)
    b = fp32_encoder.encode(few, batch_size=32)
    assert np.allclose(a, b, atol=2e-5)


def test_max_seq_length_truncates_like_sentence_transformers(fp32_encoder, st_model):
    long = " ".join(["The committee reviewed the quarterly report and asked for details."] * 40)
    v = fp32_encoder.encode([long, long + " Completely different ending about volcanoes."])
    assert fp32_encoder.manifest.max_seq_length == 256
    assert np.allclose(v[0], v[1], atol=1e-6)  # the extra words fall beyond 256 tokens
    assert _cos(v[:1], reference(st_model, [long]))[0] >= 0.999


def test_progress_and_cancel_between_batches(default_encoder, texts):
    seen = []
    default_encoder.encode(texts[:100], batch_size=10, progress=lambda d, t, p: seen.append((d, t)))
    assert seen[-1] == (100, 100) and [d for d, _ in seen] == sorted(d for d, _ in seen)

    token = CancelToken()
    late = []

    def progress(done, total, phase):
        if token.cancelled:
            late.append(done)  # a batch ran after the cancel
        if done >= 30:
            token.cancel()

    with pytest.raises(Cancelled):
        default_encoder.encode(texts[:100], batch_size=10, progress=progress, cancel=token)
    assert token.cancelled and late == []


def test_batches_bound_rows_and_padded_tokens():
    from workbench.embed.encoder import TOKENS_PER_ROW, _batches

    lengths = np.array([5] * 50 + [100] * 20 + [256] * 7)
    sub = np.arange(len(lengths))
    batches = list(_batches(sub, lengths, 32))
    assert np.array_equal(np.concatenate(batches), sub)
    for rows in batches:
        assert len(rows) <= 32
        assert len(rows) == 1 or len(rows) * lengths[rows].max() <= 32 * TOKENS_PER_ROW
    assert len(batches[0]) == 32  # short texts keep full batches


def test_edge_inputs(default_encoder):
    assert default_encoder.encode([]).shape == (0, 384)
    v = default_encoder.encode(["", "   ", "🙂", "a" * 5000])
    assert np.isfinite(v).all() and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    with pytest.raises(TypeError):
        default_encoder.encode(["ok", None])


def test_sessions_are_shared(default_encoder):
    from workbench.embed import Encoder

    again = Encoder(default_encoder.manifest, "int8", "cpu")
    assert again._session is default_encoder._session
    assert again.fingerprint == default_encoder.fingerprint
    fp32 = Encoder(default_encoder.manifest, "fp32", "cpu")
    assert fp32.fingerprint != default_encoder.fingerprint  # different vectors, different cache


def test_unknown_model_and_precision(default_encoder):
    from workbench.embed import get_encoder

    with pytest.raises(ModelError, match="unknown model"):
        get_encoder("no-such-model")
    with pytest.raises(ModelError, match="unknown precision"):
        get_encoder(precision="int4")


def test_fp16_variant_built_on_demand_agrees(default_encoder, fp32_encoder, texts):
    """The GPU precision, built from fp32 without torch; checked here on the CPU."""
    from workbench.embed import Encoder
    from workbench.embed.convert import build_fp16

    manifest = default_encoder.manifest
    if not manifest.has("fp16"):
        manifest = build_fp16(manifest)
    assert manifest.has("fp16") and manifest.data["validation"]["fp16"]["min_cos"] >= 0.999
    enc = Encoder(manifest, "fp16", "cpu")
    few = texts[::18]
    assert _cos(enc.encode(few), fp32_encoder.encode(few)).min() >= 0.999


def test_encoding_imports_no_torch(default_encoder):
    """Run time is ONNX Runtime + tokenizers only."""
    code = (
        "import sys; from workbench.embed import get_encoder, embed_texts; "
        "enc = get_encoder(device='cpu'); v, s = embed_texts(['hello world', 'another text'], enc, cache=False); "
        "bad = [m for m in ('torch', 'transformers', 'optimum', 'sentence_transformers') if m in sys.modules]; "
        "assert not bad, bad; print(enc.device, v.shape)"
    )
    env = {**__import__("os").environ, "WORKBENCH_HOME": str(default_encoder.manifest.dir.parent.parent)}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "cpu (2, 384)" in res.stdout
