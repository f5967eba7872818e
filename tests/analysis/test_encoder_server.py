"""The encoder server: one child process keeps the embedding model loaded and embeds typed queries
for the window (a child per query cost ~3 s). Real model, real child process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.analysis.realdata import analysis_home
from workbench.analysis.embed_child import MODULE, EncoderServer
from workbench.core.errors import AnalysisError, Cancelled
from workbench.core.progress import CancelToken

TEXTS = ["How do I top up my card?", "Is there a fee for an international transfer?", "é — naïve ünïcode ✓"]


@pytest.fixture
def home(tmp_path_factory, monkeypatch):
    h = analysis_home(tmp_path_factory)
    monkeypatch.setenv("WORKBENCH_HOME", str(h))
    return h


def test_server_vectors_equal_the_in_process_encoder_and_the_child_is_reused(home):
    import uuid

    from workbench.analysis.project_analysis import get_encoder_for
    from workbench.embed import embed_texts

    enc = get_encoder_for()
    want, _ = embed_texts(TEXTS, enc)  # what the analysis uses (through the cache, as the server does)
    novel = f"a query nobody asked before {uuid.uuid4().hex}"
    server = EncoderServer()
    try:
        vecs, identity = server.encode(TEXTS)
        pid = server._proc.pid
        fresh, _ = server.encode([novel])  # not cached: embedded by the child's model
        assert server._proc.pid == pid  # one child answers every request
    finally:
        server.close()
    assert identity["fingerprint"] == enc.fingerprint and identity["dim"] == vecs.shape[1]
    assert vecs.shape == (3, enc.dim) and vecs.dtype == np.float32
    assert np.allclose(vecs, want, atol=1e-5)
    # the same text alone in a batch of one, in this process (int8 models quantise activations per
    # batch, so only a batch of the same texts gives the same numbers)
    assert np.allclose(fresh[0], enc.encode([novel])[0], atol=1e-4)
    assert server._proc is None


def test_cancel_while_the_model_loads_keeps_the_child_for_the_next_request(home):
    server = EncoderServer()
    token = CancelToken()
    token.cancel()
    try:
        with pytest.raises(Cancelled):
            server.encode(["first"], cancel=token)
        proc = server._proc
        assert proc is not None and proc.poll() is None  # still loading for the next request
        vecs, _ = server.encode(["second"])
        assert server._proc is proc and vecs.shape[0] == 1
    finally:
        server.close()


def test_a_dead_child_is_started_again_and_a_death_mid_request_is_reported(home):
    server = EncoderServer()
    try:
        server.encode(["warm"])
        old = server._proc
        old.kill()
        old.wait()
        vecs, _ = server.encode(["after the kill"])  # found dead before the request: a new child
        assert server._proc is not old and vecs.shape[0] == 1
        server._proc.kill()  # dies while a request waits for its answer
        server._proc.wait()
        with pytest.raises(AnalysisError, match="stopped"):
            server._reply(None, 30)
        assert server._proc is None
    finally:
        server.close()


def test_child_answers_bad_lines_with_an_error_and_exits_when_stdin_closes(home):
    import os

    env = dict(os.environ, PYTHONPATH=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    requests = 'not json\n{"texts": "one string"}\n{"texts": ["fine"]}\n'
    out = subprocess.run([sys.executable, "-m", MODULE, "--serve"], input=requests, capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]  # stdin closed: the child ended by itself
    msgs = [json.loads(line) for line in out.stdout.splitlines()]
    assert msgs[0]["ready"] is True and msgs[0]["encoder"]["dim"] == 384
    assert "not JSON" in msgs[1]["error"] and "texts" in msgs[2]["error"]
    assert msgs[3]["ok"] is True and msgs[3]["dim"] == 384 and len(msgs) == 4
