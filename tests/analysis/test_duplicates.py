"""Duplicates on real data: Dolly's natural verbatim repeats, Banking77's natural train/eval
overlap, with real vectors from the default encoder."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from tests.analysis.findings_data import banking_train_eval, embed, sample
from workbench.analysis.duplicates import find_duplicates
from workbench.analysis.graph import build_graph
from workbench.analysis.pair_verifier import DEFAULT_CANDIDATE_SIM, verify_pairs

PAWS_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "paws_wiki_sample" / "paws_wiki_test_every20th.jsonl"


@pytest.fixture(scope="module")
def dolly(tmp_path_factory):
    recs = sample("train_dolly_alpaca.jsonl")
    prompts = [(r["instruction"] + ("\n" + r["input"] if r.get("input") else "")) for r in recs]
    responses = [r["output"] for r in recs]
    vecs = embed(tmp_path_factory, prompts)
    return prompts, responses, vecs


@pytest.fixture(scope="module")
def banking(tmp_path_factory):
    return banking_train_eval(tmp_path_factory)


def test_natural_verbatim_repeats_form_exact_groups(dolly):
    prompts, responses, vecs = dolly
    dups = find_duplicates(prompts, build_graph(vecs, 15), ["train"] * len(prompts), responses=responses)
    same_text = defaultdict(list)
    for i, p in enumerate(prompts):
        same_text[p.strip().lower()].append(i)
    repeated = [rows for rows in same_text.values() if len(rows) > 1]
    assert sum(len(r) for r in repeated) >= 60  # the sample's documented natural repeats
    for rows in repeated:
        g = dups.group[rows]
        assert (g >= 0).all() and len(set(g.tolist())) == 1, [prompts[i] for i in rows]
    kinds = {dups.groups[dups.group[rows[0]]].kind for rows in repeated}
    assert "exact" in kinds
    # every group is a real group, each row in at most one, ranked by removable members
    assert all(len(g.members) > 1 for g in dups.groups)
    assert sum(len(g.members) for g in dups.groups) == int((dups.group >= 0).sum())
    removable = [len(g.removable) for g in dups.groups]
    assert removable == sorted(removable, reverse=True)
    # near edges never cross groups
    i, j, s = dups.near_pairs
    assert (dups.group[i] == dups.group[j]).all() and (s >= DEFAULT_CANDIDATE_SIM).all()
    json.dumps(dups.summary())


def test_keeper_is_least_flagged_then_most_complete(dolly):
    prompts, responses, vecs = dolly
    graph = build_graph(vecs, 15)
    base = find_duplicates(prompts, graph, ["train"] * len(prompts), responses=responses)
    g = next(g for g in base.groups if g.kind == "exact" and len(g.members) >= 2)
    lengths = {i: len(responses[i].strip()) + len(prompts[i].strip()) for i in g.members}
    assert lengths[g.keeper] == max(lengths.values())  # unflagged: most complete wins
    flags = np.zeros(len(prompts), np.int32)
    flags[g.keeper] = 2
    again = find_duplicates(prompts, graph, ["train"] * len(prompts), responses=responses, n_flags=flags)
    g2 = again.groups[again.group[g.keeper]]
    assert g2.keeper != g.keeper and flags[g2.keeper] == 0
    assert "fewest quality flags" in g2.reason


def test_train_eval_overlap_keeps_the_eval_copy(banking):
    prompts, responses, roles, vecs = banking
    dups = find_duplicates(prompts, build_graph(vecs, 15), roles, responses=responses)
    # the 4 eval queries that occur case-insensitively in train (sample_data/README.md)
    train_text = {p.strip().lower(): i for i, p in enumerate(prompts) if roles[i] == "train"}
    leaks = [i for i, p in enumerate(prompts) if roles[i] == "eval" and p.strip().lower() in train_text]
    assert len(leaks) == 4
    for i in leaks:
        g = dups.groups[dups.group[i]]
        assert "eval" in g.scope and "train" in g.scope
        assert g.keeper == i or roles[g.keeper] == "eval"
        assert train_text[prompts[i].strip().lower()] in g.removable
    assert dups.pair_scopes.get("eval↔train", 0) >= 4
    assert all(roles[r] == "train" for g in dups.groups for r in g.removable)


# ---- the pair verifier on real adversarial pairs (PAWS-Wiki test sample, tests/data) ----------
@pytest.fixture(scope="module")
def paws(tmp_path_factory):
    from tests.analysis.findings_data import read_jsonl

    pairs = read_jsonl(PAWS_SAMPLE)
    texts = list(dict.fromkeys(t for r in pairs for t in (r["sentence1"], r["sentence2"])))
    pos = {t: i for i, t in enumerate(texts)}
    labelled = [(pos[r["sentence1"]], pos[r["sentence2"]], int(r["label"])) for r in pairs]
    return texts, labelled, embed(tmp_path_factory, texts)


def _precision_recall(group, labelled):
    together = [(lab, group[i] >= 0 and group[i] == group[j]) for i, j, lab in labelled]
    tp = sum(1 for lab, t in together if t and lab)
    fp = sum(1 for lab, t in together if t and not lab)
    return tp / max(tp + fp, 1), tp / sum(1 for lab, _ in together if lab)


def test_verifier_rejects_word_swapped_pairs_that_cosine_accepts(paws):
    texts, labelled, vecs = paws
    graph = build_graph(vecs, 15)
    roles = ["train"] * len(texts)
    cosine_only = find_duplicates(texts, graph, roles, verify=False)
    verified = find_duplicates(texts, graph, roles)
    p_cos, r_cos = _precision_recall(cosine_only.group, labelled)
    p_ver, r_ver = _precision_recall(verified.group, labelled)
    assert p_cos < 0.62 and r_cos > 0.75  # PAWS is adversarial: cosine alone is near the base rate
    assert p_ver >= 0.80 and r_ver >= 0.55, (p_ver, r_ver)
    # every near group explains itself: the weakest link's cosine, what matched, the verifier
    near = [g for g in verified.groups if g.kind != "exact"]
    assert near and all(g.links and "cosine" in g.reason and "verifier" in g.reason for g in near)
    assert all(s >= DEFAULT_CANDIDATE_SIM for _, _, s, _, _ in near[0].links)
    json.dumps(verified.summary())


def test_verifier_scores_real_pairs_by_their_label(paws):
    texts, labelled, vecs = paws
    i = np.array([a for a, _, _ in labelled])
    j = np.array([b for _, b, _ in labelled])
    y = np.array([lab for _, _, lab in labelled])
    cos = np.einsum("ij,ij->i", vecs[i], vecs[j])
    ok, p, feats = verify_pairs(texts, i, j, cos)
    decided = ~np.isnan(p)
    assert decided.mean() > 0.95  # PAWS pairs share most words: the verifier decides them
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y[decided], p[decided]) > 0.85
    assert roc_auc_score(y, cos) < 0.70  # what the verifier adds
    # a confirmed non-paraphrase is rare; a rejected pair with the same word set is usually a swap
    assert y[ok].mean() > 0.8


def test_normalised_copies_are_exact_and_need_no_verifier(tmp_path_factory, paws):
    texts, labelled, _ = paws
    originals = [texts[i] for i, _, _ in labelled[:40]]  # one sentence of each of 40 pairs
    copies = [t.upper().replace(" ,", ",") + " ?" for t in originals]
    rows = originals + copies
    vecs = embed(tmp_path_factory, rows)
    dups = find_duplicates(rows, build_graph(vecs, 10), ["train"] * len(rows))
    for k in range(len(originals)):
        g = dups.group[k]
        assert g >= 0 and dups.group[len(originals) + k] == g
        assert dups.groups[g].kind in ("exact", "mixed")
        assert dups.groups[g].reason.split(": ", 1)[1].startswith("identical")
    assert sum(g.kind == "exact" for g in dups.groups) >= 35
