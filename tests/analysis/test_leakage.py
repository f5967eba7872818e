"""Leakage on real data: the Banking77 eval sample's natural leaks from the training sample, and
Dolly answers copied into an eval set (n-gram overlap)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.analysis.findings_data import banking_train_eval, embed, read_jsonl
from tests.conftest import shared_data
from workbench.analysis.graph import build_graph
from workbench.analysis.leakage import KIND_ORDER, KIND_TEXT, find_leakage, pair_overlap
from workbench.analysis.textnorm import normalise


@pytest.fixture(scope="module")
def banking(tmp_path_factory):
    return banking_train_eval(tmp_path_factory)


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
        assert roles[it["train_match"]] == "train" and it["match"] == "exact after normalisation"
    assert leak.items[0]["kinds"][0] == "exact"
    for it in leak.items:
        assert roles[it["example"]] == "eval" and roles[it["train_match"]] == "train"
        assert it["kinds"][0] in KIND_ORDER and it["match"] and it["reason"].endswith(it["match"] + ".")
        assert leak.kind[it["example"]] == it["kinds"][0] and leak.match[it["example"]] == it["train_match"]
    assert leak.leaked.sum() == len(leak.items)
    assert (leak.kind[~leak.leaked] == None).all()  # noqa: E711
    assert np.isnan(leak.prompt_sim[roles == "train"]).all()
    s = leak.summary()
    assert sum(s["by_kind"].values()) == s["n_leaked"] == len(leak.items)
    json.dumps(s)


EDITED = [  # (edit, expected first kind) of a training prompt
    (lambda t: "Um, " + t.upper().rstrip("?.!") + "!!", "filler"),
    (lambda t: t.lower().rstrip("?.!") + ", please?", "filler"),
    (lambda t: " ".join(t.split()[2:] + t.split()[:2]), "reordered"),
    (lambda t: "Hey " + " ".join(w for w in t.split() if w.lower() not in ("the", "a")) + " basically", "filler"),
    (lambda t: t.rstrip("?.!") + " honestly?", "filler"),
    (lambda t: "Thx, " + t.lower(), "added_word"),  # a filler the detector does not list
]


def test_lightly_edited_copies_are_found_and_say_what_matched(tmp_path_factory, banking):
    prompts, responses, roles, vecs = banking
    train = [i for i in range(len(prompts)) if roles[i] == "train" and len(prompts[i].split()) >= 4]
    rng = np.random.default_rng(0)
    picks = rng.choice(train, 10 * len(EDITED), replace=False)
    shorts = [i for i in range(len(prompts)) if roles[i] == "train" and len(prompts[i].split()) <= 3][:10]
    planted = []  # (text, train row, expected kind)
    for k, (fn, kind) in enumerate(EDITED):
        planted += [(fn(prompts[i]), int(i), kind) for i in picks[10 * k:10 * (k + 1)]]
    planted += [(prompts[i].upper() + "?!", int(i), "exact") for i in shorts]
    assert len(shorts) >= 5
    p2 = list(prompts) + [t for t, _, _ in planted]
    r2 = list(responses) + [responses[i] for _, i, _ in planted]
    roles2 = np.concatenate([roles, np.array(["eval"] * len(planted), dtype=object)])
    v2 = np.vstack([vecs, embed(tmp_path_factory, [t for t, _, _ in planted])])
    leak = find_leakage(p2, r2, v2, roles2, build_graph(v2, 15))
    by_row = {it["example"]: it for it in leak.items}
    for k, (text, i, kind) in enumerate(planted):
        it = by_row.get(len(prompts) + k)
        assert it is not None, text
        assert normalise(p2[it["train_match"]]) == normalise(prompts[i]), (text, p2[it["train_match"]])
        assert it["kinds"][0] == kind and it["match"].startswith(KIND_TEXT.get(kind, "same words + one word")), (
            text, it["match"])
    # no more natural eval rows flagged than cosine >= 0.95 or exact text flags (the old rule)
    ev = np.flatnonzero(roles == "eval")
    old = (leak.prompt_sim[ev] >= 0.95) | np.isin(ev, [it["example"] for it in leak.items if "exact" in it["kinds"]])
    assert leak.leaked[ev].sum() <= old.sum()


def test_pair_overlap_measures_words_and_characters():
    w, ch, diff = pair_overlap("what is my balance".split(), "what is my balance now please".split(),
                               "what is my balance", "what is my balance now please")
    assert (w, diff) == (1.0, 0)  # "now" and "please" are filler words
    w, ch, diff = pair_overlap("top up my card".split(), "topup my card".split(), "top up my card", "topup my card")
    assert ch == 1.0 and diff > 1  # the same characters, different words
    assert pair_overlap("is the bill due".split(), "when is the bill due".split(), "is the bill due",
                        "when is the bill due")[2] == 1  # one word added at the start
    assert pair_overlap("what is the mpg".split(), "what is the city mpg".split(), "what is the mpg",
                        "what is the city mpg")[2] == 2  # added inside: not a filler-like edit


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
