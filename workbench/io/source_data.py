"""The data model shared by every layer above ``io``.

A *source* is one file loaded with a role. Its records are held column-wise in
:class:`SourceData` (one Python string per field, numpy arrays for numbers) so that a million
records do not become a million dicts. The original record is kept verbatim in ``raw`` for exact
export; everything else is a normalised view derived from it by ``workbench.io.formats.normalise``.

An example is identified by ``(source name or id, line)``, ``line`` being 1-based: the physical
line in a JSONL file, the data row number in CSV (header = line 1, so the first row is line 2),
the row index + 1 in Parquet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROLES = ("train", "production", "eval", "reference")

# Record schemas (what a record looks like), independent of the file container.
SCHEMAS = ("chat", "sharegpt", "alpaca", "prompt_completion", "text")

# File containers.
CONTAINERS = ("jsonl", "json", "csv", "parquet")

# What gets embedded as the "prompt" of a multi-turn chat example.
UNITS = ("last_user", "all_user", "conversation")
DEFAULT_UNIT = "last_user"

CHAT_ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class Turn:
    role: str  # one of CHAT_ROLES
    content: str


@dataclass(frozen=True)
class Normalised:
    """The normalised view of one record."""

    system: str
    turns: tuple[Turn, ...]
    prompt: str  # text of the chosen analysis unit
    response: str  # assistant turn(s); "" when the record has none (e.g. production inputs)
    extra: dict[str, Any]  # fields that are not part of the schema (label, timestamp, ...)


@dataclass(frozen=True)
class LoadError:
    """A record that was not loaded, with where and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class SourceData:
    """All loaded records of one file, column-wise. Index ``i`` is the i-th loaded record."""

    path: Path
    schema: str
    container: str
    lines: np.ndarray  # int64, 1-based line/row number of each loaded record
    raw: list[str]  # verbatim original text of each record (JSONL line without its terminator;
    #                for CSV/Parquet: the row as a JSON object, columns in file order)
    system: list[str]
    prompt: list[str]
    response: list[str]
    n_turns: np.ndarray  # int32
    extra: dict[str, list[Any]] = field(default_factory=dict)  # extra field -> value per record (None if absent)
    errors: list[LoadError] = field(default_factory=list)
    total_lines: int = 0  # lines/rows seen, loaded or not (blank JSONL lines are not records)
    unit: str = DEFAULT_UNIT
    mapping: dict[str, str] | None = None  # field/column mapping used (given, or found by detection)
    notes: list[str] = field(default_factory=list)  # what the reader noticed and handled (guessed
    #                text field, BOM, CRLF, JSON array, blank lines), for inspect and the GUI
    stats: dict[str, Any] = field(default_factory=dict)  # reader counts: "roles" (turns per chat
    #                role over loaded records), "blank_lines"
    sha256: str = ""  # of exactly the bytes the reader parsed (the file as opened; see io.source_file)

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def name(self) -> str:
        return self.path.name

    def record(self, i: int) -> dict[str, Any]:
        """The original record as a dict (parsed from ``raw`` on demand)."""
        return json.loads(self.raw[i])
