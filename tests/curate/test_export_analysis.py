"""Export, rebalance and split with a real analysis of sample_data (see conftest.analysed)."""

from __future__ import annotations

import base64
import re
import struct

import pytest

from tests.curate.conftest import SCRIPT
from tests.curate.helpers import embed
from workbench.curate.snapshot import CurationSnapshot
from workbench.curate.export import ExportOptions, run_export
from workbench.curate.rebalance import plan_project_rebalance


def test_report_with_map_cluster_table_findings_all_escaped(analysed, tmp_path):
    p, result = analysed
    snap = CurationSnapshot.capture(p, result, embed=embed)
    res = run_export(snap, ExportOptions(tmp_path / "out", split=0.9, report=True))
    html = res.report_path.read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "<b>promoted" not in html
    assert f"&lt;b&gt;promoted&lt;/b&gt; {SCRIPT}".replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#x27;") in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 2
    png = base64.b64decode(images[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (540, 420)
    for heading in ("Clusters", "Findings", "Duplicates", "Conflicts", "Coverage gaps", "Leakage against eval",
                    "What changed"):
        assert f">{heading}</h" in html
    m = res.manifest
    assert m["clusters"]["table"] and m["analysis"]["revision"] == result.revision
    assert m["model"] == {"encoder": "hashed-char-ngrams (test)"}
    assert sum(r["before"] for r in m["clusters"]["table"]) == m["counts"]["train_examples"]
    assert sum(r["validation"] for r in m["clusters"]["table"]) == m["counts"]["validation"]


def test_split_by_cluster_never_separates_a_duplicate_group(analysed, tmp_path):
    p, result = analysed
    snap = CurationSnapshot.capture(p, result, embed=embed)
    res = run_export(snap, ExportOptions(tmp_path / "out", format="chat", split=0.85, seed=1))
    g = snap.analysis.dup_group
    train_groups = set(g[res.train_rows][g[res.train_rows] >= 0].tolist())
    val_groups = set(g[res.validation_rows][g[res.validation_rows] >= 0].tolist())
    assert train_groups and val_groups and not (train_groups & val_groups)
    split = res.manifest["split"]
    assert split["stratified_by"] == "cluster"
    assert abs(split["validation"] - 0.15 * (split["train"] + split["validation"])) <= 3
    # the sample's eval set leaks 4 training queries verbatim (sample_data/README.md)
    leak = res.manifest["leakage"]
    assert leak["by_kind"].get("exact", 0) >= 4  # the analysis' one leak rule, on the exported rows
    assert sum(leak["by_side"].values()) == sum(leak["by_kind"].values()) == leak["leaked_eval_examples"]


def test_rebalance_to_production_is_one_undoable_step_and_moves_toward_production(analysed, tmp_path):
    p, result = analysed
    snap = CurationSnapshot.capture(p, result, embed=embed)
    plan = plan_project_rebalance(snap, "production")
    print(f"\nsample_data, rebalance to production shares: total variation {plan.distance_before:.3f} -> "
          f"{plan.distance_after:.3f}, JS distance {plan.js_before:.3f} -> {plan.js_after:.3f}; "
          f"{plan.n_rejected} capped, {plan.n_reweighted} reweighted, "
          f"{len(plan.needs_new_data)} clusters need new data")
    assert plan.distance_after < plan.distance_before - 0.1
    assert plan.needs_new_data  # production clusters the sample leaves out on purpose
    before = p.state.snapshot()
    undo_label, revision = p.undo_label, p.revision
    change = p.apply(plan.to_batch(p.workspace.example_id))
    try:
        assert p.undo_label == "Rebalance to production shares"
        assert int(p.workspace.rejected.sum()) == int(snap.rejected.sum()) + plan.n_rejected
        res = run_export(CurationSnapshot.capture(p, result, embed=embed),
                         ExportOptions(tmp_path / "out", rebalance=plan.to_dict()))
        m = res.manifest
        cl = m["clusters"]
        assert cl["distance_to_production_after"] < cl["distance_to_production_before"]
        caps = [r for r in m["removals"] if r["reason"].startswith("rebalance: cap cluster")]
        assert caps and all(r["op_id"] == change.op_id for r in caps)
        assert sum(r["count"] for r in caps) == plan.n_rejected
        assert m["rebalance"]["label"] == "Rebalance to production shares"
    finally:
        p.undo()
    assert p.state.snapshot() == before and p.undo_label == undo_label and p.revision > revision


def test_uniform_rebalance_preview_counts(analysed):
    p, result = analysed
    plan = plan_project_rebalance(CurationSnapshot.capture(p, result), "uniform", max_weight=2)
    rows = [c for c in plan.clusters]
    assert rows and all(c.cluster >= 0 for c in rows)
    shares = {c.cluster: c.target_share for c in rows}
    assert len(set(round(s, 9) for s in shares.values())) == 1
    assert all(c.after <= 2 * c.rows_before for c in rows)
    assert all(w <= 2 for w in plan.weight_rows)


def test_rebalance_without_analysis_says_what_to_run(session):
    from workbench.core.errors import WorkbenchError

    p, _ = session
    with pytest.raises(WorkbenchError, match="workbench analyze"):
        plan_project_rebalance(CurationSnapshot.capture(p), "production")
