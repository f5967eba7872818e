"""Map continuity (workbench.analysis.map_continuity) on the real sample data (Banking77 + Dolly,
real default encoder): a re-analysis after rows were added keeps the map and the cluster ids and
places the new rows; removing a source moves nothing; a fresh layout on request is aligned to the
old map and keeps cluster ids; the curator's cluster names survive; drift places a new snapshot
with the same rule."""

from __future__ import annotations

import numpy as np
import pytest

from tests.analysis.realdata import banking_intents, sample_input
from workbench.analysis import map_continuity as mc

SEED = 0


def subset(inp, rows):
    """The AnalysisInput of some rows of ``inp`` (same identities, texts and vectors)."""
    from workbench.analysis.pipeline import AnalysisInput

    rows = np.asarray(rows, np.int64)
    pick = lambda seq: [seq[i] for i in rows.tolist()]  # noqa: E731
    return AnalysisInput(source=inp.source[rows], source_id=inp.source_id[rows], line=inp.line[rows],
                         role=inp.role[rows], prompt=pick(inp.prompt), response=pick(inp.response),
                         prompt_vecs=inp.prompt_vecs[rows],
                         response_vecs=None if inp.response_vecs is None else inp.response_vecs[rows],
                         system=pick(inp.system), turns=pick(inp.turns),
                         extra={k: pick(v) for k, v in inp.extra.items()}, encoder=inp.encoder)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """First analysis: everything but the second half of the production log; second analysis:
    everything, continuing the first."""
    from workbench.analysis.pipeline import AnalysisParams, run_analysis

    full = sample_input(tmp_path_factory)
    prod = np.flatnonzero(full.role == "production")
    later = prod[len(prod) // 2:]
    first = np.setdiff1d(np.arange(full.n), later)
    params = AnalysisParams(seed=SEED)
    r1 = run_analysis(subset(full, first), params)
    r2 = run_analysis(full, params, previous=r1)
    r4 = run_analysis(full, params, previous=r2, relayout=True)
    return full, first, later, params, r1, r2, r4


def test_adding_rows_keeps_every_persisting_row_and_places_the_new_ones(case):
    full, first, later, _, r1, r2, r4 = case
    e1, e2 = r1.examples, r2.examples
    m = r2.summary["map"]
    assert m["mode"] == "kept" and m["kept"] == len(first) and m["placed"] == len(later)
    assert m["text"].startswith(f"kept: {len(first):,} rows kept, {len(later):,} placed")
    # persisting rows: the very same place, cluster id and label
    assert np.array_equal(e2["x"].to_numpy()[first], e1["x"].to_numpy())
    assert np.array_equal(e2["y"].to_numpy()[first], e1["y"].to_numpy())
    assert np.array_equal(e2["cluster"].to_numpy()[first], e1["cluster"].to_numpy())
    # ... and label: the same terms; the same label unless the one-topic verdict changed (a
    # cluster that gained unrelated rows is then labelled mixed: cluster_quality)
    before = {c["id"]: c for c in r1.summary["clusters"]}
    assert {c["id"] for c in r2.summary["clusters"]} == set(before)
    assert all(before[c["id"]]["terms"] == c["terms"] for c in r2.summary["clusters"])
    same_verdict = {c["id"] for c in r2.summary["clusters"] if c.get("coherent") == before[c["id"]].get("coherent")}
    assert len(same_verdict) >= 0.9 * len(before)
    assert all(before[c]["label"] == next(x for x in r2.summary["clusters"] if x["id"] == c)["label"]
               for c in same_verdict if before[c]["terms"])
    named = sorted(c for c in same_verdict if before[c]["terms"])
    in_named = np.isin(e1["cluster"].to_numpy(), named)
    assert in_named.mean() > 0.5
    assert (e2["cluster_label"].fillna("").to_numpy()[first[in_named]]
            == e1["cluster_label"].fillna("").to_numpy()[in_named]).all()
    # new rows: finite, inside the map, beside their nearest persisting neighbour
    xy = e2[["x", "y"]].to_numpy(np.float64)
    assert np.isfinite(xy[later]).all()
    lo, hi = xy[first].min(axis=0), xy[first].max(axis=0)
    assert ((xy[later] >= lo) & (xy[later] <= hi)).all()
    sims = full.prompt_vecs[later] @ full.prompt_vecs[first].T
    nn = first[np.argmax(sims, axis=1)]
    to_nn = np.linalg.norm(xy[later] - xy[nn], axis=1)
    rng = np.random.default_rng(0)
    to_random = np.linalg.norm(xy[later] - xy[rng.choice(first, len(later))], axis=1)
    assert np.median(to_nn) < 0.15 * np.median(to_random)
    # a placed query's map neighbours share its intent as often as in a fresh layout of all rows
    intents = banking_intents(full).astype(str)

    def neighbour_intent(ex):
        from scipy.spatial import cKDTree

        pts = ex[["x", "y"]].to_numpy(np.float64)
        _, nb = cKDTree(pts[first]).query(pts[later], k=10)
        return float((intents[first][nb] == intents[later][:, None]).mean())

    kept, fresh = neighbour_intent(e2), neighbour_intent(r4.examples)
    assert kept > 0.4 and kept > fresh - 0.05, (kept, fresh)
    # and joins a cluster unless it is far from every cluster
    assert (e2["cluster"].to_numpy()[later] >= 0).mean() > 0.9


def test_a_new_row_far_from_every_cluster_stays_unclustered(case):
    full, first, later, _, r1, _, _ = case
    cl = r1.examples["cluster"].to_numpy()
    x, y = r1.examples["x"].to_numpy(), r1.examples["y"].to_numpy()
    vecs = full.prompt_vecs[first]
    # an unrelated direction: orthogonal to the mean of every analysed row, i.e. far from all
    rng = np.random.default_rng(1)
    v = rng.normal(size=(1, vecs.shape[1])).astype(np.float32)
    v /= np.linalg.norm(v)
    allv = np.vstack([vecs, v])
    px, py, pc, nearest = mc.place(allv, np.array([len(first)]), np.arange(len(first)), x, y, cl,
                                   join_rule=True)
    assert nearest[0] < mc.JOIN_MIN_SIM and pc[0] == -1 and np.isfinite(px[0]) and np.isfinite(py[0])
    # the same row placed without the join rule would be forced into a cluster
    assert mc.place(allv, np.array([len(first)]), np.arange(len(first)), x, y, cl)[2][0] >= 0
    # and a copy of an analysed, clustered row joins that row's cluster
    i = int(np.flatnonzero(cl >= 0)[0])
    allv2 = np.vstack([vecs, vecs[i:i + 1]])
    assert mc.place(allv2, np.array([len(first)]), np.arange(len(first)), x, y, cl, join_rule=True)[2][0] == cl[i]


def test_removing_a_source_removes_its_rows_and_moves_nothing_else(case):
    from workbench.analysis.pipeline import run_analysis

    full, _, _, params, _, r2, _ = case
    stay = np.flatnonzero(full.source != "train_dolly_alpaca.jsonl")
    r3 = run_analysis(subset(full, stay), params, previous=r2)
    e2, e3 = r2.examples, r3.examples
    assert r3.summary["map"]["mode"] == "kept" and r3.summary["map"]["placed"] == 0
    assert r3.summary["map"]["removed"] == full.n - len(stay)
    assert "train_dolly_alpaca.jsonl" not in set(e3["source"])
    assert np.array_equal(e3[["x", "y"]].to_numpy(), e2[["x", "y"]].to_numpy()[stay])
    assert np.array_equal(e3["cluster"].to_numpy(), e2["cluster"].to_numpy()[stay])
    # ids of clusters that lost every member are not listed
    assert {c["id"] for c in r3.summary["clusters"]} == set(np.unique(e3["cluster"][e3["cluster"] >= 0]).tolist())


def test_an_edited_prompt_is_a_new_row(case):
    from workbench.analysis.pipeline import run_analysis

    full, first, _, params, r1, _, _ = case
    inp = subset(full, first)
    cl = r1.examples["cluster"].to_numpy()
    a = int(np.flatnonzero(cl == cl[cl >= 0].min())[0])  # a row of one cluster ...
    b = int(np.flatnonzero((cl >= 0) & (cl != cl[a]))[0])  # ... edited into the text of another's
    prompts = list(inp.prompt)
    prompts[a] = prompts[b]
    vecs = inp.prompt_vecs.copy()
    vecs[a] = vecs[b]
    edited = subset(inp, np.arange(inp.n))
    edited.prompt, edited.prompt_vecs = prompts, vecs
    r = run_analysis(edited, params, previous=r1)
    m = r.summary["map"]
    assert m["mode"] == "kept" and m["placed"] == 1 and m["kept"] == inp.n - 1
    e = r.examples
    assert e["cluster"].iat[a] == cl[b]
    moved = np.hypot(e["x"].iat[a] - r1.examples["x"].iat[b], e["y"].iat[a] - r1.examples["y"].iat[b])
    stayed = np.hypot(e["x"].iat[a] - r1.examples["x"].iat[a], e["y"].iat[a] - r1.examples["y"].iat[a])
    assert moved < stayed


def test_relayout_is_fresh_but_aligned_and_keeps_cluster_ids(case):
    full, first, _, params, r1, r2, r4 = case
    m = r4.summary["map"]
    assert m["mode"] == "aligned" and m["reason"] == "a fresh layout was asked for"
    pr = m["procrustes"]
    assert pr["rows"] == full.n
    assert pr["residual"] < pr["unaligned_residual"] and pr["residual"] < 0.6
    e2, e4 = r2.examples, r4.examples
    assert not np.array_equal(e2["x"].to_numpy(), e4["x"].to_numpy())  # a new layout ...
    xy2, xy4 = e2[["x", "y"]].to_numpy(), e4[["x", "y"]].to_numpy()
    assert mc.residual(xy4, xy2) == pytest.approx(pr["residual"], abs=1e-3)  # ... drawn onto the old one
    # clusters keep their ids where they hold most of an old cluster's members
    same = (e4["cluster"].to_numpy() == e2["cluster"].to_numpy()) & (e2["cluster"].to_numpy() >= 0)
    assert same.mean() > 0.5
    # new clusters never reuse an id the earlier maps had
    old_ids = set(e2["cluster"].tolist()) | set(r1.examples["cluster"].tolist())
    kept = {c["id"] for c in r4.summary["clusters"] if c["id"] in old_ids}
    new = {c["id"] for c in r4.summary["clusters"]} - kept
    assert len(kept) == m["clusters"]["kept"] and len(new) == m["clusters"]["new"]
    assert all(c >= r2.summary["map"]["next_cluster_id"] for c in new)
    assert m["next_cluster_id"] > max({c["id"] for c in r4.summary["clusters"]})


def test_procrustes_undoes_a_rotation_flip_scale_and_shift_of_a_real_map(case):
    _, _, _, _, r1, _, _ = case
    xy = r1.examples[["x", "y"]].to_numpy(np.float64)
    a = np.deg2rad(70)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.diag([1.0, -1.0])
    moved = 2.5 * xy @ rot + np.array([40.0, -7.0])
    moved += np.random.default_rng(0).normal(scale=0.01, size=moved.shape)
    r, s, t = mc.procrustes(moved, xy)
    assert mc.residual(mc.apply_transform(moved, r, s, t), xy) < 0.01 < mc.residual(moved, xy)
    assert np.linalg.det(r) < 0 and s == pytest.approx(0.4, rel=1e-3)


def test_fresh_layout_when_too_few_rows_persist(case):
    from workbench.analysis.pipeline import run_analysis

    full, _, _, params, r1, _, _ = case
    dolly = np.flatnonzero(full.source == "train_dolly_alpaca.jsonl")  # 400 of 2,087 rows
    small = run_analysis(subset(full, dolly), params)
    r = run_analysis(full, params, previous=small)
    assert r.summary["map"]["mode"] == "aligned"
    assert "keeping needs 50%" in r.summary["map"]["reason"]
    # a previous map with other map parameters is not kept either
    r5 = run_analysis(full, params.replace(min_dist=0.3), previous=r1)
    assert r5.summary["map"]["mode"] == "aligned" and "map parameters" in r5.summary["map"]["reason"]


def test_a_map_grown_mostly_by_placing_is_laid_out_afresh(case):
    """The keep rule counts persisting rows UMAP laid out, not rows placed into a kept map: a
    map grown step by step is laid out afresh once placed rows would be the majority."""
    from workbench.analysis.pipeline import run_analysis

    full, _, _, params, _, _, _ = case
    rng = np.random.default_rng(3)
    order = rng.permutation(full.n)
    half = np.sort(order[: int(full.n * 0.53)])  # 53% laid out ...
    r_a = run_analysis(subset(full, half), params)
    r_b = run_analysis(full, params, previous=r_a)  # ... 47% placed: kept
    placed = r_b.examples["map_placed"].to_numpy()
    assert r_b.summary["map"]["mode"] == "kept" and placed.sum() == full.n - len(half)
    assert not placed[half].any()
    # a few laid-out rows go: still 100% persisting, but under half of the rows were laid out
    gone = half[: int(full.n * 0.1)]
    stay = np.setdiff1d(np.arange(full.n), gone)
    r_c = run_analysis(subset(full, stay), params, previous=r_b)
    m = r_c.summary["map"]
    assert m["persisting_share"] == 1.0 and m["laid_out_share"] < 0.5
    assert m["mode"] == "aligned" and "laid out in the earlier map" in m["reason"]
    assert not r_c.examples["map_placed"].any()


def test_a_renamed_cluster_keeps_its_name_after_rows_are_added(case):
    from workbench.analysis.aligned import AlignedAnalysis
    from workbench.curate import clusters as curate_clusters

    full, first, _, _, r1, r2, _ = case
    before = AlignedAnalysis(r1, full.source_id[first], full.line[first], full.role[first])
    cid = int(r1.summary["clusters"][2]["id"])
    edit = curate_clusters.rename(before, cid, "Card delivery questions")
    after = AlignedAnalysis(r2, full.source_id, full.line, full.role, [edit])
    assert after.cluster_labels[cid] == "Card delivery questions"
    assert after.resolve_cluster(cid, edit.samples[0], edit.revision) == cid
    assert after.result.revision != r1.revision  # another analysis: resolved by its members


def test_a_name_follows_its_cluster_through_a_fresh_map_of_the_same_data(case):
    """--relayout of unchanged data can end a cluster id: the curator's name then follows the
    cluster holding most of its members instead of being lost."""
    from workbench.analysis.aligned import AlignedAnalysis
    from workbench.curate import clusters as curate_clusters

    full, _, _, _, _, r2, r4 = case
    assert r4.revision == r2.revision
    before = AlignedAnalysis(r2, full.source_id, full.line, full.role)
    now = {c["id"] for c in r4.summary["clusters"]}
    ended = [c["id"] for c in r2.summary["clusters"] if c["id"] not in now]
    assert ended and r4.summary["map"]["clusters"]["ended"] == len(ended)
    edit = curate_clusters.rename(before, ended[0], "Renamed before the re-layout")
    after = AlignedAnalysis(r4, full.source_id, full.line, full.role, [edit])
    target = after.resolve_cluster(ended[0], edit.samples[0], edit.revision)
    assert target in now
    assert after.cluster_labels[target] == "Renamed before the re-layout"


def test_drift_places_a_new_snapshot_where_the_kept_reanalysis_does(case):
    """drift.compute_drift on the first analysis, with the production log's second half as the
    new snapshot, places those inputs with the same rule as the kept re-analysis: same places."""
    from workbench.analysis import drift

    full, first, later, _, r1, r2, r4 = case
    n = full.n
    analysed = np.zeros(n, bool)
    analysed[first] = True
    x = np.full(n, np.nan, np.float32)
    y = np.full(n, np.nan, np.float32)
    cl = np.full(n, -1, np.int64)
    x[first], y[first] = r1.examples["x"].to_numpy(), r1.examples["y"].to_numpy()
    cl[first] = r1.examples["cluster"].to_numpy()
    snapshot = np.full(n, "", dtype=object)
    prod = full.role == "production"
    snapshot[prod] = "2026-10-01"
    snapshot[later] = "2026-11-01"
    labels = {int(c["id"]): c["label"] for c in r1.summary["clusters"]}
    d = drift.compute_drift(list(full.prompt), full.role, full.prompt_vecs, snapshot, analysed, x, y, cl, labels)
    assert np.allclose(d.x[later], r2.examples["x"].to_numpy()[later], atol=1e-5)
    assert np.allclose(d.y[later], r2.examples["y"].to_numpy()[later], atol=1e-5)
    assert d.n_after == len(later) and sum(r["n_after"] for r in d.clusters) == len(later)


def test_cli_keeps_the_project_map_and_relayout_gives_a_fresh_aligned_one(tmp_path, capsys, tmp_path_factory,
                                                                           monkeypatch):
    """``workbench analyze PROJECT`` after a source was added keeps the map (and says so);
    ``--relayout`` lays it out afresh, aligned, even though the results are current."""
    import pandas as pd

    from tests.analysis.realdata import analysis_home
    from tests.conftest import SAMPLE
    from workbench.cli.main import main

    sample_input(tmp_path_factory)  # the model converted and the sample's vectors cached once
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
    proj = tmp_path / "demo.wbproj"
    assert main(["new", str(proj)]) == 0
    for name, role in (("train_banking_chat.jsonl", "train"), ("production_banking.jsonl", "production")):
        assert main(["add", str(proj), str(SAMPLE / name), "--role", role]) == 0
    out = tmp_path / "results"
    assert main(["analyze", str(proj), "--out", str(out)]) == 0
    first = pd.read_parquet(out / "examples.parquet")
    assert main(["add", str(proj), str(SAMPLE / "eval_banking_chat.jsonl"), "--role", "eval"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(proj), "--out", str(out)]) == 0
    assert f"Map: kept: {len(first):,} rows kept, 235 placed" in capsys.readouterr().out
    kept = pd.read_parquet(out / "examples.parquet")
    assert kept[["x", "y", "cluster"]].iloc[:len(first)].equals(first[["x", "y", "cluster"]])
    assert main(["analyze", str(proj), "--out", str(out), "--relayout"]) == 0
    text = capsys.readouterr().out
    assert "Results written" in text and "Map: fresh, aligned to the earlier map on 1,687 rows" in text
    fresh = pd.read_parquet(out / "examples.parquet")
    assert not fresh["x"].equals(kept["x"])
    assert main(["analyze", str(proj), "--out", str(out)]) == 0  # current: reused, still aligned
    text = capsys.readouterr().out
    assert "Results reused" in text and "Map: fresh, aligned" in text

    # the app's path: the analysis child process, asked for a fresh layout of current results
    import json

    from workbench.analysis import project_analysis as pa
    from workbench.analysis.child_process import run_child
    from workbench.project import Project

    before = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    with Project.open(proj, read_only=True) as p:
        params = pa.project_params(p)
    report = run_child(proj, out, params.to_dict(), relayout=True)
    after = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert report["cache_key"] == after["cache_key"] == before["cache_key"]  # still current
    assert after["created"] != before["created"] or after["timings"] != before["timings"]  # recomputed
    assert after["map"]["mode"] == "aligned" and after["map"]["reason"] == "a fresh layout was asked for"
