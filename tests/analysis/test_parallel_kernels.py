"""Two threads running numba parallel kernels at once abort the process under the workqueue
threading layer (seen when the app's Drift dialog ran beside another job). Every parallel call
holds ``jit.PARALLEL``; this runs two threads of nearest-neighbour searches in a child process
and asserts the process survives and both get the exact answer."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

SCRIPT = textwrap.dedent("""
    import sys, threading, contextlib
    import numpy as np
    from workbench.analysis import graph, jit
    if sys.argv[1] == "off":
        jit.PARALLEL = contextlib.nullcontext()
    rng = np.random.default_rng(0)
    v = rng.standard_normal((3000, 64)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    want = graph.knn(v, v, 10, exclude_self=True)[0]
    bad = []
    def work():
        for _ in range(25):
            got = graph.knn(v, v, 10, exclude_self=True)[0]
            if not np.array_equal(got, want):
                bad.append(1)
    ts = [threading.Thread(target=work) for _ in range(2)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    print("bad", len(bad))
""")


def test_parallel_kernels_from_two_threads_do_not_abort(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, "on"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**__import__("os").environ, "WORKBENCH_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("bad 0")
