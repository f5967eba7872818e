"""``embed --engine ray``: Ray Data actors give the local engine's vectors, into the shared cache."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SAMPLE
from tests.embed.conftest import sample_texts
from workbench.embed import EmbeddingCache, embed_texts

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'curation-workbench[cluster]'")
ray_engine = pytest.importorskip("workbench.embed.ray_engine")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    ray_engine._ray()  # the engine's own settings (usage statistics off) before the instance starts
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_ray_vectors_equal_the_local_engine(local_ray, fp32_encoder, tmp_path):
    texts = sample_texts(40)
    texts = texts + texts[:15]  # duplicates share one vector
    cache = EmbeddingCache(tmp_path / "cache")
    stats = ray_engine.embed_on_ray(texts, fp32_encoder, cache=cache, workers=1)
    distinct = len(set(texts))
    assert (stats.encoded, stats.cached, stats.rows) == (distinct, 0, len(texts))
    assert stats.device.startswith("ray: cpu")

    calls = fp32_encoder.calls
    from_cache, st = embed_texts(texts, fp32_encoder, cache=cache)
    assert (st.encoded, st.cached) == (0, distinct) and fp32_encoder.calls == calls

    local = fp32_encoder.encode(texts)
    cos = (from_cache * local).sum(1)
    assert cos.min() >= 0.9999, f"worst: {texts[int(cos.argmin())][:80]!r} cos={cos.min():.6f}"

    again = ray_engine.embed_on_ray(texts, fp32_encoder, cache=cache, workers=1)
    assert (again.encoded, again.cached) == (0, distinct)  # nothing sent to the cluster


def test_embed_project_on_ray_then_analyze_encodes_nothing(local_ray, tmp_path, capsys, monkeypatch):
    from workbench.cli.main import main
    from workbench.embed.encoder import Encoder

    proj = tmp_path / "ray.wbproj"
    assert main(["new", str(proj)]) == 0
    assert main(["add", str(proj), str(SAMPLE / "train_dolly_alpaca.jsonl"), "--role", "train"]) == 0
    assert main(["add", str(proj), str(SAMPLE / "production_banking.jsonl"), "--role", "production"]) == 0
    capsys.readouterr()

    assert main(["embed", str(proj), "--engine", "ray", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    ray_line = next(line for line in out.splitlines() if line.startswith("ray:"))
    assert "texts encoded on ray: cpu" in ray_line and "0 already cached" in ray_line
    assert "texts:     0 encoded" in out  # the local read that follows finds everything cached

    encoded = []
    real_encode = Encoder.encode

    def counting_encode(self, texts, **kw):  # the real encoder, counted
        encoded.append(len(texts))
        return real_encode(self, texts, **kw)

    monkeypatch.setattr(Encoder, "encode", counting_encode)
    assert main(["analyze", str(proj)]) == 0
    out = capsys.readouterr().out
    assert encoded == [], f"analyze encoded {sum(encoded)} texts after the Ray run"
    assert "0 texts embedded" in out


def test_ray_missing_or_bad_arguments_are_one_line(tmp_path, capsys):
    from workbench.cli.main import main

    code = main(["embed", str(SAMPLE / "production_banking.jsonl"), "--engine", "ray", "--no-cache"])
    assert code != 0 and "--no-cache" in capsys.readouterr().err
    code = main(["embed", str(SAMPLE / "production_banking.jsonl"), "--engine", "ray", "--workers", "0"])
    assert code != 0 and "--workers" in capsys.readouterr().err
    assert np.isfinite(ray_engine.FLUSH_ROWS)
