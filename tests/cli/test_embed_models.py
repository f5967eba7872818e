"""``workbench embed`` and ``workbench models`` end to end on the sample data."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, SAMPLE
from tests.embed.conftest import default_encoder  # noqa: F401  (session fixture: model converted once)
from workbench.cli.main import main

pytestmark = pytest.mark.slow


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_embed_file_writes_one_row_per_record_and_caches(capsys, tmp_path, default_encoder):
    src = SAMPLE / "production_banking.jsonl"
    out = tmp_path / "vectors.npy"
    code, stdout, _ = _run(capsys, "embed", str(src), "--out", str(out), "--device", "cpu")
    assert code == 0
    texts = [json.loads(line)["text"] for line in src.read_text(encoding="utf-8").splitlines()]
    v = np.load(out)
    assert v.shape == (len(texts), 384) and v.dtype == np.float32
    assert np.allclose(v, default_encoder.encode(texts), atol=1e-6)
    assert "device:    cpu" in stdout and f"{len(set(texts)):,} encoded" in stdout and "texts/s" in stdout

    code, stdout, _ = _run(capsys, "embed", str(src), "--device", "cpu")
    assert code == 0 and f"0 encoded, {len(set(texts)):,} from cache" in stdout


def test_embed_project_in_project_order(capsys, tmp_path, default_encoder):
    from workbench.project import Project

    path = tmp_path / "bank.wbproj"
    with Project.create(path) as p:
        p.add_source(SAMPLE / "eval_banking_chat.jsonl", "eval")
        p.add_source(SAMPLE / "production_banking.jsonl", "production")
        ws = p.load()
        prompts = list(ws.prompt)
    out = tmp_path / "p.npy"
    code, stdout, _ = _run(capsys, "embed", str(path), "--out", str(out))
    assert code == 0 and f"records:   {len(prompts):,} (prompts" in stdout
    v = np.load(out)
    assert v.shape == (len(prompts), 384)
    from workbench.embed import embed_texts

    cached, stats = embed_texts(prompts, default_encoder)  # what the CLI cached, row for row
    assert stats.encoded == 0 and np.array_equal(v, cached)


def test_embed_responses_with_empty_rows(capsys, tmp_path):
    src = SAMPLE / "production_banking.jsonl"  # plain text records: no responses at all
    out = tmp_path / "r.npy"
    code, stdout, _ = _run(capsys, "embed", str(src), "--field", "response", "--out", str(out))
    assert code == 0 and "539 empty -> zero vectors" in stdout
    assert not np.load(out).any()


def test_embed_fp32_on_chat_file(capsys, default_encoder):
    src = SAMPLE / "eval_banking_chat.jsonl"
    code, stdout, _ = _run(capsys, "embed", str(src), "--precision", "fp32", "--batch-size", "64")
    assert code == 0 and "(fp32, 384-d)" in stdout


def test_embed_errors_are_one_line(capsys, tmp_path):
    code, _, err = _run(capsys, "embed", str(tmp_path / "missing.jsonl"))
    assert code != 0 and "no such file" in err and "Traceback" not in err
    code, _, err = _run(capsys, "embed", str(SAMPLE / "production_banking.jsonl"), "--model", "nope")
    assert code != 0 and "unknown model" in err


def test_embed_cuda_request_without_cuda(capsys):
    from workbench.embed import cuda_status

    if cuda_status().ok:
        pytest.skip("this machine has a working CUDA provider")
    code, _, err = _run(capsys, "embed", str(SAMPLE / "production_banking.jsonl"), "--device", "cuda")
    assert code != 0 and "CUDA was requested but cannot be used" in err


def test_models_lists_default_with_device(capsys, default_encoder):
    code, stdout, _ = _run(capsys, "models")
    assert code == 0
    assert "all-MiniLM-L6-v2 (default)" in stdout and "384-d" in stdout and "int8" in stdout
    assert "would run on: cpu, int8" in stdout or "would run on: cuda, fp16" in stdout
    code, stdout, _ = _run(capsys, "models", "--json")
    data = json.loads(stdout)
    assert data["device"] in ("cpu", "cuda")
    assert data["onnxruntime"] in ("onnxruntime-gpu", "onnxruntime")
    assert any(m["name"] == "all-MiniLM-L6-v2" and m["dimension"] == 384 for m in data["models"])


def test_models_add_refuses_hub_id_without_download(capsys):
    code, _, err = _run(capsys, "models", "--add", "sentence-transformers/all-mpnet-base-v2")
    assert code != 0 and "--download" in err


def test_help_imports_no_heavy_libraries():
    code = (
        "import sys; from workbench.cli.main import build_parser; build_parser().format_help(); "
        "bad = [m for m in ('torch', 'onnxruntime', 'sentence_transformers', 'optimum') if m in sys.modules]; "
        "assert not bad, bad"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_embed_engine_ray_without_ray_says_what_to_install(tmp_path, default_encoder):  # noqa: F811
    """Ray is the optional extra [cluster]: without it, one line naming the extra, no traceback."""
    import os

    code = (
        "import sys\n"
        "sys.modules['ray'] = None\n"
        "from workbench.cli.main import main\n"
        f"sys.exit(main(['embed', {str(SAMPLE / 'production_banking.jsonl')!r}, '--engine', 'ray']))\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(default_encoder.manifest.dir.parent, target_is_directory=True)
    env = {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0
    assert "curation-workbench[cluster]" in res.stderr and "Traceback" not in res.stderr
