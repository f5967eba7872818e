"""The embedding cache: vectors keyed by (encoder fingerprint, hash of the exact text embedded).

Layout under ``paths.embedding_cache_dir()``::

    <fingerprint[:32]>/            one store per encoder (model file + tokenizer + pooling + precision)
      meta.json                    model name, dimension, full fingerprint (for people)
      <id>.vecs.npy                float32 (n, dim), row i = vector of keys[i]
      <id>.keys.npy                S16 (n,), sorted 16-byte blake2b digests of the texts

Shards are append-only. A shard is written as two temp files (fsync'd) renamed into place,
vectors first, keys last: a shard exists only once its keys file does, so a crash or kill
while writing leaves at most an orphan temp or vectors file, which readers ignore (and later
remove). A shard whose files do not match (row counts, dtype, order) is skipped, never trusted.

Vectors are memory-mapped; only the keys (16 bytes per vector: 16 MB for a million) are read
into RAM, so a 1M x 384 cache (1.5 GB) is never loaded whole. When a store holds more than
``MAX_SHARDS`` shards, they are merged in chunks into one (compaction).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.core import paths
from workbench.core.atomic import TMP_SUFFIX, atomic_write, fsync_dir, fsync_file, write_json
from workbench.core.hashing import text_key

KEY_DTYPE = np.dtype("S16")
MAX_SHARDS = 16
ORPHAN_SECONDS = 3600
COPY_CHUNK = 65536


def text_keys(texts) -> np.ndarray:
    """16-byte keys of ``texts`` (blake2b of the exact UTF-8 text)."""
    return np.array([text_key(t) for t in texts], dtype=KEY_DTYPE)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_write(path, "wb") as f:
        np.save(f, array, allow_pickle=False)


@dataclass
class Shard:
    id: str
    keys: np.ndarray  # sorted S16, in RAM
    vecs: np.ndarray  # float32 (n, dim), memory-mapped


class ModelStore:
    """The cached vectors of one encoder."""

    def __init__(self, folder: Path, dim: int):
        self.dir = folder
        self.dim = dim
        self.dir.mkdir(parents=True, exist_ok=True)
        self._shards: dict[str, Shard] = {}
        self.skipped: list[str] = []  # shard ids found invalid (and ignored)
        self.refresh()

    # reading -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Pick up shards written since (by this or another process); drop vanished ones."""
        present = {p.name[: -len(".keys.npy")] for p in self.dir.glob("*.keys.npy") if not p.name.startswith(".")}
        for sid in list(self._shards):
            if sid not in present:
                del self._shards[sid]
        for sid in sorted(present - set(self._shards)):
            shard = self._open(sid)
            if shard is not None:
                self._shards[sid] = shard
        self._clean_orphans(present)

    def _open(self, sid: str) -> Shard | None:
        try:
            keys = np.load(self.dir / f"{sid}.keys.npy", allow_pickle=False)
            vecs = np.load(self.dir / f"{sid}.vecs.npy", mmap_mode="r", allow_pickle=False)
            ok = (
                keys.dtype == KEY_DTYPE
                and keys.ndim == 1
                and vecs.dtype == np.float32
                and vecs.shape == (len(keys), self.dim)
                and (len(keys) < 2 or bool(np.all(keys[1:] > keys[:-1])))
            )
        except (OSError, ValueError):
            ok = False
        if not ok:
            self.skipped.append(sid)
            return None
        return Shard(sid, keys, vecs)

    def _clean_orphans(self, present: set[str]) -> None:
        now = time.time()
        for p in self.dir.iterdir():
            sid = p.name.split(".vecs.npy")[0] if p.name.endswith(".vecs.npy") else None
            stale = p.name.startswith(".tmp-") or (p.name.startswith(".") and p.name.endswith(TMP_SUFFIX)) or (
                sid is not None and sid not in present)
            try:
                if stale and now - p.stat().st_mtime > ORPHAN_SECONDS:
                    p.unlink()
            except OSError:
                pass

    def __len__(self) -> int:
        return sum(len(s.keys) for s in self._shards.values())

    @property
    def shard_count(self) -> int:
        return len(self._shards)

    def lookup(self, keys: np.ndarray, out: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Copy cached vectors of ``keys`` into ``out[rows]``; return a bool mask of hits."""
        rows = np.arange(len(keys)) if rows is None else rows
        found = np.zeros(len(keys), dtype=bool)
        for shard in self._shards.values():
            todo = np.flatnonzero(~found)
            if len(todo) == 0 or len(shard.keys) == 0:
                break
            q = keys[todo]
            pos = np.searchsorted(shard.keys, q)
            pos_c = np.minimum(pos, len(shard.keys) - 1)
            hit = shard.keys[pos_c] == q
            if not hit.any():
                continue
            src = pos_c[hit]
            order = np.argsort(src, kind="stable")  # read the memory map front to back
            dst = rows[todo[hit]]
            out[dst[order]] = shard.vecs[src[order]]
            found[todo[hit]] = True
        return found

    # writing -------------------------------------------------------------------------------
    def add(self, keys: np.ndarray, vecs: np.ndarray) -> None:
        """Append vectors as a new shard (duplicates of cached keys are left out)."""
        if len(keys) == 0:
            return
        keys = np.asarray(keys, dtype=KEY_DTYPE)
        uniq, first = np.unique(keys, return_index=True)
        have = np.zeros(len(uniq), dtype=bool)
        for shard in self._shards.values():
            if len(shard.keys):
                pos = np.minimum(np.searchsorted(shard.keys, uniq), len(shard.keys) - 1)
                have |= shard.keys[pos] == uniq
        uniq, first = uniq[~have], first[~have]
        if len(uniq) == 0:
            return
        self._write_shard(uniq, np.ascontiguousarray(vecs[first], dtype=np.float32))
        if len(self._shards) > MAX_SHARDS:
            self.compact()

    def _new_id(self) -> str:
        return f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"

    def _write_shard(self, keys: np.ndarray, vecs: np.ndarray) -> None:
        sid = self._new_id()
        _save_npy(self.dir / f"{sid}.vecs.npy", vecs)
        _save_npy(self.dir / f"{sid}.keys.npy", keys)  # commit point
        self._shards[sid] = Shard(sid, keys, np.load(self.dir / f"{sid}.vecs.npy", mmap_mode="r"))

    def compact(self) -> None:
        """Merge every current shard into one, in chunks (never the whole cache in RAM)."""
        self.refresh()
        old = list(self._shards.values())
        if len(old) < 2:
            return
        all_keys = np.concatenate([s.keys for s in old])
        owner = np.concatenate([np.full(len(s.keys), i, dtype=np.int32) for i, s in enumerate(old)])
        pos = np.concatenate([np.arange(len(s.keys), dtype=np.int64) for s in old])
        keys, first = np.unique(all_keys, return_index=True)
        owner, pos = owner[first], pos[first]
        sid = self._new_id()
        final = self.dir / f"{sid}.vecs.npy"
        tmp = self.dir / f".tmp-{sid}.vecs.npy"
        try:
            merged = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(keys), self.dim))
            for start in range(0, len(keys), COPY_CHUNK):
                sl = slice(start, start + COPY_CHUNK)
                for i, s in enumerate(old):
                    sel = np.flatnonzero(owner[sl] == i)
                    if len(sel):
                        merged[start + sel] = s.vecs[pos[sl][sel]]
            merged.flush()
            del merged
            fsync_file(tmp)
            os.replace(tmp, final)
            fsync_dir(self.dir)
        finally:
            tmp.unlink(missing_ok=True)
        _save_npy(self.dir / f"{sid}.keys.npy", keys)
        for s in old:  # keys first: the shard stops existing before its vectors go
            for suffix in (".keys.npy", ".vecs.npy"):
                try:
                    (self.dir / f"{s.id}{suffix}").unlink()
                except OSError:
                    pass
            self._shards.pop(s.id, None)
        self._shards[sid] = Shard(sid, keys, np.load(final, mmap_mode="r"))


class EmbeddingCache:
    """All per-encoder stores under one folder (default ``paths.embedding_cache_dir()``)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else paths.embedding_cache_dir()
        self._stores: dict[str, ModelStore] = {}

    def store(self, fingerprint: str, dim: int, name: str = "") -> ModelStore:
        st = self._stores.get(fingerprint)
        if st is None:
            folder = self.root / fingerprint[:32]
            st = ModelStore(folder, dim)
            meta = folder / "meta.json"
            if not meta.exists():
                write_json(meta, {"model": name, "dimension": dim, "fingerprint": fingerprint})
            self._stores[fingerprint] = st
        else:
            st.refresh()
        return st

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*.npy"))
