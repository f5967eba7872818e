"""What a loaded record may hold: only values that JSON text can hold and every later step can
handle (the encoder's tokenizer, Parquet, every export format). The reader reports anything
else with the line and this reason, instead of loading a record that breaks later:

* ``NaN``, ``Infinity``, ``-Infinity`` — not JSON (RFC 8259); Python's ``json`` accepts them,
  strict parsers, orjson and Arrow do not;
* a number beyond the range of a double (``1e400``) — every JSON reader turns it into Infinity;
* a string with a lone surrogate (an escape such as ``\\ud800`` that is half a character) — not
  Unicode: it cannot be written as UTF-8 and tokenizers refuse it;
* nesting deeper than :data:`MAX_DEPTH` levels — recursive steps (JSON writers, Arrow, the
  inspector's statistics) fail on it long before any real record gets there.

This is the one policy for every container (JSONL, JSON array, CSV chat cells, Parquet), so an
export never meets such a value: each format writes valid JSON.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_DEPTH = 100
_LONE = re.compile("[\ud800-\udfff]")


def value_problem(obj: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why ``obj`` (a parsed record) cannot be loaded, or None. Iterative: never recurses."""
    stack = [(obj, 1)]
    while stack:
        v, depth = stack.pop()
        t = type(v)
        if t is dict or t is list:
            if depth > max_depth:
                return f"nested more than {max_depth} levels deep (the limit for a record)"
            if t is dict:
                for k, x in v.items():
                    if type(k) is str and _LONE.search(k):
                        return _surrogate_reason(k)
                    stack.append((x, depth + 1))
            else:
                stack.extend((x, depth + 1) for x in v)
        elif t is str:
            if _LONE.search(v):
                return _surrogate_reason(v)
        elif t is float and not math.isfinite(v):
            if v != v:
                return "NaN is not a JSON value (write null or a number)"
            return ("Infinity, or a number beyond the range of a double (e.g. 1e400), which JSON readers "
                    "turn into Infinity: not a JSON value (write null, a string or a smaller number)")
    return None


def _surrogate_reason(text: str) -> str:
    code = ord(_LONE.search(text).group())
    return (f"text with a lone surrogate \\u{code:04x} (half of a character, not valid Unicode: it cannot be "
            "written as UTF-8 and tokenizers refuse it)")


def needs_check(line: str) -> bool:
    """Whether a line orjson parsed could hold a value orjson lets through: only deep nesting."""
    return line.count("{") + line.count("[") > MAX_DEPTH


__all__ = ["MAX_DEPTH", "needs_check", "value_problem"]
