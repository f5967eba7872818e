"""Conflicts and inconsistency on real Banking77 intent-chat data with a few answers swapped to
wrong intents, and on Dolly answers, with real vectors from the default encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.analysis.findings_data import chat_part, embed, read_jsonl, sample
from tests.conftest import shared_data
from workbench.analysis.conflicts import find_conflicts
from workbench.analysis.graph import build_graph

N_SWAPPED = 6


@pytest.fixture(scope="module")
def banking(tmp_path_factory):
    """800 training queries of 20 random intents; 6 answers swapped to a different intent."""
    recs = read_jsonl(shared_data("banking77", "banking77_train_intent_chat.jsonl"))
    rng = np.random.default_rng(0)
    labels_all = sorted({chat_part(r, "assistant") for r in recs})
    intents = sorted(rng.choice(labels_all, 20, replace=False).tolist())
    rows = [r for r in recs if chat_part(r, "assistant") in intents]
    rows = [rows[i] for i in sorted(rng.choice(len(rows), 800, replace=False))]
    prompts = [chat_part(r, "user") for r in rows]
    truth = [chat_part(r, "assistant") for r in rows]
    answers = list(truth)
    swapped = rng.choice(len(rows), N_SWAPPED, replace=False)
    for s in swapped:
        answers[s] = str(rng.choice([x for x in intents if x != truth[s]]))
    prompt_vecs = embed(tmp_path_factory, prompts)
    label_vecs = embed(tmp_path_factory, intents)
    response_vecs = label_vecs[[intents.index(a) for a in answers]]
    cluster = np.array([intents.index(t) for t in truth])  # the queries' own intent regions
    graph = build_graph(prompt_vecs, 15)
    return graph, answers, response_vecs, cluster, set(swapped.tolist())


def test_swapped_answers_top_the_conflict_ranking(banking):
    graph, answers, rvecs, cluster, swapped = banking
    c = find_conflicts(graph, ["train"] * len(answers), answers, rvecs, cluster)
    ranked = [it["example"] for it in c.items]
    ranks = sorted(ranked.index(s) for s in swapped if s in ranked)
    assert len(ranks) == N_SWAPPED  # every swapped answer is found ...
    assert ranks[-1] < 2 * N_SWAPPED  # ... all within the top 12 of 800 rows ...
    assert sum(r < N_SWAPPED for r in ranks) >= 4  # ... most in the top 6
    top = c.items[ranked.index(min(swapped, key=ranked.index))]
    assert "different short answers" in top["reason"] and answers[top["example"]] in top["reason"]
    assert c.conflict[list(swapped)].min() > np.median(c.conflict)
    json.dumps(c.summary())


def test_cluster_inconsistency_points_at_the_clusters_with_swaps(banking):
    graph, answers, rvecs, cluster, swapped = banking
    c = find_conflicts(graph, ["train"] * len(answers), answers, rvecs, cluster)
    order = [x["cluster"] for x in c.clusters]
    with_swaps = {int(cluster[s]) for s in swapped}
    top = set(order[: len(with_swaps) + 2])
    assert len(with_swaps & top) >= len(with_swaps) - 1
    scores = {x["cluster"]: x["inconsistency"] for x in c.clusters}
    clean = [scores[k] for k in scores if k not in with_swaps]
    assert np.median(clean) < min(scores[k] for k in with_swaps if k in scores)
    # per-example inconsistency: swapped rows disagree with their neighbours
    inc = c.inconsistency
    assert np.nanmedian(inc[list(swapped)]) > np.nanquantile(inc, 0.9)


def test_cluster_score_does_not_grow_with_cluster_size(banking):
    """Doubling every cluster (each example twice) leaves the per-cluster score almost unchanged."""
    graph, answers, rvecs, cluster, _ = banking
    one = find_conflicts(graph, ["train"] * len(answers), answers, rvecs, cluster)
    n = len(answers)
    vecs2 = np.concatenate([rvecs, rvecs])
    # a graph over the doubled data: each row's neighbours are its copy and the original neighbours
    idx = np.concatenate([graph.indices, graph.indices + n])
    sims = np.concatenate([graph.sims, graph.sims])
    copy_idx = np.concatenate([np.arange(n, 2 * n), np.arange(n)])[:, None].astype(np.int32)
    from workbench.analysis.graph import NeighbourGraph

    g2 = NeighbourGraph(np.concatenate([copy_idx, idx[:, :-1]], axis=1),
                        np.concatenate([np.ones((2 * n, 1), np.float32), sims[:, :-1]], axis=1), True)
    two = find_conflicts(g2, ["train"] * 2 * n, answers + answers, vecs2, np.concatenate([cluster, cluster]))
    a = {x["cluster"]: x["inconsistency"] for x in one.clusters}
    b = {x["cluster"]: x["inconsistency"] for x in two.clusters}
    keys = sorted(a)
    assert max(a, key=a.get) == max(b, key=b.get)
    # a score that summed over pairs would double; a per-pair mean moves by a few percent
    assert np.allclose([a[k] for k in keys], [b[k] for k in keys], rtol=0.2, atol=0.005)


def test_refusal_and_format_divergence_are_reported(tmp_path_factory):
    """Real Dolly answers; one duplicated question answered with a refusal, one as a JSON blob."""
    recs = sample("train_dolly_alpaca.jsonl")[:200]
    prompts = [r["instruction"] for r in recs]
    responses = [r["output"] for r in recs]
    prompts += [prompts[10], prompts[20]]
    responses += ["I'm sorry, but I cannot help with that request.",
                  json.dumps({"answer": responses[20][:80], "confidence": 0.9})]
    pv = embed(tmp_path_factory, prompts)
    rv = embed(tmp_path_factory, responses)
    c = find_conflicts(build_graph(pv, 15), ["train"] * len(prompts), responses, rv)
    by_row = {it["example"]: it for it in c.items}
    refusal = by_row.get(200) or by_row.get(10)
    assert refusal is not None and "refusal vs answer" in json.dumps(refusal)
    fmt = by_row.get(201) or by_row.get(20)
    assert fmt is not None and "JSON" in json.dumps(fmt)


def test_no_train_responses_means_no_conflicts():
    recs = sample("production_banking.jsonl")[:50]
    vecs = np.eye(50, 16, dtype=np.float32)
    vecs[:, 0] += 1
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    c = find_conflicts(build_graph(vecs, 5), ["production"] * 50, [""] * 50, np.zeros((50, 16), np.float32))
    assert c.items == [] and float(c.conflict.max()) == 0.0 and np.isnan(c.inconsistency).all()


# --- confident learning on label answers (real sample data, no ../shared needed) ---------------
def _swapped_sample(tmp_path_factory, seed: int = 0, fraction: float = 0.03):
    """sample_data's 913 Banking77 chat rows; 3% of the answers replaced by another intent."""
    recs = sample("train_banking_chat.jsonl")
    prompts = [chat_part(r, "user") for r in recs]
    truth = [chat_part(r, "assistant") for r in recs]
    intents = sorted(set(truth))
    rng = np.random.default_rng(seed)
    swapped = rng.choice(len(recs), int(round(fraction * len(recs))), replace=False)
    answers = list(truth)
    for s in swapped:
        answers[s] = str(rng.choice([x for x in intents if x != truth[s]]))
    pv = embed(tmp_path_factory, prompts)
    lv = embed(tmp_path_factory, intents)
    rv = lv[[intents.index(a) for a in answers]]
    return pv, rv, answers, truth, swapped


def test_label_quality_ranks_swapped_answers_first(tmp_path_factory):
    pv, rv, answers, truth, swapped = _swapped_sample(tmp_path_factory)
    graph = build_graph(pv, 15)
    c = find_conflicts(graph, ["train"] * len(answers), answers, rv, prompt_vecs=pv)
    k = len(swapped)
    top = np.argsort(-c.conflict, kind="stable")[:k]
    hits = len(set(top.tolist()) & set(swapped.tolist()))
    # 14 queries per intent here, so class means are rough: measured 0.78-0.81 over 5 seeds, the
    # neighbour-only score 0.70-0.78 (larger sets: see benchmarks/study_conflicts.py)
    base = find_conflicts(graph, ["train"] * len(answers), answers, rv).conflict
    base_hits = len(set(np.argsort(-base, kind="stable")[:k].tolist()) & set(swapped.tolist()))
    assert hits >= 0.7 * k and hits > base_hits
    assert np.all(c.conflict[swapped] == 1 - c.label_quality[swapped])
    assert np.isfinite(c.label_quality).all() and c.params["label_rows"] == {"label": len(answers)}
    # the ranked list agrees with the column and explains itself
    ranked = [it["example"] for it in c.items[:k]]
    assert set(ranked) == set(top.tolist())
    it = next(x for x in c.items if x["example"] in set(swapped.tolist()))
    assert it["kind"] == "label" and it["given"] == answers[it["example"]]
    assert it["suggested"] == truth[it["example"]] or it["p_suggested"] < 0.5
    assert f'"{answers[it["example"]]}"' in it["reason"] and it["against"]
    # "against" points at rows that carry the suggested answer
    assert all(answers[a["example"]] == it["suggested"] for a in it["against"])
    json.dumps(c.summary())


def test_label_quality_is_leave_one_out():
    """A row alone with its answer gets no support from itself: two clean classes plus one row
    whose answer only it and a far-away twin carry."""
    from workbench.analysis.label_quality import centroid_proba

    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 8)) + np.eye(8)[0] * 5
    b = rng.normal(size=(30, 8)) + np.eye(8)[1] * 5
    x = np.concatenate([a, b]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.array([0] * 30 + [1] * 30)
    y[3] = 1  # a row of class-0 prompts labelled 1
    p = centroid_proba(x, y, 2)
    assert p[3, 1] < 0.2 and p[3, 0] > 0.8
    assert np.median(p[np.arange(60) != 3, y[np.arange(60) != 3]]) > 0.9


def test_answer_families_of_free_text_are_judged_like_labels(tmp_path_factory):
    """Free-text answers that come in families (three sentences per Banking77 intent of the
    sample, as a support bot's canned replies); 3% get another intent's sentence."""
    recs = sample("train_banking_chat.jsonl")
    prompts = [chat_part(r, "user") for r in recs]
    truth = [chat_part(r, "assistant") for r in recs]
    intents = sorted(set(truth))
    rng = np.random.default_rng(1)
    swapped = rng.choice(len(recs), int(round(0.03 * len(recs))), replace=False)
    intent = list(truth)
    for s in swapped:
        intent[s] = str(rng.choice([x for x in intents if x != truth[s]]))
    templates = ("Sure, I can help with {}.", "Okay, this is about {}.", "Let me take care of {} for you.")
    answers = [templates[t].format(a.replace("_", " ")) for a, t in zip(intent, rng.integers(0, 3, len(intent)))]
    pv = embed(tmp_path_factory, prompts)
    uniq = sorted(set(answers))
    uv = embed(tmp_path_factory, uniq)
    rv = uv[[uniq.index(a) for a in answers]]
    graph = build_graph(pv, 15)
    c = find_conflicts(graph, ["train"] * len(answers), answers, rv, prompt_vecs=pv)
    assert "family" in c.params["label_rows"] and c.params["label_rows"]["family"] >= 0.9 * len(answers)
    k = len(swapped)
    hits = len(set(np.argsort(-c.conflict, kind="stable")[:k].tolist()) & set(swapped.tolist()))
    base = find_conflicts(graph, ["train"] * len(answers), answers, rv).conflict
    base_hits = len(set(np.argsort(-base, kind="stable")[:k].tolist()) & set(swapped.tolist()))
    assert hits >= 0.6 * k and hits > base_hits
    assert any(it["kind"] == "family" and it["example"] in set(swapped.tolist()) for it in c.items[:k])


def test_prompts_naming_different_things_are_not_one_question_answered_twice():
    """Dolly-style questions that differ in a name or a number ask different things; their
    different answers are not a conflict. The same question retyped (case, punctuation) still is."""
    from workbench.analysis.pair_verifier import asks_about_other_things

    assert asks_about_other_things("What are the words of House Tyrell?", "What are the words of House Reed?")
    assert asks_about_other_things("Who won the World Cup in 2014?", "Who won the World Cup in 2018?")
    assert not asks_about_other_things("What is the capital of France?", "what is the capital of france")
    assert not asks_about_other_things("Why is the sky blue?", "Why is the sky blue please?")
    assert not asks_about_other_things("Name the books of Harry Potter", "List Harry Potter's books")


def test_sample_dolly_questions_about_other_houses_are_no_conflict():
    """On the sample's Dolly rows (real data): "the words of House Tyrell" and "of House Reed" were
    listed as a conflict; with the rule they are not, and an injected retyped copy with another
    answer still is."""
    from pathlib import Path

    from workbench.embed import embed_texts, get_encoder

    rows = read_jsonl(Path(__file__).resolve().parents[2] / "sample_data" / "train_dolly_alpaca.jsonl")
    prompts = [r["instruction"] for r in rows]
    responses = [r["output"] for r in rows]
    i = next(k for k, p in enumerate(prompts) if "House Tyrell" in p)
    copy_of = next(k for k, p in enumerate(prompts) if p.startswith("Why is the sky blue"))
    prompts.append(prompts[copy_of].lower().rstrip("?"))
    responses.append(responses[i])  # the same question retyped, answered with another answer
    enc = get_encoder()
    pv, _ = embed_texts(prompts, enc)
    rv, _ = embed_texts(responses, enc)
    graph = build_graph(pv, 15, seed=0)

    def listed(flag):
        c = find_conflicts(graph, ["train"] * len(prompts), responses, rv, prompt_vecs=pv, prompts=prompts,
                           distinct_names=flag)
        return {frozenset([it["example"], *(a["example"] for a in it["against"])]) for it in c.items}

    before, now = listed(False), listed(True)
    houses = [s for s in before if i in s and any("House" in prompts[x] and x != i for x in s)]
    assert houses  # the old rule listed House Tyrell against another House
    assert not [s for s in now if i in s and any("House" in prompts[x] and x != i for x in s)]
    assert any(len(prompts) - 1 in s for s in now)  # the retyped copy is still a conflict
