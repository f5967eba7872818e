"""Coverage against production on CLINC150: train = 16 of 20 intents, production = the test
queries of all 20 plus out-of-scope queries. The removed intents and out-of-scope must be the
top gaps. Real vectors from the default encoder; clusters from the real HDBSCAN step."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tests.analysis.findings_data import clinc_split, embed
from workbench.analysis.coverage import coverage, nearest_in_base
from workbench.analysis.graph import build_graph


@pytest.fixture(scope="module")
def clinc(tmp_path_factory):
    from sklearn.decomposition import PCA

    from workbench.analysis.clusters import find_clusters

    texts, roles, labels, removed = clinc_split()
    vecs = embed(tmp_path_factory, texts)
    graph = build_graph(vecs, 15)
    coords = PCA(10, random_state=0).fit_transform(vecs)
    cluster = find_clusters(coords, graph).labels
    uncovered = np.array([lab in removed or lab == "oos" for lab in labels])
    return texts, roles, labels, removed, vecs, graph, np.asarray(cluster), uncovered


def test_nearest_train_similarity_separates_uncovered_inputs(clinc):
    from sklearn.metrics import roc_auc_score

    texts, roles, labels, removed, vecs, graph, cluster, uncovered = clinc
    cov = coverage(vecs, roles, cluster, graph, prompts=texts)
    prod = roles == "production"
    assert np.isnan(cov.nearest_train_sim[roles == "train"]).all()
    assert roc_auc_score(uncovered[prod], -cov.nearest_train_sim[prod]) > 0.95
    gap = cov.is_gap
    assert (uncovered & gap).sum() / gap.sum() > 0.8  # gap inputs are mostly truly uncovered
    assert (uncovered & gap).sum() / (uncovered & prod).sum() > 0.8  # and find most of them


def test_removed_intents_and_out_of_scope_are_the_top_gaps(clinc):
    texts, roles, labels, removed, vecs, graph, cluster, uncovered = clinc
    cov = coverage(vecs, roles, cluster, graph, prompts=texts)
    top = cov.gaps[:len(removed) + 2]
    rows = np.concatenate([g["rows"] for g in top])
    assert uncovered[rows].mean() > 0.85
    in_top = np.zeros(len(texts), bool)
    in_top[np.concatenate([g["rows"] for g in cov.gaps[:2 * len(removed) + 2]])] = True
    for lab in removed + ["oos"]:
        mine = (labels == lab) & (roles == "production")
        assert in_top[mine].mean() > 0.6, lab
    counts = [g["n_affected"] for g in cov.gaps]
    assert counts == sorted(counts, reverse=True)
    for g in cov.gaps:
        assert g["examples"] and all(texts[e["example"]] == e["text"] for e in g["examples"])
        assert g["suggested_add"] >= min(g["n_affected"], 10)
        assert g["reason"]
    json.dumps(cov.summary())


def test_suggested_additions_follow_the_production_share(clinc):
    texts, roles, labels, removed, vecs, graph, cluster, uncovered = clinc
    cov = coverage(vecs, roles, cluster, graph, prompts=texts)
    n_train = int((roles == "train").sum())
    for g in cov.gaps:
        want = math.ceil(g["production_share"] * n_train) - g["n_train"]
        assert g["suggested_add"] == max(want, min(g["n_affected"], 10), 0)


def test_training_clusters_production_never_reaches(clinc):
    texts, roles, labels, removed, vecs, graph, cluster, uncovered = clinc
    sizes = np.bincount(cluster[(roles == "train") & (cluster >= 0)])
    target = int(np.argmax(sizes))
    keep = ~((roles == "production") & (cluster == target))
    cov = coverage(vecs[keep], roles[keep], cluster[keep], None, prompts=[t for t, k in zip(texts, keep) if k])
    assert target in [u["cluster"] for u in cov.unreached]
    assert cov.unreached[0]["n_train"] == max(u["n_train"] for u in cov.unreached)


def test_nearest_train_is_exact(clinc):
    texts, roles, labels, removed, vecs, graph, cluster, uncovered = clinc
    train = roles == "train"
    query = np.nonzero(~train)[0]
    brute = (vecs[query] @ vecs[train].T).max(axis=1)
    sim, idx, exact = nearest_in_base(vecs, query, train, graph)
    assert exact.all() and np.allclose(sim, brute, atol=1e-5)
    assert train[idx].all()
    # over budget: the graph walk gives real train rows and a lower bound close to the truth
    sim2, idx2, exact2 = nearest_in_base(vecs, query, train, graph, exact_budget=0)
    walked = ~exact2
    assert walked.any() and train[idx2].all()
    assert (sim2 <= brute + 1e-5).all()
    assert np.mean(brute[walked] - sim2[walked]) < 0.05
