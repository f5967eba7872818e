"""The ``workbench`` entry point without a display, with a mistyped command, with bad arguments:
one clear line and exit 2, never a Qt abort (exit 134) or a traceback (issue 11 items 5, 13)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLE


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "workbench", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="a display is always there on macOS/Windows")
@pytest.mark.parametrize("args", [[], ["--sample"], [str(SAMPLE / "train_banking_chat.jsonl")]])
def test_no_display_is_one_line_and_exit_2(args):
    proc = _run(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0]
    assert "workbench demo" in lines[0] and "--platform offscreen" in lines[0]


@pytest.mark.parametrize("word, match", [("analyse", "'analyze'"), ("exprot", "'export'"), ("inspekt", "'inspect'")])
def test_a_mistyped_command_is_unknown_with_the_close_match(word, match):
    proc = _run(word, "x.wbproj")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"unknown command '{word}'" in lines[0] and f"did you mean {match}" in lines[0]


def test_a_missing_file_is_named_before_any_window():
    proc = _run("no_such_file.jsonl")
    assert proc.returncode == 2 and proc.stderr.strip() == "workbench: error: no such file: no_such_file.jsonl"


@pytest.mark.parametrize("args, match", [
    (["--split", "0.5", "--seed", "-5"], "argument --seed: must be at least 0"),
    (["--split", "abc"], "argument --split: expected a fraction"),
    (["--max-weight", "0"], "argument --max-weight: must be at least 1"),
    (["--format", "csv"], "argument --format: invalid choice"),
])
def test_bad_export_arguments_are_one_line(tmp_path, args, match):
    proc = _run("export", str(tmp_path / "p.wbproj"), "--out", str(tmp_path / "o"), *args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], proc.stderr


def test_the_seed_is_checked_in_the_core_too(tmp_path):
    from workbench.core.errors import ExportError
    from workbench.curate.export import ExportOptions

    with pytest.raises(ExportError, match="--seed is a whole number"):
        ExportOptions(tmp_path, split=0.5, seed=-5).validate()
