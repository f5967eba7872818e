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


def test_gap_score_separates_missing_intents_better_than_nearest_train_similarity(clinc):
    from sklearn.metrics import roc_auc_score

    texts, roles, labels, removed, vecs, graph, cluster, uncovered = clinc
    cov = coverage(vecs, roles, cluster, graph, prompts=texts)
    prod = roles == "production"
    assert np.isnan(cov.gap_score[~prod]).all() and np.isfinite(cov.gap_score[prod]).all()
    missing = np.isin(labels, removed) & prod
    sel = missing | (prod & ~uncovered)
    by_score = roc_auc_score(missing[sel], cov.gap_score[sel])
    by_sim = roc_auc_score(missing[sel], -cov.nearest_train_sim[sel])
    assert by_score > 0.97 and by_score > by_sim
    assert roc_auc_score(uncovered[prod], cov.gap_score[prod]) > 0.95
    # a removed intent's inputs sit among themselves: their walk stays on production
    assert np.median(cov.stay[missing]) > 3 * np.median(cov.stay[prod & ~uncovered])


def test_each_removed_intent_is_its_own_labelled_gap_at_the_top(clinc):
    texts, roles, labels, removed, vecs, graph, cluster, uncovered = clinc
    cov = coverage(vecs, roles, cluster, graph, prompts=texts)
    named = {}
    for g in cov.gaps[:len(removed) + 2]:
        lab, count = np.unique(labels[g["rows"]].astype(str), return_counts=True)
        if count.max() >= 0.8 * len(g["rows"]):
            named.setdefault(lab[count.argmax()], g)
    assert set(removed) <= set(named)
    for lab in removed:
        g = named[lab]
        assert g["kind"] == "not covered" and g["label"] and g["label"] in g["reason"]
        mine = (labels == lab) & (roles == "production")
        assert cov.is_gap[mine].mean() > 0.9
        assert len(np.intersect1d(g["rows"], np.flatnonzero(mine))) >= 0.3 * mine.sum()
    # out-of-scope inputs are gap inputs too, grouped among themselves or scattered
    oos = (labels == "oos") & (roles == "production")
    assert cov.is_gap[oos].mean() > 0.8
    assert (cov.gap_group[oos] >= 0).mean() > 0.8
    # ranking: by weight, the scattered bucket last; every gap explains itself with examples
    weights = [g["weight"] for g in cov.gaps if g["kind"] != "scattered inputs"]
    assert weights == sorted(weights, reverse=True)
    assert all(g["kind"] != "scattered inputs" for g in cov.gaps[:-1])
    for g in cov.gaps:
        assert g["examples"] and all(texts[e["example"]] == e["text"] for e in g["examples"])
        assert g["suggested_add"] >= min(g["n_affected"], 10)
        assert g["reason"]
    gap_rows = np.concatenate([g["rows"] for g in cov.gaps if g["kind"] != "under-represented"])
    assert set(gap_rows.tolist()) == set(np.flatnonzero(cov.is_gap).tolist())
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


def test_many_gap_inputs_cluster_a_core_and_join_the_rest(clinc):
    from workbench.analysis.coverage import cluster_gap_inputs

    texts, roles, labels, removed, vecs, graph, cluster, uncovered = clinc
    cov = coverage(vecs, roles, cluster, graph, prompts=texts)
    rows = np.flatnonzero(cov.is_gap)
    full = cluster_gap_inputs(vecs, rows, cov.gap_score, 0.4)
    part = cluster_gap_inputs(vecs, rows, cov.gap_score, 0.4, max_clustered=len(rows) // 3)
    assert (full >= 0).all() and (part >= 0).mean() > 0.4  # isolated out-of-scope inputs join none
    for lab in removed:  # each removed intent still lands mostly in one group of its own
        g = part[labels[rows] == lab]
        g = g[g >= 0]
        top = np.bincount(g).argmax()
        assert (g == top).mean() > 0.5 and (labels[rows][part == top] == lab).mean() > 0.8, lab
