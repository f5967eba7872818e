"""``workbench analyze`` end to end on sample_data: files and project give the same results, a
re-run reuses them, and bad invocations fail with one clear line."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.analysis.realdata import analysis_home, sample_input
from tests.conftest import SAMPLE
from workbench.cli.main import main

FILES = ["--train", str(SAMPLE / "train_banking_chat.jsonl"),
         "--train", str(SAMPLE / "train_dolly_alpaca.jsonl"),
         "--production", str(SAMPLE / "production_banking.jsonl"),
         "--eval", str(SAMPLE / "eval_banking_chat.jsonl")]


@pytest.fixture
def warm_home(tmp_path_factory, monkeypatch):
    """The session's analysis home: model converted and sample vectors cached once."""
    sample_input(tmp_path_factory)
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))


def test_analyze_files_then_reuse(tmp_path, capsys, warm_home):
    out = tmp_path / "results"
    assert main(["analyze", *FILES, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for heading in ("Analysed 2,087 examples", "Clusters:", "Duplicate groups:", "Conflicts:",
                    "Coverage gaps:", "Leakage:", "Results written"):
        assert heading in text, heading
    ex = pd.read_parquet(out / "examples.parquet")
    summary = json.loads((out / "summary.json").read_text())
    assert len(ex) == 2087 and summary["counts"]["examples"] == 2087
    assert summary["params"]["seed"] == 42
    # the top gap printed is the first gap of the summary
    first_gap = summary["gaps"]["gaps"][0]
    assert (first_gap.get("cluster_label") or first_gap["region"]) in text

    assert main(["analyze", *FILES, "--out", str(out)]) == 0
    assert "Results reused" in capsys.readouterr().out

    # another threshold: recomputed, same map
    assert main(["analyze", *FILES, "--out", str(out), "--near-dup", "0.97"]) == 0
    assert "Results written" in capsys.readouterr().out
    ex2 = pd.read_parquet(out / "examples.parquet")
    pd.testing.assert_series_equal(ex2["x"], ex["x"])
    assert json.loads((out / "summary.json").read_text())["params"]["near_dup_threshold"] == 0.97


def test_analyze_project_matches_files(tmp_path, capsys, warm_home):
    proj = tmp_path / "demo.wbproj"
    assert main(["new", str(proj)]) == 0
    for flag, path in zip(FILES[::2], FILES[1::2]):
        assert main(["add", str(proj), path, "--role", flag.lstrip("-")]) == 0
    capsys.readouterr()
    assert main(["analyze", str(proj), "--out", str(tmp_path / "p")]) == 0
    assert main(["analyze", *FILES, "--out", str(tmp_path / "f")]) == 0
    a = pd.read_parquet(tmp_path / "p" / "examples.parquet")
    b = pd.read_parquet(tmp_path / "f" / "examples.parquet")
    pd.testing.assert_frame_equal(a, b)
    # without --out a project's results go to its own analysis folder, where export finds them
    assert main(["analyze", str(proj)]) == 0
    own = tmp_path / "demo.wbproj-data" / "analysis" / "examples.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(own), a)


@pytest.mark.parametrize("argv, message", [
    (["analyze", "--out", "x"], "Nothing to analyse"),
    (["analyze", "p.wbproj", "--train", "t.jsonl", "--out", "x"], "either a PROJECT or data files"),
    (["analyze", "--train", "/no/such/file.jsonl", "--out", "x"], "file.jsonl"),
    (["analyze", "--train", "t.jsonl"], "--out DIR"),
])
def test_bad_invocations_fail_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
