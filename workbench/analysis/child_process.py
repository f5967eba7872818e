"""Run a project's analysis in a child process (Qt-free), so the app's GUI process never competes
with the analysis' native code (numba, UMAP, pynndescent) for the GIL.

The child runs the same core as ``workbench analyze PROJECT``: it opens the project **read-only**
(the app keeps the write lock), loads it, takes the :class:`~workbench.analysis.project_analysis.AnalysisData`
snapshot and calls :func:`workbench.analysis.project_analysis.analyse` with the parameters, model,
device and results folder the parent passes explicitly (nothing of the user's data crosses the
process boundary: no pickle). It reports on stdout, one JSON object per line::

    {"phase": "Embedding prompts", "done": 10, "total": 200}
    {"ok": true, "revision": 7, "cache_key": "..."}          # the last line on success
    {"error": "user message", "detail": "..."}               # the last line on a WorkbenchError

:func:`run_child` (used by the app's analysis job) starts it, turns the lines into progress calls
and terminates the child on cancel. A killed child leaves the results folder consistent: the
results store removes ``cache.json`` first and writes it last under a folder lock, so a half
write is never taken for a result. The caller then opens the stored results the usual way
(:func:`~workbench.analysis.project_analysis.open_stored`), whose cache-key check confirms the
child analysed exactly the data and parameters of the caller's snapshot.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping

from workbench.core.errors import AnalysisError, Cancelled, WorkbenchError
from workbench.core.progress import CancelToken, ProgressFn, ensure

MODULE = "workbench.analysis.child_process"


# --------------------------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------------------------
def child_command(project: str | Path, folder: str | Path, params: Mapping[str, Any], *,
                  model: str | None = None, device: str | None = "auto", relayout: bool = False) -> list[str]:
    """The command line of the child (argument list, no shell)."""
    cmd = [sys.executable, "-m", MODULE, str(project), "--out", str(folder),
           "--params", json.dumps(dict(params), sort_keys=True), "--device", device or "auto"]
    if model:
        cmd += ["--model", str(model)]
    if relayout:
        cmd += ["--relayout"]
    return cmd


def _env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the folder that holds the workbench package
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def lower_priority(pid: int) -> None:
    """Run the child at a lower CPU priority (nice +10) than the app, so on a busy machine the
    window keeps getting the CPU promptly while the child computes (POSIX; elsewhere nothing)."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10))
    except (AttributeError, OSError):
        pass


def _pump(stream, q: "queue.Queue[str | None]") -> None:
    try:
        for line in iter(stream.readline, ""):
            q.put(line)
    finally:
        q.put(None)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_child(project: str | Path, folder: str | Path, params: Mapping[str, Any], *,
              model: str | None = None, device: str | None = "auto", relayout: bool = False,
              progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> dict[str, Any]:
    """Analyse ``project`` into ``folder`` in a child process; returns its final report
    (``revision``, ``cache_key``). Raises :class:`Cancelled` (after terminating the child) when
    ``cancel`` is set, the child's error as :class:`AnalysisError`, or one with its stderr tail."""
    return run_json_child(child_command(project, folder, params, model=model, device=device, relayout=relayout),
                          what="The analysis process", progress=progress, cancel=cancel)


def run_json_child(cmd: list[str], *, what: str, progress: ProgressFn | None = None,
                   cancel: CancelToken | None = None) -> dict[str, Any]:
    """Run a child that speaks this module's protocol (JSON lines on stdout: ``{"phase", "done",
    "total"}`` progress, then one ``{"ok": ...}`` or ``{"error", "detail"}``) at a lower CPU
    priority; its final message. Cancel terminates it (:class:`Cancelled`); its error, or an exit
    without a final message (with its stderr tail; ``what`` names the child), is an
    :class:`AnalysisError`."""
    progress, cancel = ensure(progress, cancel)
    cancel.check()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, encoding="utf-8", errors="replace", env=_env())
    lower_priority(proc.pid)
    out: "queue.Queue[str | None]" = queue.Queue()
    err_lines: list[str] = []
    threading.Thread(target=_pump, args=(proc.stdout, out), daemon=True).start()
    err_thread = threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True)
    err_thread.start()
    final: dict[str, Any] | None = None
    try:
        while True:
            if cancel.cancelled:
                raise Cancelled("cancelled")
            try:
                line = out.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            try:
                msg = json.loads(line)
            except ValueError:
                continue  # not ours (a library printing to stdout)
            if not isinstance(msg, dict):
                continue
            if "phase" in msg:
                progress(int(msg.get("done", 0)), int(msg.get("total", 0)), str(msg["phase"]))
            elif "ok" in msg or "error" in msg:
                final = msg
        proc.wait()
    finally:
        _stop(proc)
    err_thread.join(timeout=5)
    if final is not None and "error" in final:
        raise AnalysisError(str(final["error"]), detail=final.get("detail") or None)
    if proc.returncode != 0 or final is None:
        tail = "".join(err_lines[-30:]).strip()
        raise AnalysisError(f"{what} stopped unexpectedly (exit code {proc.returncode}).", detail=tail or None)
    return final


class DeferredEncoder:
    """The child's encoder as the parent knows it: by its identity (name, dimension, fingerprint,
    device, precision from the child's report), enough to read the vectors the child just put in
    the embedding cache. The model itself is loaded (on first :meth:`encode` or other use) only
    when a text really has to be encoded, so opening the child's results never loads onnxruntime
    in the GUI process (loading it holds the GIL for about a second)."""

    def __init__(self, info: Mapping[str, Any], model: str | None = None, device: str | None = "auto"):
        self.name, self.dim = str(info["name"]), int(info["dim"])
        self.fingerprint, self.device, self.precision = str(info["fingerprint"]), str(info["device"]), \
            str(info["precision"])
        self._model, self._device = model, device
        self._real: Any = None
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"{self.name} · {self.device} · {self.precision}"

    def real(self) -> Any:
        """The loaded encoder (loads it once)."""
        with self._lock:
            if self._real is None:
                from workbench.analysis.project_analysis import get_encoder_for

                self._real = get_encoder_for(self._model, self._device)
            return self._real

    def encode(self, texts, **kwargs):
        enc = self.real()
        if enc.fingerprint != self.fingerprint:
            raise AnalysisError("The embedding model changed while the analysis ran; run it again.")
        return enc.encode(texts, **kwargs)

    def __getattr__(self, name: str) -> Any:  # anything else an encoder has
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.real(), name)

    def __repr__(self) -> str:
        return f"DeferredEncoder({self.name!r}, device={self.device!r}, precision={self.precision!r})"


# --------------------------------------------------------------------------------------------
# child side
# --------------------------------------------------------------------------------------------
_OUT = sys.stdout  # the child's real stdout (main() points sys.stdout at stderr)


def _emit(msg: dict[str, Any]) -> None:
    _OUT.write(json.dumps(msg, ensure_ascii=False) + "\n")
    _OUT.flush()


def _reporter() -> ProgressFn:
    last = [None, 0.0]

    def progress(done: int, total: int, phase: str) -> None:
        now = time.monotonic()
        if phase != last[0] or now - last[1] >= 0.05 or (total and done >= total):
            last[0], last[1] = phase, now
            _emit({"phase": str(phase), "done": int(done), "total": int(total)})

    return progress


def analyse_project(project_path: str | Path, folder: str | Path, params: Mapping[str, Any], *,
                    model: str | None = None, device: str | None = "auto", relayout: bool = False,
                    progress: ProgressFn | None = None) -> dict[str, Any]:
    """What the child does: the CLI's project analysis with explicit settings, read-only."""
    from workbench.analysis import project_analysis as pa
    from workbench.project import Project

    progress, _ = ensure(progress, None)
    p = pa.project_params(None, params)  # explicit: the caller's parameters, not re-read
    with Project.open(project_path, read_only=True) as project:
        ws = project.load(progress=progress)
        data = pa.AnalysisData.capture(ws)
    encoder = pa.get_encoder_for(model, device, progress=progress)
    outcome = pa.analyse(data, p, folder, encoder=encoder, relayout=relayout, progress=progress)
    return {"ok": True, "revision": data.revision, "n": data.n, "cache_key": outcome.result.cache_key,
            "encoder": {"name": str(encoder.name), "dim": int(encoder.dim), "fingerprint": str(encoder.fingerprint),
                        "device": str(encoder.device), "precision": str(encoder.precision)}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {MODULE}",
                                 description="Analyse a project (read-only) and report progress as JSON lines.")
    ap.add_argument("project")
    ap.add_argument("--out", required=True)
    ap.add_argument("--params", default="{}", help="analysis parameters as a JSON object")
    ap.add_argument("--model", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--relayout", action="store_true", help="a fresh map layout (see map_continuity)")
    args = ap.parse_args(argv)
    # stdout carries only our JSON lines: anything else a library prints goes to stderr
    global _OUT
    _OUT, sys.stdout = sys.stdout, sys.stderr

    try:
        params = json.loads(args.params)
        if not isinstance(params, dict):
            raise AnalysisError("--params must be a JSON object.")
        _emit(analyse_project(args.project, Path(args.out), params, model=args.model, device=args.device,
                              relayout=args.relayout, progress=_reporter()))
        return 0
    except WorkbenchError as exc:
        _emit({"error": exc.user_message, "detail": exc.detail or ""})
        return 2


if __name__ == "__main__":
    sys.exit(main())
