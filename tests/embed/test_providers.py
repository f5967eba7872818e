"""Device choice: CUDA only when a session really runs on it; CPU fallback with the reason; one
ONNX Runtime distribution installed."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workbench.core.errors import ModelError
from workbench.embed import providers

# Runs in a child process with no visible GPU: on a GPU machine the CUDA provider then really
# fails to start (no device); here it fails because the CUDA libraries are missing. Either way
# the session must not be reported as CUDA.
NO_GPU_SCRIPT = r"""
import json, sys
from workbench.core.errors import ModelError
from workbench.embed import providers
status = providers.cuda_status()
auto = providers.resolve_device("auto")
try:
    providers.resolve_device("cuda")
    explicit = "no error"
except ModelError as exc:
    explicit = exc.user_message
print(json.dumps({"ok": status.ok, "reason": status.reason, "auto": auto.device,
                  "auto_reason": auto.reason, "explicit": explicit}))
"""


def test_fallback_to_cpu_when_cuda_cannot_start():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run([sys.executable, "-c", NO_GPU_SCRIPT], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    import json

    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["ok"] is False and out["reason"]
    assert out["auto"] == "cpu" and out["reason"] in out["auto_reason"]
    assert "CUDA was requested but cannot be used" in out["explicit"] and "--device cpu" in out["explicit"]
    # "quietly": ONNX Runtime's own provider-failure log must not reach the terminal
    assert "Failed to create CUDAExecutionProvider" not in res.stderr
    assert "libonnxruntime_providers_cuda" not in res.stderr


def test_probe_matches_reality():
    """Whatever this machine has, a CUDA verdict means a session really ran on CUDA."""
    status = providers.cuda_status()
    choice = providers.resolve_device("auto")
    if status.ok:
        assert choice.device == "cuda" and not choice.reason
    else:
        assert choice.device == "cpu" and status.reason in choice.reason
        with pytest.raises(ModelError):
            providers.resolve_device("cuda")


def test_cpu_is_always_cpu_and_bad_device_is_refused():
    assert providers.resolve_device("cpu").device == "cpu"
    with pytest.raises(ModelError, match="unknown device"):
        providers.resolve_device("tpu")


def test_thread_count(monkeypatch):
    assert providers.cpu_threads() >= 1
    monkeypatch.setenv(providers.ENV_THREADS, "3")
    assert providers.cpu_threads() == 3


def test_exactly_one_onnxruntime_distribution_is_installed():
    """onnxruntime and onnxruntime-gpu install the same module; exactly one may be present."""
    import onnxruntime

    installed = []
    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            installed.append(metadata.distribution(dist))
        except metadata.PackageNotFoundError:
            pass
    assert len(installed) == 1, f"both onnxruntime packages installed: {[d.metadata['Name'] for d in installed]}"
    active = Path(onnxruntime.__file__).resolve()
    (dist,) = installed
    owned = {Path(dist.locate_file(f)).resolve() for f in dist.files or []}
    assert active in owned, f"{dist.metadata['Name']} does not provide the active module {active}"
    assert dist.version == onnxruntime.__version__
    assert providers.onnxruntime_distribution() == dist.metadata["Name"]


def test_dependencies_pull_a_single_onnxruntime():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = [d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in deps]
    assert "onnxruntime-gpu" in names and "onnxruntime" not in names
    assert not any(d.replace(" ", "").lower().startswith("sentence-transformers[onnx") for d in deps), (
        "sentence-transformers[onnx] pulls the CPU onnxruntime package beside onnxruntime-gpu"
    )
