"""Input files are read once, through one open descriptor (issue 11 items 7 and 9): anything that
is not a regular file is refused at once (a FIFO used to hang inspect/add forever), and the sha256
a project records is of exactly the bytes that were parsed."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLE
from workbench.core.errors import InputError
from workbench.io.readers import read_source

CHAT = '{"messages": [{"role": "user", "content": "hi %d"}, {"role": "assistant", "content": "hello"}]}'


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # a hang is the bug: the timeout turns it into a failure instead of a stuck test run
    return subprocess.run([sys.executable, "-m", "workbench", *args], env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_is_refused_at_once_by_inspect_and_add(tmp_path):
    fifo = tmp_path / "data.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="named pipe .*not a regular file"):
        read_source(fifo)
    proc = _cli("inspect", str(fifo))
    assert proc.returncode == 2 and "named pipe" in proc.stderr and "Traceback" not in proc.stderr
    assert _cli("new", str(tmp_path / "p.wbproj")).returncode == 0
    proc = _cli("add", str(tmp_path / "p.wbproj"), str(fifo), "--role", "train")
    assert proc.returncode == 2 and "named pipe" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets on this platform")
def test_a_socket_and_a_device_are_refused(tmp_path):
    path = tmp_path / "sock.jsonl"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(str(path))
        with pytest.raises(InputError, match="a socket, not a regular file"):
            read_source(path)
    finally:
        s.close()
    if os.path.exists("/dev/zero"):
        with pytest.raises(InputError, match="a character device, not a regular file"):
            read_source("/dev/zero")  # would never end


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_file_replaced_while_add_reads_it_records_the_bytes_parsed(tmp_path):
    """The tester's case: a file replaced (renamed over) while it is read. The project records the
    hash of what was parsed, with its row count; the next load notices the change."""
    from workbench.core.errors import SourceChangedError
    from workbench.project import Project

    path = tmp_path / "train.jsonl"
    old = "\n".join(CHAT % i for i in range(50)).encode() + b"\n"
    new = "\n".join(CHAT % i for i in range(80)).encode() + b"\n"
    path.write_bytes(old)
    replaced = []

    def replace_once(done, total, phase):
        if not replaced:
            tmp = tmp_path / "new.tmp"
            tmp.write_bytes(new)
            os.replace(tmp, path)
            replaced.append(True)

    data = read_source(path, progress=replace_once)
    assert replaced and len(data) == 50 and data.sha256 == _sha(old)
    with Project.create(tmp_path / "p.wbproj") as p:
        info = p.add_source(path, "train", data=data)
        assert (info.sha256, info.rows) == (_sha(old), 50)
        with pytest.raises(SourceChangedError):
            p.load()


def test_a_file_changed_in_place_while_read_is_an_error(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes("\n".join(CHAT % i for i in range(50)).encode() + b"\n")

    def append(done, total, phase):
        with open(path, "ab") as f:
            f.write((CHAT % 99).encode() + b"\n")

    with pytest.raises(InputError, match="changed while it was being read"):
        read_source(path, progress=append)


@pytest.mark.parametrize("name", ["train_banking_chat.jsonl", "train_dolly_alpaca.jsonl"])
def test_the_hash_is_the_file_hash_for_every_container(tmp_path, name):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    src = SAMPLE / name
    assert read_source(src).sha256 == _sha(src.read_bytes())
    rows = [json.loads(x) for x in src.read_text(encoding="utf-8").splitlines()[:40]]
    arr = tmp_path / "a.json"
    arr.write_text(json.dumps(rows), encoding="utf-8")
    pqf = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist(rows), pqf)
    for f in (arr, pqf):
        assert read_source(f).sha256 == _sha(f.read_bytes())
