"""How a finding names rows in its ``summary()``: one place for every finding module.

* :data:`RowRef` — the function a caller passes as ``ref`` to turn a row index into the JSON that
  names the example (the pipeline passes one giving ``{"source", "source_id", "line"}``, see
  :mod:`workbench.analysis.aligned`).
* :func:`default_ref` — the fallback, ``{"row": i}`` (tests and direct calls on bare arrays).
* :func:`snip` — a text shortened for a summary: whitespace runs as one space, at most ``n``
  characters (the last one an ellipsis when cut).
"""

from __future__ import annotations

from typing import Any, Callable

RowRef = Callable[[int], dict[str, Any]]


def default_ref(i: int) -> dict[str, Any]:
    return {"row": int(i)}


def snip(text: str | None, n: int = 160) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"
