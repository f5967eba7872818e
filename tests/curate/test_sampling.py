"""diverse_order: medoid first, farthest-point after, duplicates last, stratified fill on large sets."""

from __future__ import annotations

import numpy as np

from tests.conftest import SAMPLE
from tests.curate.helpers import read_jsonl, text_vectors
from workbench.curate.sampling import diverse_order


def _dolly():
    rows = read_jsonl(SAMPLE / "train_dolly_alpaca.jsonl")
    texts = [r["instruction"] for r in rows]
    return texts, text_vectors(texts)


def test_medoid_comes_first():
    texts, v = _dolly()
    order = diverse_order(v, 5)
    mean_sim = (v @ v.T).mean(axis=1)
    assert order[0] == int(np.argmax(mean_sim))


def test_exact_duplicates_come_after_every_distinct_text():
    texts, v = _dolly()
    distinct = len(set(texts))
    order = diverse_order(v, distinct)
    kept = [texts[i] for i in order]
    assert len(set(kept)) == distinct  # every distinct instruction once, no repeat among them


def test_order_is_a_deterministic_permutation():
    texts, v = _dolly()
    a = diverse_order(v)
    assert sorted(a.tolist()) == list(range(len(texts)))
    assert np.array_equal(a, diverse_order(v))


def _coverage_radius(v: np.ndarray, chosen: np.ndarray) -> float:
    """Largest distance from any example to its nearest chosen one (smaller = better coverage)."""
    d = 2.0 - 2.0 * (v @ v[chosen].T)
    return float(d.min(axis=1).max())


def test_covers_the_set_better_than_a_cut_in_file_order():
    texts, v = _dolly()
    k = 60
    diverse = diverse_order(v, k)
    assert _coverage_radius(v, diverse) < _coverage_radius(v, np.arange(k))


def test_stratified_fill_past_the_anchors_keeps_cluster_proportions():
    # two real topics of very different size; few exact picks, so most come from the fill phase
    rows = read_jsonl(SAMPLE / "train_banking_chat.jsonl")
    big = [r["messages"][1]["content"] for r in rows if r["messages"][2]["content"] != "card_arrival"]
    small = [r["messages"][1]["content"] for r in rows if r["messages"][2]["content"] == "card_arrival"]
    texts = big + small
    v = text_vectors(texts)
    k = len(texts) // 2
    order = diverse_order(v, k, max_anchors=16)
    assert len(order) == k and len(set(order.tolist())) == k
    share_small = np.mean(order >= len(big))
    population = len(small) / len(texts)
    assert abs(share_small - population) < 0.05
