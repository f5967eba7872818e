"""Review queue on CLINC150 (train = 16 of 20 intents; production = test queries of all 20 +
out-of-scope): the queue leads with uncovered inputs and its top 50 spread over different
questions instead of repeating one. Real vectors from the default encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.analysis.findings_data import clinc_split, embed
from workbench.analysis.coverage import nearest_in_base
from workbench.analysis.graph import build_graph
from workbench.analysis.review_queue import review_queue


@pytest.fixture(scope="module")
def clinc(tmp_path_factory):
    texts, roles, labels, removed = clinc_split()
    vecs = embed(tmp_path_factory, texts)
    graph = build_graph(vecs, 15)
    train = roles == "train"
    nts = np.full(len(texts), np.nan, np.float32)
    q = np.nonzero(~train)[0]
    nts[q] = nearest_in_base(vecs, q, train, graph)[0]
    uncovered = np.array([lab in removed or lab == "oos" for lab in labels])
    return texts, roles, labels, vecs, graph, nts, uncovered


def _pairwise(vecs, rows):
    s = vecs[rows] @ vecs[rows].T
    return s[np.triu_indices(len(rows), 1)]


def test_queue_leads_with_uncovered_inputs(clinc):
    texts, roles, labels, vecs, graph, nts, uncovered = clinc
    q = review_queue(vecs, roles, nts, graph, size=50)
    assert len(q.rows) == 50 and (roles[q.rows] == "production").all()
    assert uncovered[q.rows].mean() >= 0.8
    assert np.isnan(q.priority[roles == "train"]).all()
    assert (q.queue_rank[q.rows] == np.arange(50)).all() and (q.queue_rank >= 0).sum() == 50
    json.dumps(q.summary())


def test_queue_with_the_coverage_gap_score(clinc):
    from workbench.analysis.coverage import coverage

    texts, roles, labels, vecs, graph, nts, uncovered = clinc
    cov = coverage(vecs, roles, np.full(len(texts), -1), graph, prompts=texts)
    q = review_queue(vecs, roles, cov.nearest_train_sim, graph, gap_score=cov.gap_score, size=50)
    prod = roles == "production"
    assert np.allclose(q.gap[prod], cov.gap_score[prod]) and np.isnan(q.gap[~prod]).all()
    assert uncovered[q.rows].mean() >= 0.9
    assert len(set(labels[q.rows])) >= 5
    assert all("gap score" in it["reason"] for it in q.items)


def test_top_50_are_diverse_not_variants_of_one_question(clinc):
    texts, roles, labels, vecs, graph, nts, uncovered = clinc
    diverse = review_queue(vecs, roles, nts, graph, size=50)
    greedy = review_queue(vecs, roles, nts, graph, size=50, lam=1.0)  # priority only, no MMR
    d_pairs, g_pairs = _pairwise(vecs, diverse.rows), _pairwise(vecs, greedy.rows)
    assert d_pairs.mean() < g_pairs.mean()
    assert (d_pairs >= 0.8).sum() < (g_pairs >= 0.8).sum()
    assert d_pairs.max() < 0.9  # no two queue items are near-copies
    assert len(set(labels[diverse.rows])) >= len(set(labels[greedy.rows]))
    assert len(set(labels[diverse.rows])) >= 5
    # every item explains itself
    assert all("nearest training prompt" in it["reason"] for it in diverse.items)


def test_exact_repeats_in_production_are_queued_once(clinc):
    texts, roles, labels, vecs, graph, nts, uncovered = clinc
    top = review_queue(vecs, roles, nts, graph, size=10)
    first = int(top.rows[0])
    # the most urgent input arrives 20 more times in the production log
    vecs2 = np.concatenate([vecs, np.repeat(vecs[first:first + 1], 20, axis=0)])
    roles2 = np.concatenate([roles, np.array(["production"] * 20, dtype=object)])
    nts2 = np.concatenate([nts, np.repeat(nts[first], 20)])
    g2 = build_graph(vecs2, 15)
    q = review_queue(vecs2, roles2, nts2, g2, size=20)
    copies = {first, *range(len(vecs), len(vecs2))}
    assert sum(int(r) in copies for r in q.rows) == 1
