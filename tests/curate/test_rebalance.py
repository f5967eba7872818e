"""Rebalance planner on real data: targets, capping by diversity, raising by repeats, data needs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SAMPLE, shared_data
from tests.curate.helpers import read_jsonl, text_vectors
from workbench.core.errors import WorkbenchError
from workbench.curate.rebalance import (
    custom_shares,
    plan_rebalance,
    production_shares,
    total_variation,
    uniform_shares,
)


def _apply(plan, cluster, rows, weight=None):
    """Effective counts per cluster after applying ``plan`` to the arrays (independent of the plan's own after)."""
    weight = np.ones(len(cluster)) if weight is None else weight.astype(float).copy()
    active = np.zeros(len(cluster), dtype=bool)
    active[rows] = True
    for r in plan.reject_rows.values():
        active[r] = False
    for w, r in plan.weight_rows.items():
        weight[r] = w
    out: dict[int, float] = {}
    for c, w in zip(cluster[active], weight[active]):
        out[int(c)] = out.get(int(c), 0.0) + float(w)
    return out


def test_rebalance_to_production_shares_moves_banking77_toward_production():
    """Banking77 train (natural imbalance 35..187 per intent) against its test split as the
    production log (40 per intent). Intents stand in for clusters here; the export tests use the
    analysis clusters."""
    train = read_jsonl(shared_data("banking77", "banking77_train.jsonl"))
    prod = read_jsonl(shared_data("banking77", "banking77_test.jsonl"))
    names = sorted({r["label"] for r in train} | {r["label"] for r in prod})
    ids = {n: i for i, n in enumerate(names)}
    cluster = np.array([ids[r["label"]] for r in train])
    shares = production_shares(np.array([ids[r["label"]] for r in prod]))
    rows = np.arange(len(train))
    plan = plan_rebalance(cluster, rows, shares, mode="production")
    before = total_variation({c: float(n) for c, n in zip(*np.unique(cluster, return_counts=True))}, shares)
    after_counts = _apply(plan, cluster, rows)
    after = total_variation(after_counts, shares)
    print(f"\nBanking77 train vs production (test split): total variation {before:.4f} -> {after:.4f}; "
          f"JS distance {plan.js_before:.4f} -> {plan.js_after:.4f}; "
          f"{plan.n_rejected} capped, {plan.n_reweighted} reweighted")
    assert plan.distance_before == pytest.approx(before)
    assert plan.distance_after == pytest.approx(after)
    assert after < 0.25 * before
    assert plan.js_after < plan.js_before
    # total kept about the same (reshape, not grow)
    assert abs(sum(after_counts.values()) - len(train)) < 0.05 * len(train)
    # the preview agrees with what applying the plan gives, cluster by cluster
    for ch in plan.clusters:
        assert ch.after == pytest.approx(after_counts.get(ch.cluster, 0.0))


def test_capping_keeps_distinct_texts_first():
    """Dolly sample as one cluster (it holds natural verbatim duplicates) capped to its number of
    distinct instructions: the kept set holds each instruction once."""
    rows_ = read_jsonl(SAMPLE / "train_dolly_alpaca.jsonl")
    texts = [r["instruction"] for r in rows_]
    distinct = len(set(texts))
    v = text_vectors(texts)
    # cluster 0 = dolly (400), cluster 1 = a filler cluster sized so dolly's target is `distinct`
    n_other = 1000
    cluster = np.r_[np.zeros(len(texts), dtype=int), np.ones(n_other, dtype=int)]
    vectors = np.r_[v, np.tile(v[:1], (n_other, 1))]
    total = len(cluster)
    shares = {0: distinct / total, 1: 1 - distinct / total}
    plan = plan_rebalance(cluster, np.arange(total), shares, vectors=vectors)
    dropped = set(plan.reject_rows[0].tolist())
    kept = [texts[i] for i in range(len(texts)) if i not in dropped]
    assert len(kept) == distinct
    assert len(set(kept)) == distinct
    ch = {c.cluster: c for c in plan.clusters}[0]
    assert (ch.action, ch.rows_before, ch.rows_after) == ("cap", 400, distinct)


def test_raise_with_repeats_up_to_the_limit_and_list_data_needs():
    texts = [r["messages"][1]["content"] for r in read_jsonl(SAMPLE / "train_banking_chat.jsonl")]
    # cluster 0: 100 rows; cluster 1: 10 distinct rows; cluster 2: 2 copies of one text
    cluster = np.r_[np.zeros(100, int), np.ones(10, int), np.full(2, 2)]
    vectors = text_vectors(texts[:110] + [texts[0], texts[0]])
    dup = np.r_[np.full(110, -1), [7, 7]]
    shares = {0: 0.4, 1: 0.3, 2: 0.2, 3: 0.1}  # cluster 3 exists only in production
    plan = plan_rebalance(cluster, np.arange(len(cluster)), shares, vectors=vectors, dup_group=dup,
                          mode="production", production_counts={3: 17},
                          gaps={3: {"production_rows": 17, "examples": ["<b>new topic</b>"]}})
    ch = {c.cluster: c for c in plan.clusters}
    total = 112
    assert ch[0].action == "cap" and ch[0].rows_after == round(0.4 * total)
    assert ch[1].action == "raise" and ch[1].after == 30  # 10 rows x max weight 3
    weights = {w: len(r) for w, r in plan.weight_rows.items()}
    assert weights == {3.0: 10}
    needs = {n.cluster: n for n in plan.needs_new_data}
    assert set(needs) == {1, 2, 3}
    assert needs[1].shortfall == pytest.approx(0.3 * total - 30)
    assert "duplicate" in needs[2].reason and ch[2].after == 2  # not inflated
    assert needs[3].reason.startswith("no training examples") and needs[3].production_rows == 17
    assert needs[3].gap["examples"] == ["<b>new topic</b>"]


def test_extra_repeats_split_to_hit_the_target_exactly():
    cluster = np.r_[np.zeros(90, int), np.ones(10, int)]
    vectors = np.random.default_rng(0).normal(size=(100, 8)).astype(np.float32)
    plan = plan_rebalance(cluster, np.arange(100), {0: 0.75, 1: 0.25}, vectors=vectors)
    # cluster 1 target 25 from 10 rows: 5 rows x3 + 5 rows x2
    assert {w: len(r) for w, r in plan.weight_rows.items()} == {2.0: 5, 3.0: 5}
    assert {c.cluster: c.after for c in plan.clusters} == {0: 75.0, 1: 25.0}


def test_never_capped_below_min_keep_and_noise_untouched():
    cluster = np.r_[np.zeros(50, int), np.ones(50, int), np.full(30, -1)]
    plan = plan_rebalance(cluster, np.arange(130), {0: 1.0}, min_keep=5)
    ch = {c.cluster: c for c in plan.clusters}
    assert ch[1].rows_after == 5 and len(plan.reject_rows[1]) == 45
    assert -1 not in ch and not any((cluster[r] == -1).any() for r in plan.reject_rows.values())


def test_existing_weights_count_in_the_before():
    cluster = np.r_[np.zeros(10, int), np.ones(10, int)]
    weight = np.r_[np.full(10, 3.0), np.ones(10)]
    plan = plan_rebalance(cluster, np.arange(20), uniform_shares(cluster), weight=weight, mode="uniform")
    ch = {c.cluster: c for c in plan.clusters}
    assert ch[0].before == 30 and ch[0].after == 20 and ch[0].action == "cap"
    assert ch[1].action == "raise" and ch[1].after == 20


def test_target_helpers():
    cluster = np.array([0, 0, 0, 1, -1])
    assert uniform_shares(cluster) == {0: 0.5, 1: 0.5}
    assert production_shares(np.array([1, 1, 2, -1])) == pytest.approx({1: 2 / 3, 2: 1 / 3})
    assert custom_shares({1: 0.5}, cluster) == pytest.approx({0: 0.5, 1: 0.5})
    assert custom_shares({0: 2, 1: 2}, cluster) == pytest.approx({0: 0.5, 1: 0.5})
    with pytest.raises(WorkbenchError):
        production_shares(np.array([-1, -1]))
    with pytest.raises(WorkbenchError):
        custom_shares({0: -0.2}, cluster)


def test_plan_becomes_one_batch_of_journal_ops():
    from workbench.project.journal import Batch, Reject, SetWeight

    cluster = np.r_[np.zeros(40, int), np.ones(10, int)]
    plan = plan_rebalance(cluster, np.arange(50), {0: 0.5, 1: 0.5}, labels={0: "card · arrive"},
                          mode="uniform")
    batch = plan.to_batch(lambda r: (1, int(r) + 1))
    assert isinstance(batch, Batch) and batch.label == "Rebalance to uniform shares"
    rejects = [o for o in batch.ops if isinstance(o, Reject)]
    weights = [o for o in batch.ops if isinstance(o, SetWeight)]
    assert len(rejects) == 1 and rejects[0].reason == "rebalance: cap cluster 0 (card · arrive) to 25 of 40"
    assert len(rejects[0].ids) == 15 and all(s == 1 for s, _ in rejects[0].ids)
    assert sum(len(o.ids) * o.weight for o in weights) == 25  # cluster 1: 10 rows -> 25
    d = plan.to_dict()
    assert d["rejected"] == 15 and d["clusters"][0]["label"] == "card · arrive"


def test_plan_that_changes_nothing_refuses_to_become_a_step():
    cluster = np.r_[np.zeros(10, int), np.ones(10, int)]
    plan = plan_rebalance(cluster, np.arange(20), {0: 0.5, 1: 0.5})
    assert plan.is_empty
    with pytest.raises(WorkbenchError):
        plan.to_batch(lambda r: (1, r + 1))
