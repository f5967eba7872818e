"""Leakage on real data: the Banking77 eval sample's natural leaks from the training sample, and
Dolly answers copied into an eval set (n-gram overlap)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.analysis.findings_data import chat_part, embed, read_jsonl, sample
from tests.conftest import shared_data
from workbench.analysis.graph import build_graph
from workbench.analysis.leakage import find_leakage


@pytest.fixture(scope="module")
def banking(tmp_path_factory):
    train, ev = sample("train_banking_chat.jsonl"), sample("eval_banking_chat.jsonl")
    prompts = [chat_part(r, "user") for r in train + ev]
    responses = [chat_part(r, "assistant") for r in train + ev]
    roles = np.array(["train"] * len(train) + ["eval"] * len(ev), dtype=object)
    return prompts, responses, roles, embed(tmp_path_factory, prompts)


def test_natural_banking_leaks_are_found_with_their_training_match(banking):
    prompts, responses, roles, vecs = banking
    leak = find_leakage(prompts, responses, vecs, roles, build_graph(vecs, 15))
    train_text = {p.strip().lower(): i for i, p in enumerate(prompts) if roles[i] == "train"}
    natural = {i for i, p in enumerate(prompts) if roles[i] == "eval" and p.strip().lower() in train_text}
    assert len(natural) == 4  # documented in sample_data/README.md
    exact = {it["example"]: it for it in leak.items if "exact" in it["kinds"]}
    assert set(exact) == natural
    for i, it in exact.items():
        assert prompts[it["train_match"]].strip().lower() == prompts[i].strip().lower()
        assert roles[it["train_match"]] == "train"
    assert leak.items[0]["kinds"][0] == "exact"
    # near leaks are rewordings: each pair is very similar and the match is a train row
    for it in leak.items:
        assert roles[it["example"]] == "eval" and roles[it["train_match"]] == "train"
        assert it["prompt_sim"] >= leak.params["sim_threshold"] or "exact" in it["kinds"] or "ngram" in it["kinds"]
    assert leak.leaked.sum() == len(leak.items)
    assert np.isnan(leak.prompt_sim[roles == "train"]).all()
    json.dumps(leak.summary())


@pytest.fixture(scope="module")
def dolly(tmp_path_factory):
    recs = read_jsonl(shared_data("dolly15k_open_qa", "dolly_open_qa_alpaca.jsonl"))[:900]
    return recs


def test_ngram_overlap_catches_copied_answers_with_new_questions(tmp_path_factory, dolly):
    train, held = dolly[:800], dolly[800:900]
    rng = np.random.default_rng(1)
    long_train = [i for i, r in enumerate(train) if len(r["output"].split()) >= 40]
    copied = rng.choice(long_train, 10, replace=False)
    # eval: 90 genuinely held-out examples + 10 whose answer is a training answer, re-asked
    eval_rows = [(r["instruction"], r["output"]) for r in held[:90]]
    eval_rows += [(f"Please explain: {train[i]['instruction'].lower()}",
                   train[i]["output"].replace(".", "!", 1)) for i in copied]
    prompts = [r["instruction"] for r in train] + [p for p, _ in eval_rows]
    responses = [r["output"] for r in train] + [a for _, a in eval_rows]
    roles = np.array(["train"] * len(train) + ["eval"] * len(eval_rows), dtype=object)
    vecs = embed(tmp_path_factory, prompts)
    leak = find_leakage(prompts, responses, vecs, roles, build_graph(vecs, 15))
    planted = {len(train) + 90 + k: int(i) for k, i in enumerate(copied)}
    found = {it["example"]: it for it in leak.items if "ngram" in it["kinds"]}
    assert set(planted) <= set(found)
    for e, t in planted.items():
        assert found[e]["train_match"] == t and found[e]["ngram_overlap"] > 0.8
    # genuinely held-out rows rarely leak (Dolly has a few natural repeats)
    held_out = [it for it in leak.items if it["example"] < len(train) + 90]
    assert len(held_out) <= 5
    assert np.isnan(leak.ngram_overlap[roles == "train"]).all()


def test_no_eval_rows_means_no_leakage(banking):
    prompts, responses, roles, vecs = banking
    only_train = np.array(["train"] * len(prompts), dtype=object)
    leak = find_leakage(prompts, responses, vecs, only_train)
    assert leak.items == [] and not leak.leaked.any()
