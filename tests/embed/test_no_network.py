"""No network at run time: ``workbench analyze`` on a project makes no non-local lookup or connection.

onnxruntime's native telemetry (OneDS) looked up mobile.events.data.microsoft.com in most analyze
runs. Two guards watch a real ``workbench analyze`` subprocess:

* a ``sitecustomize`` put first on ``PYTHONPATH`` replaces ``socket.getaddrinfo``,
  ``socket.socket.connect``/``connect_ex`` and ``socket.create_connection``: any non-local host
  is written to a log and refused (catches Python code: hub clients, HTTP libraries);
* ``strace -f`` (where installed, as on the project's machines) records every ``connect`` and
  ``sendto`` of the process and its threads, native code included: any AF_INET/AF_INET6 address
  outside loopback fails the test (the DNS query of the telemetry client was one of these).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.analysis.realdata import analysis_home
from tests.conftest import ROOT, SAMPLE

pytestmark = pytest.mark.slow

GUARD = textwrap.dedent('''
    import os, socket

    _LOG = os.environ["WB_NET_GUARD_LOG"]
    _gai, _connect, _connect_ex = socket.getaddrinfo, socket.socket.connect, socket.socket.connect_ex

    def _local(host):
        if host is None:
            return True
        h = host.decode() if isinstance(host, bytes) else str(host)
        return h in ("", "localhost", "::1", "0.0.0.0", "::") or h.startswith("127.")

    def _refuse(what):
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(what + "\\n")
        raise OSError(f"network disabled in this test: {what}")

    def getaddrinfo(host, *a, **k):
        if not _local(host):
            _refuse(f"getaddrinfo {host}")
        return _gai(host, *a, **k)

    def _check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            _refuse(f"connect {address}")

    def connect(self, address):
        _check(self, address)
        return _connect(self, address)

    def connect_ex(self, address):
        _check(self, address)
        return _connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
''')

LOOPBACK = re.compile(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"')


def _non_local(strace_log: str) -> list[str]:
    out = []
    for line in strace_log.splitlines():
        if ("AF_INET" in line) and ("connect(" in line or "sendto(" in line or "sendmsg(" in line):
            if not LOOPBACK.search(line):
                out.append(line.strip())
    return out


def test_analyze_makes_no_network_lookup(tmp_path, tmp_path_factory, monkeypatch):
    from workbench.cli.main import main

    home = analysis_home(tmp_path_factory)  # shared model folder and warm numba cache
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    proj = tmp_path / "net.wbproj"
    assert main(["new", str(proj)]) == 0
    assert main(["add", str(proj), str(SAMPLE / "production_banking.jsonl"), "--role", "production"]) == 0
    assert main(["add", str(proj), str(SAMPLE / "train_dolly_alpaca.jsonl"), "--role", "train"]) == 0

    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    guard_log = tmp_path / "guard.log"
    env = {**os.environ, "WORKBENCH_HOME": str(home), "WB_NET_GUARD_LOG": str(guard_log),
           "PYTHONPATH": os.pathsep.join([str(guard_dir), str(ROOT)]), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("HF_HUB_OFFLINE", None)  # the workbench itself must not rely on it
    env.pop("TRANSFORMERS_OFFLINE", None)
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the workbench must set it itself
    cmd = [sys.executable, "-c", "import sys; from workbench.cli.main import main; sys.exit(main())",
           "analyze", str(proj), "--force"]
    strace = shutil.which("strace")
    trace_log = tmp_path / "strace.log"
    if strace:
        cmd = [strace, "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace_log), *cmd]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    if strace and res.returncode != 0 and "ptrace" in res.stderr:
        pytest.skip(f"strace cannot trace here: {res.stderr.strip()[:200]}")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Analysed" in res.stdout
    assert not guard_log.exists(), guard_log.read_text()
    if strace:
        bad = _non_local(trace_log.read_text(errors="replace"))
        assert bad == [], "non-local network traffic:\n" + "\n".join(bad[:10])
