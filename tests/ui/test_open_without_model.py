"""Opening a project never loads the embedding model in the window's process (it held the GUI's
GIL for 1-2 s): a child process prepares the model and fills the vector cache, the window reads
the vectors from there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.analysis.realdata import analysis_home
from tests.project.helpers import analysed_project

ROOT = Path(__file__).resolve().parents[2]

# a fresh process (so sys.modules tells what the window loaded): open the project, wait until idle
OPEN = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from workbench.ui import app as app_module
    from workbench.ui.main_window import MainWindow
    app = app_module._app()
    win = MainWindow(); win.show()
    s = win.session
    errors = []
    s.sig_error.connect(lambda m, d: errors.append(m))
    s.open_project(sys.argv[1])
    t0 = time.monotonic()
    while (s.analysis is None or s.vectors is None or s.jobs.running()) and not errors and time.monotonic() - t0 < 300:
        app.processEvents(); time.sleep(0.01)
""")

PROBE = OPEN + textwrap.dedent("""
    pv = s.vectors[0] if s.vectors is not None else None
    print(json.dumps({"errors": errors, "analysed": s.analysis is not None, "stale": s.analysis_stale,
                      "n": s.ws.n if s.ws is not None else 0, "vectors": None if pv is None else list(pv.shape),
                      "onnxruntime": "onnxruntime" in sys.modules, "encoder": repr(s.encoder),
                      "fingerprint": getattr(s.encoder, "fingerprint", "")}))
    win.close()
""")


def _probe(code: str, project, tmp_path_factory):
    """Run ``code`` on ``project`` in a fresh offscreen process; its last JSON line, and the env."""
    env = dict(os.environ, WORKBENCH_HOME=str(analysis_home(tmp_path_factory)), QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True, text=True, env=env,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), env


def test_opening_an_analysed_project_does_not_load_the_model_in_the_window(tmp_path_factory, tmp_path, monkeypatch):
    project = analysed_project(tmp_path_factory, tmp_path / "open.wbproj")
    r, env = _probe(PROBE, project, tmp_path_factory)
    assert r["errors"] == [] and r["analysed"] and not r["stale"], r
    assert r["vectors"] == [r["n"], 384]  # neighbours and find-similar have their vectors
    assert r["onnxruntime"] is False, r  # the model was prepared by the child process
    assert r["encoder"].startswith("DeferredEncoder(")

    from workbench.analysis.embed_child import run_embed_child
    from workbench.analysis.project_analysis import get_encoder_for

    monkeypatch.setenv("WORKBENCH_HOME", env["WORKBENCH_HOME"])
    report = run_embed_child(project)
    assert report["encoder"]["fingerprint"] == get_encoder_for().fingerprint == r["fingerprint"]


QUERY_PROBE = OPEN + textwrap.dedent("""
    row = next(i for i in range(s.ws.n) if s.ws.role[i] == "train" and len(s.ws.prompt[i] or "") > 20)
    text = s.ws.prompt[row] + " please"  # not in the embedding cache: the server embeds it
    out = []
    for q in (text, text + " now"):
        got = []
        t1 = time.monotonic()
        s.find_similar(text=q, callback=got.append)
        while not got and not errors and time.monotonic() - t1 < 300:
            app.processEvents(); time.sleep(0.005)
        out.append({"seconds": time.monotonic() - t1, "top": int(np.argmax(got[0])) if got else None})
    print(json.dumps({"errors": errors, "row": row, "queries": out, "onnxruntime": "onnxruntime" in sys.modules}))
    win.close()
""")


def test_typed_queries_are_embedded_by_the_encoder_server_not_in_the_window(tmp_path_factory, tmp_path):
    project = analysed_project(tmp_path_factory, tmp_path / "query.wbproj")
    r, _ = _probe(QUERY_PROBE, project, tmp_path_factory)
    assert r["errors"] == [], r
    assert [q["top"] for q in r["queries"]] == [r["row"], r["row"]], r  # the query finds its own example
    assert r["onnxruntime"] is False, r  # embedded by the server child, never in the window
