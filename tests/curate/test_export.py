"""Export after a scripted curation session: exactly the journal, counts that add up, atomic."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.curate.conftest import SCRIPT
from workbench.analysis.textnorm import normalise
from workbench.core.errors import Cancelled, ExportError
from workbench.core.progress import CancelToken
from workbench.curate.snapshot import CurationSnapshot
from workbench.curate.export import ExportOptions, run_export
from workbench.io.formats import dumps_record


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def _expected_source_lines(p, facts, source_id: int) -> list[str]:
    """What the source-format file of a train source must hold, built from the input file."""
    info = next(s for s in p.sources if s.id == source_id)
    out = []
    for n, line in enumerate(_lines(Path(info.path)), start=1):
        eid = (source_id, n)
        if eid in facts["rejected"]:
            continue
        text = dumps_record(facts["edited"][eid]) if eid in facts["edited"] else line
        out.extend([text] * int(facts["weights"].get(eid, 1)))
    return out


def _read_all(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())}


def test_source_export_reflects_exactly_the_journal(session, tmp_path):
    p, facts = session
    res = run_export(CurationSnapshot.capture(p), ExportOptions(tmp_path / "out"))
    names = sorted(f.name for f in res.files)
    assert names == ["train_banking_chat.train.jsonl", "train_dolly_alpaca.train.jsonl"]
    banking = _lines(tmp_path / "out" / "train_banking_chat.train.jsonl")
    # untouched records byte-identical, rejected gone, weight 3 = three lines, added example last
    assert banking == _expected_source_lines(p, facts, 1) + [dumps_record(facts["added"])]
    dolly = _lines(tmp_path / "out" / "train_dolly_alpaca.train.jsonl")
    assert dolly == _expected_source_lines(p, facts, 2)  # includes line 10: its rejection was undone
    assert json.loads(dolly[0])["output"] == f"{SCRIPT} edited answer"


def test_manifest_counts_add_up_and_name_every_op(session, tmp_path):
    p, facts = session
    res = run_export(CurationSnapshot.capture(p), ExportOptions(tmp_path / "out"))
    m = json.loads(res.manifest_path.read_text(encoding="utf-8"))
    c = m["counts"]
    assert c["train_examples"] == 913 + 400 + 1
    assert c["rejected"] == 2 and c["exported_train"] == 1312 and c["validation"] == 0
    assert c["train_examples"] == c["rejected"] + c["weight_zero"] + c["exported_train"] + c["validation"]
    assert c["train_lines"] == c["exported_train"] + c["repeats"] + c["mix"] == 1314
    assert c["loaded"] == sum(c["loaded_by_role"].values()) == 913 + 400 + 539 + 235 + 1
    assert c["adds_up"] is True
    assert sum(o["lines"] for o in m["outputs"]) == c["train_lines"]

    ops = {op.label: op_id for op_id, op in p.effective_ops()}
    removals = {r["reason"]: r for r in m["removals"]}
    assert removals["duplicate of line 2"]["op_id"] == ops["Reject 2 examples (duplicate of line 2)"]
    assert sorted(map(tuple, removals["duplicate of line 2"]["examples"])) == [
        ("train_banking_chat.jsonl", 3, "train"), ("train_banking_chat.jsonl", 4, "train")]
    assert removals[f"bad eval {SCRIPT}"]["examples"] == [["eval_banking_chat.jsonl", 1, "eval"]]
    assert "filler" not in removals  # undone
    assert m["edits"] == [{"source": "train_dolly_alpaca.jsonl", "line": 1, "op_id": ops["Edit 1 example"],
                           "exported_as": "train"}]
    assert m["added"][0]["op_id"] == ops["Add 1 train example"]
    assert m["added"][0]["provenance"] == {"source": "production_banking.jsonl", "line": 5}
    assert m["weights"] == [{"op_id": ops["Set weight 3 on 1 example"], "weight": 3.0, "count": 1}]
    assert [j["label"] for j in m["journal"]] == list(ops)
    inputs = {i["name"]: i for i in m["inputs"]}
    assert inputs["train_dolly_alpaca.jsonl"]["sha256"] == next(s.sha256 for s in p.sources if s.id == 2)
    seg = m["outputs"][0]["segments"]
    assert seg[-1] == {"origin": "train", "source": "added", "records": 1, "first_line": 914, "last_line": 914}


def test_chat_and_parquet_and_weight_field(session, tmp_path):
    import pyarrow.parquet as pq

    p, facts = session
    snap = CurationSnapshot.capture(p)
    res = run_export(snap, ExportOptions(tmp_path / "chat", format="chat"))
    lines = _lines(tmp_path / "chat" / "train.jsonl")
    assert len(lines) == 1314
    recs = [json.loads(x) for x in lines]
    assert all(set(r) == {"messages"} for r in recs)
    dolly_first = recs[913 - 2 + 2]  # banking rows (911 + 2 repeats), then dolly line 1
    assert dolly_first["messages"][-1] == {"role": "assistant", "content": f"{SCRIPT} edited answer"}
    assert recs[-1] == facts["added"]

    res = run_export(snap, ExportOptions(tmp_path / "pq", format="parquet", weights="field"))
    t = pq.read_table(res.files[0]).to_pylist()
    assert len(t) == 1312  # field mode: each example once
    six = next(r for r in t if r["source"] == "train_banking_chat.jsonl" and r["line"] == 6)
    five = next(r for r in t if r["source"] == "train_banking_chat.jsonl" and r["line"] == 5)
    assert six["weight"] == 3.0 and five["tags"] == ["checked"] and {r["origin"] for r in t} == {"train"}
    assert json.loads(five["record"]) == json.loads(_lines(Path(p.sources[0].path))[4])

    run_export(snap, ExportOptions(tmp_path / "field", weights="field"))
    banking = _lines(tmp_path / "field" / "train_banking_chat.train.jsonl")
    original = _lines(Path(p.sources[0].path))
    assert banking[0] == original[0][:-1] + ', "weight": 1}'
    assert json.loads(banking[3])["weight"] == 3 and len(banking) == 912  # lines 1, 2, 5, 6, ...


def test_out_names_the_export_folder(session, tmp_path):
    p, _ = session
    snap = CurationSnapshot.capture(p)
    with pytest.raises(ExportError, match="an export names its folder"):
        run_export(snap, ExportOptions(tmp_path / "clean.jsonl", format="chat"))
    assert not (tmp_path / "clean.jsonl").exists()
    res = run_export(snap, ExportOptions(tmp_path / "clean", format="chat", split=0.9))
    assert [f.name for f in res.files] == ["train.jsonl", "validation.jsonl"]
    assert res.manifest_path == tmp_path / "clean" / "manifest.json"
    m = json.loads(res.manifest_path.read_text(encoding="utf-8"))
    assert {f["file"] for f in m["files"]} == {"train.jsonl", "validation.jsonl"}
    assert all(f["sha256"] == _sha(tmp_path / "clean" / f["file"]) for f in m["files"])
    assert sorted(x.name for x in tmp_path.iterdir()) == ["clean", "proj"]  # no staging folder left beside it


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", ["source", "chat", "parquet"])
def test_never_writes_over_a_project_source(session, tmp_path, fmt):
    """Issue 11.1: --out at the folder holding the sources (or at a source itself) is refused."""
    p, _ = session
    folder = Path(p.sources[0].path).parent
    sources = lambda: {k: v for k, v in _read_all(folder).items() if k.endswith(".jsonl")}  # noqa: E731
    before = sources()
    snap = CurationSnapshot.capture(p)
    with pytest.raises(ExportError, match="a file of this project"):
        run_export(snap, ExportOptions(folder, format=fmt))
    with pytest.raises(ExportError, match="it is a file"):
        run_export(snap, ExportOptions(Path(p.sources[0].path), format=fmt))
    assert sources() == before and len(before) == 4
    assert sorted(x.name for x in folder.parent.iterdir()) == [folder.name]


def test_never_writes_over_a_file_it_did_not_create(session, tmp_path):
    """A source-named file of another project (train.parquet), a note added by a person, a file
    edited after the export: all refused, all left as they were."""
    p, _ = session
    snap = CurationSnapshot.capture(p)
    other = tmp_path / "other"
    other.mkdir()
    (other / "train.parquet").write_bytes(b"PAR1 someone else's data")
    with pytest.raises(ExportError, match=r"holds train\.parquet and no manifest\.json"):
        run_export(snap, ExportOptions(other, format="parquet"))
    assert (other / "train.parquet").read_bytes() == b"PAR1 someone else's data"

    out = tmp_path / "out"
    run_export(snap, ExportOptions(out, format="chat", report=True))
    (out / "NOTES.txt").write_text("my notes")
    with pytest.raises(ExportError, match="NOTES.txt is not .* what the previous export"):
        run_export(snap, ExportOptions(out, format="chat"))
    (out / "NOTES.txt").unlink()
    with open(out / "report.html", "a", encoding="utf-8") as f:
        f.write("<!-- reviewed -->")
    edited = _read_all(out)
    with pytest.raises(ExportError, match="report.html is not"):
        run_export(snap, ExportOptions(out, format="chat"))
    assert _read_all(out) == edited


def test_a_foreign_manifest_never_makes_it_delete_anything(session, tmp_path):
    """Issue 11.3: a manifest.json found in the folder is not proof; only this tool's hashes are."""
    p, _ = session
    snap = CurationSnapshot.capture(p)
    out = tmp_path / "out"
    out.mkdir()
    (out / "my_thesis.txt").write_text("years of work")
    (out / "manifest.json").write_text(json.dumps({"outputs": [{"file": "my_thesis.txt"}],
                                                   "companions": ["my_thesis.txt"]}))
    with pytest.raises(ExportError, match="manifest.json was not written by this tool"):
        run_export(snap, ExportOptions(out, format="chat"))
    # even one that claims to be ours is checked file by file against its hashes
    (out / "manifest.json").write_text(json.dumps({"tool": {"name": "curation-workbench"},
                                                   "files": [{"file": "my_thesis.txt", "sha256": "0" * 64}]}))
    with pytest.raises(ExportError, match="my_thesis.txt is not"):
        run_export(snap, ExportOptions(out, format="chat"))
    assert (out / "my_thesis.txt").read_text() == "years of work"


def test_split_without_analysis_keeps_exact_duplicates_together(session, tmp_path):
    p, _ = session
    res = run_export(CurationSnapshot.capture(p), ExportOptions(tmp_path / "out", split=0.8, seed=5))
    m = res.manifest
    assert m["counts"]["validation"] == len(res.validation_rows) > 200
    assert m["split"]["stratified_by"] is None and m["split"]["duplicate_groups_kept_together"] >= 23
    val = _lines(tmp_path / "out" / "train_dolly_alpaca.validation.jsonl")
    train = _lines(tmp_path / "out" / "train_dolly_alpaca.train.jsonl")
    v = {normalise(json.loads(x)["instruction"]) for x in val}
    t = {normalise(json.loads(x)["instruction"]) for x in train}
    assert v and not (v & t)


def _siblings(out: Path) -> list[str]:
    """Anything an export to ``out`` left beside it (staging or moved-aside folders)."""
    return sorted(x.name for x in out.parent.iterdir() if x.name.startswith(f".{out.name}."))


def test_cancelled_or_failing_export_leaves_the_previous_one_intact(session, tmp_path, monkeypatch):
    from workbench.project.journal import Reject

    p, _ = session
    out = tmp_path / "out"
    run_export(CurationSnapshot.capture(p), ExportOptions(out, report=True))
    before = _read_all(out)
    p.apply(Reject([(1, 100), (2, 200)], "later change"))
    snap = CurationSnapshot.capture(p)

    token = CancelToken()

    def progress(done, total, phase):
        if phase == "Writing files" and done > 0:
            token.cancel()

    with pytest.raises(Cancelled):
        run_export(snap, ExportOptions(out, report=True), progress=progress, cancel=token)
    assert _read_all(out) == before and _siblings(out) == []  # same files, same bytes, nothing left beside

    import workbench.curate.export_records as records

    calls = [0]
    real = records.source_line

    def failing(*a, **kw):
        calls[0] += 1
        if calls[0] > 1200:
            raise OSError(28, "No space left on device")
        return real(*a, **kw)

    monkeypatch.setattr(records, "source_line", failing)
    with pytest.raises(ExportError, match="No space left"):
        run_export(snap, ExportOptions(out, report=True))
    assert _read_all(out) == before and _siblings(out) == []


def test_a_failing_switch_leaves_the_previous_export_complete(session, tmp_path, monkeypatch):
    """Issue 11.2, the deterministic case: the final step fails -> old export, complete."""
    from workbench.curate import destination
    from workbench.project.journal import Reject

    p, _ = session
    out = tmp_path / "out"
    run_export(CurationSnapshot.capture(p), ExportOptions(out, format="chat", split=0.9, report=True))
    before = _read_all(out)
    p.apply(Reject([(1, 20)], "later change"))

    def broken(a, b):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(destination, "_swap", broken)
    with pytest.raises(ExportError, match="previous export .* is unchanged"):
        run_export(CurationSnapshot.capture(p), ExportOptions(out, format="chat"))
    assert _read_all(out) == before and _siblings(out) == []


def test_without_an_atomic_swap_a_kill_between_the_renames_is_repaired(session, tmp_path, monkeypatch):
    """The fallback (no renameat2/renamex_np): old folder aside, new one in. A crash between the two
    leaves the old export complete aside; the next export puts it back before anything else."""
    import os as _os

    from workbench.curate import destination

    p, _ = session
    out = tmp_path / "out"
    snap = CurationSnapshot.capture(p)
    run_export(snap, ExportOptions(out, format="chat"))
    before = _read_all(out)
    monkeypatch.setattr(destination, "_libc", lambda: None)
    real_rename = _os.rename
    calls = [0]

    def crash_after_first(a, b):
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt  # stands for the process dying between the two renames
        return real_rename(a, b)

    monkeypatch.setattr(destination.os, "rename", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        run_export(snap, ExportOptions(out, format="chat", split=0.8))
    assert not out.exists() and any(".wb-previous-" in n for n in _siblings(out))
    monkeypatch.setattr(destination.os, "rename", real_rename)
    # nothing else happened in between: the next export first restores the old one ...
    destination.prepare(out)
    assert _read_all(out) == before
    # ... and an export through the fallback works end to end
    res = run_export(snap, ExportOptions(out, format="chat", split=0.8))
    assert sorted(_read_all(out)) == ["manifest.json", "train.jsonl", "validation.jsonl"]
    assert res.counts["validation"] > 0 and _siblings(out) == []


def test_files_of_a_previous_export_that_are_not_rewritten_are_removed(session, tmp_path):
    p, _ = session
    out = tmp_path / "out"
    snap = CurationSnapshot.capture(p)
    run_export(snap, ExportOptions(out, split=0.9, report=True))
    assert (out / "train_dolly_alpaca.validation.jsonl").exists()
    run_export(snap, ExportOptions(out))
    assert sorted(f.name for f in out.iterdir()) == [
        "manifest.json", "train_banking_chat.train.jsonl", "train_dolly_alpaca.train.jsonl"]
    assert _siblings(out) == []


def test_report_without_analysis_is_escaped(session, tmp_path):
    p, _ = session
    res = run_export(CurationSnapshot.capture(p), ExportOptions(tmp_path / "out", report=True))
    html = res.report_path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "bad eval &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;b&gt;promoted&lt;/b&gt;" in html  # the added example's prompt
    assert "No map" in html


def test_weight_zero_and_fractional_weights_are_counted(session, tmp_path):
    from workbench.project.journal import SetWeight

    p, _ = session
    p.apply(SetWeight([(1, 7)], 0))
    p.apply(SetWeight([(1, 8)], 2.4))
    res = run_export(CurationSnapshot.capture(p), ExportOptions(tmp_path / "out"))
    c = res.counts
    assert c["weight_zero"] == 1 and c["exported_train"] == 1311
    assert c["repeats"] == 2 + 1  # weight 3 -> +2, weight 2.4 -> 2 lines -> +1
    assert any("rounded" in w for w in res.manifest["warnings"])


def test_nothing_to_export_is_a_clear_error(tmp_path):
    from tests.curate.conftest import make_project
    from workbench.project.journal import Reject

    p = make_project(tmp_path / "p")
    ws = p.workspace
    rows = np.flatnonzero(ws.role == "train")
    p.apply(Reject(ws.example_ids(rows), "all"))
    with pytest.raises(ExportError, match="Nothing to export"):
        run_export(CurationSnapshot.capture(p), ExportOptions(tmp_path / "out"))
    p.close()
