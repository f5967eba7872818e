"""Replay mix: ratio of the training lines, diverse sampling, tagged by origin, in the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_data
from tests.curate.helpers import embed, text_vectors
from workbench.core.errors import InputError, WorkbenchError
from workbench.curate.snapshot import CurationSnapshot
from workbench.curate.export import ExportOptions, run_export
from workbench.curate.mix import MixSpec


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1]


@pytest.mark.parametrize("text, source, ratio", [
    ("general.jsonl:0.1", "general.jsonl", 0.1), ("safety.jsonl:2%", "safety.jsonl", 0.02),
    ("C:/data/x.jsonl:0.05", "C:/data/x.jsonl", 0.05)])
def test_parse(text, source, ratio):
    m = MixSpec.parse(text)
    assert (m.source, m.ratio) == (source, pytest.approx(ratio))


@pytest.mark.parametrize("text", ["general.jsonl", "x.jsonl:", "x.jsonl:abc", "x.jsonl:0"])
def test_parse_errors_are_clear(text):
    with pytest.raises(WorkbenchError):
        MixSpec.parse(text)


def _coverage_radius(v: np.ndarray, chosen: np.ndarray) -> float:
    return float((2.0 - 2.0 * (v @ v[chosen].T)).min(axis=1).max())


def test_mix_from_a_reference_source(session, tmp_path):
    p, _ = session
    ref = shared_data("self_instruct", "self_instruct_seed_alpaca.jsonl")
    info = p.add_source(ref, "reference")
    p.load()
    snap = CurationSnapshot.capture(p, embed=embed)
    res = run_export(snap, ExportOptions(tmp_path / "out", mix=[MixSpec(info.name, 0.05)]))
    m = res.manifest
    c = m["counts"]
    mix = m["mix"][0]
    assert mix["requested"] == round(0.05 * 1314) == mix["selected"] == c["mix"]
    assert c["train_lines"] == c["exported_train"] + c["repeats"] + c["mix"]
    assert mix["method"].startswith("diverse") and mix["in_project"] is True and mix["sha256"] == info.sha256
    # tagged by origin: its own file, every line byte-identical to its input line
    mixed = _lines(tmp_path / "out" / "mix-self_instruct_seed_alpaca.train.jsonl")
    original = _lines(ref)
    assert mixed == [original[n - 1] for n in mix["lines"]]
    assert m["outputs"][-1]["segments"] == [{"origin": "mix:self_instruct_seed_alpaca.jsonl",
                                             "source": "self_instruct_seed_alpaca.jsonl", "records": 66,
                                             "first_line": 1, "last_line": 66}]
    # diverse: covers the reference set better than the first 66 lines would
    v = text_vectors([json.loads(x)["instruction"] for x in original])
    chosen = np.array(mix["lines"]) - 1
    assert _coverage_radius(v, chosen) < _coverage_radius(v, np.arange(66))


def test_mix_from_an_outside_file_into_one_chat_file(session, tmp_path):
    p, _ = session
    path = shared_data("dolly15k_open_qa", "dolly_open_qa_chat.jsonl")
    snap = CurationSnapshot.capture(p, embed=embed)
    res = run_export(snap, ExportOptions(tmp_path / "clean", format="chat", mix=[MixSpec(str(path), 0.02)]))
    lines = _lines(tmp_path / "clean" / "train.jsonl")
    mix = res.manifest["mix"][0]
    assert mix["in_project"] is False and mix["available"] == 3742 and mix["selected"] == round(0.02 * 1314)
    seg = res.manifest["outputs"][0]["segments"][-1]
    assert seg["origin"] == "mix:dolly_open_qa_chat.jsonl" and seg["last_line"] == len(lines)
    original = _lines(path)
    assert lines[seg["first_line"] - 1:] == [original[n - 1] for n in mix["lines"]]
    assert res.manifest["inputs"][-1]["role"] == "reference (mix only)"


def test_mix_needs_a_reference_source(session, tmp_path):
    p, _ = session
    snap = CurationSnapshot.capture(p)
    with pytest.raises(WorkbenchError, match="reference"):
        run_export(snap, ExportOptions(tmp_path / "o", mix=[MixSpec("train_dolly_alpaca.jsonl", 0.1)]))
    with pytest.raises(InputError, match="not found"):
        run_export(snap, ExportOptions(tmp_path / "o", mix=[MixSpec(str(tmp_path / "nope.jsonl"), 0.1)]))


def test_small_reference_gives_all_and_says_so(session, tmp_path):
    p, _ = session
    ref = shared_data("self_instruct", "self_instruct_seed_alpaca.jsonl")
    info = p.add_source(ref, "reference")
    p.load()
    res = run_export(CurationSnapshot.capture(p), ExportOptions(tmp_path / "o", mix=[MixSpec(info.name, 0.5)]))
    mix = res.manifest["mix"][0]
    assert mix["selected"] == mix["available"] == 175 and mix["requested"] == 657
    assert any("only 175 available" in w for w in res.manifest["warnings"])
