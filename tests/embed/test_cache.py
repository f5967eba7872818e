"""The embedding cache: no re-encoding of unchanged texts, only changed texts embedded, consistent
after cancel and after a kill mid-write, memory-mapped, compacted."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.embed.conftest import sample_texts
from workbench.core import paths
from workbench.core.errors import Cancelled
from workbench.core.progress import CancelToken
from workbench.embed import EmbeddingCache, embed_texts, runner
from workbench.embed.cache import MAX_SHARDS, ModelStore, text_keys

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def texts():
    return sample_texts(40)


def test_second_run_makes_no_encoder_call(default_encoder, texts):
    distinct = len(set(texts))
    calls = default_encoder.calls
    v1, s1 = embed_texts(texts, default_encoder)
    assert (s1.encoded, s1.cached, s1.rows) == (distinct, 0, len(texts))
    assert default_encoder.calls > calls
    calls = default_encoder.calls
    v2, s2 = embed_texts(texts, default_encoder)
    assert default_encoder.calls == calls, "a second run over unchanged texts called the encoder"
    assert (s2.encoded, s2.cached) == (0, distinct)
    assert np.array_equal(v1, v2)
    assert list(paths.embedding_cache_dir().rglob("*.keys.npy"))


def test_partial_change_embeds_only_changed_texts(default_encoder, texts):
    v1, _ = embed_texts(texts, default_encoder)
    changed = list(texts)
    for i in range(0, 100, 10):  # edit 10 examples
        changed[i] = changed[i] + " (edited)"
    before = default_encoder.texts_encoded
    v2, s = embed_texts(changed, default_encoder)
    assert s.encoded == 10 and default_encoder.texts_encoded - before == 10
    same = [i for i in range(len(texts)) if changed[i] == texts[i]]
    assert np.array_equal(v2[same], v1[same])
    # adding 10 examples embeds 10 texts
    added = texts + [f"new production query number {i}: how do I close my account?" for i in range(10)]
    _, s3 = embed_texts(added, default_encoder)
    assert s3.encoded == 10


def test_duplicates_share_one_vector(default_encoder):
    rows = ["I lost my card", "where is my money?", "I lost my card", "I lost my card"]
    v, s = embed_texts(rows, default_encoder, cache=False)
    assert s.encoded == 2 and s.rows == 4
    assert np.array_equal(v[0], v[2]) and np.array_equal(v[0], v[3])
    assert not list(paths.embedding_cache_dir().rglob("*.npy"))  # cache=False writes nothing


def test_cancel_mid_run_leaves_a_consistent_cache(fp32_encoder, texts, monkeypatch):
    """fp32, whose vectors do not depend on batch-mates, so 'exactly' can be checked."""
    texts = texts[:80]
    monkeypatch.setattr(runner, "CHUNK", 16)  # several encoder calls, so some finish before the cancel
    token = CancelToken()

    def progress(done, total, phase):
        if phase.startswith("Embedding") and done >= 40:
            token.cancel()

    with pytest.raises(Cancelled):
        embed_texts(texts, fp32_encoder, progress=progress, cancel=token)
    store = EmbeddingCache().store(fp32_encoder.fingerprint, fp32_encoder.dim)
    kept = len(store)
    assert 32 <= kept < len(set(texts)) and kept % 16 == 0 and store.skipped == []
    # every kept vector is what the encoder gives for its text
    fresh, _ = embed_texts(texts, fp32_encoder, cache=False)
    out = np.zeros_like(fresh)
    hit = store.lookup(text_keys(texts), out)
    assert hit.sum() >= kept and np.allclose(out[hit], fresh[hit], atol=2e-5)
    _, s = embed_texts(texts, fp32_encoder)
    assert s.cached == len(set(np.array(texts)[hit])) and s.encoded == len(set(texts)) - s.cached


def test_out_array_is_filled(default_encoder, texts, tmp_path):
    texts = texts[::4]
    out = np.lib.format.open_memmap(tmp_path / "v.npy", mode="w+", dtype=np.float32, shape=(len(texts), 384))
    v, _ = embed_texts(texts, default_encoder, out=out)
    assert v is out
    ref, _ = embed_texts(texts, default_encoder)  # from the cache: exactly the vectors written
    assert np.allclose(np.load(tmp_path / "v.npy"), ref, atol=1e-6)


def _vecs_for(keys: np.ndarray, dim: int) -> np.ndarray:
    """Deterministic vectors derived from the keys, to check what a shard holds."""
    seeds = np.frombuffer(keys.tobytes(), dtype=np.uint32).reshape(len(keys), 4)[:, 0]
    return (seeds[:, None].astype(np.float64) * np.arange(1, dim + 1) % 997).astype(np.float32)


def test_invalid_and_orphan_shards_are_ignored(tmp_path):
    store = ModelStore(tmp_path / "m", 8)
    keys = text_keys([f"text {i}" for i in range(100)])
    store.add(keys[:50], _vecs_for(keys[:50], 8))
    # a shard whose vectors file was cut short (disk corruption) and an orphan vectors file
    store.add(keys[50:], _vecs_for(keys[50:], 8))
    newest = sorted((tmp_path / "m").glob("*.vecs.npy"))[-1]
    newest.write_bytes(newest.read_bytes()[:200])
    (tmp_path / "m" / "99999999999999999999-orphan00.vecs.npy").write_bytes(b"partial")
    (tmp_path / "m" / ".tmp-abc-x.vecs.npy").write_bytes(b"partial")
    again = ModelStore(tmp_path / "m", 8)
    assert len(again.skipped) == 1 and len(again) == 50
    out = np.zeros((100, 8), np.float32)
    hit = again.lookup(keys, out)
    assert hit[:50].all() and not hit[50:].any()
    assert np.array_equal(out[:50], _vecs_for(keys[:50], 8))
    assert isinstance(again._shards[next(iter(again._shards))].vecs, np.memmap)


def test_compaction_keeps_every_vector(tmp_path):
    store = ModelStore(tmp_path / "m", 16)
    keys = text_keys([f"q{i}" for i in range(2000)])
    for start in range(0, 2000, 100):  # 20 runs, 20 shards -> compacted
        store.add(keys[start : start + 100], _vecs_for(keys[start : start + 100], 16))
    assert store.shard_count <= MAX_SHARDS
    fresh = ModelStore(tmp_path / "m", 16)
    out = np.zeros((2000, 16), np.float32)
    assert fresh.lookup(keys, out).all() and np.array_equal(out, _vecs_for(keys, 16))
    assert len(fresh) == 2000 and fresh.skipped == []


KILL_SCRIPT = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
from workbench.embed.cache import ModelStore, text_keys
from tests.embed.test_cache import _vecs_for
store = ModelStore(__import__("pathlib").Path(sys.argv[1]), 384)
i = 0
print("ready", flush=True)
while True:
    keys = text_keys([f"t{i}-{j}" for j in range(20000)])
    store.add(keys, _vecs_for(keys, 384))
    i += 1
"""


def test_kill_while_writing_never_corrupts(tmp_path):
    folder = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(folder), str(ROOT)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = ModelStore(folder, 384)
    assert store.skipped == []
    for shard in store._shards.values():
        assert np.array_equal(np.asarray(shard.vecs), _vecs_for(shard.keys, 384))


def test_unusable_cache_folder_still_embeds(default_encoder, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    v, s = embed_texts(["card not working", "refund please"], default_encoder, cache=EmbeddingCache(blocker))
    assert v.shape == (2, 384) and s.encoded == 2
    assert s.warnings and "embedding cache unavailable" in s.warnings[0]
