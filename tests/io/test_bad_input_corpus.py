"""The bad-input corpus (tests/data/bad_input/, expected outcomes in expected.json, written by
make_corpus.py): every file gives exactly its expected outcome — refused whole with a clear
InputError, or these lines loaded and those reported — never a crash, a hang or a silently lost
line; and every record the reader accepts goes through every later step (inspect, the real
encoder and the analysis, export in every format as valid JSON).

``python -m tests.io.test_bad_input_corpus`` prints the figures for the README (each case in a
child process with a time limit, so a hang or a crash is counted, not fatal); it runs against
whatever ``workbench`` is importable, e.g. an older checkout via PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_input"
EXPECTED: dict[str, dict] = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))["cases"]


def materialise(name: str, spec: dict, folder: Path, stack: ExitStack) -> Path:
    """The path of a case: the corpus file, or the FIFO/socket/device/... made for it now."""
    make = spec.get("make")
    if make is None:
        return CORPUS / name
    if make == "device":
        if not os.path.exists(name):
            pytest.skip(f"{name} does not exist here")
        return Path(name)
    path = folder / name
    if make == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs on this platform")
        os.mkfifo(path)
    elif make == "socket":
        if not hasattr(socket, "AF_UNIX"):
            pytest.skip("no Unix sockets on this platform")
        s = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        s.bind(str(path))
    elif make == "folder":
        path.mkdir()
    elif make != "missing":
        raise ValueError(make)
    return path


def outcome(path: Path) -> dict:
    """What the reader makes of a file: fatal (InputError message) or loaded (lines, errors)."""
    from workbench.core.errors import InputError
    from workbench.io.readers import read_source

    try:
        src = read_source(path)
    except InputError as exc:
        return {"outcome": "fatal", "message": exc.user_message}
    return {"outcome": "loaded", "loaded": [int(x) for x in src.lines],
            "errors": {str(e.line): e.reason for e in src.errors}}


def problems(spec: dict, got: dict) -> list[str]:
    """How ``got`` differs from the expected outcome (empty when it matches)."""
    if got["outcome"] != spec["outcome"]:
        return [f"expected {spec['outcome']}, got {got}"]
    if spec["outcome"] == "fatal":
        return [] if re.search(spec["match"], got["message"]) else [f"message {got['message']!r} !~ {spec['match']!r}"]
    out = []
    if got["loaded"] != spec["loaded"]:
        out.append(f"loaded lines {got['loaded']} != {spec['loaded']}")
    if set(got["errors"]) != set(spec["errors"]):
        out.append(f"reported lines {sorted(map(int, got['errors']))} != {sorted(map(int, spec['errors']))}")
    for line, pattern in spec["errors"].items():
        if line in got["errors"] and not re.search(pattern, got["errors"][line]):
            out.append(f"line {line}: {got['errors'][line]!r} !~ {pattern!r}")
    return out


def dropped(spec: dict, got: dict) -> list[int]:
    """Lines that must be loaded or reported and are neither: the silent losses."""
    if spec["outcome"] != "loaded" or got["outcome"] != "loaded":
        return []
    must = set(spec["loaded"]) | {int(k) for k in spec["errors"]}
    return sorted(must - set(got["loaded"]) - {int(k) for k in got["errors"]})


# ------------------------------------------------------------------------------------ the tests


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_case(name, tmp_path):
    spec = EXPECTED[name]
    with ExitStack() as stack:
        path = materialise(name, spec, tmp_path, stack)
        got = outcome(path)
        assert problems(spec, got) == [], spec["what"]
        # the CLI says the same: exit 2 for a refused file, 1 with reported lines, 0 when all loaded
        code = _cli_inspect(path)
        assert code == (2 if spec["outcome"] == "fatal" else 1 if spec["errors"] else 0)


def _cli_inspect(path: Path) -> int:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run([sys.executable, "-m", "workbench", "inspect", str(path)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode


ACCEPTED = sorted(n for n, s in EXPECTED.items() if s["outcome"] == "loaded")


def test_every_accepted_record_goes_through_inspect():
    from workbench.cli.cmd_inspect import print_report, summary
    from workbench.io.readers import read_source

    import io

    for name in ACCEPTED:
        src = read_source(CORPUS / name)
        report = summary(src)
        json.dumps(report, default=str)
        print_report(report, src, 50, out=io.StringIO())


@pytest.fixture
def warm_home(tmp_path_factory, monkeypatch):
    from tests.analysis.realdata import analysis_home, sample_input

    sample_input(tmp_path_factory)
    monkeypatch.setenv("WORKBENCH_HOME", str(analysis_home(tmp_path_factory)))


@pytest.mark.slow
def test_every_accepted_record_goes_through_analysis_and_every_export_format(tmp_path, warm_home, capsys):
    """One project holding every corpus file that loads (copied, as train sources): the real encoder
    and analysis run on it, and each export format writes valid JSON only."""
    import shutil

    import orjson
    import pyarrow.parquet as pq

    from workbench.cli.main import main

    proj = tmp_path / "corpus.wbproj"
    assert main(["new", str(proj)]) == 0
    for name in ACCEPTED:
        shutil.copy(CORPUS / name, tmp_path / name)
        assert main(["add", str(proj), str(tmp_path / name), "--role", "train"]) == 0, capsys.readouterr().err
    assert main(["analyze", str(proj), "--out", str(tmp_path / "analysis")]) == 0, capsys.readouterr().err
    for fmt in ("source", "chat", "parquet"):
        out = tmp_path / f"export-{fmt}"
        assert main(["export", str(proj), "--out", str(out), "--format", fmt, "--no-analysis"]) == 0, \
            capsys.readouterr().err
        m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        for f in m["files"]:
            if f["file"].endswith(".parquet"):
                t = pq.read_table(out / f["file"]).to_pylist()
                for row in t:
                    orjson.loads(row["record"])
            else:
                for line in (out / f["file"]).read_bytes().splitlines():
                    orjson.loads(line)  # strict JSON: no NaN, no Infinity, no lone surrogate
    total = sum(len(EXPECTED[n]["loaded"]) for n in ACCEPTED)
    assert m["counts"]["exported_train"] == total


# ------------------------------------------------------------------------------------ figures


def _child(name: str, folder: str) -> None:
    spec = EXPECTED[name]
    with ExitStack() as stack:
        try:
            path = materialise(name, spec, Path(folder), stack)
        except pytest.skip.Exception as exc:
            print(json.dumps({"skipped": str(exc)}))
            return
        got = outcome(path)
        if got["outcome"] == "loaded":  # the next step a curator takes: inspect's statistics and listing
            import io

            from workbench.cli.cmd_inspect import print_report, summary
            from workbench.io.readers import read_source

            src = read_source(path)
            report = summary(src)
            json.dumps(report, default=str)
            print_report(report, src, 50, out=io.StringIO())
        print(json.dumps(got))


def figures(timeout: float = 20.0) -> dict:
    """Each case in a child process (read, then inspect's report): handled / crashed (a traceback in
    either) / hung / silently dropped (lines neither loaded nor reported) / other mismatch (e.g. a
    value later steps cannot hold was loaded, or a line number is not the physical line)."""
    import tempfile

    counts = {"tried": 0, "handled": 0, "crashed": 0, "hung": 0, "silently_dropped_cases": 0,
              "silently_dropped_lines": 0, "other_mismatch": 0}
    detail = {}
    for name in sorted(EXPECTED):
        spec = EXPECTED[name]
        with tempfile.TemporaryDirectory() as d:
            code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r}); "
                    f"from tests.io.test_bad_input_corpus import _child; _child({name!r}, {d!r})")
            try:
                proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                                      env=os.environ)
            except subprocess.TimeoutExpired:
                counts["tried"] += 1
                counts["hung"] += 1
                detail[name] = "hung"
                continue
        if proc.returncode != 0 or not proc.stdout.strip():
            counts["tried"] += 1
            counts["crashed"] += 1
            detail[name] = "crashed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:160]
            continue
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        if "skipped" in got:
            continue
        counts["tried"] += 1
        lost = dropped(spec, got)
        bad = problems(spec, got)
        if lost:
            counts["silently_dropped_cases"] += 1
            counts["silently_dropped_lines"] += len(lost)
            detail[name] = f"lines neither loaded nor reported: {lost[:10]}"
        elif bad:
            counts["other_mismatch"] += 1
            detail[name] = "; ".join(bad)[:200]
        else:
            counts["handled"] += 1
    return {"counts": counts, "detail": detail}


if __name__ == "__main__":
    print(json.dumps(figures(), indent=1))
