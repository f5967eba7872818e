"""Reference answers for eval-set inputs (EvalAnswer journal op, `workbench eval-set --answers`).

Real sample_data project, real analysis: answers are recorded as one undoable journal entry,
drawn inputs carry them as their assistant turn with "reference": true, the manifest counts them
(and names answered inputs that were not drawn); the eval set's own records read back with the
assistant turn filled in; bad lines are refused with file:line: reason and nothing recorded.
"""

from __future__ import annotations

import json

import pytest

from workbench.curate import eval_set as es


def test_eval_answer_op_round_trips_and_inverts():
    from workbench.core.errors import ProjectError
    from workbench.project.curation_state import CurationState
    from workbench.project.journal import EvalAnswer, Op

    state = CurationState({3: "abc"})
    op, changed = state.apply(EvalAnswer((3, 7), "Your card arrives in 5 days."))
    assert state.eval_answers == {(3, 7): "Your card arrives in 5 days."} and changed["eval_answer"]
    assert Op.from_json(op.to_json()) == op and Op.from_journal(op.to_json()) == op
    op2, _ = state.apply(EvalAnswer((3, 7), "It arrives within a week."))
    assert op2.before == "Your card arrives in 5 days."
    op3, _ = state.apply(EvalAnswer((3, 7), "   "))  # blank = clear
    assert state.eval_answers == {} and op3.label.startswith("Clear")
    state.apply(op3.inverse())
    assert state.eval_answers == {(3, 7): "It arrives within a week."}
    state.apply(op2.inverse())
    state.apply(op.inverse())
    assert state.eval_answers == {}
    with pytest.raises(ProjectError):
        EvalAnswer((3, 7), 42)
    with pytest.raises(ProjectError):  # a damaged payload is refused, never applied
        Op.from_json('{"kind": "eval_answer", "id": [3, 7], "text": "x", "before": 5}')


@pytest.fixture
def project(tmp_path_factory, tmp_path):
    from tests.project.helpers import analysed_project

    return analysed_project(tmp_path_factory, tmp_path / "p.wbproj")


def _lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_cli_answers_written_as_reference_turns_undoable(project, tmp_path, capsys):
    from workbench.cli.main import main
    from workbench.project import Project

    out = tmp_path / "evalset"
    args = ["eval-set", str(project), "--out", str(out), "--size", "60", "--seed", "2"]
    assert main(args) == 0
    recs = _lines(out / es.EVAL_FILE)
    first = (out / es.EVAL_FILE).read_bytes()
    assert not any(r["reference"] for r in recs)
    assert all(r["messages"][-1]["role"] == "user" for r in recs)

    # a pipeline fills in two answers in the eval set's own file and gives it back
    filled = [dict(r) for r in recs]
    filled[0]["messages"] = recs[0]["messages"] + [{"role": "assistant", "content": "Answer A."}]
    filled[3]["messages"] = recs[3]["messages"] + [{"role": "assistant", "content": "Answer B."}]
    back = tmp_path / "answered.jsonl"
    back.write_text("".join(json.dumps(r) + "\n" for r in filled), encoding="utf-8")
    # plus one input that is not drawn, in the plain form
    with Project.open(project, read_only=True) as p:
        ws = p.load()
        drawn = {r["line"] for r in recs}
        other = next(i for i in range(ws.n) if ws.role[i] == "production" and ws.example_id(i)[1] not in drawn)
        other_line = ws.example_id(other)[1]
    with back.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"source": "production_banking.jsonl", "line": other_line, "answer": "Answer C."}) + "\n")
    capsys.readouterr()
    assert main(args + ["--answers", str(back)]) == 0
    said = capsys.readouterr().out
    assert f"{len(recs) - 2:,} line(s) of answered.jsonl have no answer" in said
    assert "Reference answers from answered.jsonl (3 inputs)" in said
    recs2 = _lines(out / es.EVAL_FILE)
    manifest = json.loads((out / "manifest.json").read_text())
    # answers do not change the draw
    assert [(r["source"], r["line"]) for r in recs2] == [(r["source"], r["line"]) for r in recs]
    ref = {r["line"]: r for r in recs2 if r["reference"]}
    assert set(ref) == {recs[0]["line"], recs[3]["line"]}
    assert ref[recs[0]["line"]]["messages"][-1] == {"role": "assistant", "content": "Answer A."}
    assert ref[recs[3]["line"]]["messages"][-2]["role"] == "user"
    assert manifest["counts"]["reference_answers"] == 2 and manifest["counts"]["reference_answers_not_drawn"] == 1
    assert [x["line"] for x in manifest["reference_answers"]["not_drawn"]] == [other_line]
    assert any("with a reference answer are not drawn" in w for w in manifest["warnings"])
    with Project.open(project, read_only=True) as p:
        assert len(p.state.eval_answers) == 3 and (3, other_line) in p.state.eval_answers

    # the same file again records nothing new in the state; clearing one with "answer": ""
    clear = tmp_path / "clear.jsonl"
    clear.write_text(json.dumps({"source": "production_banking.jsonl", "line": recs[0]["line"], "answer": ""}) + "\n")
    assert main(["eval-set", str(project), "--answers", str(clear)]) == 0
    with Project.open(project, read_only=True) as p:
        assert (3, recs[0]["line"]) not in p.state.eval_answers and len(p.state.eval_answers) == 2
    # undo both entries: back to the first file, byte for byte
    assert main(["undo", str(project), "2"]) == 0
    with Project.open(project, read_only=True) as p:
        assert p.state.eval_answers == {}
    assert main(args) == 0
    assert (out / es.EVAL_FILE).read_bytes() == first


def test_cli_answers_bad_lines_refused_nothing_recorded(project, tmp_path, capsys):
    from workbench.cli.main import main
    from workbench.project import Project

    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([
        json.dumps({"source": "production_banking.jsonl", "line": 1, "answer": "fine"}),
        "not json",
        json.dumps({"source": "train_banking_chat.jsonl", "line": 5, "answer": "x"}),
        json.dumps({"source": "nope.jsonl", "line": 1, "answer": "x"}),
        json.dumps({"source": "production_banking.jsonl", "line": 2, "answer": 7}),
    ]) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["eval-set", str(project), "--answers", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: not a JSON object" in err
    assert f"{bad}:3:" in err and "not a production input" in err
    assert f"{bad}:4:" in err and "no source 'nope.jsonl'" in err
    assert f"{bad}:5:" in err and '"answer" is text' in err
    with Project.open(project, read_only=True) as p:
        assert p.state.eval_answers == {}
