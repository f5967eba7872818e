"""Prepare the embedding model and fill the vector cache in a child process (Qt-free), so the
app's GUI process never loads onnxruntime just to read vectors.

Loading the model in the GUI process holds its GIL: probing the device (importing onnxruntime,
trying the CUDA provider) and creating the session took 1.7 s + 0.6 s of frozen window on every
project open, as the stored analysis needs the encoder's identity (its fingerprint decides
whether the results are current and names the cached vectors). The child does that work
instead: it resolves the project's model and device exactly as ``workbench analyze`` does,
embeds the project's rows by the service's rule (:func:`workbench.analysis.project_analysis.vectors`;
vectors already cached cost nothing) and any extra texts (a typed search query), and reports
the encoder's identity as its last JSON line::

    {"phase": "Embedding prompts", "done": 10, "total": 200}
    {"ok": true, "n": 2087, "encoder": {"name": ..., "dim": 384, "fingerprint": ..., "device": "cpu", "precision": "int8"}}

The parent then uses a :class:`~workbench.analysis.child_process.DeferredEncoder` built from that
identity: every vector it asks for is in the cache, so the model itself is never loaded there.
The project is opened read-only; texts travel as a JSON file (no pickle).

**Typed queries** ("find similar" on a text) need one vector at a time, at typing speed: starting
a child for each cost about 3 s a query. :class:`EncoderServer` keeps one child running with the
model loaded (``--serve``) and embeds each query in milliseconds; it is started in the background
once the project's vectors are ready, so the first query does not wait for the model either. The
protocol is JSON lines: the child says ``{"ready": true, "encoder": {...}}``, then answers each
``{"texts": [...]}`` with ``{"ok": true, "dim": 384, "vectors": BASE64}`` (little-endian float32,
row-major; no pickle). The child exits when its stdin closes, so it never outlives the app.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import collections
import json
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Sequence

from workbench.core.errors import AnalysisError, Cancelled, WorkbenchError
from workbench.core.progress import CancelToken, ProgressFn, ensure

MODULE = "workbench.analysis.embed_child"


def encoder_identity(encoder: Any) -> dict[str, Any]:
    return {"name": str(encoder.name), "dim": int(encoder.dim), "fingerprint": str(encoder.fingerprint),
            "device": str(encoder.device), "precision": str(encoder.precision)}


# --------------------------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------------------------
def run_embed_child(project: str | Path | None, *, texts: Sequence[str] = (), model: str | None = None,
                    device: str | None = "auto", progress: ProgressFn | None = None,
                    cancel: CancelToken | None = None) -> dict[str, Any]:
    """Embed ``project``'s rows (when given) and ``texts`` into the cache in a child process;
    returns its report (``encoder``: the identity). Cancel terminates the child."""
    from workbench.analysis.child_process import run_json_child

    cmd = [sys.executable, "-m", MODULE, "--device", device or "auto"]
    if model:
        cmd += ["--model", str(model)]
    if project is not None:
        cmd += ["--project", str(project)]
    tmp = None
    if texts:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8")
        with tmp:
            json.dump([str(t) for t in texts], tmp)
        cmd += ["--texts", tmp.name]
    try:
        return run_json_child(cmd, what="Preparing the embedding model", progress=progress, cancel=cancel)
    finally:
        if tmp is not None:
            Path(tmp.name).unlink(missing_ok=True)


def deferred_encoder(project: str | Path | None, *, texts: Sequence[str] = (), model: str | None = None,
                     device: str | None = "auto", progress: ProgressFn | None = None,
                     cancel: CancelToken | None = None):
    """A :class:`~workbench.analysis.child_process.DeferredEncoder` whose vectors for ``project``'s
    rows and ``texts`` are in the cache (put there by the child)."""
    from workbench.analysis.child_process import DeferredEncoder

    report = run_embed_child(project, texts=texts, model=model, device=device, progress=progress, cancel=cancel)
    return DeferredEncoder(report["encoder"], model, device)


class EncoderServer:
    """One child process that keeps the embedding model loaded and embeds texts on request (see
    the module doc). Thread-safe; a dead child is started again on the next request."""

    REPLY_TIMEOUT = 120.0  # seconds one request may take before the child is given up

    def __init__(self, model: str | None = None, device: str | None = "auto"):
        self.model, self.device = model, device or "auto"
        self.identity: dict[str, Any] | None = None
        self._proc: subprocess.Popen | None = None
        self._out: "queue.Queue[str | None]" = queue.Queue()
        self._err: collections.deque[str] = collections.deque(maxlen=30)
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the child (if it is not running) without waiting for the model to load."""
        from workbench.analysis.child_process import _env, _pump

        if self._proc is not None and self._proc.poll() is None:
            return
        cmd = [sys.executable, "-m", MODULE, "--serve", "--device", self.device]
        if self.model:
            cmd += ["--model", str(self.model)]
        self.identity = None
        self._out, self._err = queue.Queue(), collections.deque(maxlen=30)
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, encoding="utf-8", errors="replace", env=_env())
        threading.Thread(target=_pump, args=(self._proc.stdout, self._out), daemon=True,
                         name="encoder-server-out").start()
        err = self._err
        threading.Thread(target=lambda s=self._proc.stderr: err.extend(s), daemon=True,
                         name="encoder-server-err").start()

    def _reply(self, cancel: CancelToken | None, timeout: float | None) -> dict[str, Any]:
        import time

        t0 = time.monotonic()
        while True:
            if cancel is not None and cancel.cancelled:
                raise Cancelled("cancelled")  # the child keeps going; its answer waits in the queue
            if timeout is not None and time.monotonic() - t0 > timeout:
                self.close()
                raise AnalysisError(f"The embedding process did not answer within {timeout:.0f} s.")
            try:
                line = self._out.get(timeout=0.05)
            except queue.Empty:
                continue
            if line is None:
                code = self._proc.wait() if self._proc is not None else None
                self._proc = None
                raise AnalysisError(f"The embedding process stopped unexpectedly (exit code {code}).",
                                    detail="".join(self._err).strip() or None)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict) and "error" in msg:
                raise AnalysisError(str(msg["error"]), detail=msg.get("detail") or None)
            if isinstance(msg, dict) and ("ok" in msg or "ready" in msg):
                return msg

    def encode(self, texts: Sequence[str], *, cancel: CancelToken | None = None):
        """``(vectors (n, dim) float32, encoder identity)`` of ``texts``. Cancel while the model
        loads returns at once (the child goes on loading for the next request)."""
        import numpy as np

        texts = [str(t) for t in texts]
        with self._lock:
            self.start()
            if self.identity is None:
                self.identity = dict(self._reply(cancel, None)["encoder"])
            try:
                self._proc.stdin.write(json.dumps({"texts": texts}, ensure_ascii=False) + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.close()
                raise AnalysisError("The embedding process stopped; the next search starts it again.") from None
            msg = self._reply(None, self.REPLY_TIMEOUT)  # milliseconds once the model is loaded
            dim = int(msg["dim"])
            vecs = np.frombuffer(base64.b64decode(msg["vectors"]), dtype="<f4").reshape(len(texts), dim)
            return vecs.astype(np.float32), self.identity

    def close(self) -> None:
        from workbench.analysis.child_process import _stop

        proc, self._proc, self.identity = self._proc, None, None
        if proc is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                _stop(proc)


_SERVERS: dict[tuple[str | None, str], EncoderServer] = {}
_SERVERS_LOCK = threading.Lock()


def shared_server(model: str | None = None, device: str | None = "auto") -> EncoderServer:
    """The process-wide :class:`EncoderServer` for ``model`` on ``device`` (closed at exit)."""
    key = (model, device or "auto")
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is None:
            server = _SERVERS[key] = EncoderServer(model, device)
        return server


@atexit.register
def _close_servers() -> None:
    for server in list(_SERVERS.values()):
        server.close()


# --------------------------------------------------------------------------------------------
# child side
# --------------------------------------------------------------------------------------------
def serve(model: str | None, device: str | None, stdin=None) -> int:
    """The ``--serve`` loop: load the model once, then answer each request line (see module)."""
    import numpy as np

    from workbench.analysis import child_process as cp
    from workbench.analysis import project_analysis as pa
    from workbench.embed import embed_texts

    encoder = pa.get_encoder_for(model, device)
    cp._emit({"ready": True, "encoder": encoder_identity(encoder)})
    for line in stdin or sys.stdin:
        try:
            req = json.loads(line)
            texts = req.get("texts") if isinstance(req, dict) else None
            if not isinstance(texts, list) or not all(isinstance(x, str) for x in texts):
                raise AnalysisError('A request is {"texts": [strings]}.')
            vecs, _ = embed_texts(texts, encoder)
            vecs = np.ascontiguousarray(vecs, dtype="<f4")
            cp._emit({"ok": True, "dim": int(vecs.shape[1]) if vecs.ndim == 2 else int(encoder.dim),
                      "vectors": base64.b64encode(vecs.tobytes()).decode("ascii")})
        except ValueError:
            cp._emit({"error": "A request line is not JSON."})
        except WorkbenchError as exc:
            cp._emit({"error": exc.user_message, "detail": exc.detail or ""})
    return 0


def embed_project(project_path: str | Path | None, texts: Sequence[str], *, model: str | None = None,
                  device: str | None = "auto", progress: ProgressFn | None = None) -> dict[str, Any]:
    """What the child does: the project's model on the project's device, its rows' vectors by
    the service's rule and ``texts``' vectors into the cache; the encoder's identity."""
    from workbench.analysis import project_analysis as pa
    from workbench.embed import embed_texts

    progress, _ = ensure(progress, None)
    data = None
    if project_path is not None:
        from workbench.project import Project

        with Project.open(project_path, read_only=True) as project:
            data = pa.AnalysisData.capture(project.load(progress=progress))
    encoder = pa.get_encoder_for(model, device, progress=progress)
    n = 0
    if data is not None:
        pa.vectors(data, encoder, progress=progress)
        n = data.n
    if texts:
        embed_texts(list(texts), encoder, progress=progress)
    return {"ok": True, "n": n, "encoder": encoder_identity(encoder)}


def main(argv: list[str] | None = None) -> int:
    from workbench.analysis import child_process as cp

    ap = argparse.ArgumentParser(prog=f"python -m {MODULE}",
                                 description="Embed a project's rows (read-only) and texts into the vector cache; "
                                             "report the encoder's identity as a JSON line.")
    ap.add_argument("--project", default=None)
    ap.add_argument("--texts", default=None, help="a JSON file holding a list of texts")
    ap.add_argument("--model", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--serve", action="store_true",
                    help="keep the model loaded and answer {\"texts\": [...]} JSON lines on stdin until it closes")
    args = ap.parse_args(argv)
    out, sys.stdout = sys.stdout, sys.stderr  # stdout carries only our JSON lines
    cp._OUT = out
    try:
        if args.serve:
            return serve(args.model, args.device)
        texts: list[str] = []
        if args.texts:
            loaded = json.loads(Path(args.texts).read_text(encoding="utf-8"))
            if not isinstance(loaded, list) or not all(isinstance(t, str) for t in loaded):
                raise AnalysisError("--texts must name a JSON list of strings.")
            texts = loaded
        cp._emit(embed_project(args.project, texts, model=args.model, device=args.device, progress=cp._reporter()))
        return 0
    except WorkbenchError as exc:
        cp._emit({"error": exc.user_message, "detail": exc.detail or ""})
        return 2


if __name__ == "__main__":
    sys.exit(main())
