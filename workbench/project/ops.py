"""Curator ops: small immutable, JSON-serialisable records of one action each.

Every change to a project's curation state is one of these, appended to the journal by
:meth:`workbench.project.Project.apply`. An op names the examples it touches by
:data:`ExampleId` = ``(source_id, line)``; added examples live in the virtual source ``0``.

An op as written by a caller says *what to do* (``Reject(ids, "duplicate")``). When the project
applies it, it is **resolved** against the current state: the fields ``before`` (the value each
example had before: previous reject reason, edited record, tag membership, weight, note) and
``shas`` (the sha256 of each source touched, so that an op is never applied to records of a
different file) are filled in, and :class:`AddExample` gets its ``line``. The journal stores the
resolved op; its :meth:`Op.inverse` restores exactly the previous values, which is what undo does.

Definitions that matter to a curator:

- **weight**: how many times an example counts in training (export writes it as repeats or as
  a field); default 1.0, must be finite and >= 0.
- **note**: one free-text note per example; ``Note(id, "")`` clears it.
- **Edit** carries the full new record in the source's own schema; ``record=None`` reverts to the
  original record from the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Iterable

import orjson

from workbench.core.errors import ProjectError

ExampleId = tuple[int, int]
ADDED_SOURCE_ID = 0
ADDED_SOURCE_NAME = "added"


def _norm_ids(ids: Iterable[Any]) -> tuple[ExampleId, ...]:
    try:
        return tuple(dict.fromkeys((int(s), int(line)) for s, line in ids))  # unique, order kept
    except (TypeError, ValueError):
        pass
    out = []
    for item in ids:
        try:
            s, line = item
            out.append((int(s), int(line)))
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"Not an example id (source, line): {item!r}") from exc
    return tuple(dict.fromkeys(out))  # unique, in the order given


def _norm_id(item: Any) -> ExampleId:
    return _norm_ids([item])[0]


def _plural(n: int, word: str = "example") -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _shas_for(ids: Iterable[ExampleId], shas: dict[int, str] | None) -> dict[int, str] | None:
    if shas is None:
        return None
    wanted = {s for s, _ in ids}
    return {s: h for s, h in shas.items() if s in wanted}


def _freeze_shas(shas: Any) -> tuple[tuple[int, str], ...] | None:
    if shas is None:
        return None
    if type(shas) is tuple and all(type(x) is tuple for x in shas):
        return shas
    items = shas.items() if isinstance(shas, dict) else shas
    return tuple(sorted((int(k), str(v)) for k, v in items))


class Op:
    """Base of every op. Subclasses are frozen dataclasses registered by ``kind``."""

    kind: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type["Op"]]] = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.kind:
            Op._registry[cls.kind] = cls

    # --- what every op provides -------------------------------------------------------------
    @property
    def label(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def inverse(self) -> "Op":
        """The op that undoes this one. Only meaningful on a resolved op (``before`` filled)."""
        raise NotImplementedError  # pragma: no cover

    def example_ids(self) -> tuple[ExampleId, ...]:
        """Every example this op touches (for AddExample: its id once resolved)."""
        return tuple(getattr(self, "ids", ()))

    # --- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            if v is None:
                pass
            elif f.name == "ops":
                v = [o.to_dict() for o in v]
            elif f.name == "shas":
                v = {str(k): h for k, h in v}
            elif f.name in ("ids", "before") or isinstance(v, tuple):
                v = _jsonable(v)
            d[f.name] = v
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "Op":
        d = dict(d)
        kind = d.pop("kind", None)
        cls = Op._registry.get(kind)  # type: ignore[arg-type]
        if cls is None:
            raise ProjectError(f"Unknown op kind in journal: {kind!r} (made by a newer Curation Workbench?)")
        if "ops" in d:
            d["ops"] = [Op.from_dict(o) for o in d["ops"]]
        return cls(**d)

    @staticmethod
    def from_json(text: str) -> "Op":
        return Op.from_dict(orjson.loads(text))

    @staticmethod
    def from_journal(text: str) -> "Op":
        """Parse an op the project itself wrote (already validated and normalised): the fast
        path used when replaying a long journal on open."""
        d = orjson.loads(text)
        cls = Op._registry.get(d.get("kind"))
        if cls is None or cls not in _FAST_KINDS:
            return Op.from_dict(d)
        del d["kind"]
        try:
            d["ids"] = tuple([(s, line) for s, line in d["ids"]])
            if d["before"] is not None:
                d["before"] = tuple(d["before"])
            shas = d["shas"]
            if shas is not None:
                d["shas"] = tuple(sorted((int(k), v) for k, v in shas.items()))
        except (KeyError, TypeError, ValueError):
            return Op.from_dict(dict(d, kind=cls.kind))
        op = object.__new__(cls)
        op.__dict__.update(d)
        return op

    def resolved(self, **changes: Any) -> "Op":
        """A copy with the given fields replaced (used by the state when resolving). The state
        passes already-normalised values (tuples), so validation is not repeated."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for k, v in changes.items():
            object.__setattr__(new, k, v)
        return new

    @property
    def shas_map(self) -> dict[int, str] | None:
        shas = getattr(self, "shas", None)
        return None if shas is None else dict(shas)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, frozenset):
        return sorted(v)
    return v


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reject(Op):
    """Reject examples (they stay visible, dimmed, and are left out of exports)."""

    kind: ClassVar[str] = "reject"
    ids: tuple[ExampleId, ...]
    reason: str = ""
    before: tuple[str | None, ...] | None = None  # previous reject reason per id (None: not rejected)
    shas: tuple[tuple[int, str], ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "ids", _norm_ids(self.ids))
        object.__setattr__(self, "reason", str(self.reason or ""))
        if self.before is not None:
            object.__setattr__(self, "before", tuple(self.before))
        object.__setattr__(self, "shas", _freeze_shas(self.shas))

    @property
    def label(self) -> str:
        text = f"Reject {_plural(len(self.ids))}"
        return f"{text} ({self.reason})" if self.reason else text

    def inverse(self) -> Op:
        return _restore_rejections(self.ids, self.before, self.shas, self.label)


@dataclass(frozen=True)
class Restore(Op):
    """Take examples back in (undo a rejection deliberately, with a reason)."""

    kind: ClassVar[str] = "restore"
    ids: tuple[ExampleId, ...]
    reason: str = ""
    before: tuple[str | None, ...] | None = None
    shas: tuple[tuple[int, str], ...] | None = None

    __post_init__ = Reject.__post_init__

    @property
    def label(self) -> str:
        text = f"Restore {_plural(len(self.ids))}"
        return f"{text} ({self.reason})" if self.reason else text

    def inverse(self) -> Op:
        return _restore_rejections(self.ids, self.before, self.shas, self.label)


def _restore_rejections(ids, before, shas, label) -> Op:
    if before is None:
        raise ProjectError("Cannot invert an op that was never applied (no 'before' values).")
    groups: dict[str | None, list[ExampleId]] = {}
    for i, b in zip(ids, before):
        groups.setdefault(b, []).append(i)
    shas_d = dict(shas) if shas else None
    ops: list[Op] = []
    for reason, group in groups.items():
        if reason is None:
            ops.append(Restore(tuple(group), "undo", shas=_shas_for(group, shas_d)))
        else:
            ops.append(Reject(tuple(group), reason, shas=_shas_for(group, shas_d)))
    return _one_or_batch(ops, f"Undo {label}")


def _one_or_batch(ops: list[Op], label: str) -> Op:
    return ops[0] if len(ops) == 1 else Batch(tuple(ops), label)


@dataclass(frozen=True)
class Edit(Op):
    """Replace an example's record by a full new record in its source's schema.

    ``record=None`` reverts to the original record from the file. ``before`` is the record the
    example had before (``None``: the original), kept for the inverse and for the export manifest.
    """

    kind: ClassVar[str] = "edit"
    id: ExampleId
    record: dict[str, Any] | None
    before: dict[str, Any] | None = None
    shas: tuple[tuple[int, str], ...] | None = None
    applied: bool = False  # set when resolved (distinguishes "before=None: original" from "unresolved")

    def __post_init__(self):
        object.__setattr__(self, "id", _norm_id(self.id))
        if self.record is not None and not isinstance(self.record, dict):
            raise ProjectError("An edited record must be a JSON object (dict).")
        object.__setattr__(self, "shas", _freeze_shas(self.shas))

    def __hash__(self) -> int:  # records are dicts; hash by identity-ish content
        return hash((self.kind, self.id, json.dumps(self.record, sort_keys=True)))

    def example_ids(self) -> tuple[ExampleId, ...]:
        return (self.id,)

    @property
    def label(self) -> str:
        return "Revert edit of 1 example" if self.record is None else "Edit 1 example"

    def inverse(self) -> Op:
        if not self.applied:
            raise ProjectError("Cannot invert an edit that was never applied.")
        return Edit(self.id, self.before, shas=self.shas)


@dataclass(frozen=True)
class AddExample(Op):
    """Add a new example (e.g. a production input promoted into training with a curator-written
    response). ``provenance`` records where it came from, e.g.
    ``{"source": "production_banking.jsonl", "source_id": 2, "line": 17, "note": "..."}``.
    It gets the id ``(0, line)`` with ``line`` = 1, 2, ... in order of addition (never reused)."""

    kind: ClassVar[str] = "add"
    record: dict[str, Any]
    schema: str
    role: str = "train"
    provenance: dict[str, Any] = field(default_factory=dict)
    line: int | None = None  # assigned when resolved

    def __post_init__(self):
        if not isinstance(self.record, dict):
            raise ProjectError("An added record must be a JSON object (dict).")
        from workbench.io.model import ROLES, SCHEMAS

        if self.schema not in SCHEMAS:
            raise ProjectError(f"Unknown schema {self.schema!r}; expected one of {', '.join(SCHEMAS)}.")
        if self.role not in ROLES:
            raise ProjectError(f"Unknown role {self.role!r}; expected one of {', '.join(ROLES)}.")
        object.__setattr__(self, "provenance", dict(self.provenance or {}))

    def __hash__(self) -> int:
        return hash((self.kind, self.line, json.dumps(self.record, sort_keys=True)))

    @property
    def id(self) -> ExampleId | None:
        return None if self.line is None else (ADDED_SOURCE_ID, self.line)

    def example_ids(self) -> tuple[ExampleId, ...]:
        return () if self.line is None else ((ADDED_SOURCE_ID, self.line),)

    @property
    def label(self) -> str:
        return f"Add 1 {self.role} example"

    def inverse(self) -> Op:
        if self.line is None:
            raise ProjectError("Cannot invert an added example that was never applied.")
        return RemoveAdded(self.line, self.record, self.schema, self.role, self.provenance)


@dataclass(frozen=True)
class RemoveAdded(Op):
    """Remove an added example entirely (the inverse of :class:`AddExample`; used by undo)."""

    kind: ClassVar[str] = "remove_added"
    line: int
    record: dict[str, Any]
    schema: str
    role: str = "train"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.kind, self.line))

    def example_ids(self) -> tuple[ExampleId, ...]:
        return ((ADDED_SOURCE_ID, self.line),)

    @property
    def label(self) -> str:
        return "Remove 1 added example"

    def inverse(self) -> Op:
        return AddExample(self.record, self.schema, self.role, self.provenance, line=self.line)


@dataclass(frozen=True)
class Tag(Op):
    kind: ClassVar[str] = "tag"
    ids: tuple[ExampleId, ...]
    tag: str
    before: tuple[bool, ...] | None = None  # had the tag before
    shas: tuple[tuple[int, str], ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "ids", _norm_ids(self.ids))
        tag = str(self.tag).strip()
        if not tag:
            raise ProjectError("A tag must not be empty.")
        object.__setattr__(self, "tag", tag)
        if self.before is not None:
            object.__setattr__(self, "before", tuple(bool(b) for b in self.before))
        object.__setattr__(self, "shas", _freeze_shas(self.shas))

    @property
    def label(self) -> str:
        return f"Tag {_plural(len(self.ids))} '{self.tag}'"

    def inverse(self) -> Op:
        return _tag_inverse(self, had_wanted=False)


@dataclass(frozen=True)
class Untag(Op):
    kind: ClassVar[str] = "untag"
    ids: tuple[ExampleId, ...]
    tag: str
    before: tuple[bool, ...] | None = None
    shas: tuple[tuple[int, str], ...] | None = None

    __post_init__ = Tag.__post_init__

    @property
    def label(self) -> str:
        return f"Untag {_plural(len(self.ids))} '{self.tag}'"

    def inverse(self) -> Op:
        return _tag_inverse(self, had_wanted=True)


def _tag_inverse(op, had_wanted: bool) -> Op:
    if op.before is None:
        raise ProjectError("Cannot invert an op that was never applied (no 'before' values).")
    # Tag: undo removes the tag where it was absent before; Untag: re-adds it where it was present.
    ids = tuple(i for i, had in zip(op.ids, op.before) if had == had_wanted)
    shas = _shas_for(ids, dict(op.shas) if op.shas else None)
    cls = Untag if isinstance(op, Tag) else Tag
    return cls(ids, op.tag, shas=shas)


@dataclass(frozen=True)
class SetWeight(Op):
    kind: ClassVar[str] = "weight"
    ids: tuple[ExampleId, ...]
    weight: float
    before: tuple[float, ...] | None = None
    shas: tuple[tuple[int, str], ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "ids", _norm_ids(self.ids))
        try:
            w = float(self.weight)
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"A weight must be a number, not {self.weight!r}.") from exc
        if not math.isfinite(w) or w < 0:
            raise ProjectError(f"A weight must be a finite number >= 0, not {self.weight!r}.")
        object.__setattr__(self, "weight", w)
        if self.before is not None:
            object.__setattr__(self, "before", tuple(float(b) for b in self.before))
        object.__setattr__(self, "shas", _freeze_shas(self.shas))

    @property
    def label(self) -> str:
        return f"Set weight {self.weight:g} on {_plural(len(self.ids))}"

    def inverse(self) -> Op:
        if self.before is None:
            raise ProjectError("Cannot invert an op that was never applied (no 'before' values).")
        groups: dict[float, list[ExampleId]] = {}
        for i, b in zip(self.ids, self.before):
            groups.setdefault(b, []).append(i)
        shas = dict(self.shas) if self.shas else None
        ops: list[Op] = [SetWeight(tuple(g), w, shas=_shas_for(g, shas)) for w, g in groups.items()]
        if not ops:
            ops = [SetWeight((), self.weight)]
        return _one_or_batch(ops, f"Undo {self.label}")


@dataclass(frozen=True)
class Note(Op):
    kind: ClassVar[str] = "note"
    id: ExampleId
    text: str
    before: str | None = None
    shas: tuple[tuple[int, str], ...] | None = None
    applied: bool = False

    def __post_init__(self):
        object.__setattr__(self, "id", _norm_id(self.id))
        object.__setattr__(self, "text", str(self.text or ""))
        object.__setattr__(self, "shas", _freeze_shas(self.shas))

    def example_ids(self) -> tuple[ExampleId, ...]:
        return (self.id,)

    @property
    def label(self) -> str:
        return "Clear note" if not self.text else "Note on 1 example"

    def inverse(self) -> Op:
        if not self.applied:
            raise ProjectError("Cannot invert a note that was never applied.")
        return Note(self.id, self.before or "", shas=self.shas)


@dataclass(frozen=True)
class Batch(Op):
    """Several ops applied in order as ONE undoable step (e.g. "Reject all but keeper in 12
    groups", a rebalance plan)."""

    kind: ClassVar[str] = "batch"
    ops: tuple[Op, ...]
    name: str = ""

    def __init__(self, ops: Iterable[Op], label: str = "", name: str = ""):
        ops = tuple(ops)
        for o in ops:
            if not isinstance(o, Op):
                raise ProjectError(f"A batch holds ops, not {type(o).__name__}.")
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "name", str(label or name or ""))

    def __hash__(self) -> int:
        return hash((self.kind, self.name, len(self.ops)))

    def example_ids(self) -> tuple[ExampleId, ...]:
        seen: dict[ExampleId, None] = {}
        for o in self.ops:
            for i in o.example_ids():
                seen[i] = None
        return tuple(seen)

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return self.ops[0].label if len(self.ops) == 1 else f"{len(self.ops)} actions"

    def inverse(self) -> Op:
        return Batch(tuple(o.inverse() for o in reversed(self.ops)), f"Undo {self.label}")

    def resolved(self, **changes: Any) -> "Op":
        return Batch(changes.get("ops", self.ops), changes.get("name", self.name))


OP_KINDS = tuple(Op._registry)
# ops whose journal form is {kind, ids, <one scalar field>, before, shas}: parsed by the fast path
_FAST_KINDS = (Reject, Restore, Tag, Untag, SetWeight)
