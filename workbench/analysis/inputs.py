"""Helpers of :mod:`workbench.analysis.pipeline`: building inputs and their revision hash."""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

MULTI_TURN_SCHEMAS = frozenset({"chat", "sharegpt"})


def source_turns(data: Any) -> list[Any]:
    """Turns of every record of a SourceData whose schema can hold several turns (else None per
    row: the fixed-shape schemas cannot have turn-structure errors)."""
    n = len(data)
    if data.schema not in MULTI_TURN_SCHEMAS:
        return [None] * n
    from workbench.io.formats import normalise

    out: list[Any] = []
    for i in range(n):
        try:
            out.append(normalise(data.record(i), data.schema, data.unit, mapping=data.mapping).turns)
        except Exception:  # a record that loaded once always normalises; be safe anyway
            out.append(None)
    return out


def columns_from_sources(sources: Sequence[tuple[Any, str]]) -> dict[str, Any]:
    """Row-aligned columns of ``[(SourceData, role), ...]`` in the given order; the sources get
    ids 1, 2, ... in that order and labels per :func:`workbench.analysis.aligned.source_labels`."""
    from workbench.analysis.aligned import source_labels

    labels = source_labels((k + 1, data.path) for k, (data, _) in enumerate(sources))
    names: list[str] = []
    ids: list[int] = []
    roles: list[str] = []
    lines: list[np.ndarray] = []
    prompt: list[str] = []
    response: list[str] = []
    system: list[str] = []
    turns: list[Any] = []
    keys: dict[str, None] = {}
    for data, _ in sources:
        keys.update(dict.fromkeys(data.extra))
    extra: dict[str, list[Any]] = {k: [] for k in keys}
    for k, (data, role) in enumerate(sources):
        m = len(data)
        names.extend([labels[k + 1]] * m)
        ids.extend([k + 1] * m)
        roles.extend([role] * m)
        lines.append(np.asarray(data.lines, dtype=np.int64))
        prompt.extend(data.prompt)
        response.extend(data.response)
        system.extend(data.system)
        turns.extend(source_turns(data))
        for k, col in extra.items():
            col.extend(data.extra[k] if k in data.extra else [None] * m)
    return dict(source=np.asarray(names, dtype=object), source_id=np.asarray(ids, dtype=np.int32), role=np.asarray(roles, dtype=object),
                line=np.concatenate(lines) if lines else np.zeros(0, np.int64), prompt=prompt,
                response=response, system=system, turns=turns, extra=extra)


def _hash_texts(h: Any, texts: Sequence[Any]) -> None:
    enc = [(t or "").encode("utf-8", "surrogatepass") for t in texts]
    h.update(np.fromiter((len(b) for b in enc), dtype=np.int64, count=len(enc)).tobytes())
    h.update(b"".join(enc))


def _turns_text(turns: Any) -> str:
    if turns is None:
        return "\x00"
    parts = []
    for t in turns:
        if isinstance(t, dict):
            parts.append(f"{t.get('role')}\x1f{t.get('content')}")
        elif isinstance(t, (tuple, list)):
            parts.append(f"{t[0]}\x1f{t[1]}")
        else:
            parts.append(f"{t.role}\x1f{t.content}")
    return "\x1e".join(parts)


def _hash_array(h: Any, a: np.ndarray, rows: int = 65536) -> None:
    """Feed an array's shape, dtype and bytes to ``h`` without copying it whole."""
    h.update(f"{a.shape}{a.dtype}".encode())
    for start in range(0, len(a), rows):
        h.update(memoryview(np.ascontiguousarray(a[start:start + rows])).cast("B"))


def all_finite(a: np.ndarray, rows: int = 65536) -> bool:
    return all(np.isfinite(a[s:s + rows]).all() for s in range(0, len(a), rows))


def input_revision(inp: Any) -> str:
    """blake2b over row count, source labels and ids, lines, roles, every text and every vector byte."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"n={inp.n};encoder={inp.encoder}".encode())
    for col in (inp.source, inp.role, inp.prompt, inp.response):
        _hash_texts(h, [str(x) if x is not None else "" for x in col] if col is inp.source or col is inp.role
                    else col)
    h.update(np.ascontiguousarray(inp.line, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(inp.source_id, dtype=np.int64).tobytes())
    if inp.system is not None:
        _hash_texts(h, inp.system)
    if inp.turns is not None:
        _hash_texts(h, [_turns_text(t) for t in inp.turns])
    _hash_array(h, inp.prompt_vecs)
    if inp.response_vecs is not None:
        h.update(b"responses")
        _hash_array(h, inp.response_vecs)
    return h.hexdigest()
