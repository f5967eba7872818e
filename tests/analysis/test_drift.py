"""Drift between production snapshots (workbench.analysis.drift) on CLINC150 (needs ../shared):
train = train queries of 40 intents minus 6; snapshot 2026-10-01 = their test queries (analysed
with the real pipeline); snapshot 2026-11-01 = their validation queries plus 300 out-of-scope
queries, placed into the stored map without a new layout. The out-of-scope region must show as
new; the in-scope queries must not."""

from __future__ import annotations

import numpy as np
import pytest

from tests.analysis.findings_data import embed, read_jsonl
from tests.conftest import shared_data
from workbench.analysis import drift


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from workbench.analysis.pipeline import AnalysisInput, AnalysisParams, run_analysis

    train = read_jsonl(shared_data("clinc150", "clinc150_train.jsonl"))
    test = read_jsonl(shared_data("clinc150", "clinc150_test.jsonl"))
    val = read_jsonl(shared_data("clinc150", "clinc150_val.jsonl"))
    oos = read_jsonl(shared_data("clinc150", "clinc150_oos_test.jsonl"))
    intents = sorted({r["label"] for r in train})[::3][:40]
    rng = np.random.default_rng(5)
    removed = set(rng.choice(intents, 6, replace=False).tolist())
    tr = [r for r in train if r["label"] in intents and r["label"] not in removed]
    s1 = [r for r in test if r["label"] in intents]
    s2 = [r for r in val if r["label"] in intents] + oos[:300]
    rows = tr + s1 + s2
    texts = [r["text"] for r in rows]
    vecs = embed(tmp_path_factory, texts)
    n1 = len(tr) + len(s1)
    inp = AnalysisInput(source=["t"] * len(tr) + ["p1"] * len(s1), line=list(range(1, n1 + 1)),
                        role=["train"] * len(tr) + ["production"] * len(s1), prompt=texts[:n1],
                        response=[""] * n1, prompt_vecs=vecs[:n1])
    res = run_analysis(inp, AnalysisParams(seed=0))
    ex = res.examples
    n = len(rows)
    pad = np.full(n - n1, np.nan, np.float32)
    role = np.array(["train"] * len(tr) + ["production"] * (len(s1) + len(s2)), dtype=object)
    snapshot = np.array([""] * len(tr) + ["2026-10-01"] * len(s1) + ["2026-11-01"] * len(s2), dtype=object)
    analysed = np.arange(n) < n1
    labels = {int(c["id"]): c["label"] for c in res.summary["clusters"]}
    d = drift.compute_drift(
        texts, role, vecs, snapshot, analysed, np.r_[ex["x"].to_numpy(np.float32), pad],
        np.r_[ex["y"].to_numpy(np.float32), pad], np.r_[ex["cluster"].to_numpy(np.int64), np.full(n - n1, -1)],
        labels, gap=np.r_[ex["gap"].to_numpy(bool), np.zeros(n - n1, bool)],
        gap_group=np.r_[ex["gap_group"].fillna(-1).to_numpy(np.int64), np.full(n - n1, -1)])
    is_oos = np.array([r["label"] == "oos" for r in rows])
    return d, is_oos, np.arange(n) >= n1, res, n1


def test_out_of_scope_region_is_new_and_in_scope_is_not(case):
    d, is_oos, in_s2, res, n1 = case
    assert (d.before, d.after) == ("2026-10-01", "2026-11-01")
    assert d.new_regions, "no new region"
    new = d.new_region >= 0
    # the new regions are mostly out-of-scope queries (measured: 72% against 27% of the snapshot;
    # 20 of 30 regions all out-of-scope), and an out-of-scope query is far more often in a new region
    # than an in-scope one (measured 32% vs 4.6%)
    assert is_oos[new].mean() >= 2 * is_oos[in_s2].mean(), is_oos[new].mean()
    oos_regions = sum(is_oos[d.new_region == r["region"]].mean() > 0.5 for r in d.new_regions)
    assert oos_regions > len(d.new_regions) / 2
    assert new[is_oos].mean() >= 4 * new[in_s2 & ~is_oos].mean()
    # the out-of-scope inputs are the ones training does not cover
    assert d.uncovered["n"] > 0
    # placed without a new layout: stored rows keep their place; new ones land inside the map
    ex = res.examples
    assert np.array_equal(d.x[:n1], ex["x"].to_numpy(np.float32))
    assert np.isfinite(d.x[in_s2]).all() and np.isfinite(d.y[in_s2]).all()
    lo, hi = ex["x"].min(), ex["x"].max()
    assert ((d.x[in_s2] >= lo) & (d.x[in_s2] <= hi)).all()
    # in-scope validation queries land in the cluster most of their intent's test queries are in
    lines = drift.format_table(d)
    assert any("New regions" in s for s in lines)


def test_one_snapshot_is_a_clear_error():
    with pytest.raises(drift.DriftError, match="two production snapshots"):
        drift.compute_drift(["a"], ["production"], np.ones((1, 2), np.float32), np.array(["initial"], object),
                            np.ones(1, bool), np.zeros(1), np.zeros(1), np.zeros(1, np.int64), {})
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        drift.parse_date("Nov 1")


NEW_TOPIC = [
    "how long should I boil an egg for a runny yolk", "what temperature do I bake sourdough bread at",
    "can I freeze cooked rice and reheat it later", "how do I make a roux for gumbo",
    "what is a good substitute for buttermilk in pancakes", "how long do I rest a steak after grilling",
    "why did my souffle collapse in the oven", "how much yeast for a loaf of white bread",
    "what spices go into a garam masala mix", "how do I caramelise onions without burning them",
    "is it safe to eat raw cookie dough", "how do I keep basil fresh in the fridge",
]


def test_cli_add_snapshot_and_drift(tmp_path_factory, tmp_path, capsys):
    import json

    from tests.conftest import SAMPLE
    from tests.project.helpers import analysed_project
    from workbench.cli.main import main

    project = analysed_project(tmp_path_factory, tmp_path / "p.wbproj")
    prod = [json.loads(x) for x in (SAMPLE / "production_banking.jsonl").read_text().splitlines()][:150]
    log = tmp_path / "production_2026-11.jsonl"
    key = next(k for k in prod[0] if isinstance(prod[0][k], str) and k != "label")
    with open(log, "w") as f:
        for r in prod:
            f.write(json.dumps({key: r[key]}) + "\n")
        for t in NEW_TOPIC:
            f.write(json.dumps({key: t}) + "\n")
    assert main(["add", str(project), str(log), "--role", "train", "--snapshot", "2026-11-01"]) == 2
    assert "dates a production log" in capsys.readouterr().err
    assert main(["add", str(project), str(log), "--role", "production", "--snapshot", "1 Nov"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert main(["add", str(project), str(log), "--role", "production", "--snapshot", "2026-11-01"]) == 0
    capsys.readouterr()
    out_json = tmp_path / "drift.json"
    assert main(["drift", str(project), "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "2026-11-01 (162 inputs) against initial" in text and "New regions" in text
    d = json.loads(out_json.read_text())
    assert d["after"] == "2026-11-01" and d["n_after"] == 162
    # exactly the cooking questions are "not seen before" (too varied to form one region here)
    assert d["n_novel"] == len(NEW_TOPIC) and set(d["novel_examples"]) == set(NEW_TOPIC)
    assert d["scattered_new"] + sum(r["n"] for r in d["new_regions"]) == len(NEW_TOPIC)
    assert "scattered new inputs, e.g." in text
    assert d["uncovered"]["n"] >= 8
    assert main(["drift", str(project), "--json", str(out_json)]) == 2  # never over an existing file
