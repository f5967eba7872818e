"""``workbench inspect`` end to end on sample_data and on files with bad lines.

Exit status: 0 clean, 1 loaded with bad lines, 2 unusable file (or --strict stopped)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT
from workbench.cli.main import main

CHAT = '{"messages": [{"role": "user", "content": "hi %d"}, {"role": "assistant", "content": "hello"}]}'


def run_json(capsys, *argv):
    code = main(["inspect", *argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_inspect_sample_chat_json(capsys, sample_dir):
    code, rep = run_json(capsys, str(sample_dir / "train_banking_chat.jsonl"))
    assert code == 0
    assert (rep["format"], rep["records"], rep["errors"]) == ("chat", 913, [])
    assert rep["roles"] == {"system": 913, "user": 913, "assistant": 913}
    assert rep["turns"]["histogram"] == {"3": 913}
    assert rep["fields"]["prompt"]["present"] == 913 and rep["fields"]["prompt"]["max_length"] > 0


def test_inspect_every_sample_file(capsys, sample_dir):
    expected = {"train_banking_chat.jsonl": "chat", "train_dolly_alpaca.jsonl": "alpaca",
                "production_banking.jsonl": "text", "eval_banking_chat.jsonl": "chat"}
    for name, schema in expected.items():
        code, rep = run_json(capsys, str(sample_dir / name))
        assert (code, rep["format"]) == (0, schema), name
    _, rep = run_json(capsys, str(sample_dir / "production_banking.jsonl"))
    assert rep["extra_fields"]["label"]["distinct"] == 77
    assert rep["fields"]["response"]["present"] == 0


def test_inspect_human_output(capsys, sample_dir):
    assert main(["inspect", str(sample_dir / "train_dolly_alpaca.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "Alpaca (alpaca, jsonl)" in out and "400 loaded of 400 lines" in out
    assert "prompt" in out and "response" in out


def bad_file(tmp_path, n_bad):
    lines = [CHAT % i for i in range(5)] + ["{oops"] * n_bad + [CHAT % 99]
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_inspect_bad_lines_exit_1_and_file_line_reason(capsys, tmp_path):
    p = bad_file(tmp_path, 3)
    assert main(["inspect", str(p)]) == 1
    out = capsys.readouterr().out
    for line in (6, 7, 8):
        assert f"{p}:{line}: invalid JSON" in out
    code, rep = run_json(capsys, str(p))
    assert code == 1 and rep["records"] == 6
    assert [e["line"] for e in rep["errors"]] == [6, 7, 8]
    assert all(e["reason"].startswith("invalid JSON") for e in rep["errors"])


def test_inspect_caps_human_listing_but_json_lists_all(capsys, tmp_path):
    p = bad_file(tmp_path, 60)
    assert main(["inspect", str(p)]) == 1
    out = capsys.readouterr().out
    assert out.count(": invalid JSON") == 50 and "... and 10 more" in out
    _, rep = run_json(capsys, str(p))
    assert len(rep["errors"]) == 60


def test_inspect_unusable_file_exit_2(capsys, tmp_path):
    missing = tmp_path / "missing.jsonl"
    assert main(["inspect", str(missing)]) == 2
    assert "file not found" in capsys.readouterr().err
    code, rep = run_json(capsys, str(missing))
    assert code == 2 and rep["format"] is None and "file not found" in rep["fatal"]


def test_inspect_strict_and_schema_and_map(capsys, tmp_path):
    p = bad_file(tmp_path, 1)
    assert main(["inspect", str(p), "--strict"]) == 2
    assert f"{p}:6:" in capsys.readouterr().err
    code, rep = run_json(capsys, str(p), "--strict")
    assert code == 2 and rep["errors"] == [{"line": 6, "reason": rep["errors"][0]["reason"]}]
    q = tmp_path / "pairs.jsonl"
    q.write_text('{"q": "a", "r": "b"}\n')
    code, rep = run_json(capsys, str(q), "--map", "prompt=q", "--map", "response=r")
    assert (code, rep["format"], rep["mapping"]["prompt"]) == (0, "prompt_completion", "q")
    code, rep = run_json(capsys, str(q), "--schema", "text", "--map", "prompt=r")
    assert (code, rep["format"]) == (0, "text")
    assert main(["inspect", str(q), "--map", "nonsense"]) == 2
    assert "KEY=FIELD" in capsys.readouterr().err


def test_inspect_subprocess(sample_dir):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "workbench", "inspect", str(sample_dir / "eval_banking_chat.jsonl"), "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert (rep["format"], rep["records"], rep["errors"]) == ("chat", 235, [])
