"""Neighbour graph: exact search matches brute force; the IVF approximation finds nearly all true
neighbours on real sentence vectors; edge cases keep their documented padding."""

from __future__ import annotations

import numpy as np
import pytest

from tests.analysis.realdata import sample_input
from workbench.analysis.graph import NeighbourGraph, build_graph, ivf_search, knn


@pytest.fixture(scope="module")
def vecs(tmp_path_factory) -> np.ndarray:
    return sample_input(tmp_path_factory).prompt_vecs


def _brute(vecs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    sim = vecs @ vecs.T
    np.fill_diagonal(sim, -np.inf)
    order = np.lexsort((np.tile(np.arange(len(vecs)), (len(vecs), 1)), -sim), axis=1)[:, :k]
    return order, np.take_along_axis(sim, order, axis=1)


def test_exact_graph_matches_brute_force(vecs):
    g = build_graph(vecs, 15)
    assert isinstance(g, NeighbourGraph) and g.exact and g.k == 15 and len(g) == len(vecs)
    idx, sims = _brute(vecs, 15)
    # similarities agree everywhere (indices may differ only between exactly tied rows)
    np.testing.assert_allclose(g.sims, sims, atol=1e-5)
    same = (g.indices == idx) | np.isclose(g.sims, sims, atol=1e-6)
    assert same.all()
    assert not (g.indices == np.arange(len(vecs))[:, None]).any(), "a row lists itself"
    assert (np.diff(g.sims, axis=1) <= 1e-6).all(), "neighbours not sorted by similarity"


def test_ivf_finds_nearly_all_true_neighbours(vecs):
    exact = build_graph(vecs, 15)
    approx = build_graph(vecs, 15, exact_limit=0, seed=3)
    assert not approx.exact
    recall = np.mean([len(set(a) & set(e)) / 15 for a, e in zip(approx.indices, exact.indices)])
    assert recall >= 0.95, recall
    # every near-duplicate pair (cosine >= 0.93) of the exact graph is in the approximate one
    rows, cols = np.nonzero(exact.sims >= 0.93)
    found = np.mean([exact.indices[r, c] in approx.indices[r] for r, c in zip(rows, cols)])
    assert len(rows) > 50 and found >= 0.99, (len(rows), found)
    # deterministic for a seed
    again = build_graph(vecs, 15, exact_limit=0, seed=3)
    assert np.array_equal(again.indices, approx.indices)


def test_ivf_search_of_other_rows(vecs):
    query, base = vecs[:300], vecs[300:]
    e_idx, e_sims = knn(query, base, 10)
    a_idx, a_sims = ivf_search(query, base, 10, n_probe=8)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(a_idx, e_idx)])
    assert recall >= 0.9, recall
    np.testing.assert_allclose(a_sims[:, 0][a_idx[:, 0] == e_idx[:, 0]],
                               e_sims[:, 0][a_idx[:, 0] == e_idx[:, 0]], atol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_tiny_inputs_are_padded(vecs, n):
    g = build_graph(vecs[:n], 5)
    assert g.indices.shape == (n, 5)
    if n:
        assert (g.indices[:, n - 1:] == -1).all() and np.isneginf(g.sims[:, n - 1:]).all()
        assert (g.indices[:, : n - 1] >= 0).all()
