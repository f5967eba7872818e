"""The text encoder: ONNX Runtime + the ``tokenizers`` library, no torch at run time.

How a list of texts becomes vectors:

1. Texts are ordered by character length and tokenised in windows of a few thousand (Rust,
   parallel); within a window they are re-ordered by token count and cut into batches, so each
   batch pads to a similar length (unsorted batches ran at half the speed). A batch holds at
   most ``batch_size`` texts and ``batch_size x 128`` padded tokens, so long texts go in smaller
   batches: this cut peak memory by ~40% at the same speed.
2. Each text is truncated to the model's ``max_seq_length`` tokens (special tokens included),
   exactly like sentence-transformers; lower-cased first when the model asks for it.
3. The ONNX model gives token vectors; the model's pooling (mean over the attention mask for
   MiniLM) runs in numpy in float32; vectors are L2-normalised (cosine = dot product) and put
   back in input order.

``progress(done, total, phase)`` fires after every batch and ``cancel.check()`` runs before
each, so a cancel takes effect within one batch. One ``InferenceSession`` per (model file,
device) lives in a module-level registry and is shared by every :class:`Encoder` of the process.

Precision (user setting; the cost of each is in the README):

* ``int8`` — the CPU default: dynamic per-channel int8 weights. About 2x the speed of fp32 on
  CPU (~5x sentence-transformers on torch); vectors agree with torch at cosine 0.994 on average
  (0.968 at worst) on 5,000 real texts and about 8.5% of each text's 10 nearest neighbours
  change. Activations are quantised per batch, so the same text encoded among different
  batch-mates can differ slightly (cosine ~0.997 on average); the cache keeps the first vector,
  so repeated runs are stable.
* ``fp32`` — exact (cosine 1.0000 vs torch); use it where exact similarities decide a finding.
* ``fp16`` — the GPU default (built on first use from the fp32 file); agrees with fp32 at >= 0.999.
"""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from workbench.core.errors import ModelError
from workbench.core.hashing import file_sha256
from workbench.core.progress import CancelToken, ProgressFn, ensure
from workbench.embed import providers
from workbench.embed.model_registry import PRECISIONS, Manifest, ensure_model

PRECISION_CHOICES = ("auto",) + PRECISIONS
BATCH_SIZE = {"cpu": 32, "cuda": 256}  # CPU: larger batches did not help and multiplied memory
WINDOW = 4096  # texts tokenised together before length-sorting into batches
TOKENS_PER_ROW = 128  # padded-token budget per batch = batch size x this

_lock = threading.Lock()
_sessions: dict[tuple[str, str, str], object] = {}
_tokenizers: dict[str, object] = {}
_verified: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class EncodeStats:
    texts: int
    seconds: float

    @property
    def texts_per_second(self) -> float:
        return self.texts / self.seconds if self.seconds > 0 else 0.0


def _verify(path, expected: str) -> None:
    """Check a model file against its manifest hash (once per process per file version)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if _verified.get(key) != expected:
        actual = file_sha256(path)
        if actual != expected:
            raise ModelError(
                f"the model file {path} does not match its manifest (changed or corrupt); "
                f"remove the model with `workbench models --remove {path.parent.name}` and convert it again"
            )
        _verified[key] = actual


def _session(manifest: Manifest, precision: str, device: str):
    path = manifest.variant_path(precision)
    sha = manifest.variants[precision]["sha256"]
    key = (str(path), sha, device)
    with _lock:
        sess = _sessions.get(key)
        if sess is None:
            if not path.is_file():
                raise ModelError(f"the model file {path} is missing; remove the model and convert it again")
            _verify(path, sha)
            sess = providers.create_session(str(path), device)
            _sessions[key] = sess
        return sess


def _tokenizer(manifest: Manifest):
    from tokenizers import Tokenizer

    path = manifest.tokenizer_path()
    key = f"{path}:{manifest.max_seq_length}"
    with _lock:
        tok = _tokenizers.get(key)
        if tok is None:
            try:
                tok = Tokenizer.from_file(str(path))
            except Exception as exc:
                raise ModelError(f"cannot read the tokenizer {path}", detail=str(exc)) from exc
            pad_id = (tok.padding or {}).get("pad_id")
            if pad_id is None:
                pad_id = next((i for t in ("[PAD]", "<pad>", "<|pad|>") if (i := tok.token_to_id(t)) is not None), 0)
            tok.no_padding()  # padding is done per batch, to the batch's longest text
            tok.enable_truncation(max_length=manifest.max_seq_length)
            _tokenizers[key] = tok = (tok, int(pad_id))
        return tok


def clear_sessions() -> None:
    """Drop every cached session (tests; releasing GPU memory)."""
    with _lock:
        _sessions.clear()
        _tokenizers.clear()


def pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Pool token vectors (b, L, d) to sentence vectors (b, d) in float32, per the model's mode."""
    hidden = hidden.astype(np.float32, copy=False)
    m = mask.astype(np.float32)
    if mode == "mean":
        return np.einsum("bld,bl->bd", hidden, m) / np.maximum(m.sum(1, keepdims=True), 1e-9)
    if mode == "mean_sqrt_len":
        return np.einsum("bld,bl->bd", hidden, m) / np.sqrt(np.maximum(m.sum(1, keepdims=True), 1e-9))
    if mode == "cls":
        return hidden[:, 0].copy()
    if mode == "max":
        return np.where(m[:, :, None] > 0, hidden, -1e9).max(1)
    if mode == "lasttoken":
        last = np.maximum(mask.sum(1).astype(np.int64) - 1, 0)
        return hidden[np.arange(len(hidden)), last].copy()
    raise ModelError(f"unsupported pooling {mode!r}")


def l2_normalise(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return (v / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class Encoder:
    """Texts -> L2-normalised float32 vectors with one converted model on one device."""

    def __init__(self, manifest: Manifest, precision: str, device: str, device_reason: str = "", session=None):
        self.manifest = manifest
        self.name = manifest.name
        self.dim = manifest.dimension
        self.precision = precision
        self.device = device
        self.device_reason = device_reason
        self.batch_size = BATCH_SIZE[device]
        self._session = session if session is not None else _session(manifest, precision, device)
        self._tok, self._pad_id = _tokenizer(manifest)
        self._input_names = [i.name for i in self._session.get_inputs()]
        self._output = manifest.data.get("output") or self._session.get_outputs()[0].name
        self._lower = bool(manifest.data.get("do_lower_case"))
        self.fingerprint = self._fingerprint()
        self.calls = 0  # encode() calls that ran the model (tests count these)
        self.texts_encoded = 0
        self.last_stats: EncodeStats | None = None

    def _fingerprint(self) -> str:
        """Identity of the vectors this encoder produces: model file + tokenizer + pooling/truncation."""
        m = self.manifest.data
        parts = [
            self.manifest.variants[self.precision]["sha256"],
            m["tokenizer"]["sha256"],
            str(m["max_seq_length"]),
            m["pooling"],
            str(bool(m.get("do_lower_case"))),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def __repr__(self) -> str:
        return f"Encoder({self.name!r}, device={self.device!r}, precision={self.precision!r}, dim={self.dim})"

    @property
    def label(self) -> str:
        """Short text for status bars and CLI output, e.g. ``all-MiniLM-L6-v2 · cpu · int8``."""
        return f"{self.name} · {self.device} · {self.precision}"

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> np.ndarray:
        """Vectors (len(texts), dim) float32, L2-normalised, in input order."""
        progress, cancel = ensure(progress, cancel)
        n = len(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"text {i} is {type(t).__name__}, not str")
        bs = max(1, int(batch_size or self.batch_size))
        phase = f"Embedding ({self.label})"
        self.calls += 1
        start = time.perf_counter()
        order = np.argsort(np.fromiter((len(t) for t in texts), dtype=np.int64, count=n), kind="stable")
        windows = [order[w : w + WINDOW] for w in range(0, n, WINDOW)]
        done = 0
        progress(0, n, phase)
        # On a GPU, tokenising the next window (Rust, releases the GIL) overlaps the model run.
        pool_ = ThreadPoolExecutor(1) if self.device == "cuda" and len(windows) > 1 else None
        try:
            pending = pool_.submit(self._tokenize, texts, windows[0]) if pool_ else None
            for k, idx in enumerate(windows):
                ids = pending.result() if pool_ else self._tokenize(texts, idx)
                if pool_ and k + 1 < len(windows):
                    pending = pool_.submit(self._tokenize, texts, windows[k + 1])
                lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
                sub = np.argsort(lengths, kind="stable")
                for rows in _batches(sub, lengths, bs):
                    cancel.check()
                    out[idx[rows]] = self._run([ids[r] for r in rows], lengths[rows])
                    done += len(rows)
                    progress(done, n, phase)
        finally:
            if pool_:
                pool_.shutdown(wait=True)
        self.texts_encoded += n
        self.last_stats = EncodeStats(n, time.perf_counter() - start)
        return out

    def _tokenize(self, texts: Sequence[str], idx: np.ndarray) -> list[list[int]]:
        batch = [texts[i].lower() if self._lower else texts[i] for i in idx]
        return [e.ids for e in self._tok.encode_batch(batch, add_special_tokens=True)]

    def _run(self, ids_list: list[list[int]], lengths: np.ndarray) -> np.ndarray:
        b, length = len(ids_list), int(lengths.max())
        ids = np.full((b, length), self._pad_id, dtype=np.int64)
        for r, x in enumerate(ids_list):
            ids[r, : len(x)] = x
        mask = (np.arange(length)[None, :] < lengths[:, None]).astype(np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:  # single-sequence input: segment 0 throughout
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run([self._output], feeds)[0]
        return l2_normalise(pool(hidden, mask, self.manifest.pooling))


def _batches(sub: np.ndarray, lengths: np.ndarray, bs: int):
    """Cut length-sorted rows into batches of at most ``bs`` rows and ``bs * TOKENS_PER_ROW``
    padded tokens: long texts go in smaller batches, which bounds the attention memory
    (rows x heads x length^2) without slowing short texts."""
    budget = bs * TOKENS_PER_ROW
    b = 0
    while b < len(sub):
        end = min(b + bs, len(sub))
        while end - b > 1 and (end - b) * int(lengths[sub[end - 1]]) > budget:
            end = max(b + 1, min(end - 1, b + budget // int(lengths[sub[end - 1]])))
        yield sub[b:end]
        b = end


def resolve_precision(manifest: Manifest, device: str, precision: str) -> str:
    """``auto`` -> int8 on CPU (fp32 if the model has no int8 variant), fp16 on CUDA."""
    precision = (precision or "auto").lower()
    if precision not in PRECISION_CHOICES:
        raise ModelError(f"unknown precision {precision!r}: use one of {', '.join(PRECISION_CHOICES)}")
    if precision != "auto":
        return precision
    if device == "cuda":
        return "fp16"
    return "int8" if manifest.has("int8") else "fp32"


def get_encoder(
    model: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Encoder:
    """An encoder for ``model`` (default all-MiniLM-L6-v2, converted offline on first use).

    ``device``: see :mod:`workbench.embed.providers` for the rule. ``precision``: ``auto``,
    ``int8``, ``fp32`` or ``fp16``; the fp16 file is built from fp32 the first time it is asked for.
    """
    manifest = ensure_model(model, progress=progress, cancel=cancel)
    choice = providers.resolve_device(device)
    prec = resolve_precision(manifest, choice.device, precision)
    if prec == "fp16" and not manifest.has("fp16"):
        from workbench.embed.convert import build_fp16

        try:
            manifest = build_fp16(manifest, progress=progress)
        except ModelError:
            if precision != "auto":
                raise
            prec = "fp32"  # fp16 could not be built: fp32 runs everywhere
    return Encoder(manifest, prec, choice.device, choice.reason)
