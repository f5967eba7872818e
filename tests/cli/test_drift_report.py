"""The export report's drift section (issue 15): with one production snapshot a one-line note; with
two, the table of ``workbench drift`` (the same core function), here on the real sample_data
project plus a second banking log with off-topic cooking questions, and with the curator's
cluster names in both."""

from __future__ import annotations

import html
import json
import re

from tests.analysis.realdata import analysis_home
from tests.analysis.test_drift import NEW_TOPIC
from tests.conftest import SAMPLE
from tests.project.helpers import analysed_project


def _section(report: str) -> str:
    start = report.index("<h2>Drift of the latest production log</h2>")
    return report[start:report.index("<h2>", start + 10)]


def test_report_drift_section_is_the_drift_table(tmp_path_factory, tmp_path, monkeypatch, capsys):
    from workbench.cli.main import main

    project = analysed_project(tmp_path_factory, tmp_path / "p.wbproj")
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))
    # one snapshot: a clear one-line note, no table
    assert main(["export", str(project), "--out", str(tmp_path / "one"), "--report"]) == 0
    one = _section((tmp_path / "one" / "report.html").read_text(encoding="utf-8"))
    assert "One production snapshot (initial)" in one and "--snapshot YYYY-MM-DD" in one and "<table" not in one

    # the next log, dated; a curator's name for one cluster
    prod = [json.loads(x) for x in (SAMPLE / "production_banking.jsonl").read_text().splitlines()][:150]
    key = next(k for k in prod[0] if isinstance(prod[0][k], str) and k != "label")
    log = tmp_path / "production_2026-11.jsonl"
    log.write_text("".join(json.dumps({key: t}) + "\n" for t in [r[key] for r in prod] + NEW_TOPIC))
    assert main(["add", str(project), str(log), "--role", "production", "--snapshot", "2026-11-01"]) == 0
    out = tmp_path / "two"
    assert main(["export", str(project), "--out", str(out), "--report"]) == 0  # brings the analysis up to date
    out_json = tmp_path / "drift.json"
    assert main(["drift", str(project), "--json", str(out_json)]) == 0
    capsys.readouterr()
    cli = json.loads(out_json.read_text())
    sec = _section((out / "report.html").read_text(encoding="utf-8"))
    assert f"<b>2026-11-01</b> ({cli['n_after']:,} inputs) against <b>initial</b> ({cli['n_before']:,} inputs)" in sec
    moved = [r for r in cli["clusters"] if r["status"] != "same"]
    assert moved
    assert f"{len(moved)} of {len(cli['clusters'])} clusters changed" in sec
    for r in moved[:30]:  # every row of the CLI's table, with its numbers
        row = (f"<td>{html.escape(r['label'], quote=True)}</td><td class=\"n\">{r['n_before']}</td>"
               f"<td class=\"n\">{r['n_after']}</td><td class=\"n\">{r['share_before']:.1%}</td>"
               f"<td class=\"n\">{r['share_after']:.1%}</td><td class=\"n\">{r['change'] * 100:+.1f}p</td>"
               f"<td>{r['status']}</td>")
        assert row in sec, row
    assert f"{len(cli['new_regions'])} regions and {cli['scattered_new']:,} scattered inputs ({cli['n_novel']:,} inputs" in sec
    assert cli["n_novel"] >= len(NEW_TOPIC) // 2
    assert f"{cli['uncovered']['n']:,} of 2026-11-01" in sec
    assert len(re.findall("<tr>", sec)) >= len(moved[:30]) + 1

    # the curator names a cluster that changed: the report and the CLI both show the name
    cid = next(r["cluster"] for r in moved if r["cluster"] >= 0)
    assert main(["cluster", str(project), "rename", str(cid), "Curated name"]) == 0
    assert main(["export", str(project), "--out", str(tmp_path / "named"), "--report"]) == 0
    named = _section((tmp_path / "named" / "report.html").read_text(encoding="utf-8"))
    assert "<td>Curated name</td>" in named and "<td>Curated name</td>" not in sec
    assert main(["drift", str(project)]) == 0
    assert "Curated name" in capsys.readouterr().out


def test_cli_set_snapshot_dates_and_undates_a_log(tmp_path, capsys):
    from workbench.analysis import drift
    from workbench.cli.main import main
    from workbench.project import Project

    project = tmp_path / "s.wbproj"
    assert main(["new", str(project)]) == 0
    assert main(["add", str(project), str(SAMPLE / "train_banking_chat.jsonl"), "--role", "train"]) == 0
    assert main(["add", str(project), str(SAMPLE / "production_banking.jsonl"), "--role", "production"]) == 0
    capsys.readouterr()
    assert main(["set-snapshot", str(project), "production_banking.jsonl", "2026-11-01"]) == 0
    assert "is snapshot 2026-11-01 (was initial)" in capsys.readouterr().out
    with Project.open(project, read_only=True) as p:
        prod = next(s for s in p.sources if s.role == "production")
        assert drift.snapshot_dates(p) == {prod.id: "2026-11-01"}
    assert main(["set-snapshot", str(project), "production_banking.jsonl", "Nov 1"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert main(["set-snapshot", str(project), "train_banking_chat.jsonl", "2026-11-01"]) == 2
    assert "production source" in capsys.readouterr().err
    assert main(["set-snapshot", str(project), "production_banking.jsonl", "initial"]) == 0
    with Project.open(project, read_only=True) as p:
        assert drift.snapshot_dates(p) == {}
