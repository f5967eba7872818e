"""``workbench export`` end to end on sample_data."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import SAMPLE
from workbench.cli.main import main
from workbench.project import Project
from workbench.project.journal import Edit, Reject, SetWeight

SOURCES = [("train_banking_chat.jsonl", "train"), ("train_dolly_alpaca.jsonl", "train"),
           ("production_banking.jsonl", "production"), ("eval_banking_chat.jsonl", "eval")]


@pytest.fixture
def project(tmp_path):
    for name, _ in SOURCES:
        shutil.copy(SAMPLE / name, tmp_path / name)
    path = tmp_path / "bank.wbproj"
    with Project.create(path) as p:
        for name, role in SOURCES:
            p.add_source(tmp_path / name, role)
        ws = p.load()
        p.apply(Reject([(1, 1), (2, 2)], "duplicate"))
        rec = ws.record(ws.index_of((2, 3)))
        rec["output"] = "A better answer."
        p.apply(Edit((2, 3), rec))
        p.apply(SetWeight([(1, 2)], 2))
    return path


def test_plain_export_needs_no_analysis(project, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["export", str(project), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Exported 1,311 training examples as 1,312 lines" in text and "Manifest:" in text
    assert sorted(f.name for f in out.iterdir()) == [
        "manifest.json", "train_banking_chat.train.jsonl", "train_dolly_alpaca.train.jsonl"]
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["counts"]["adds_up"] and m["counts"]["rejected"] == 2 and m["analysis"] is None
    dolly = (out / "train_dolly_alpaca.train.jsonl").read_text(encoding="utf-8").splitlines()
    original = (SAMPLE / "train_dolly_alpaca.jsonl").read_text(encoding="utf-8").splitlines()
    assert dolly[0] == original[0] and json.loads(dolly[1])["output"] == "A better answer."
    assert dolly[2:] == original[3:]


def test_chat_with_weights_as_field(project, tmp_path, capsys):
    out = tmp_path / "clean"
    assert main(["export", str(project).removesuffix(".wbproj"), "--out", str(out), "--format", "chat",
                 "--weights", "field"]) == 0
    lines = (out / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1311 and all(set(json.loads(x)) == {"messages", "weight"} for x in lines)
    assert sorted(f.name for f in out.iterdir()) == ["manifest.json", "train.jsonl"]


def test_parquet(project, tmp_path):
    import pyarrow.parquet as pq

    assert main(["export", str(project), "--out", str(tmp_path / "clean"), "--format", "parquet"]) == 0
    assert pq.read_table(tmp_path / "clean" / "train.parquet").num_rows == 1312


def test_export_into_the_source_folder_is_refused(project, tmp_path, capsys):
    """Issue 11.1 as the tester ran it: --out at the folder of the sources, or at a source."""
    before = {f.name: f.read_bytes() for f in tmp_path.glob("*.jsonl")}
    for out, fmt in ((tmp_path, "chat"), (tmp_path / "train_banking_chat.jsonl", "chat"), (tmp_path, "parquet")):
        assert main(["export", str(project), "--out", str(out), "--format", fmt]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and ("a file of this project" in err or "it is a file" in err), err
    assert {f.name: f.read_bytes() for f in tmp_path.glob("*.jsonl")} == before
    assert main(["inspect", str(tmp_path / "train_banking_chat.jsonl")]) == 0


@pytest.mark.parametrize("extra, message", [
    (["--out", "{tmp}/x.txt"], "an export names its folder"),
    (["--out", "{tmp}/o", "--rebalance", "production", "--no-analysis"], "--rebalance needs the analysis"),
    (["--out", "{tmp}/o", "--split", "1.5"], "between 0 and 1"),
    (["--out", "{tmp}/o", "--mix", "general.jsonl"], "FILE:RATIO"),
    (["--out", "{tmp}/one.jsonl"], "an export names its folder"),
    (["--out", "{tmp}/o", "--split", "0.5", "--seed", "-5"], "--seed: must be at least 0"),
])
def test_errors_are_one_clear_line(project, tmp_path, capsys, extra, message):
    args = ["export", str(project)] + [a.format(tmp=tmp_path) for a in extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_project_is_a_clear_error(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope.wbproj"), "--out", str(tmp_path / "o")]) != 0
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.slow
def test_full_export_with_analysis_rebalance_split_mix_report(project, tmp_path, capsys):
    """The real encoder and the real analysis: rebalance toward production, split, replay mix from
    an outside file, report."""
    out = tmp_path / "out"
    mix = SAMPLE / "train_dolly_alpaca.jsonl"  # any data file can be a replay source
    args = ["export", str(project), "--out", str(out), "--format", "chat", "--split", "0.9",
            "--rebalance", "production", "--mix", f"{mix}:5%", "--report"]
    assert main(args) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "Rebalance to production shares: distance to target" in text
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    c = m["counts"]
    assert c["adds_up"] and c["validation"] > 50 and c["mix"] == round(0.05 * (c["exported_train"] + c["repeats"]))
    assert m["rebalance"]["distance_after"] < m["rebalance"]["distance_before"]
    assert m["clusters"]["distance_to_production_after"] < m["clusters"]["distance_to_production_before"]
    assert m["model"]["encoder"] and m["analysis"]["params"]["near_dup_threshold"]
    assert any(r["reason"].startswith("rebalance: cap cluster") for r in m["removals"])
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "<script" not in html.lower()
    with Project.open(project) as p:  # the rebalance is one undoable step in the project
        assert p.undo_label == "Rebalance to production shares"
    # a second export reuses the stored analysis
    assert main(["export", str(project), "--out", str(tmp_path / "again"), "--report"]) == 0
    assert "Analysis reused" in capsys.readouterr().err
