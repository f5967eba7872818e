"""The project analysis service: one embedding rule, one parameter set (defaults <- project
settings <- command-line overrides, overrides saved), one results folder, one staleness check, one
example identity — on real data with the real encoder. (The GUI's analysis job against
``workbench analyze PROJECT``: tests/ui/test_analysis_service.py.)"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.analysis.realdata import analysis_home
from tests.analysis.twin_project import COPIED, COPY, copied_text, make_twin_project, twin_group
from workbench.analysis import project_analysis as pa
from workbench.analysis.aligned import AlignedAnalysis, source_labels
from workbench.analysis.pipeline import AnalysisParams
from workbench.cli.main import main
from workbench.project import Project


@pytest.fixture
def warm_home(tmp_path_factory, monkeypatch):
    """The analysis tests' WORKBENCH_HOME: the model and the embedding cache stay warm."""
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))


def test_source_labels_tell_same_named_files_apart():
    labels = source_labels([(1, "/data/a/train.jsonl"), (2, "/data/b/train.jsonl"), (3, "/data/eval.jsonl"),
                            (4, "/other/a/train.jsonl")])
    assert labels == {1: "data/a/train.jsonl", 2: "b/train.jsonl", 3: "eval.jsonl", 4: "other/a/train.jsonl"}
    assert len(set(labels.values())) == 4
    assert source_labels([(1, "x/train.jsonl"), (2, "y/dev.jsonl")]) == {1: "train.jsonl", 2: "dev.jsonl"}


def test_embedding_rule_leaves_out_blank_responses(warm_home):
    encoder = pa.get_encoder_for(None)
    prompts = ["How do I reset my PIN?", "Where is my card?", "Can I get a refund?"]
    pv, rv, _ = pa.embed_rows(prompts, ["Go to Settings > Security.", "   \n\t", ""], encoder)
    assert pv.shape == (3, encoder.dim) and np.allclose(np.linalg.norm(pv, axis=1), 1, atol=1e-3)
    assert np.allclose(np.linalg.norm(rv[0]), 1, atol=1e-3)
    assert not rv[1].any() and not rv[2].any()  # whitespace-only = no response: zeros, not embedded
    assert pa.has_response(["a", " ", None, "\n"]).tolist() == [True, False, False, False]
    _, rv_none, _ = pa.embed_rows(prompts, [" ", "", "  "], encoder)
    assert rv_none is None  # no response anywhere: no response vectors (conflicts are skipped)


def test_parameters_defaults_then_settings_then_overrides(tmp_path):
    proj = make_twin_project(tmp_path)
    with Project.open(proj) as p:
        assert pa.project_params(p) == AnalysisParams()
        assert pa.results_dir(p) == p.data_dir / "analysis"
        params = pa.save_params(p, {"near_dup_threshold": 0.97, "min_cluster_size": 12})
        assert p.settings.get(pa.PARAMS_SETTING) == {"near_dup_threshold": 0.97, "min_cluster_size": 12}
        assert pa.project_params(p) == params == AnalysisParams(near_dup_threshold=0.97, min_cluster_size=12)
        over = pa.project_params(p, {"near_dup_threshold": 0.9, "gap_sim": None})
        assert over.near_dup_threshold == 0.9 and over.min_cluster_size == 12 and over.gap_sim == AnalysisParams().gap_sim
        pa.save_params(p, {"near_dup_threshold": AnalysisParams().near_dup_threshold})  # back to default
        assert p.settings.get(pa.PARAMS_SETTING) == {"min_cluster_size": 12}
        p.settings.set(pa.PARAMS_SETTING, {"near_dup_threshold": "high"})  # damaged by hand: ignored
        assert pa.project_params(p) == AnalysisParams()
        p.settings.set(pa.DIR_SETTING, "results")
        assert pa.results_dir(p) == tmp_path / "results"


def test_same_named_sources_keep_their_identity_and_the_export_removes_the_right_record(tmp_path, warm_home):
    from workbench.curate.snapshot import CurationSnapshot
    from workbench.curate.export import ExportOptions, run_export
    from workbench.project.journal import Reject

    proj = make_twin_project(tmp_path)
    with Project.open(proj) as p:
        ws = p.load()
        outcome = pa.analyse(pa.AnalysisData.capture(ws), pa.project_params(p), pa.results_dir(p),
                             encoder=pa.get_encoder_for(None))
        result = outcome.result
        ex = pd.read_parquet(pa.results_dir(p) / "examples.parquet")
        assert {"source_id", "source", "line"} <= set(ex.columns)
        names = dict(zip(ex["source_id"], ex["source"]))
        assert names[1] == "a/train.jsonl" and names[2] == "b/train.jsonl"  # for people: told apart
        group = twin_group(result.summary)
        aligned = AlignedAnalysis(result, ws.source_id, ws.line, ws.role)
        for m in group["members"]:  # every reference resolves to the row of its own source
            r = aligned.row(m)
            assert (int(ws.source_id[r]), int(ws.line[r])) == (m["source_id"], m["line"])
        removable = aligned.rows(group["removable"])
        assert len(removable) == len(group["removable"]) >= 1
        twins = {(1, COPIED[1]), (2, COPY[1])}
        assert {ws.example_id(int(r)) for r in removable} < twins
        p.apply(Reject([ws.example_id(int(r)) for r in removable], "duplicate"))
        res = run_export(CurationSnapshot.capture(p, result), ExportOptions(tmp_path / "out", format="chat"))
    users = [json.loads(line)["messages"] for f in res.files if str(f).endswith(".jsonl")
             for line in (tmp_path / "out" / f).read_text("utf-8").splitlines()]
    prompts = [next(m["content"] for m in msgs if m["role"] == "user") for msgs in users]
    text = copied_text(tmp_path)
    assert sum(text in q for q in prompts) == 1  # one copy removed, the other kept
    a5 = json.loads((tmp_path / "data" / "a" / "train.jsonl").read_text("utf-8").splitlines()[4])["instruction"]
    assert any(a5 in q for q in prompts)  # a's line 5 (same line number as the copy in b) is kept
    assert res.counts["exported_train"] == 240 - len(removable)


def test_cli_overrides_are_saved_and_results_of_other_settings_are_not_current(tmp_path, capsys, warm_home):
    proj = make_twin_project(tmp_path)
    assert main(["analyze", str(proj)]) == 0
    assert main(["analyze", str(proj), "--near-dup", "0.97"]) == 0
    assert "Saved to the project's analysis settings: near_dup_threshold = 0.97" in capsys.readouterr().err
    encoder = pa.get_encoder_for(None)

    def status(project):
        data = pa.AnalysisData.capture(project.load())
        return pa.open_stored(data, pa.project_params(project), pa.results_dir(project), encoder=encoder)

    with Project.open(proj) as p:
        assert pa.project_params(p).near_dup_threshold == 0.97
        opened = status(p)
        assert opened.current and opened.result.params.near_dup_threshold == 0.97
        pa.save_params(p, {"near_dup_threshold": 0.95})  # the app's settings dialog
        assert not status(p).current  # 0.97 results are not shown as current with 0.95 settings
    # the project is open for writing elsewhere: the override cannot be saved, so the results
    # carry parameters the settings do not have and read as not current
    with Project.open(proj) as writer:
        assert main(["analyze", str(proj), "--near-dup", "0.9"]) == 0
        assert "not saved" in capsys.readouterr().err
        assert pa.project_params(writer).near_dup_threshold == 0.95
        assert json.loads((pa.results_dir(writer) / "summary.json").read_text())["params"]["near_dup_threshold"] == 0.9
        assert not status(writer).current
    # and `workbench analyze PROJECT` without options brings it back to the settings
    assert main(["analyze", str(proj)]) == 0
    with Project.open(proj, read_only=True) as p:
        assert status(p).current


def test_snapshot_is_immutable_and_does_not_see_later_edits(tmp_path):
    from workbench.project.journal import AddExample, Edit

    proj = make_twin_project(tmp_path)
    with Project.open(proj) as p:
        ws = p.load()
        data = pa.AnalysisData.capture(ws)  # what a background job gets
        assert {"a/train.jsonl", "b/train.jsonl"} <= set(data.source)
        row = ws.index_of((1, 3))
        before = data.prompt[row]
        rec = ws.record(row)
        rec["instruction"] = "Edited after the snapshot was taken"
        p.apply(Edit((1, 3), rec))
        p.apply(AddExample({"messages": [{"role": "user", "content": "Where is my card?"},
                                          {"role": "assistant", "content": "card_arrival"}]}, "chat"))
        assert "Edited after" in ws.prompt[row] and ws.n == data.n + 1  # the live workspace moved on
        assert data.prompt[row] == before and data.revision < p.revision  # the snapshot did not
        with pytest.raises(ValueError):
            data.source_id[0] = 9
        inp = data.to_input(np.zeros((data.n, 4), np.float32), None)
        assert inp.prompt[row] == before and inp.n == data.n
        assert list(inp.source_id[:1]) == [1] and inp.source[0] == "a/train.jsonl"
