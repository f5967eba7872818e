"""Mismatched answers on real Dolly prompt/response pairs (sample_data) with a few responses
moved to other prompts, real vectors from the default encoder; and inside the pipeline."""

from __future__ import annotations

import json

import numpy as np

from tests.analysis.findings_data import embed, sample
from workbench.analysis.mismatch import find_mismatches


def _moved(tmp_path_factory, seed: int = 0, fraction: float = 0.03):
    recs = sample("train_dolly_alpaca.jsonl")
    prompts = [r["instruction"] + ("\n" + r["input"] if r.get("input") else "") for r in recs]
    responses = [r["output"] for r in recs]
    rng = np.random.default_rng(seed)
    moved = rng.choice(len(recs), int(round(fraction * len(recs))), replace=False)
    out = list(responses)
    for a, b in zip(moved, np.roll(moved, 1)):
        out[a] = responses[b]
    return prompts, out, moved, embed(tmp_path_factory, prompts), embed(tmp_path_factory, out)


def test_moved_responses_rank_first_and_beat_the_cosine_baseline(tmp_path_factory):
    prompts, responses, moved, pv, rv = _moved(tmp_path_factory)
    m = find_mismatches(pv, rv, ["train"] * len(prompts), prompts, responses)
    k = len(moved)

    def prec(score):
        return len(set(np.argsort(-score, kind="stable")[:k].tolist()) & set(moved.tolist())) / k

    baseline = prec(-np.einsum("ij,ij->i", pv, rv))
    assert prec(m.mismatch) >= 0.75 and prec(m.mismatch) > baseline
    # each listed moved row names the prompt its response really belongs to
    src = {int(a): int(b) for a, b in zip(moved, np.roll(moved, 1))}  # row a got b's response
    listed = {it["example"]: it for it in m.items}
    found = [i for i in src if i in listed and listed[i].get("better_prompt", {}).get("example") == src[i]]
    assert len(found) >= 0.6 * k
    it = listed[found[0]]
    assert it["prompt"] and it["response"] and "fits the prompt" in it["reason"]
    assert m.flagged[moved].mean() >= 0.5 and m.flagged.sum() <= 3 * k
    json.dumps(m.summary())


def test_only_rows_with_responses_take_part(tmp_path_factory):
    prompts, responses, moved, pv, rv = _moved(tmp_path_factory)
    roles = ["train"] * len(prompts)
    roles[:50] = ["production"] * 50
    responses = list(responses)
    responses[60] = "   "
    m = find_mismatches(pv, rv, roles, prompts, responses)
    assert np.isnan(m.mismatch[:50]).all() and np.isnan(m.mismatch[60])
    assert np.isfinite(m.mismatch[51:60]).all()
    assert not m.flagged[:50].any() and all(it["example"] >= 50 for it in m.items)
    none = find_mismatches(pv[:2], rv[:2], ["train"] * 2, prompts[:2], responses[:2])
    assert none.items == [] and np.isnan(none.mismatch).all()


def test_pipeline_writes_mismatch_column_summary_and_flag(tmp_path_factory):
    """The whole sample (Banking77 chat + Dolly + production + eval) through run_analysis."""
    from tests.analysis.realdata import sample_input
    from workbench.analysis.pipeline import AnalysisParams, run_analysis

    inp = sample_input(tmp_path_factory)
    res = run_analysis(inp, AnalysisParams(seed=0))
    ex, s = res.examples, res.summary
    roles = ex["role"].to_numpy()
    has = np.array([bool((r or "").strip()) for r in inp.response])
    takes_part = np.isin(roles, ["train", "eval", "reference"]) & has
    assert np.isfinite(ex["mismatch"].to_numpy()[takes_part]).all()
    assert np.isnan(ex["mismatch"].to_numpy()[~takes_part]).all()
    sec = s["mismatches"]
    assert sec["n_rows"] == int(takes_part.sum()) and s["counts"]["mismatches"] == sec["n_mismatches"]
    scores = [it["score"] for it in sec["mismatches"]]
    assert scores == sorted(scores, reverse=True) and all(x > 0 for x in scores)
    assert all({"source", "line"} <= set(it["example"]) for it in sec["mismatches"])
    flagged = np.array(["mismatched_response" in f for f in ex["flags"]])
    assert flagged.sum() == sec["n_flagged"] and not flagged[~takes_part].any()
    # label answers get a label quality (the Banking77 intents), free-text Dolly rows do not
    lq = ex["label_quality"].to_numpy()
    banking_train = (roles == "train") & np.array(["banking" in str(x) for x in ex["source"]])
    assert np.isfinite(lq[banking_train]).all()
    json.dumps(s)
