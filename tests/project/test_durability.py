"""Durability: a child process applies ops and is killed with SIGKILL at random moments.

The child prints each journal entry id after ``apply``/``undo``/``redo`` returned (the moment the
app would show the action as done). After every kill the parent reopens the project: it must open,
pass SQLite's integrity check, contain every acknowledged entry, and hold at most one entry more
(the one committed in the instant between commit and print). The lock must not be stale.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.project.helpers import make_project
from workbench.project import Project

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

CHILD = r"""
import random, sys
from workbench.project import Project
from workbench.project.journal import Batch, Edit, Note, Reject, Restore, SetWeight, Tag

rng = random.Random(int(sys.argv[2]))
p = Project.open(sys.argv[1])
n = 0
while True:
    n += 1
    ids = [(rng.choice([1, 2, 3]), rng.randint(1, 50)) for _ in range(rng.randint(1, 20))]
    r = rng.random()
    if r < 0.1 and p.can_undo:
        ch = p.undo()
        tag = "U"
    elif r < 0.15 and p.can_redo:
        ch = p.redo()
        tag = "R"
    else:
        if r < 0.4:
            op = Reject(ids, f"reason {n}")
        elif r < 0.55:
            op = Restore(ids, "kept")
        elif r < 0.7:
            op = Tag(ids, rng.choice(["a", "b"]))
        elif r < 0.8:
            op = SetWeight(ids, rng.choice([0.0, 2.0, 3.0]))
        elif r < 0.9:
            op = Note(ids[0], f"note {n}")
        else:
            op = Batch([Reject(ids[:3], "dup"), Tag(ids[3:], "batch")], f"batch {n}")
        ch = p.apply(op)
        tag = "A"
    print(tag, ch.entry_id, ch.op_id, flush=True)
"""



def test_sigkill_at_random_moments_keeps_every_acknowledged_op(tmp_path):
    path = tmp_path / "durable.wbproj"
    make_project(path).close()
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    acked_all: list[int] = []
    total_rounds = 6
    for round_no in range(total_rounds):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(rng.randrange(1 << 30))],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        acked: list[tuple[str, int, int]] = []
        # wait for the first acknowledgement, then let it run a random while and kill it
        first = child.stdout.readline()
        assert first, f"child died before applying anything: {child.stderr.read()}"
        tag, entry, op_id = first.split()
        acked.append((tag, int(entry), int(op_id)))
        time.sleep(rng.uniform(0.0, 1.2))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        for line in child.stdout.read().splitlines():
            parts = line.split()
            if len(parts) == 3:  # a line cut by the kill is not an acknowledgement
                acked.append((parts[0], int(parts[1]), int(parts[2])))
        assert child.returncode == -signal.SIGKILL

        # Reopen for writing: no stale lock, the file is sound, every acknowledged entry is there.
        with Project.open(path) as p:
            assert p._store.integrity_problem() is None
            journal = [(r.id, r.kind, r.target) for r in p._store.journal()]
            ids = {j[0] for j in journal}
            for tag, entry, op_id in acked:
                assert entry in ids, f"acknowledged entry {entry} lost (seed {seed}, round {round_no})"
                kind = {"A": "op", "U": "undo", "R": "redo"}[tag]
                assert (entry, kind, None if kind == "op" else op_id) in journal
            last_acked = max(e for _, e, _ in acked)
            after = [j for j in journal if j[0] > last_acked]
            assert len(after) <= 1, f"entries appeared that the child never committed: {after}"
            # the state replays: ops in effect = the acknowledged actions (+ the one committed
            # while the child was killed inside commit: the kernel still had its WAL write)
            expected = _stack_before(journal, acked[0][1])
            events = [({"A": "op", "U": "undo", "R": "redo"}[t], e if t == "A" else o) for t, e, o in acked]
            events += [(kind, entry if kind == "op" else target) for entry, kind, target in after]
            for kind, op_id in events:
                if kind == "undo":
                    assert expected.pop() == op_id
                else:
                    expected.append(op_id)
            assert [i for i, _ in p.effective_ops()] == expected
        acked_all.extend(e for _, e, _ in acked)
    assert len(acked_all) >= total_rounds


def _stack_before(journal, first_entry: int) -> list[int]:
    """Ops in effect just before ``first_entry`` (replaying undo/redo rows)."""
    done: list[int] = []
    redo: list[int] = []
    for entry, kind, target in journal:
        if entry >= first_entry:
            break
        if kind == "op":
            done.append(entry)
            redo.clear()
        elif kind == "undo":
            redo.append(done.pop())
        elif kind == "redo":
            done.append(redo.pop())
    return done
