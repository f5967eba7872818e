"""``workbench cluster PROJECT rename/merge`` end to end on a project built from sample_data and
analysed with the real model: journalled, undoable, shown in history, applied by the aligned
analysis (labels, cluster ids, the check report), carried over a re-analysis that renumbered the
clusters."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.project.helpers import analysed_project
from workbench.cli.main import main
from workbench.curate import actions
from workbench.project import Project


@pytest.fixture
def project(tmp_path_factory, tmp_path):
    return analysed_project(tmp_path_factory, tmp_path / "p.wbproj")


def _aligned(path):
    with Project.open(path, read_only=True) as p:
        ws = p.load()
        return actions.stored_analysis(p, ws), len(p.state.cluster_edits), p.undo_count


def _biggest(a, k=3):
    return [int(f.data["id"]) for f in sorted(a.clusters, key=lambda f: -len(f.rows))[:k]]


def test_rename_merge_history_undo(project, capsys):
    a0, edits0, n0 = _aligned(project)
    assert edits0 == 0 and len(a0.clusters) >= 3
    c1, c2, c3 = _biggest(a0)
    size = {c: int((a0.cluster == c).sum()) for c in (c1, c2, c3)}

    assert main(["cluster", str(project), "rename", str(c2), "Card  payments"]) == 0
    assert f"Name cluster {c2} 'Card payments'" in capsys.readouterr().out
    a1, _, n1 = _aligned(project)
    assert n1 == n0 + 1
    assert a1.cluster_labels[c2] == "Card payments"
    assert any(f.title == "Card payments" and len(f.rows) == size[c2] for f in a1.clusters)
    assert a1.cluster_labels[c1] == a0.cluster_labels[c1]  # others keep the analysis' label

    assert main(["cluster", str(project), "merge", str(c1), str(c3), "--name", "Accounts"]) == 0
    assert f"Merge clusters {c3} into {c1} as 'Accounts'" in capsys.readouterr().out
    a2, _, n2 = _aligned(project)
    assert n2 == n1 + 1
    assert len(a2.clusters) == len(a0.clusters) - 1
    assert not (a2.cluster == c3).any()  # merged = one id for all members
    assert int((a2.cluster == c1).sum()) == size[c1] + size[c3]
    merged = next(f for f in a2.clusters if int(f.data["id"]) == c1)
    assert merged.title == "Accounts" and merged.data["merged_from"] == sorted([c1, c3])
    assert a2.cluster_labels[c3] == "Accounts" and a2.cluster_labels[c2] == "Card payments"
    assert np.array_equal(a2.cluster_of_analysis, a0.cluster)  # the analysis' own ids are kept

    assert main(["history", str(project)]) == 0
    out = capsys.readouterr().out
    assert "Merge clusters" in out and "Name cluster" in out
    assert main(["cluster", str(project)]) == 0
    assert "Accounts" in capsys.readouterr().out

    assert main(["undo", str(project)]) == 0
    a3, edits3, _ = _aligned(project)
    assert edits3 == 1 and len(a3.clusters) == len(a0.clusters) and (a3.cluster == c3).any()
    assert a3.cluster_labels[c2] == "Card payments"
    assert main(["redo", str(project)]) == 0
    assert len(_aligned(project)[0].clusters) == len(a0.clusters) - 1
    assert main(["undo", str(project), "2"]) == 0
    a4, edits4, _ = _aligned(project)
    assert edits4 == 0 and a4.cluster_labels == a0.cluster_labels


def test_bad_cluster_ids_are_refused(project, capsys):
    assert main(["cluster", str(project), "rename", "99999", "x"]) != 0
    assert "no cluster 99999" in capsys.readouterr().err
    assert main(["cluster", str(project), "merge", "0"]) != 0
    assert _aligned(project)[1] == 0  # nothing journalled


def test_names_follow_members_after_a_renumbering_reanalysis(project, capsys):
    a0, _, _ = _aligned(project)
    c1, c2, _ = _biggest(a0)
    assert main(["cluster", str(project), "rename", str(c1), "Top up"]) == 0
    assert main(["cluster", str(project), "merge", str(c2), str(c1)]) == 0
    with Project.open(project, read_only=True) as p:
        edits = list(p.state.cluster_edits)
    # the same analysis re-run with its clusters renumbered (ids shifted by 1000) under a new revision
    res = a0.result
    ex = res.examples.copy()
    ex["cluster"] = np.where(ex["cluster"] >= 0, ex["cluster"] + 1000, ex["cluster"])
    summary = dict(res.summary)
    summary["clusters"] = [dict(it, id=int(it["id"]) + 1000) for it in res.summary["clusters"]]
    renumbered = dataclasses.replace(res, examples=ex, summary=summary, revision=res.revision + "-rerun")
    from workbench.analysis.aligned import AlignedAnalysis

    b = AlignedAnalysis(renumbered, a0.row_ids[0], a0.row_ids[1], a0._roles, edits)
    assert b.cluster_labels[c2 + 1000] == b.cluster_labels[c1 + 1000]
    assert int((b.cluster == c2 + 1000).sum()) == int(((a0.cluster == c1) | (a0.cluster == c2)).sum())
    assert not (b.cluster == c1 + 1000).any()
    # the name given before the merge went with c1 into c2, which has no name of its own: c2's label
    assert b.cluster_labels[c2 + 1000] == a0.cluster_labels[c2]


def test_cluster_edit_round_trips_and_rejects_bad_fields():
    from workbench.core.errors import ProjectError
    from workbench.project.journal import ClusterEdit, Op

    op = ClusterEdit((4, 2), name="Refunds", merge=True, revision="r1", samples=(((1, 3), (1, 9)), ((2, 5),)))
    back = Op.from_json(op.to_json())
    assert back == op and back.inverse().inverse() == op and back.inverse().label.startswith("Undo merge")
    for bad in (dict(clusters=(1,), merge=True), dict(clusters=(1, 2)), dict(clusters=(1,), name=" "),
                dict(clusters=(1, 1), merge=True), dict(clusters=("x",), name="a"),
                dict(clusters=(1,), name="a", samples=((), ()))):
        with pytest.raises(ProjectError):
            ClusterEdit(**bad)


def test_export_and_check_snapshot_show_the_curators_clusters(project, capsys):
    from workbench.analysis.project_analysis import load_stored
    from workbench.curate.snapshot import CurationSnapshot

    a0, _, _ = _aligned(project)
    c1, c2, _ = _biggest(a0)
    assert main(["cluster", str(project), "merge", str(c1), str(c2), "--name", "Cards"]) == 0
    with Project.open(project, read_only=True) as p:
        snap = CurationSnapshot.capture(p, load_stored(p))  # what `workbench check` and export read
    view = snap.analysis
    assert view.labels[c1] == "Cards" and not (view.cluster == c2).any()
