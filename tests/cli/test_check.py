"""``workbench check`` and ``workbench export --fail-on-warnings`` end to end on a project built
from sample_data and analysed with the real model (tests/project/helpers.analysed_project)."""

from __future__ import annotations

import json

import pytest

from tests.analysis.realdata import analysis_home
from tests.conftest import SAMPLE
from tests.project.helpers import analysed_project
from workbench.cli.main import main
from workbench.project import Project


@pytest.fixture
def project(tmp_path_factory, tmp_path, monkeypatch):
    path = analysed_project(tmp_path_factory, tmp_path / "p.wbproj")
    # the analysis' WORKBENCH_HOME: its embedding cache holds every sample text already
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
    return path


def _verdict(project, capsys) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(["check", str(project), "--json"])
    return rc, json.loads(capsys.readouterr().out)


def _check(verdict: dict, key: str) -> dict:
    return next(c for c in verdict["checks"] if c["key"] == key)


def test_check_names_the_leak_and_reject_leaked_clears_it(project, capsys):
    assert main(["check", str(project)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("NOT READY for fine-tuning")
    leak_line = next(line for line in out.splitlines() if line.startswith("[WARN] eval leakage"))
    # sample_data/README.md: the eval file repeats training queries (4 of them verbatim)
    assert "eval examples leak into the training data" in leak_line and "exact" in leak_line
    fix = next(line for line in out.splitlines() if "--leaked" in line)
    # a command to paste: this installation's workbench, the project as reachable from here
    assert fix.strip().startswith("fix: ") and "workbench reject " in fix and str(project) in fix
    assert fix.endswith('--leaked --reason "eval leak"')
    assert "eval_banking_chat.jsonl:" in out and "train_banking_chat.jsonl:" in out  # which ones

    rc, before = _verdict(project, capsys)
    leak = _check(before, "leakage")
    assert rc == 1 and leak["status"] == "warn" and leak["count"] >= 4
    assert len(leak["items"]) == leak["count"]  # every leaked eval example is listed
    assert _check(before, "analysis")["status"] == "pass"

    assert main(["reject", str(project), "--leaked", "--reason", "eval leak"]) == 0
    rc, after = _verdict(project, capsys)
    assert _check(after, "leakage")["status"] == "pass" and _check(after, "leakage")["count"] == 0
    assert rc == 1  # other checks still warn (duplicates, conflicts, flags, gaps, no replay data)
    assert {c["key"] for c in after["checks"] if c["status"] == "warn"} >= {"duplicates", "flags", "replay"}
    # undo brings the leak back: the verdict follows the journal
    assert main(["undo", str(project)]) == 0
    assert _check(_verdict(project, capsys)[1], "leakage")["count"] == leak["count"]


def test_findings_file_feeds_reject_lines(project, tmp_path, capsys):
    listing = tmp_path / "flags.txt"
    assert main(["check", str(project), "--findings", str(listing), "--only", "flags"]) == 1
    rc, before = _verdict(project, capsys)
    flags = _check(before, "flags")
    assert flags["status"] == "warn"
    named = [line for line in listing.read_text().splitlines() if line and not line.startswith("#")]
    assert len(named) == flags["count"] == len(flags["items"])
    assert main(["reject", str(project), "--lines", str(listing), "--reason", "flagged"]) == 0
    rc, after = _verdict(project, capsys)
    assert _check(after, "flags")["status"] == "pass"


def test_fail_on_warnings_refuses_and_keeps_the_previous_export(project, tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["export", str(project), "--out", str(out), "--format", "chat"]) == 0
    printed = capsys.readouterr()
    assert "NOT READY for fine-tuning" in printed.out  # the verdict ends the summary
    assert "warning: not ready:" in printed.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["readiness"]["ready"] is False
    assert any(w.startswith("not ready:") for w in manifest["warnings"])
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    assert main(["export", str(project), "--out", str(out), "--format", "chat", "--fail-on-warnings",
                 "--split", "0.9"]) == 1
    err = capsys.readouterr().err
    assert "Not exported: the data is not ready" in err and "eval leakage" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the previous export, intact
    assert sorted(x.name for x in tmp_path.iterdir() if "export" in x.name) == ["export"]  # nothing beside

    # thresholds are project settings: allow what is left, and the same export goes through
    with Project.open(project) as p:
        for key, value in {"max_leaked": 1000, "max_duplicate_groups": 1000, "max_conflicts": 1000,
                           "max_mismatches": 1000, "max_pii": 1000, "max_flagged": 1000, "max_gaps": 1000,
                           "min_replay_share": 0, "min_cluster_examples": 0}.items():
            p.settings.set(f"readiness.{key}", value)
    assert main(["export", str(project), "--out", str(out), "--format", "chat", "--fail-on-warnings"]) == 0
    printed = capsys.readouterr()
    assert "READY for fine-tuning" in printed.out and "NOT READY" not in printed.out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["readiness"]["ready"] is True
    assert manifest["readiness"]["thresholds"]["max_leaked"] == 1000
    assert _check(manifest["readiness"], "leakage")["count"] >= 4  # counted, just allowed


def test_errors_exit_2_and_no_analysis_is_not_ready(tmp_path, capsys):
    assert main(["check", str(tmp_path / "none.wbproj")]) == 2
    assert "does not exist" in capsys.readouterr().err
    fresh = tmp_path / "fresh.wbproj"
    assert main(["new", str(fresh)]) == 0
    assert main(["add", str(fresh), str(SAMPLE / "train_banking_chat.jsonl"), "--role", "train"]) == 0
    capsys.readouterr()
    assert main(["check", str(fresh)]) == 1
    out = capsys.readouterr().out
    assert "[WARN] analysis up to date: no analysis results yet" in out
    assert f"workbench analyze {fresh}" in out


def test_report_shows_the_verdict_and_the_findings_file_lists_every_finding(project, tmp_path, capsys):
    from collections import Counter

    from workbench.analysis.project_analysis import load_stored

    assert main(["reject", str(project), "--flag", "very_short_response", "--reason", "too short"]) == 0
    from workbench.project.journal import Edit

    with Project.open(project) as p:  # one edit: the report shows it as a before/after diff
        ws = p.load()
        row = next(i for i in range(ws.n) if ws.role[i] == "train" and ws.source_names[i] == "train_banking_chat.jsonl")
        record = ws.record(row)
        old = record["messages"][-1]["content"]
        record["messages"][-1]["content"] = "edited_answer"
        p.apply(Edit(ws.example_id(row), record))
    out = tmp_path / "export"
    assert main(["export", str(project), "--out", str(out), "--report"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    rows = [json.loads(line) for line in (out / "findings.jsonl").read_text().splitlines()]
    assert all(r["source"] is not None and "line" in r and r["reason"] for r in rows if r["source"])
    by = Counter(r["section"] for r in rows)
    with Project.open(project, read_only=True) as p:
        summary = load_stored(p).summary
    assert by["duplicates"] == summary["duplicates"]["n_rows_in_groups"]
    assert by["conflicts"] == summary["conflicts"]["n_conflicts"]
    assert by["gaps"] == summary["gaps"]["n_gap_inputs"]
    assert by["flags"] == sum(c["count"] for c in summary["flags"]["counts"])
    assert by["removals"] == sum(r["count"] for r in manifest["removals"]) == manifest["counts"]["rejected"]
    assert by["leakage"] == manifest["leakage"]["leaked_eval_examples"] >= 4
    for check in manifest["readiness"]["checks"]:  # every finding of every check, none cut
        assert by[f"readiness:{check['key']}"] == len(check["items"]) + check.get("items_left_out", 0)
    assert sum(manifest["leakage"]["by_kind"].values()) == manifest["leakage"]["leaked_eval_examples"]

    html = (out / "report.html").read_text()
    first_screen = html[: html.index("<h2>")]
    assert 'id="readiness"' in first_screen and "NOT READY for fine-tuning" in first_screen
    assert f"<b>30 of {summary['conflicts']['n_conflicts']}</b> shown" in html
    assert f"<b>30 of {summary['duplicates']['n_groups']}</b> shown" in html
    assert 'href="findings.jsonl"' in html
    assert "<h4>Flagged examples</h4>" in html and "pii_email" in html
    edits = [r for r in rows if r["section"] == "edits"]
    assert len(edits) == 1 and edits[0]["before"]["response"] == old and edits[0]["after"]["response"] == "edited_answer"
    assert f'<del style="background:#fdd">{old}</del>' in html and '<ins style="background:#dfd">edited_answer</ins>' in html
    leak_rows = html[html.index("Leakage against eval"):]
    assert "<b>total</b>" in leak_rows
