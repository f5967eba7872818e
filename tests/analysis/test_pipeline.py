"""The pipeline on all of sample_data: the documented table and summary, references by source
and line, write/read, reuse of unchanged results and of unchanged stages."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from tests.analysis.realdata import FILES, sample_input
from workbench.analysis.pipeline import (CACHE_FILE, EXAMPLES_FILE, SUMMARY_FILE, AnalysisInput,
                                         AnalysisParams, AnalysisResult, analyze, run_analysis)
from workbench.core.errors import AnalysisError

COLUMNS = {
    "source": "str", "source_id": "int32", "role": "str", "line": "int64", "x": "float32", "y": "float32",
    "cluster": "int32", "cluster_label": "string", "cluster_strength": "float32", "noise": "bool",
    "dup_group": "Int32", "dup_keeper": "bool", "flags": "object", "nearest_train_sim": "float32",
    "nearest_train_source": "string", "nearest_train_line": "Int64", "nearest_train_source_id": "Int32",
    "gap": "bool",
    "inconsistency": "float32", "conflict": "float32", "queue_rank": "Int32",
    "review_priority": "float32", "leaked": "bool", "leak_sim": "float32",
}
SUMMARY_KEYS = {"clusters", "duplicates", "conflicts", "gaps", "leakage", "queue", "flags", "counts",
                "sources", "revision", "cache_key", "params", "timings", "version"}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("analysis")
    res = analyze(sample_input(tmp_path_factory), AnalysisParams(), out)
    return res, out


def _refs(obj):
    """Every {"source", "source_id", "line"} reference anywhere in a JSON value."""
    if isinstance(obj, dict):
        if set(obj) >= {"source", "line"} and isinstance(obj.get("line"), int):
            yield obj["source"], obj.get("source_id"), obj["line"]
        for v in obj.values():
            yield from _refs(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _refs(v)


def test_examples_table_has_the_documented_schema(result):
    res, out = result
    ex = res.examples
    assert len(ex) == 913 + 400 + 539 + 235
    for col, dtype in COLUMNS.items():
        assert col in ex.columns, col
        if dtype == "str":  # pandas 3's default string dtype ("object" on pandas 2)
            assert pd.api.types.is_string_dtype(ex[col]), (col, ex[col].dtype)
        else:
            assert str(ex[col].dtype) == dtype, (col, ex[col].dtype)
    # rows keep input order: the first rows are the first lines of the first file
    assert ex["source"].iloc[0] == FILES[0][0] and ex["line"].iloc[0] == 1
    assert set(ex["role"]) == {"train", "production", "eval"}
    train = ex["role"] == "train"
    assert ex.loc[train, "nearest_train_sim"].isna().all()
    assert ex.loc[~train, "nearest_train_sim"].notna().all()
    assert ex.loc[~train, "inconsistency"].isna().all()
    assert ex.loc[train, "inconsistency"].notna().mean() > 0.5
    assert (ex["cluster"] >= -1).all() and (ex.loc[ex["cluster"] >= 0, "cluster_label"].notna()).all()
    assert all(isinstance(f, list) for f in ex["flags"])
    # the table on disk reads back identical
    back = pd.read_parquet(out / EXAMPLES_FILE)
    assert list(back.columns) == list(ex.columns) and len(back) == len(ex)


def test_summary_refers_to_examples_by_source_and_line(result):
    res, out = result
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["revision"] == res.revision and summary["params"] == AnalysisParams().to_dict()
    known = set(zip(res.examples["source"], res.examples["source_id"], res.examples["line"]))
    refs = list(_refs({k: summary[k] for k in ("clusters", "duplicates", "conflicts", "gaps",
                                               "leakage", "queue")}))
    assert len(refs) > 500
    assert set(refs) <= known
    c = summary["counts"]
    assert c["clusters"] == len(summary["clusters"]) > 10
    assert c["duplicate_groups"] > 0 and c["leaked"] > 0 and c["gaps"] > 0


def test_findings_on_the_sample_are_the_known_ones(result):
    res, _ = result
    ex, s = res.examples, res.summary
    # the 4 eval queries that also occur (case-insensitively) in the train sample leak
    leaked = ex[ex["leaked"]]
    assert (leaked["role"] == "eval").all() and len(leaked) >= 4
    # Dolly's 60 rows with a repeated instruction form exact duplicate groups
    dolly = ex[(ex["source"] == "train_dolly_alpaca.jsonl") & ex["dup_group"].notna()]
    assert len(dolly) >= 60
    # production queries of intents left out of training are the top gaps
    assert s["gaps"]["gaps"][0]["kind"] in {"not covered", "under-represented"}
    assert ex.loc[ex["role"] == "production", "queue_rank"].notna().sum() == min(200, 539)


def test_rerun_with_same_inputs_and_params_reuses_results(result, tmp_path_factory):
    res, out = result
    again = analyze(sample_input(tmp_path_factory), AnalysisParams(), out)
    assert again.reused and again.cache_key == res.cache_key
    pd.testing.assert_frame_equal(again.examples, res.examples)


def test_changed_threshold_reuses_graph_map_and_clusters(result, tmp_path_factory):
    res, out = result
    other = tmp_path_factory.mktemp("analysis2")
    for name in (EXAMPLES_FILE, SUMMARY_FILE, CACHE_FILE, "graph.npz"):
        (other / name).write_bytes((out / name).read_bytes())
    params = AnalysisParams(near_dup_threshold=0.97)
    new = analyze(sample_input(tmp_path_factory), params, other)
    assert not new.reused
    assert {"neighbour graph (reused)", "map layout (reused)", "clusters (reused)"} <= set(new.timings)
    np.testing.assert_array_equal(new.examples["x"], res.examples["x"])
    assert new.summary["duplicates"]["threshold"] == 0.97
    assert new.examples["dup_group"].notna().sum() <= res.examples["dup_group"].notna().sum()
    assert AnalysisResult.read(other).params == params


def test_changed_input_changes_the_revision(tmp_path_factory):
    a = sample_input(tmp_path_factory)
    b = sample_input(tmp_path_factory)
    assert a.revision() == b.revision()
    b.prompt[5] = b.prompt[5] + " (edited)"
    assert dataclasses.replace(b, _revision=None).revision() != a.revision()


def test_input_rows_must_line_up(tmp_path_factory):
    inp = sample_input(tmp_path_factory)
    with pytest.raises(AnalysisError):
        AnalysisInput(source=inp.source, line=inp.line, role=inp.role, prompt=inp.prompt[:-1],
                      response=inp.response, prompt_vecs=inp.prompt_vecs)


def test_without_response_vectors_conflicts_are_skipped_and_5d_clusters_work(tmp_path_factory):
    inp = sample_input(tmp_path_factory)
    rows = np.arange(300)
    small = AnalysisInput(source=inp.source[rows], line=inp.line[rows], role=inp.role[rows],
                          prompt=[inp.prompt[i] for i in rows], response=[inp.response[i] for i in rows],
                          prompt_vecs=inp.prompt_vecs[rows])
    res = run_analysis(small, AnalysisParams(umap_epochs=50, cluster_dims=5))
    assert res.summary["conflicts"]["skipped"]
    assert res.examples["inconsistency"].isna().all()
    assert "cluster space" in res.timings and res.summary["counts"]["clusters"] >= 2


def test_coverage_gaps_and_leaks_are_complete_in_the_stored_results(result):
    """Each coverage gap's rows are on disk (column gap_group), so a reopened project shows whole
    gaps; every leaked row says how it matched (leak_kind)."""
    res, out = result
    back = AnalysisResult.read(out)
    ex, s = back.examples, back.summary
    gg = ex["gap_group"].fillna(-1).to_numpy()
    for g in s["gaps"]["gaps"]:
        if g["kind"] != "under-represented":
            members = ex[gg == g["rank"]]
            assert len(members) == g["n_production"] and (members["role"] == "production").all()
            assert members["gap"].all()
    assert (gg >= 0).sum() == ex["gap"].sum()
    assert ex.loc[ex["role"] == "production", "gap_score"].notna().all()
    leaked = ex[ex["leaked"]]
    assert leaked["leak_kind"].notna().all() and ex.loc[~ex["leaked"], "leak_kind"].isna().all()
