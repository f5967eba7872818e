"""A real project whose two training sources share a file name: ``a/train.jsonl`` and
``b/train.jsonl`` (real Dolly and Banking77 rows from sample_data/). Line 5 of b is an exact copy
of line 7 of a, so the analysis finds a duplicate group across the two same-named files, and both
files have a line 5 (the case a name-based lookup gets wrong)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import SAMPLE

COPIED = ("a", 7)  # the original ...
COPY = ("b", 5)  # ... and its exact copy in the other same-named file


def _lines(name: str) -> list[bytes]:
    return (SAMPLE / name).read_bytes().splitlines(keepends=True)


def write_twin_files(folder: Path) -> list[tuple[Path, str]]:
    """The data files (path, role) of the twin project, written under ``folder``."""
    dolly = _lines("train_dolly_alpaca.jsonl")
    a, b = dolly[:120], dolly[120:240]
    b[COPY[1] - 1] = a[COPIED[1] - 1]
    files = {folder / "a" / "train.jsonl": a, folder / "b" / "train.jsonl": b,
             folder / "production.jsonl": _lines("production_banking.jsonl")[:120],
             folder / "eval.jsonl": _lines("eval_banking_chat.jsonl")[:40]}
    for path, lines in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(lines))
    return [(folder / "a" / "train.jsonl", "train"), (folder / "b" / "train.jsonl", "train"),
            (folder / "production.jsonl", "production"), (folder / "eval.jsonl", "eval")]


def make_twin_project(folder: Path) -> Path:
    """Create the twin project (sources ids 1..4 in the order above); returns its path."""
    from workbench.project import Project

    path = folder / "twin.wbproj"
    with Project.create(path) as p:
        for file, role in write_twin_files(folder / "data"):
            p.add_source(file, role)
    return path


def copied_text(folder: Path) -> str:
    """The instruction that occurs twice (a:7 and b:5)."""
    line = (folder / "data" / "a" / "train.jsonl").read_text(encoding="utf-8").splitlines()[COPIED[1] - 1]
    return json.loads(line)["instruction"]


def twin_group(summary: dict) -> dict:
    """The duplicate group holding a:7 and b:5 (by label and line, as people read it)."""
    want = {("a/train.jsonl", COPIED[1]), ("b/train.jsonl", COPY[1])}
    for g in summary["duplicates"]["groups"]:
        members = {(m["source"], m["line"]) for m in g["members"]}
        if want <= members:
            return g
    raise AssertionError("the a:7 / b:5 duplicate group was not found")
