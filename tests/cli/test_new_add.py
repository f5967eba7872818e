"""``workbench new`` and ``workbench add`` end to end on sample_data."""

from __future__ import annotations

import shutil

from tests.conftest import SAMPLE
from workbench.cli.main import main
from workbench.project import Project


def test_new_then_add_every_sample_file(tmp_path, capsys):
    proj = tmp_path / "demo.wbproj"
    assert main(["new", str(proj)]) == 0
    assert "Created project" in capsys.readouterr().out and proj.is_file()

    roles = {"train_banking_chat.jsonl": "train", "train_dolly_alpaca.jsonl": "train",
             "production_banking.jsonl": "production", "eval_banking_chat.jsonl": "eval"}
    for name, role in roles.items():
        assert main(["add", str(proj), str(SAMPLE / name), "--role", role]) == 0
        out = capsys.readouterr().out
        assert f"Added {name} as {role} source" in out
    assert "4 sources, 2087 records" in out

    with Project.open(proj, read_only=True) as p:
        got = [(s.name, s.role, s.schema, s.container, s.rows, s.errors) for s in p.sources]
        assert got == [
            ("train_banking_chat.jsonl", "train", "chat", "jsonl", 913, 0),
            ("train_dolly_alpaca.jsonl", "train", "alpaca", "jsonl", 400, 0),
            ("production_banking.jsonl", "production", "text", "jsonl", 539, 0),
            ("eval_banking_chat.jsonl", "eval", "chat", "jsonl", 235, 0),
        ]
        from workbench.core.hashing import file_sha256

        assert p.sources[0].sha256 == file_sha256(SAMPLE / "train_banking_chat.jsonl")
        ws = p.load()
        assert ws.n == 2087 and sorted(set(ws.role)) == ["eval", "production", "train"]


def test_new_refuses_an_existing_file_and_adds_the_extension(tmp_path, capsys):
    target = tmp_path / "keep.wbproj"
    target.write_text("precious")
    assert main(["new", str(target)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert target.read_text() == "precious"

    assert main(["new", str(tmp_path / "plain")]) == 0
    assert (tmp_path / "plain.wbproj").is_file()
    # `add` finds the project without its extension too
    assert main(["add", str(tmp_path / "plain"), str(SAMPLE / "eval_banking_chat.jsonl"), "--role", "eval"]) == 0


def test_add_reports_bad_lines_and_refuses_duplicates(tmp_path, capsys):
    proj = tmp_path / "p.wbproj"
    main(["new", str(proj)])
    data = tmp_path / "prod.jsonl"
    good = (SAMPLE / "production_banking.jsonl").read_text().splitlines()[:20]
    data.write_text("\n".join(good[:5] + ["{not json", '{"text": 42}'] + good[5:]) + "\n")
    capsys.readouterr()
    assert main(["add", str(proj), str(data), "--role", "production"]) == 0
    captured = capsys.readouterr()
    assert f"{data}:6: invalid JSON" in captured.err
    assert f"{data}:7: " in captured.err
    assert "2 bad lines skipped" in captured.err
    assert "20 records" in captured.out and "2 bad lines" in captured.out

    assert main(["add", str(proj), str(data), "--role", "train"]) == 2
    assert "already in project" in capsys.readouterr().err
    assert main(["add", str(proj), str(tmp_path / "missing.jsonl"), "--role", "train"]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    with Project.open(proj, read_only=True) as p:
        assert [(s.rows, s.errors) for s in p.sources] == [(20, 2)]


def test_add_csv_with_a_column_mapping_and_schema_override(tmp_path, capsys):
    proj = tmp_path / "p.wbproj"
    main(["new", str(proj)])
    csv = tmp_path / "faq.csv"
    csv.write_text("question,answer,topic\nHow do I top up?,Use the app.,top_up\n"
                   "Where is my card?,It ships in 3 days.,card_arrival\n")
    assert main(["add", str(proj), str(csv), "--role", "train", "--map", "prompt=question,response=answer"]) == 0
    assert "2 records" in capsys.readouterr().out
    prod = tmp_path / "prod.jsonl"
    shutil.copy(SAMPLE / "production_banking.jsonl", prod)
    assert main(["add", str(proj), str(prod), "--role", "production", "--schema", "text"]) == 0
    with Project.open(proj) as p:
        assert [(s.container, s.schema) for s in p.sources] == [("csv", "prompt_completion"), ("jsonl", "text")]
        assert p.sources[0].mapping["prompt"] == "question"
        ws = p.load()
        assert ws.prompt[0] == "How do I top up?" and ws.response[1] == "It ships in 3 days."
        assert ws.extra["topic"][:2] == ["top_up", "card_arrival"]


def test_add_to_a_foreign_or_locked_project_fails_cleanly(tmp_path, capsys):
    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello")
    assert main(["add", str(foreign), str(SAMPLE / "eval_banking_chat.jsonl"), "--role", "eval"]) == 2
    assert "not a Curation Workbench project" in capsys.readouterr().err
    assert foreign.read_text() == "hello"
    proj = tmp_path / "p.wbproj"
    main(["new", str(proj)])
    with Project.open(proj):
        assert main(["add", str(proj), str(SAMPLE / "eval_banking_chat.jsonl"), "--role", "eval"]) == 2
        assert "open in another Curation Workbench" in capsys.readouterr().err
