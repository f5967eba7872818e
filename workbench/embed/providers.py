"""Which device runs the encoder: CUDA when a session can really be created on it, else CPU.

``onnxruntime.get_available_providers()`` lists CUDA whenever the GPU build is installed, even on
a machine with no GPU or without the CUDA/cuDNN libraries, and creating a session then falls back
to CPU with an error printed on stderr. So the workbench *probes*: it builds a one-node model,
creates a session asking for CUDA with ONNX Runtime's own log silenced, checks that CUDA is
really among the session's providers and runs it once. The result (and, when CUDA is not usable,
the reason in words) is cached for the process.

Device rule (documented for curators):

* ``device="auto"`` (the default): CUDA if the probe succeeds, otherwise CPU; the reason CUDA
  was not used is kept in :attr:`DeviceChoice.reason` and shown by the CLI and the app.
* ``device="cuda"``: CUDA or a :class:`~workbench.core.errors.ModelError` carrying the reason —
  asking for the GPU explicitly never silently runs a million texts on the CPU.
* ``device="cpu"``: always CPU.

Thread counts: ONNX Runtime's intra-op pool gets one thread per physical core this process may
use (``WORKBENCH_THREADS`` overrides); the inter-op pool gets one (the graph is sequential).

No network: ONNX Runtime's built-in telemetry (its native OneDS client looked up
mobile.events.data.microsoft.com) is switched off twice: ``ORT_DISABLE_TELEMETRY=1`` is set when
:mod:`workbench.embed` is imported, before onnxruntime can be, and :func:`ort` (through which
every session here is created) also calls ``onnxruntime.disable_telemetry_events()`` before the
first session of the process.

CUDA libraries: the pinned ``onnxruntime-gpu`` (1.31) is built for CUDA 13 and cuDNN 9, so it
needs ``libcublasLt.so.13``, ``libcublas.so.13``, ``libcudart.so.13``, ``libcurand.so.10``,
``libcufft.so.12`` and ``libcudnn.so.9``, plus the NVIDIA driver's ``libcuda.so.1`` (driver 580 or
newer for CUDA 13). ``pip install 'curation-workbench[gpu]'`` (= ``onnxruntime-gpu[cuda,cudnn]``)
brings all but the driver as pip wheels, loaded by ``onnxruntime.preload_dlls()``; no system CUDA
install is needed. :func:`cuda_libraries` says which of them this process cannot load.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import threading
from dataclasses import dataclass

from workbench.core.errors import ModelError

DEVICES = ("auto", "cpu", "cuda")
CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"
ENV_THREADS = "WORKBENCH_THREADS"

_lock = threading.Lock()
_cuda_status: "CudaStatus | None" = None


@dataclass(frozen=True)
class CudaStatus:
    ok: bool
    reason: str  # "" when ok; otherwise why CUDA cannot be used, in words


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cuda" or "cpu"
    requested: str  # what the caller asked for
    reason: str  # why this device (e.g. why CUDA was not used); "" when nothing to say


TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"
_telemetry_off = False
_telemetry_lock = threading.Lock()  # not _lock: ort() is called while _lock is held


def ort():
    """The ``onnxruntime`` module with its telemetry switched off (before any session exists)."""
    global _telemetry_off
    os.environ[TELEMETRY_ENV] = "1"  # read by onnxruntime's native code when its environment starts
    import onnxruntime

    if not _telemetry_off:
        with _telemetry_lock:
            if not _telemetry_off:
                try:
                    onnxruntime.disable_telemetry_events()
                except AttributeError:  # pragma: no cover - builds without the telemetry API
                    pass
                _telemetry_off = True
    return onnxruntime


# Libraries the CUDA provider opens lazily (not in its ELF DT_NEEDED list) and where each comes from.
LAZY_CUDA_LIBS = ("libcudnn.so.9",)
DRIVER_LIB = "libcuda.so.1"
GPU_EXTRA = "install with: pip install 'curation-workbench[gpu]', the CUDA 13 + cuDNN 9 wheels"
DRIVER = "the NVIDIA driver, 580 or newer for CUDA 13"


def _elf_needed(path: str) -> list[str]:
    """The DT_NEEDED entries (shared libraries) of a 64-bit little-endian ELF file; [] if unreadable."""
    import struct

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for sh in sections:
        if sh[1] != 6:  # SHT_DYNAMIC
            continue
        strtab = sections[sh[6]]  # sh_link: the string table of the dynamic section
        out = []
        for off in range(sh[4], sh[4] + sh[5], 16):
            tag, val = struct.unpack_from("<qQ", data, off)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                start = strtab[4] + val
                out.append(data[start:data.index(b"\0", start)].decode())
        return out
    return []


def _preload_cuda() -> None:
    """Load CUDA/cuDNN from the nvidia-* pip wheels when present (onnxruntime-gpu[cuda,cudnn])."""
    mod = ort()
    if hasattr(mod, "preload_dlls"):
        try:
            with quiet_ort_log(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                mod.preload_dlls(msvc=False, directory="")
        except Exception:
            pass


def cuda_libraries() -> dict[str, str]:
    """Every library the CUDA provider needs that this process cannot load, with what provides it.

    Empty when all load (or when the installed onnxruntime has no CUDA provider at all)."""
    import ctypes

    mod = ort()
    capi = os.path.join(os.path.dirname(mod.__file__), "capi")
    found = glob.glob(os.path.join(capi, "*onnxruntime_providers_cuda*"))
    if not found:
        return {}
    _preload_cuda()
    system = {"libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0", "libstdc++.so.6",
              "libgcc_s.so.1", "ld-linux-x86-64.so.2", "libonnxruntime_providers_shared.so"}
    needed = [n for n in _elf_needed(found[0]) if n not in system] + list(LAZY_CUDA_LIBS)
    missing = {}
    for lib in needed:
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing[lib] = DRIVER if lib == DRIVER_LIB else GPU_EXTRA
    return missing


def onnxruntime_distribution() -> str:
    """The installed distribution that provides the ``onnxruntime`` module (e.g. ``onnxruntime-gpu``)."""
    from importlib import metadata

    found = [d for d in ("onnxruntime-gpu", "onnxruntime") if _installed(metadata, d)]
    return found[0] if found else "unknown"


def _installed(metadata, name: str) -> bool:
    try:
        metadata.distribution(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def _tiny_model_bytes() -> bytes:
    """A one-node model (y = x + x) used only to find out whether a CUDA session really starts."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


class quiet_ort_log:
    """Silence ONNX Runtime's default logger (it prints provider load failures on stderr)."""

    def __enter__(self):
        ort().set_default_logger_severity(4)
        return self

    def __exit__(self, *exc):
        ort().set_default_logger_severity(2)
        return False


def _library_failure() -> str:
    """Why the CUDA provider library cannot be loaded, if that is the reason (else "")."""
    missing = cuda_libraries()
    if not missing:
        return ""
    needs = {}
    for lib, source in missing.items():
        needs.setdefault(source, []).append(lib)
    return "missing " + "; ".join(f"{', '.join(libs)} ({src})" for src, libs in needs.items())


def probe_cuda() -> CudaStatus:
    """Try to create and run a CUDA session now (uncached). Never raises."""
    try:
        import numpy as np

        mod = ort()
    except Exception as exc:  # pragma: no cover - the package is a hard dependency
        return CudaStatus(False, f"onnxruntime cannot be imported: {exc}")
    if CUDA_EP not in mod.get_available_providers():
        return CudaStatus(False, f"the installed {onnxruntime_distribution()} package has no CUDA support")
    _preload_cuda()
    try:
        with quiet_ort_log():
            so = mod.SessionOptions()
            so.log_severity_level = 4
            sess = mod.InferenceSession(_tiny_model_bytes(), so, providers=[CUDA_EP, CPU_EP])
            if CUDA_EP not in sess.get_providers():
                why = _library_failure() or "no usable NVIDIA GPU or driver"
                return CudaStatus(False, f"the CUDA provider could not start: {why}")
            y = sess.run(None, {"x": np.array([1.5], dtype=np.float32)})[0]
            if float(y[0]) != 3.0:
                return CudaStatus(False, "the CUDA provider started but computed a wrong result")
    except Exception as exc:
        return CudaStatus(False, f"the CUDA provider failed: {str(exc).splitlines()[0][:300]}")
    return CudaStatus(True, "")


def cuda_status(refresh: bool = False) -> CudaStatus:
    """The cached result of :func:`probe_cuda` (probed once per process)."""
    global _cuda_status
    with _lock:
        if _cuda_status is None or refresh:
            _cuda_status = probe_cuda()
        return _cuda_status


def resolve_device(requested: str = "auto") -> DeviceChoice:
    """Apply the device rule in the module docstring."""
    requested = (requested or "auto").lower()
    if requested not in DEVICES:
        raise ModelError(f"unknown device {requested!r}: use one of {', '.join(DEVICES)}")
    if requested == "cpu":
        return DeviceChoice("cpu", requested, "")
    status = cuda_status()
    if status.ok:
        return DeviceChoice("cuda", requested, "")
    if requested == "cuda":
        raise ModelError(
            f"CUDA was requested but cannot be used: {status.reason}. "
            "Use --device auto (falls back to the CPU) or --device cpu.",
        )
    return DeviceChoice("cpu", requested, f"CUDA not used: {status.reason}")


def cpu_threads() -> int:
    """Intra-op threads: physical cores available to this process (``WORKBENCH_THREADS`` overrides)."""
    env = os.environ.get(ENV_THREADS)
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        logical = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        logical = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or logical
    except Exception:
        physical = logical
    return max(1, min(logical, physical))


def session_options(device: str):
    so = ort().SessionOptions()
    so.graph_optimization_level = ort().GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort().ExecutionMode.ORT_SEQUENTIAL
    so.inter_op_num_threads = 1
    if device == "cpu":
        so.intra_op_num_threads = cpu_threads()
    so.log_severity_level = 3
    return so


def create_session(path: str, device: str):
    """An InferenceSession on ``device``; for CUDA, verified to really run on CUDA."""
    providers = [CUDA_EP, CPU_EP] if device == "cuda" else [CPU_EP]
    try:
        with quiet_ort_log():
            sess = ort().InferenceSession(path, session_options(device), providers=providers)
    except Exception as exc:
        raise ModelError(f"cannot load the model file {path}", detail=str(exc)) from exc
    if device == "cuda" and CUDA_EP not in sess.get_providers():
        raise ModelError("the model could not be placed on the GPU (CUDA provider did not start)")
    return sess
