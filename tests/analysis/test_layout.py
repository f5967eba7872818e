"""Map layout: reproducible with a seed, neighbours stay neighbours, and the sample + place path
(used above ``fit_limit`` rows) puts every other row beside its nearest sampled neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from tests.analysis.realdata import sample_input
from workbench.analysis.graph import build_graph
from workbench.analysis.layout import umap_knn, umap_layout


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    inp = sample_input(tmp_path_factory)
    vecs = inp.prompt_vecs
    return vecs, build_graph(vecs, 15)


def _neighbour_ratio(coords: np.ndarray, graph, rows: np.ndarray, rng) -> float:
    """Mean 2-D distance to the 5 nearest high-dimensional neighbours / to random rows."""
    near = np.linalg.norm(coords[rows, None, :] - coords[graph.indices[rows, :5]], axis=2).mean()
    rand = np.linalg.norm(coords[rows] - coords[rng.integers(0, len(coords), len(rows))], axis=1).mean()
    return float(near / rand)


def test_umap_knn_has_self_first_and_cosine_distances(data):
    vecs, graph = data
    idx, dist = umap_knn(graph, 10)
    assert idx.shape == (len(vecs), 10)
    assert (idx[:, 0] == np.arange(len(vecs))).all() and (dist[:, 0] == 0).all()
    np.testing.assert_allclose(dist[:, 1:], 1 - graph.sims[:, :9], atol=1e-6)


def test_layout_is_reproducible_and_keeps_neighbours_close(data):
    vecs, graph = data
    a = umap_layout(vecs, graph, seed=7)
    b = umap_layout(vecs, graph, seed=7)
    assert a.shape == (len(vecs), 2) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b)
    rng = np.random.default_rng(0)
    assert _neighbour_ratio(a, graph, np.arange(len(vecs)), rng) < 0.25


def test_sample_and_place_for_large_inputs(data):
    vecs, graph = data
    coords = umap_layout(vecs, graph, seed=1, fit_limit=600)
    assert coords.shape == (len(vecs), 2) and np.isfinite(coords).all()
    again = umap_layout(vecs, graph, seed=1, fit_limit=600)
    assert np.array_equal(coords, again)
    # rows placed after the fit sit next to their high-dimensional neighbours, like fitted ones
    rng = np.random.default_rng(0)
    sample = np.sort(np.random.default_rng(1).choice(len(vecs), 600, replace=False))
    placed = np.setdiff1d(np.arange(len(vecs)), sample)
    assert _neighbour_ratio(coords, graph, placed, rng) < 0.3


@pytest.mark.parametrize("n", [1, 2, 4, 6])
def test_tiny_inputs(data, n):
    vecs, _ = data
    sub = vecs[:n]
    coords = umap_layout(sub, build_graph(sub, 15), seed=0)
    assert coords.shape == (n, 2) and np.isfinite(coords).all()
