"""Text normalisation shared by the finding modules (duplicates, leakage, conflicts, flags).

**Normalised text** (what "exact duplicate" compares): Unicode NFKC, case-folded, every run of
characters that are not letters or digits (punctuation, symbols, whitespace, underscores)
replaced by one space, trimmed. So ``"What's my  PIN?"`` and ``"whats my pin"`` differ (the
apostrophe splits a word) but ``"What's my PIN?"`` and ``"what's my pin"`` are equal.

Word n-grams (leakage) use the same normalisation, split on spaces, hashed to uint64 with a
polynomial rolling hash over word ids, fully vectorised with numpy.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Sequence

import numpy as np

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# Fast path, the same mapping as _NON_WORD + casefold on ASCII, as a byte table; bytes >= 0x80
# (already-normalised non-ASCII letters) and the 0x1F joiner pass unchanged.
_US = 0x1F
_TABLE = bytes((c + 32) if 65 <= c <= 90 else c if (48 <= c <= 57 or 97 <= c <= 122 or c >= 128 or c == _US)
               else 32 for c in range(256))


def normalise(text: str | None) -> str:
    """The normalised form of ``text`` (see the module docstring); ``None`` -> ``""``."""
    if not text:
        return ""
    if text.isascii():
        return " ".join(text.encode("ascii").translate(_TABLE).decode("ascii").split())
    text = unicodedata.normalize("NFKC", text)
    return _NON_WORD.sub(" ", text.casefold()).strip()


def _normalised_column(texts: Sequence[str | None]) -> str:
    """All texts normalised (words separated by runs of spaces) and joined by \\x1f, in one
    byte-table pass; non-ASCII texts are normalised one by one first."""
    prepared = [t if (t is None or t.isascii()) else normalise(t) for t in texts]
    joined = "\x1f".join([t or "" for t in prepared])
    if joined.count("\x1f") != max(len(texts) - 1, 0):  # a text contains the joiner itself
        joined = "\x1f".join([(t or "").replace("\x1f", " ") for t in prepared])
    return joined.encode("utf-8", "surrogatepass").translate(_TABLE).decode("utf-8", "surrogatepass")


def normalise_many(texts: Sequence[str | None]) -> list[str]:
    """:func:`normalise` of every text, several times faster than one call per text."""
    if not len(texts):
        return []
    return [" ".join(part.split()) for part in _normalised_column(texts).split("\x1f")]


def text_hashes(texts: Sequence[str | None]) -> np.ndarray:
    """uint64 hash of the normalised form of each text; 0 is reserved for "empty after normalising"."""
    out = np.zeros(len(texts), dtype=np.uint64)
    for i, norm in enumerate(normalise_many(texts)):
        if norm:
            h = int.from_bytes(hashlib.blake2b(norm.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
            out[i] = h or 1
    return out


def word_tokens(texts: Sequence[str | None]) -> list[list[str]]:
    """Normalised words of each text."""
    return [normalise(t).split() for t in texts]


_P = np.uint64(1_000_003)


def ngram_hashes(texts: Sequence[str | None], n: int) -> tuple[np.ndarray, np.ndarray]:
    """All word ``n``-grams of every text as uint64 hashes.

    Returns ``(hashes, row)``: one entry per n-gram, ``row[j]`` = index of the text it comes from.
    Texts shorter than ``n`` words contribute nothing. Word ids come from one shared vocabulary
    for the call, so hashes from *one* call are comparable; hash both sides of a comparison in
    one call (see :func:`shared_ngram_hashes`). The whole column is normalised and split as one
    string; text boundaries become the word "SENT" (upper case, so no normalised word equals it).
    """
    import pandas as pd

    if not len(texts):
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    flat = _normalised_column(texts).replace("\x1f", " SENT ").split()
    ids, uniques = pd.factorize(pd.Series(flat, dtype=object))
    sep = np.nonzero(uniques == "SENT")[0]
    is_sep = ids == (int(sep[0]) if len(sep) else -1)
    row_of_token = np.cumsum(is_sep)
    m = len(ids) - n + 1
    if m <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    ids = ids.astype(np.uint64) + np.uint64(1)
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for t in range(n):
            h = h * _P + ids[t:t + m]
    seps = np.concatenate([[0], np.cumsum(is_sep)])
    valid = seps[n:n + m] - seps[:m] == 0  # no boundary inside the window
    return h[valid], row_of_token[:m][valid].astype(np.int64)


def shared_ngram_hashes(
    a: Sequence[str | None], b: Sequence[str | None], n: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """:func:`ngram_hashes` of two text lists with one vocabulary, so the hashes compare."""
    h, row = ngram_hashes(list(a) + list(b), n)
    in_a = row < len(a)
    return (h[in_a], row[in_a]), (h[~in_a], row[~in_a] - len(a))
