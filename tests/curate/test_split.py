"""Split: stratified by cluster, duplicate groups never straddle, deterministic."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tests.conftest import SAMPLE
from tests.curate.helpers import read_jsonl
from workbench.core.errors import WorkbenchError
from workbench.curate.split import plan_split


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


def _banking():
    rows = read_jsonl(SAMPLE / "train_banking_chat.jsonl")
    labels = [r["messages"][2]["content"] for r in rows]
    texts = [_norm(r["messages"][1]["content"]) for r in rows]
    _, cluster = np.unique(labels, return_inverse=True)
    _, group = np.unique(texts, return_inverse=True)
    sizes = np.bincount(group)
    group = np.where(sizes[group] > 1, group, -1)  # only real groups
    return cluster, group


def _dolly():
    rows = read_jsonl(SAMPLE / "train_dolly_alpaca.jsonl")
    _, group = np.unique([_norm(r["instruction"]) for r in rows], return_inverse=True)
    sizes = np.bincount(group)
    return np.where(sizes[group] > 1, group, -1)


def test_duplicate_groups_never_straddle_and_fraction_holds():
    group = _dolly()
    assert (group >= 0).sum() >= 40  # the sample's natural duplicates
    plan = plan_split(None, group, 0.8, seed=3)
    for g in np.unique(group[group >= 0]):
        sides = set(plan.validation[group == g].tolist())
        assert len(sides) == 1, f"group {g} straddles the split"
    assert abs(plan.n_validation - 0.2 * len(group)) <= 3
    assert plan.groups == len(np.unique(group[group >= 0]))


def test_stratified_by_cluster():
    cluster, group = _banking()
    plan = plan_split(cluster, group, 0.9)
    assert plan.n_train + plan.n_validation == len(cluster)
    for c in np.unique(cluster):
        m = cluster == c
        expected = 0.1 * m.sum()
        assert abs(plan.validation[m].sum() - expected) <= 2, f"cluster {c}"
        assert plan.per_cluster[int(c)] == (int(m.sum() - plan.validation[m].sum()), int(plan.validation[m].sum()))


def test_same_seed_same_split_other_seed_other_split():
    cluster, group = _banking()
    a = plan_split(cluster, group, 0.9, seed=1).validation
    assert np.array_equal(a, plan_split(cluster, group, 0.9, seed=1).validation)
    assert not np.array_equal(a, plan_split(cluster, group, 0.9, seed=2).validation)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, -0.1])
def test_bad_fraction_is_a_clear_error(fraction):
    with pytest.raises(WorkbenchError):
        plan_split(np.zeros(10, dtype=int), None, fraction)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 4), st.integers(-1, 6)), min_size=1, max_size=120),
       st.floats(0.5, 0.95))
def test_property_groups_whole_and_quota_respected(rows, fraction):
    cluster = np.array([c for c, _ in rows])
    group = np.array([g for _, g in rows])
    plan = plan_split(cluster, group, fraction)
    for g in set(group[group >= 0].tolist()):
        assert len(set(plan.validation[group == g].tolist())) == 1
    assert plan.n_validation <= round(len(rows) * (1 - fraction))
