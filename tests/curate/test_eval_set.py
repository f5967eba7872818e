"""Eval set from production (workbench.curate.eval_set, `workbench eval-set`).

Real data, real model, real analysis pipeline:
- CLINC150 (needs ../shared): 40 intents, train = their train queries minus 6 whole intents,
  production = their test queries. The eval set covers every production cluster above the floor,
  holds no input whose nearest train prompt reaches the leak threshold (checked by brute force),
  no two near-copies outside one paraphrase group, paraphrase groups >= 90% pure by intent, every
  removed intent present and marked as a gap; same seed -> same file.
- sample_data (always): `workbench eval-set` end to end on an analysed project; pin/exclude as
  undoable journal ops; never writes over a folder it did not create.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.analysis.findings_data import embed, read_jsonl
from tests.conftest import shared_data
from workbench.curate import eval_set as es


# --------------------------------------------------------------------------------------------
# CLINC150
# --------------------------------------------------------------------------------------------
def clinc_production(n_intents=40, n_removed=6, seed=5, step=3):
    train = read_jsonl(shared_data("clinc150", "clinc150_train.jsonl"))
    test = read_jsonl(shared_data("clinc150", "clinc150_test.jsonl"))
    intents = sorted({r["label"] for r in train})[::step][:n_intents]
    rng = np.random.default_rng(seed)
    removed = sorted(rng.choice(intents, n_removed, replace=False).tolist())
    tr = [r for r in train if r["label"] in intents and r["label"] not in removed]
    pr = [r for r in test if r["label"] in intents]
    return tr, pr, removed


@pytest.fixture(scope="module")
def clinc(tmp_path_factory):
    from workbench.analysis.pipeline import AnalysisInput, AnalysisParams, run_analysis

    tr, pr, removed = clinc_production()
    rows = tr + pr
    texts = [r["text"] for r in rows]
    vecs = embed(tmp_path_factory, texts)
    inp = AnalysisInput(source=["clinc_train.jsonl"] * len(tr) + ["clinc_test.jsonl"] * len(pr),
                        line=list(range(1, len(tr) + 1)) + list(range(1, len(pr) + 1)),
                        role=["train"] * len(tr) + ["production"] * len(pr), prompt=texts,
                        response=[""] * len(rows), prompt_vecs=vecs)
    result = run_analysis(inp, AnalysisParams(seed=0))
    labels = np.array([r["label"] for r in rows], dtype=object)
    return inp, result, labels, removed


def _draw(clinc, **kw):
    inp, result, labels, removed = clinc
    ei = es.inputs_from_result(result, inp, inp.prompt_vecs)
    return ei, es.draw_eval_set(ei, es.EvalSetOptions(**kw))


def test_clinc_eval_set_stratified_leak_free_and_grouped(clinc):
    inp, result, labels, removed = clinc
    ei, drawn = _draw(clinc, size=400, per_cluster=3, seed=1)
    rows = drawn.rows
    prod = inp.role == "production"
    assert np.all(prod[rows]) and len(set(rows.tolist())) == len(rows)
    assert abs(len(rows) - 400) <= 3 * drawn.counts["clusters"]

    # every production cluster above the floor is covered (with the floor, or all it has)
    # (a cluster below the floor has no other eligible input that is not a near-copy of one drawn)
    from workbench.analysis.textnorm import text_hashes

    hashes = text_hashes(inp.prompt)
    drawn_set = set(rows.tolist())

    def near_copy_of_drawn(r):
        cos = inp.prompt_vecs[rows] @ inp.prompt_vecs[r]
        return cos.max() >= ei.leak_params["sim_threshold"] or (hashes[rows] == hashes[r]).any()

    short = 0
    for s in drawn.strata:
        if s["eligible"]:
            assert s["drawn"] >= 1, s
        if s["drawn"] < min(3, s["eligible"]):
            short += 1
            left = [r for r in np.flatnonzero(drawn.eligible & (ei.cluster == s["cluster"])) if r not in drawn_set]
            assert all(near_copy_of_drawn(r) for r in left), s
    assert short <= len(drawn.strata) // 10
    # proportional: the drawn share follows the production share
    shares = np.array([s["share"] for s in drawn.strata])
    drawn_shares = np.array([s["drawn_share"] for s in drawn.strata])
    assert np.corrcoef(shares, drawn_shares)[0, 1] > 0.8

    # nothing near training: brute-force nearest train cosine below the leak threshold
    threshold = ei.leak_params["sim_threshold"]
    train = np.flatnonzero(inp.role == "train")
    nearest = (inp.prompt_vecs[rows] @ inp.prompt_vecs[train].T).max(axis=1)
    assert nearest.max() < threshold
    assert drawn.counts["near_train"] > 0  # CLINC test queries do repeat training queries
    assert not drawn.near_train[rows].any() and not drawn.eligible[drawn.near_train].any()

    # no two near-copies outside one paraphrase group
    sims = inp.prompt_vecs[rows] @ inp.prompt_vecs[rows].T
    same_group = (drawn.group[:, None] == drawn.group[None, :]) & (drawn.group[:, None] > 0)
    np.fill_diagonal(sims, 0)
    assert not ((sims >= threshold) & ~same_group).any()
    h = text_hashes([inp.prompt[r] for r in rows])
    assert len(set(h.tolist())) == len(rows)  # not even inside a group: "in other words"

    # paraphrase groups: >= 90% pure by intent label
    assert drawn.counts["groups"] >= 10
    members = sum(len(g) for g in drawn.groups)
    agree = sum(max(np.unique(labels[g], return_counts=True)[1]) for g in drawn.groups)
    assert agree / members >= 0.9, agree / members
    assert all(2 <= len(g) <= es.DEFAULT_GROUP_SIZE for g in drawn.groups)

    # the removed intents (coverage gaps) are in the eval set, marked
    recs = es.records(ei, drawn)
    for intent in removed:
        mine = [rec for r, rec in zip(rows.tolist(), recs) if labels[r] == intent]
        assert len(mine) >= 2, intent
        assert any(rec["gap"] for rec in mine), intent


def test_clinc_same_seed_same_set_other_seed_other_set(clinc):
    ei, a = _draw(clinc, size=200, seed=7)
    _, b = _draw(clinc, size=200, seed=7)
    _, c = _draw(clinc, size=200, seed=8)
    assert es.jsonl_bytes(es.records(ei, a)) == es.jsonl_bytes(es.records(ei, b))
    assert set(a.rows.tolist()) != set(c.rows.tolist())


# --------------------------------------------------------------------------------------------
# sample_data, end to end through the CLI
# --------------------------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path_factory, tmp_path):
    from tests.project.helpers import analysed_project

    return analysed_project(tmp_path_factory, tmp_path / "p.wbproj")


def _lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_cli_eval_set_pin_exclude_and_owned_folder(project, tmp_path, capsys):
    from workbench.cli.main import main
    from workbench.project import Project

    out = tmp_path / "evalset"
    assert main(["eval-set", str(project), "--out", str(out), "--size", "80", "--seed", "3"]) == 0
    said = capsys.readouterr().out
    assert "Eval set:" in said and "near a training prompt" in said
    recs = _lines(out / es.EVAL_FILE)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(recs) == manifest["counts"]["drawn"] >= 60
    for rec in recs:
        assert rec["messages"][-1]["role"] == "user" and rec["messages"][-1]["content"].strip()
        assert {"group", "cluster", "cluster_label", "gap", "source", "line"} <= set(rec)
        assert rec["source"] == "production_banking.jsonl"
    assert manifest["options"]["seed"] == 3 and manifest["counts"]["clusters"] == len(manifest["clusters"])
    assert sum(c["drawn"] for c in manifest["clusters"]) == len(recs)
    assert all(len(g["members"]) >= 2 for g in manifest["groups"])
    first = (out / es.EVAL_FILE).read_bytes()

    # pin one input that was not drawn, exclude one that was: one journal entry each, undoable
    with Project.open(project, read_only=True) as p:
        ws = p.load()
        prod = [i for i in range(ws.n) if ws.role[i] == "production"]
        drawn = {(r["source"], r["line"]) for r in recs}
        near = {(x["source"], x["line"]) for x in manifest["excluded_near_train"]["rows"]}
        candidates = [i for i in prod if ("production_banking.jsonl", ws.example_id(i)[1]) not in drawn | near]
        pin = candidates[0]
        pin_line, excl_line = ws.example_id(pin)[1], recs[0]["line"]
    (tmp_path / "pin.txt").write_text(f"production_banking.jsonl:{pin_line}\n")
    (tmp_path / "excl.txt").write_text(f"production_banking.jsonl:{excl_line}\n")
    assert main(["eval-set", str(project), "--pin", str(tmp_path / "pin.txt"), "--reason", "must test"]) == 0
    assert main(["eval-set", str(project), "--exclude", str(tmp_path / "excl.txt"), "--out", str(out),
                 "--size", "80", "--seed", "3"]) == 0
    capsys.readouterr()
    recs2 = _lines(out / es.EVAL_FILE)
    lines2 = {r["line"] for r in recs2}
    assert pin_line in lines2 and excl_line not in lines2
    assert any(r["pinned"] and r["line"] == pin_line for r in recs2)
    with Project.open(project, read_only=True) as p:
        assert p.state.eval_marks == {(3, pin_line): "pin", (3, excl_line): "exclude"} or \
            set(p.state.eval_marks.values()) == {"pin", "exclude"}
    assert main(["history", str(project), "--limit", "2"]) == 0
    hist = capsys.readouterr().out
    assert "Exclude 1 example for the eval set" in hist and "Pin 1 example for the eval set (must test)" in hist
    assert main(["undo", str(project), "2"]) == 0
    with Project.open(project, read_only=True) as p:
        assert p.state.eval_marks == {}
    # back to no marks: the same seed writes the first file again, byte for byte
    assert main(["eval-set", str(project), "--out", str(out), "--size", "80", "--seed", "3"]) == 0
    assert (out / es.EVAL_FILE).read_bytes() == first

    # never over a folder this tool did not create; nothing written there
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["eval-set", str(project), "--out", str(foreign)]) == 2
    assert "Refusing" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    # a train example cannot be pinned
    (tmp_path / "bad.txt").write_text("train_banking_chat.jsonl:5\n")
    assert main(["eval-set", str(project), "--pin", str(tmp_path / "bad.txt")]) == 2
    assert "not production inputs" in capsys.readouterr().err


def test_eval_mark_op_round_trips_and_inverts():
    from workbench.core.errors import ProjectError
    from workbench.project.journal import EvalMark, Op
    from workbench.project.curation_state import CurationState

    state = CurationState({3: "abc"})
    op, changed = state.apply(EvalMark([(3, 1), (3, 2)], "pin", "x"))
    assert state.eval_marks == {(3, 1): "pin", (3, 2): "pin"} and changed["eval_mark"]
    op2, _ = state.apply(EvalMark([(3, 2)], "exclude"))
    assert Op.from_json(op2.to_json()) == op2 and Op.from_journal(op2.to_json()) == op2
    state.apply(op2.inverse())
    assert state.eval_marks == {(3, 1): "pin", (3, 2): "pin"}
    state.apply(op.inverse())
    assert state.eval_marks == {}
    with pytest.raises(ProjectError):
        EvalMark([(3, 1)], "maybe")
