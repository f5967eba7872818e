"""``embed_texts``: the cached embedding runner every front end uses.

1. Each distinct text is hashed (blake2b-128 of its exact UTF-8 bytes); vectors of texts the
   encoder has seen before are read from the cache (memory-mapped), so a second run over
   unchanged data makes no encoder call and adding 10 examples embeds 10 texts.
2. The rest is encoded in chunks ordered by length; finished chunks are written to the cache
   every ``FLUSH_ROWS`` vectors and when the run stops for any reason (cancel, error), so a
   cancelled run keeps what it finished and the cache stays consistent.

``EmbedStats`` counts *distinct* texts: ``encoded`` went through the model, ``cached`` came from
the cache; ``rows`` is the number of input texts (duplicates share one vector).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from workbench.core.errors import Cancelled
from workbench.core.progress import CancelToken, ProgressFn, ensure
from workbench.embed.cache import EmbeddingCache, text_keys

CHUNK = 8192  # texts per encoder call (cancel keeps every finished chunk)
FLUSH_ROWS = 65536  # new vectors held in RAM before a cache shard is written


@dataclass
class EmbedStats:
    encoded: int  # distinct texts run through the encoder
    cached: int  # distinct texts whose vectors came from the cache
    rows: int = 0  # input texts (duplicates included)
    seconds: float = 0.0  # wall time of the whole call
    encode_seconds: float = 0.0  # time spent in the encoder
    device: str = ""
    precision: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def texts_per_second(self) -> float:
        """Encoder throughput (distinct texts encoded per second of encoding)."""
        return self.encoded / self.encode_seconds if self.encode_seconds > 0 else 0.0


def embed_texts(
    texts: Sequence[str],
    encoder,
    *,
    cache: EmbeddingCache | None | bool = None,
    batch_size: int | None = None,
    out: np.ndarray | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, EmbedStats]:
    """Vectors for ``texts`` (float32 (n, dim), L2-normalised, input order) and what it cost.

    ``cache``: None = the default on-disk cache, False = no cache, or an :class:`EmbeddingCache`.
    ``out``: optional preallocated (n, dim) float32 array (e.g. a ``np.memmap``) to fill.
    """
    progress, cancel = ensure(progress, cancel)
    start = time.perf_counter()
    n = len(texts)
    if out is None:
        out = np.empty((n, encoder.dim), dtype=np.float32)
    elif out.shape != (n, encoder.dim):
        raise ValueError(f"out has shape {out.shape}, expected {(n, encoder.dim)}")
    stats = EmbedStats(0, 0, rows=n, device=encoder.device, precision=encoder.precision)
    if n == 0:
        return out, stats

    # distinct texts: first row of each, and every row's distinct index
    progress(0, n, "Looking up cached vectors")
    first_row: dict[str, int] = {}
    which = np.empty(n, dtype=np.int64)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, not str")
        which[i] = first_row.setdefault(t, len(first_row))
    uniq = list(first_row)
    del first_row
    vecs = np.empty((len(uniq), encoder.dim), dtype=np.float32) if len(uniq) < n else out
    keys = text_keys(uniq)

    store = None
    found = np.zeros(len(uniq), dtype=bool)
    if cache is not False:
        try:
            cache = cache if isinstance(cache, EmbeddingCache) else EmbeddingCache()
            store = cache.store(encoder.fingerprint, encoder.dim, encoder.name)
        except OSError as exc:  # unwritable cache folder: embed anyway, say so
            stats.warnings.append(f"embedding cache unavailable: {exc}")
        else:
            found = store.lookup(keys, vecs)
    missing = np.flatnonzero(~found)
    stats.cached = int(found.sum())
    progress(stats.cached, len(uniq), "Looking up cached vectors")

    pending: list[np.ndarray] = []
    pending_rows = 0

    def flush() -> None:
        nonlocal pending, pending_rows
        if store is None or not pending:
            return
        rows = np.concatenate(pending)
        pending, pending_rows = [], 0
        try:
            store.add(keys[rows], vecs[rows])
        except OSError as exc:  # a full or read-only disk must not lose the vectors in hand
            stats.warnings.append(f"embedding cache not written: {exc}")

    if len(missing):
        order = missing[np.argsort([len(uniq[i]) for i in missing], kind="stable")]
        total = len(order)
        phase = f"Embedding ({encoder.label})"
        base = 0

        def chunk_progress(done: int, _total: int, _phase: str) -> None:
            progress(base + done, total, phase)

        try:
            for c in range(0, total, CHUNK):
                rows = order[c : c + CHUNK]
                t0 = time.perf_counter()
                vecs[rows] = encoder.encode(
                    [uniq[i] for i in rows], batch_size=batch_size, progress=chunk_progress, cancel=cancel
                )
                stats.encode_seconds += time.perf_counter() - t0
                stats.encoded += len(rows)
                base += len(rows)
                pending.append(rows)
                pending_rows += len(rows)
                if pending_rows >= FLUSH_ROWS:
                    flush()
        except (Cancelled, KeyboardInterrupt, Exception):
            flush()  # keep every finished chunk
            raise
        progress(0, 0, "Saving vectors to the cache")
        flush()

    if vecs is not out:
        for s in range(0, n, FLUSH_ROWS):  # in slices: no second full-size temporary
            out[s : s + FLUSH_ROWS] = vecs[which[s : s + FLUSH_ROWS]]
    stats.seconds = time.perf_counter() - start
    return out, stats
