"""Embedding on a Ray cluster (Ray Data), into the same cache the app and ``workbench analyze`` read.

``embed_on_ray(texts, encoder)`` does what :func:`workbench.embed.runner.embed_texts` does, with
the model runs spread over a Ray cluster:

1. On the driver (where ``workbench embed --engine ray`` runs): distinct texts are hashed and
   looked up in the local embedding cache of ``encoder`` (same fingerprint = same model file,
   tokenizer, pooling and precision as the app would use on this machine); only the missing ones
   go to the cluster.
2. The missing texts become a Ray Dataset (``ray.data.from_arrow``: row index + text, in blocks
   of ``BLOCK_ROWS``), and ``map_batches`` runs them through an actor pool. Each actor holds one
   ONNX Runtime session of the same model file, sent once through the object store (the nodes
   need no model folder and no workbench home): CUDA when the actor was given a GPU
   (``--gpus-per-worker``) and a CUDA session really starts there, else CPU. Inside an actor the
   texts go through the ordinary :class:`~workbench.embed.encoder.Encoder` (length-sorted
   batches, same truncation, pooling, normalisation), so the vectors are the local engine's.
3. Results stream back to the driver (``iter_batches``) and are written to the cache in shards
   of ``FLUSH_ROWS`` vectors as they arrive (an interrupted run keeps what it wrote).

Cost: the driver hashes every text and reads/writes the cache (linear in rows, a few seconds per
million); the model time, the dominant term, is divided by the number of workers; the network
carries each text once out and 1.5 KB (384 float32) per distinct text back.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from workbench.core.errors import ModelError
from workbench.core.progress import CancelToken, ProgressFn, ensure
from workbench.embed.cache import EmbeddingCache, text_keys
from workbench.embed.runner import EmbedStats

BLOCK_ROWS = 8192  # texts per Ray Data block (and per actor call)
FLUSH_ROWS = 1_000_000  # vectors held before a cache shard is written (few shards for 10M rows)
RAY_MISSING = ("Ray is not installed: pip install 'curation-workbench[cluster]' "
               "(or run without --engine ray)")


def _ray():
    # No network at run time: Ray's usage statistics are off unless the user turned them on.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ModelError(RAY_MISSING, detail=str(exc)) from exc
    return ray


class _EmbedActor:
    """One ONNX Runtime session per actor; ``__call__`` embeds a batch of {"i", "text"} rows."""

    def __init__(self, payload_ref, precision: str, want_gpu: bool, threads: int):
        import ray

        from workbench.embed import providers
        from workbench.embed.encoder import Encoder
        from workbench.embed.model_registry import Manifest

        os.environ[providers.ENV_THREADS] = str(threads)  # the CPUs Ray gave this actor, not the node's
        payload = ray.get(payload_ref[0])
        # manifest + tokenizer in a private folder on this node; the model itself stays in memory
        self._dir = Path(tempfile.mkdtemp(prefix="workbench-ray-"))
        (self._dir / "manifest.json").write_text(json.dumps(payload["manifest"]), encoding="utf-8")
        (self._dir / payload["manifest"]["tokenizer"]["file"]).write_bytes(payload["tokenizer"])
        manifest = Manifest(self._dir, payload["manifest"])
        device, reason = "cpu", ""
        if want_gpu:
            status = providers.cuda_status()
            device, reason = ("cuda", "") if status.ok else ("cpu", f"CUDA not used: {status.reason}")
        sess = providers.create_session(payload["model"], device)
        self.encoder = Encoder(manifest, precision, device, reason, session=sess)
        if self.encoder.fingerprint != payload["fingerprint"]:
            raise ModelError("the model received by a Ray worker does not match the driver's")

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        vecs = self.encoder.encode(texts)
        return {"i": np.asarray(batch["i"], dtype=np.int64), "vec": vecs,
                "device": np.array([self.encoder.device] * len(texts))}


def _payload(encoder) -> dict:
    m = encoder.manifest
    return {
        "manifest": m.data,
        "tokenizer": m.tokenizer_path().read_bytes(),
        "model": m.variant_path(encoder.precision).read_bytes(),
        "fingerprint": encoder.fingerprint,
    }


def embed_on_ray(
    texts: Sequence[str],
    encoder,
    *,
    address: str | None = None,
    workers: int | None = None,
    gpus_per_worker: float = 0.0,
    cache: EmbeddingCache | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> EmbedStats:
    """Embed the distinct ``texts`` missing from ``encoder``'s cache on a Ray cluster.

    ``address``: a running cluster (``ray://host:10001`` or ``host:6379``, or ``auto``); None
    connects to ``RAY_ADDRESS`` if set, else starts a local Ray instance. ``workers``: actors in
    the pool (default: one per ``gpus_per_worker`` GPUs, else one per 2 CPUs of the cluster).
    Vectors go into the cache only; read them with ``embed_texts`` (which then encodes nothing).
    """
    progress, cancel = ensure(progress, cancel)
    if gpus_per_worker < 0:
        raise ModelError("--gpus-per-worker must be 0 or more")
    start = time.perf_counter()
    stats = EmbedStats(0, 0, rows=len(texts), device="ray", precision=encoder.precision)
    uniq = list(dict.fromkeys(texts))
    for i, t in enumerate(uniq):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, not str")
    keys = text_keys(uniq)
    store = (cache or EmbeddingCache()).store(encoder.fingerprint, encoder.dim, encoder.name)
    progress(0, len(uniq), "Looking up cached vectors")
    found = store.lookup(keys, np.empty((len(uniq), encoder.dim), dtype=np.float32))
    missing = np.flatnonzero(~found)
    stats.cached = int(found.sum())
    if len(missing) == 0:
        stats.seconds = time.perf_counter() - start
        return stats

    ray = _ray()
    import pyarrow as pa

    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        import logging

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the workbench reports progress itself
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        resources = ray.cluster_resources()
        if workers is None:
            if gpus_per_worker > 0:
                workers = max(1, int(resources.get("GPU", 0) // gpus_per_worker))
            else:
                workers = max(1, int(resources.get("CPU", 1) // 2))
        payload_ref = [ray.put(_payload(encoder))]
        blocks = [pa.table({"i": pa.array(missing[b:b + BLOCK_ROWS], type=pa.int64()),
                            "text": pa.array([uniq[i] for i in missing[b:b + BLOCK_ROWS]], type=pa.large_string())})
                  for b in range(0, len(missing), BLOCK_ROWS)]
        ds = ray.data.from_arrow(blocks)  # one block per table: no shuffle task needed
        cpus = max(1, int(resources.get("CPU", 1) // workers)) if gpus_per_worker == 0 else 1
        out = ds.map_batches(
            _EmbedActor,
            fn_constructor_args=(payload_ref, encoder.precision, gpus_per_worker > 0, cpus),
            batch_size=BLOCK_ROWS,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_gpus=gpus_per_worker or None,
            num_cpus=cpus,
        )
        phase = f"Embedding on Ray ({workers} worker{'s' if workers != 1 else ''}, {encoder.precision})"
        pending_i: list[np.ndarray] = []
        pending_v: list[np.ndarray] = []
        held = 0
        devices: set[str] = set()
        t0 = time.perf_counter()

        def flush() -> None:
            nonlocal pending_i, pending_v, held
            if pending_i:
                idx = np.concatenate(pending_i)
                store.add(keys[idx], np.concatenate(pending_v))
            pending_i, pending_v, held = [], [], 0

        progress(0, len(missing), phase)
        try:
            for batch in out.iter_batches(batch_size=BLOCK_ROWS, batch_format="numpy"):
                cancel.check()
                pending_i.append(batch["i"])
                pending_v.append(np.asarray(batch["vec"], dtype=np.float32))
                devices.update(str(d) for d in np.unique(batch["device"]))
                held += len(batch["i"])
                stats.encoded += len(batch["i"])
                progress(stats.encoded, len(missing), phase)
                if held >= FLUSH_ROWS:
                    flush()
        finally:
            flush()  # keep every vector that arrived, whatever stopped the run
        stats.encode_seconds = time.perf_counter() - t0
        stats.device = "ray: " + "+".join(sorted(devices)) + f" x {workers} worker{'s' if workers != 1 else ''}"
    finally:
        if started_here:
            ray.shutdown()
    if stats.encoded != len(missing):
        raise ModelError(f"the Ray run returned {stats.encoded} of {len(missing)} vectors")
    stats.seconds = time.perf_counter() - start
    return stats
