"""Resolving a conflict: the curator chooses the canonical answer among examples whose similar
prompts get different responses, and the members that answer differently are rejected.

Rule (:func:`canonical`): among the conflict's members, every train/reference example that is not
the canonical one, is not rejected yet, and whose response differs from the canonical response
(after normalising case, whitespace and trailing punctuation) is rejected with the note
"conflicts with the canonical answer at SOURCE:LINE". Members that give the same answer stay.
Eval and production rows are never rejected here (they are the yardstick and the traffic).

:func:`majority` picks the answer most members give (ties: the earliest member), the default a
curator can accept with one key. :func:`majority_all` applies the majority rule to many conflicts
in turn, each among the members still in after the ones before (members may be shared), so every
conflict ends with one answer. All return a :class:`~workbench.curate.actions.Selection`
for :func:`workbench.curate.actions.reject`, so the result is ONE undoable journal op.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from workbench.curate.actions import Selection

_TRAINABLE = ("train", "reference")
_SPACE = re.compile(r"\s+")


def normalise_answer(text: str) -> str:
    """Case, runs of whitespace and trailing punctuation do not make two answers different."""
    return _SPACE.sub(" ", str(text or "")).strip().rstrip(".!;:,").casefold()


def majority(ws, rows: Sequence[int]) -> int:
    """The member whose (normalised) response most members share; ties go to the earliest."""
    rows = [int(r) for r in rows]
    if not rows:
        return -1
    counts: dict[str, int] = {}
    for r in rows:
        k = normalise_answer(ws.response[r])
        counts[k] = counts.get(k, 0) + 1
    best = max(counts.values())
    return next(r for r in rows if counts[normalise_answer(ws.response[r])] == best)


def differing(ws, rows: Sequence[int], canonical_row: int) -> np.ndarray:
    """Members answering differently from ``canonical_row`` that may be rejected (see module)."""
    want = normalise_answer(ws.response[int(canonical_row)])
    roles = np.asarray(ws.role, dtype=object)
    rejected = np.asarray(ws.rejected, bool)
    out = [int(r) for r in rows
           if int(r) != int(canonical_row) and roles[int(r)] in _TRAINABLE and not rejected[int(r)]
           and normalise_answer(ws.response[int(r)]) != want]
    return np.asarray(out, np.int64)


def canonical(ws, rows: Sequence[int], canonical_row: int) -> Selection:
    """The selection that makes ``canonical_row``'s answer the only one left among ``rows``."""
    out = differing(ws, rows, canonical_row)
    ref = f"{ws.source_names[int(canonical_row)]}:{int(ws.line[int(canonical_row)])}"
    parts = ((out, f"conflicts with the canonical answer at {ref}"),) if len(out) else ()
    return Selection("examples answering differently", parts)


def majority_all(ws, conflicts: Sequence[tuple[int, Sequence[int]]]) -> Selection:
    """The majority rule over ``(number, rows)`` conflicts in order: each conflict's majority is
    taken among its members not rejected (already, or by an earlier conflict here), and the
    members answering differently are rejected; afterwards no conflict has two answers left."""
    gone = set(np.flatnonzero(np.asarray(ws.rejected, bool)).tolist())
    parts = []
    for number, rows in conflicts:
        live = [int(r) for r in rows if int(r) not in gone]
        m = majority(ws, live)
        if m < 0:
            continue
        out = [r for r in differing(ws, live, m).tolist() if r not in gone]
        if out:
            gone.update(out)
            ref = f"{ws.source_names[m]}:{int(ws.line[m])}"
            parts.append((np.asarray(out, np.int64), f"conflict {number}: conflicts with the majority answer at {ref}"))
    return Selection("examples answering differently from their conflict's majority", tuple(parts))
