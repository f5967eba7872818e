"""The journal of curator ops, in one module: op kinds, entries with checksums, replay.

Every change to a project's curation state is an **op**: a small immutable, JSON-serialisable
record of one action. Each op kind is one class registered in :data:`OP_KINDS` (by its
``kind``) and owns everything about itself:

- **validation** of its fields (``__post_init__``) and of the examples/records it names
  (:meth:`Op.check`, before anything is journalled);
- **apply** (:meth:`Op.apply`): fold it into a :class:`~workbench.project.curation_state.CurationState`,
  returning the *resolved* op — the fields ``before`` (each example's previous value) and ``shas``
  (the sha256 of each source touched, so an op is never applied to another file's records) filled
  in, and :class:`AddExample` given its ``line``;
- **inverse** (:meth:`Op.inverse`): the op that restores exactly the previous values (undo);
- what the export manifest says about it (:meth:`Op.note_facts`: which op last rejected, edited,
  weighted or added an example).

Adding an op kind = one class here. Nothing else in the code base branches on op types.

Examples are named by :data:`ExampleId` = ``(source_id, line)``; added examples live in the
virtual source ``0``.

Journal entries
---------------
The project file's ``journal`` table is append-only (see :mod:`workbench.project.project_file`). Each
row carries a **checksum** (:func:`entry_checksum`, BLAKE2b-64 over id, time, kind, target, label
and payload), written in the same transaction as the row. On open every row is verified
(:func:`verify`) before it is parsed: a damaged entry (a flipped bit in its payload, a payload
that is not an op, a broken undo target) raises :class:`DamagedProjectError` naming the entry —
damage is reported, never applied.

*Legacy entries*: projects made before checksums existed (file version 1) are migrated when first
opened for writing; the entries they already had are recorded as legacy (header key
``journal_checksums_from`` = the first checksummed id) and accepted without a checksum, but are
parsed strictly (every field validated). Any entry from that id on must carry a valid checksum.

Definitions that matter to a curator:

- **weight**: how many times an example counts in training (export writes it as repeats or as
  a field); default 1.0, must be finite and >= 0.
- **note**: one free-text note per example; ``Note(id, "")`` clears it.
- **Edit** carries the full new record in the source's own schema; ``record=None`` reverts to the
  original record from the file.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Iterator

import orjson

from workbench.core.errors import ProjectError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.project.curation_state import CurationState, _Collector

ExampleId = tuple[int, int]
ADDED_SOURCE_ID = 0
ADDED_SOURCE_NAME = "added"
DEFAULT_WEIGHT = 1.0


@dataclass(frozen=True)
class AddedExample:
    """An example that exists only in the project (source 0, "added")."""

    line: int
    record: dict[str, Any]
    schema: str
    role: str
    provenance: dict[str, Any]


class DamagedProjectError(ProjectError):
    """Part of a project file that SQLite reads fine holds damaged content (a journal entry
    that fails its checksum or is not an op, a setting that is not JSON, ...). The message names
    what is damaged; the file is left untouched."""


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def _norm_ids(ids: Iterable[Any]) -> tuple[ExampleId, ...]:
    try:
        return tuple(dict.fromkeys((int(s), int(line)) for s, line in ids))  # unique, order kept
    except (TypeError, ValueError):
        pass
    out = []
    try:
        items = list(ids)
    except TypeError as exc:
        raise ProjectError(f"Not a list of example ids: {ids!r}") from exc
    for item in items:
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
    try:
        items = shas.items() if isinstance(shas, dict) else shas
        return tuple(sorted((int(k), str(v)) for k, v in items))
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"Not a map of source ids to sha256: {shas!r}") from exc


def _jsonable(v: Any) -> Any:
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    if isinstance(v, frozenset):
        return sorted(v)
    return v


def _resolved(op: "Op", **values: Any) -> "Op":
    """``op`` with its resolution fields set; the op itself when they already hold those values
    (replaying a journal: the stored op is exact, no copy needed)."""
    for k, v in values.items():
        if getattr(op, k) != v:
            return op.resolved(**values)
    return op


@dataclass
class CheckContext:
    """What :meth:`Op.check` may ask before an op is journalled.

    ``exists(eid)`` says whether a source example exists (None: only the source id is checked);
    ``schema_of(source_id)`` gives (schema, mapping) of a source; ``unit`` the analysis unit.
    ``added``/``next_line``/``pending`` track added examples, including ones created earlier in
    the same batch.
    """

    state: "CurationState"
    exists: Callable[[ExampleId], bool] | None = None
    schema_of: Callable[[int], tuple[str, dict | None]] | None = None
    unit: str = "last_user"
    added: set = field(default_factory=set)
    next_line: int = 1
    pending: dict = field(default_factory=dict)  # added line -> schema, for adds earlier in a batch

    def check_ids(self, ids: Iterable[ExampleId]) -> None:
        for eid in ids:
            s, line = eid
            if s == ADDED_SOURCE_ID:
                if line not in self.added:
                    raise ProjectError(f"There is no added example number {line}.")
            elif s not in self.state.source_shas:
                raise ProjectError(f"There is no source with id {s} in this project.")
            elif self.exists is not None and not self.exists(eid):
                raise ProjectError(f"Source {s} has no example at line {line}.")

    def check_record(self, record: dict, schema: str, mapping: dict | None, what: str) -> None:
        from workbench.io.formats import RecordError, normalise

        try:
            normalise(record, schema, self.unit, mapping=mapping)
        except RecordError as exc:
            raise ProjectError(f"The {what} record is not a valid {schema} record: {exc}") from exc


@dataclass
class JournalFacts:
    """Which op (journal id) last set each example's rejection, edit and weight, and which op
    added each added example (what the export manifest lists)."""

    rejected: dict = field(default_factory=dict)
    edited: dict = field(default_factory=dict)
    weight: dict = field(default_factory=dict)
    added: dict = field(default_factory=dict)

    def as_dict(self) -> dict[str, dict]:
        return {"rejected": self.rejected, "edited": self.edited, "weight": self.weight, "added": self.added}


# ---------------------------------------------------------------------------------------------
# the op base and the table of kinds
# ---------------------------------------------------------------------------------------------
#: kind -> op class: the one table of op kinds (filled as each class is defined).
OP_KINDS: dict[str, type["Op"]] = {}


class Op:
    """Base of every op. Subclasses are frozen dataclasses registered in :data:`OP_KINDS`."""

    kind: ClassVar[str] = ""
    fast_parse: ClassVar[bool] = False  # journal form {kind, ids, <scalar>, before, shas}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.kind:
            if cls.kind in OP_KINDS:
                raise TypeError(f"op kind {cls.kind!r} defined twice")
            OP_KINDS[cls.kind] = cls

    # --- what every op kind provides ----------------------------------------------------------
    @property
    def label(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def inverse(self) -> "Op":
        """The op that undoes this one. Only meaningful on a resolved op (``before`` filled)."""
        raise NotImplementedError  # pragma: no cover

    def apply(self, state: "CurationState", col: "_Collector") -> "Op":
        """Fold this op into ``state`` (recording what changed in ``col``); return it resolved."""
        raise NotImplementedError  # pragma: no cover

    def check(self, ctx: CheckContext) -> None:
        """Refuse (ProjectError) before journalling when the op names examples that do not
        exist or carries an invalid record."""
        ctx.check_ids(self.example_ids())

    def note_facts(self, op_id: int, facts: JournalFacts) -> None:
        """Record in ``facts`` what this (resolved, in effect) op means for the manifest."""

    def example_ids(self) -> tuple[ExampleId, ...]:
        """Every example this op touches (for AddExample: its id once resolved)."""
        return tuple(getattr(self, "ids", ()))

    def leaves(self) -> Iterator["Op"]:
        """The single ops this op consists of (a batch: its members, in order)."""
        yield self

    def added_lines(self) -> tuple[int, ...]:
        """Added-example numbers this op assigns (they are never reused, even when undone)."""
        return ()

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
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @staticmethod
    def from_dict(d: Any) -> "Op":
        """Parse and fully validate an op (any exception is a ProjectError)."""
        if not isinstance(d, dict):
            raise ProjectError(f"An op is a JSON object, not {type(d).__name__}.")
        d = dict(d)
        kind = d.pop("kind", None)
        cls = OP_KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise ProjectError(f"Unknown op kind in journal: {kind!r} (made by a newer Curation Workbench?)")
        if "ops" in d:
            if not isinstance(d["ops"], list):
                raise ProjectError("A batch's 'ops' must be a list.")
            d["ops"] = [Op.from_dict(o) for o in d["ops"]]
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(d) - names
        if unknown:
            raise ProjectError(f"Op {kind!r} has unknown fields: {', '.join(sorted(unknown))}.")
        try:
            op = cls(**d)
        except ProjectError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ProjectError(f"Op {kind!r} is malformed: {exc}") from exc
        op.check_resolved()
        return op

    def check_resolved(self) -> None:
        """Structural check of the resolution fields (used when parsing untrusted op JSON)."""
        before = getattr(self, "before", None)
        ids = getattr(self, "ids", None)
        if ids is not None and before is not None and len(before) != len(ids):
            raise ProjectError(f"Op {self.kind!r} has {len(before)} previous values for {len(ids)} examples.")

    @staticmethod
    def from_json(text: str | bytes) -> "Op":
        try:
            d = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ProjectError(f"An op is not valid JSON: {exc}") from exc
        return Op.from_dict(d)

    @staticmethod
    def from_journal(text: str) -> "Op":
        """Parse an op the project itself wrote (checksum verified, already validated and
        normalised): the fast path used when replaying a long journal on open."""
        d = orjson.loads(text)
        cls = OP_KINDS.get(d.get("kind")) if isinstance(d, dict) else None
        if cls is None or not cls.fast_parse:
            return Op.from_dict(d)
        del d["kind"]
        try:
            d["ids"] = tuple([(s, line) for s, line in d["ids"]])
            if d["before"] is not None:
                d["before"] = tuple(d["before"])
            shas = d["shas"]
            if shas is not None:
                d["shas"] = tuple(sorted((int(k), v) for k, v in shas.items()))
        except (KeyError, TypeError, ValueError, AttributeError):
            return Op.from_dict(dict(d, kind=cls.kind))
        op = object.__new__(cls)
        op.__dict__.update(d)
        return op

    def resolved(self, **changes: Any) -> "Op":
        """A copy with the given fields replaced (used when resolving). Values are already
        normalised (tuples), so validation is not repeated."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for k, v in changes.items():
            object.__setattr__(new, k, v)
        return new

    @property
    def shas_map(self) -> dict[int, str] | None:
        shas = getattr(self, "shas", None)
        return None if shas is None else dict(shas)


def walk(op: Op) -> Iterator[Op]:
    """The single ops of ``op`` (a batch's members, recursively)."""
    return op.leaves()


def _one_or_batch(ops: list[Op], label: str) -> Op:
    return ops[0] if len(ops) == 1 else Batch(tuple(ops), label)


# ---------------------------------------------------------------------------------------------
# op kinds
# ---------------------------------------------------------------------------------------------
def _init_ids_op(self) -> None:
    object.__setattr__(self, "ids", _norm_ids(self.ids))
    object.__setattr__(self, "reason", str(self.reason or ""))
    if self.before is not None:
        object.__setattr__(self, "before", tuple(self.before))
        for b in self.before:
            if b is not None and not isinstance(b, str):
                raise ProjectError(f"A previous reject reason must be text or null, not {b!r}.")
    object.__setattr__(self, "shas", _freeze_shas(self.shas))


def _apply_rejection(op, state, col, reject: bool) -> Op:
    shas = op.shas_map
    before = []
    touched = []
    rejected = state.rejected
    for eid in op.ids:
        before.append(rejected.get(eid))
        if not state._live(eid, shas):
            continue
        if reject:
            if rejected.get(eid) != op.reason:
                rejected[eid] = op.reason
                touched.append(eid)
        elif eid in rejected:
            del rejected[eid]
            touched.append(eid)
    col.add("rejected", touched)
    return _resolved(op, before=tuple(before), shas=state._shas(op.ids, op))


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
    if not ops:
        ops = [Restore((), "undo")]
    return _one_or_batch(ops, f"Undo {label}")


@dataclass(frozen=True)
class Reject(Op):
    """Reject examples (they stay visible, dimmed, and are left out of exports)."""

    kind: ClassVar[str] = "reject"
    fast_parse: ClassVar[bool] = True
    ids: tuple[ExampleId, ...]
    reason: str = ""
    before: tuple[str | None, ...] | None = None  # previous reject reason per id (None: not rejected)
    shas: tuple[tuple[int, str], ...] | None = None

    __post_init__ = _init_ids_op

    @property
    def label(self) -> str:
        text = f"Reject {_plural(len(self.ids))}"
        return f"{text} ({self.reason})" if self.reason else text

    def apply(self, state, col) -> Op:
        return _apply_rejection(self, state, col, reject=True)

    def inverse(self) -> Op:
        return _restore_rejections(self.ids, self.before, self.shas, self.label)

    def note_facts(self, op_id, facts) -> None:
        for eid in self.ids:
            facts.rejected[eid] = op_id


@dataclass(frozen=True)
class Restore(Op):
    """Take examples back in (undo a rejection deliberately, with a reason)."""

    kind: ClassVar[str] = "restore"
    fast_parse: ClassVar[bool] = True
    ids: tuple[ExampleId, ...]
    reason: str = ""
    before: tuple[str | None, ...] | None = None
    shas: tuple[tuple[int, str], ...] | None = None

    __post_init__ = _init_ids_op

    @property
    def label(self) -> str:
        text = f"Restore {_plural(len(self.ids))}"
        return f"{text} ({self.reason})" if self.reason else text

    def apply(self, state, col) -> Op:
        return _apply_rejection(self, state, col, reject=False)

    def inverse(self) -> Op:
        return _restore_rejections(self.ids, self.before, self.shas, self.label)

    def note_facts(self, op_id, facts) -> None:
        for eid in self.ids:
            facts.rejected.pop(eid, None)


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
        if self.before is not None and not isinstance(self.before, dict):
            raise ProjectError("An edit's previous record must be a JSON object (dict) or null.")
        if not isinstance(self.applied, bool):
            raise ProjectError("An edit's 'applied' must be true or false.")
        object.__setattr__(self, "shas", _freeze_shas(self.shas))

    def __hash__(self) -> int:  # records are dicts; hash by identity-ish content
        return hash((self.kind, self.id, json.dumps(self.record, sort_keys=True)))

    def example_ids(self) -> tuple[ExampleId, ...]:
        return (self.id,)

    @property
    def label(self) -> str:
        return "Revert edit of 1 example" if self.record is None else "Edit 1 example"

    def check(self, ctx) -> None:
        ctx.check_ids((self.id,))
        if self.record is None:
            return
        s, line = self.id
        if s == ADDED_SOURCE_ID:
            added = ctx.state.added.get(line)
            schema, mapping = (added.schema if added else ctx.pending.get(line, "chat")), None
        elif ctx.schema_of is not None:
            schema, mapping = ctx.schema_of(s)
        else:
            return
        ctx.check_record(self.record, schema, mapping, "edited")

    def apply(self, state, col) -> Op:
        eid = self.id
        edits = state.edits
        before = edits.get(eid)
        if state._live(eid, self.shas_map):
            if self.record is None:
                if eid in edits:
                    del edits[eid]
                    col.add("edited", [eid])
            elif edits.get(eid) != self.record:
                edits[eid] = self.record
                col.add("edited", [eid])
        return _resolved(self, before=before, shas=state._shas([eid], self), applied=True)

    def inverse(self) -> Op:
        if not self.applied:
            raise ProjectError("Cannot invert an edit that was never applied.")
        return Edit(self.id, self.before, shas=self.shas)

    def note_facts(self, op_id, facts) -> None:
        if self.record is None:
            facts.edited.pop(self.id, None)
        else:
            facts.edited[self.id] = op_id


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
        from workbench.io.source_data import ROLES, SCHEMAS

        if self.schema not in SCHEMAS:
            raise ProjectError(f"Unknown schema {self.schema!r}; expected one of {', '.join(SCHEMAS)}.")
        if self.role not in ROLES:
            raise ProjectError(f"Unknown role {self.role!r}; expected one of {', '.join(ROLES)}.")
        if not isinstance(self.provenance or {}, dict):
            raise ProjectError("An added example's provenance must be a JSON object.")
        if self.line is not None and (type(self.line) is not int or self.line < 1):
            raise ProjectError(f"An added example's number must be a positive integer, not {self.line!r}.")
        object.__setattr__(self, "provenance", dict(self.provenance or {}))

    def __hash__(self) -> int:
        return hash((self.kind, self.line, json.dumps(self.record, sort_keys=True)))

    @property
    def id(self) -> ExampleId | None:
        return None if self.line is None else (ADDED_SOURCE_ID, self.line)

    def example_ids(self) -> tuple[ExampleId, ...]:
        return () if self.line is None else ((ADDED_SOURCE_ID, self.line),)

    def added_lines(self) -> tuple[int, ...]:
        return () if self.line is None else (self.line,)

    @property
    def label(self) -> str:
        return f"Add 1 {self.role} example"

    def check(self, ctx) -> None:
        line = self.line if self.line is not None else ctx.next_line
        if line in ctx.added:
            raise ProjectError(f"Added example number {line} exists already.")
        ctx.added.add(line)
        ctx.pending[line] = self.schema
        ctx.next_line = max(ctx.next_line, line + 1)
        ctx.check_record(self.record, self.schema, None, "new")

    def apply(self, state, col) -> Op:

        line = self.line if self.line is not None else state.next_added_line
        if line in state.added:
            raise ProjectError(f"Added example number {line} exists already.")
        state.added[line] = AddedExample(line, self.record, self.schema, self.role, self.provenance)
        state.next_added_line = max(state.next_added_line, line + 1)
        col.add("added", [(ADDED_SOURCE_ID, line)])
        return self if self.line == line else self.resolved(line=line)

    def inverse(self) -> Op:
        if self.line is None:
            raise ProjectError("Cannot invert an added example that was never applied.")
        return RemoveAdded(self.line, self.record, self.schema, self.role, self.provenance)

    def note_facts(self, op_id, facts) -> None:
        if self.line is not None:
            facts.added[self.line] = op_id


@dataclass(frozen=True)
class RemoveAdded(Op):
    """Remove an added example entirely (the inverse of :class:`AddExample`; used by undo)."""

    kind: ClassVar[str] = "remove_added"
    line: int
    record: dict[str, Any]
    schema: str
    role: str = "train"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if type(self.line) is not int or self.line < 1:
            raise ProjectError(f"An added example's number must be a positive integer, not {self.line!r}.")
        if not isinstance(self.record, dict) or not isinstance(self.provenance or {}, dict):
            raise ProjectError("A removed example's record and provenance must be JSON objects.")

    def __hash__(self) -> int:
        return hash((self.kind, self.line))

    def example_ids(self) -> tuple[ExampleId, ...]:
        return ((ADDED_SOURCE_ID, self.line),)

    @property
    def label(self) -> str:
        return "Remove 1 added example"

    def check(self, ctx) -> None:
        ctx.check_ids(self.example_ids())
        ctx.added.discard(self.line)

    def apply(self, state, col) -> Op:
        eid = (ADDED_SOURCE_ID, self.line)
        if state.added.pop(self.line, None) is not None:
            # an added example leaves no trace: its curation goes with it (undo re-adds it
            # first and then replays the ops made on it)
            for d in (state.rejected, state.edits, state.tags, state.weights, state.notes):
                d.pop(eid, None)
            col.add("removed", [eid])
        return self

    def inverse(self) -> Op:
        return AddExample(self.record, self.schema, self.role, self.provenance, line=self.line)

    def note_facts(self, op_id, facts) -> None:
        facts.added.pop(self.line, None)
        for d in (facts.rejected, facts.edited, facts.weight):
            d.pop((ADDED_SOURCE_ID, self.line), None)


def _init_tag_op(self) -> None:
    object.__setattr__(self, "ids", _norm_ids(self.ids))
    tag = str(self.tag).strip()
    if not tag:
        raise ProjectError("A tag must not be empty.")
    object.__setattr__(self, "tag", tag)
    if self.before is not None:
        object.__setattr__(self, "before", tuple(bool(b) for b in self.before))
    object.__setattr__(self, "shas", _freeze_shas(self.shas))


def _apply_tag(op, state, col, add: bool) -> Op:
    shas = op.shas_map
    before = []
    touched = []
    tags = state.tags
    for eid in op.ids:
        current = tags.get(eid, frozenset())
        before.append(op.tag in current)
        if not state._live(eid, shas):
            continue
        if add and op.tag not in current:
            tags[eid] = current | {op.tag}
            touched.append(eid)
        elif not add and op.tag in current:
            rest = current - {op.tag}
            if rest:
                tags[eid] = rest
            else:
                del tags[eid]
            touched.append(eid)
    col.add("tags", touched)
    return _resolved(op, before=tuple(before), shas=state._shas(op.ids, op))


def _tag_inverse(op, had_wanted: bool, cls) -> Op:
    if op.before is None:
        raise ProjectError("Cannot invert an op that was never applied (no 'before' values).")
    # Tag: undo removes the tag where it was absent before; Untag: re-adds it where it was present.
    ids = tuple(i for i, had in zip(op.ids, op.before) if had == had_wanted)
    shas = _shas_for(ids, dict(op.shas) if op.shas else None)
    return cls(ids, op.tag, shas=shas)


@dataclass(frozen=True)
class Tag(Op):
    kind: ClassVar[str] = "tag"
    fast_parse: ClassVar[bool] = True
    ids: tuple[ExampleId, ...]
    tag: str
    before: tuple[bool, ...] | None = None  # had the tag before
    shas: tuple[tuple[int, str], ...] | None = None

    __post_init__ = _init_tag_op

    @property
    def label(self) -> str:
        return f"Tag {_plural(len(self.ids))} '{self.tag}'"

    def apply(self, state, col) -> Op:
        return _apply_tag(self, state, col, add=True)

    def inverse(self) -> Op:
        return _tag_inverse(self, had_wanted=False, cls=Untag)


@dataclass(frozen=True)
class Untag(Op):
    kind: ClassVar[str] = "untag"
    fast_parse: ClassVar[bool] = True
    ids: tuple[ExampleId, ...]
    tag: str
    before: tuple[bool, ...] | None = None
    shas: tuple[tuple[int, str], ...] | None = None

    __post_init__ = _init_tag_op

    @property
    def label(self) -> str:
        return f"Untag {_plural(len(self.ids))} '{self.tag}'"

    def apply(self, state, col) -> Op:
        return _apply_tag(self, state, col, add=False)

    def inverse(self) -> Op:
        return _tag_inverse(self, had_wanted=True, cls=Tag)


@dataclass(frozen=True)
class SetWeight(Op):
    kind: ClassVar[str] = "weight"
    fast_parse: ClassVar[bool] = True
    ids: tuple[ExampleId, ...]
    weight: float
    before: tuple[float, ...] | None = None
    shas: tuple[tuple[int, str], ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "ids", _norm_ids(self.ids))
        object.__setattr__(self, "weight", _weight(self.weight))
        if self.before is not None:
            object.__setattr__(self, "before", tuple(_weight(b) for b in self.before))
        object.__setattr__(self, "shas", _freeze_shas(self.shas))

    @property
    def label(self) -> str:
        return f"Set weight {self.weight:g} on {_plural(len(self.ids))}"

    def apply(self, state, col) -> Op:
        shas = self.shas_map
        before = []
        touched = []
        weights = state.weights
        for eid in self.ids:
            old = weights.get(eid, DEFAULT_WEIGHT)
            before.append(old)
            if not state._live(eid, shas) or old == self.weight:
                continue
            if self.weight == DEFAULT_WEIGHT:
                del weights[eid]
            else:
                weights[eid] = self.weight
            touched.append(eid)
        col.add("weight", touched)
        return _resolved(self, before=tuple(before), shas=state._shas(self.ids, self))

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

    def note_facts(self, op_id, facts) -> None:
        for eid in self.ids:
            facts.weight[eid] = op_id


def _weight(value: Any) -> float:
    try:
        w = float(value)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"A weight must be a number, not {value!r}.") from exc
    if not math.isfinite(w) or w < 0:
        raise ProjectError(f"A weight must be a finite number >= 0, not {value!r}.")
    return w


@dataclass(frozen=True)
class _ExampleText(Op):
    """Sets or clears one example's text in a dict of the curation state (``text=""`` clears):
    :class:`Note` and :class:`EvalAnswer`. Subclasses name the state dict (``STORE``), the kind
    of change reported (``CHANGE``) and what they are in an error (``WHAT``), and may clean the
    text (:meth:`_clean`). ``before`` = the previous text (None: none)."""

    STORE: ClassVar[str]
    CHANGE: ClassVar[str]
    WHAT: ClassVar[str]
    id: ExampleId
    text: str
    before: str | None = None
    shas: tuple[tuple[int, str], ...] | None = None
    applied: bool = False

    def _clean(self, text) -> str:
        return str(text or "")

    def __post_init__(self):
        object.__setattr__(self, "id", _norm_id(self.id))
        object.__setattr__(self, "text", self._clean(self.text))
        if self.before is not None and not isinstance(self.before, str):
            raise ProjectError(f"The previous text of {self.WHAT} must be text or null.")
        if not isinstance(self.applied, bool):
            raise ProjectError(f"The 'applied' of {self.WHAT} must be true or false.")
        object.__setattr__(self, "shas", _freeze_shas(self.shas))

    def example_ids(self) -> tuple[ExampleId, ...]:
        return (self.id,)

    def apply(self, state, col) -> Op:
        eid = self.id
        store = getattr(state, self.STORE)
        before = store.get(eid)
        if state._live(eid, self.shas_map) and (before or "") != self.text:
            if self.text:
                store[eid] = self.text
            else:
                del store[eid]
            col.add(self.CHANGE, [eid])
        return _resolved(self, before=before, shas=state._shas([eid], self), applied=True)

    def inverse(self) -> Op:
        if not self.applied:
            raise ProjectError(f"Cannot invert {self.WHAT} that was never applied.")
        return type(self)(self.id, self.before or "", shas=self.shas)


@dataclass(frozen=True)
class Note(_ExampleText):
    kind: ClassVar[str] = "note"
    STORE: ClassVar[str] = "notes"
    CHANGE: ClassVar[str] = "note"
    WHAT: ClassVar[str] = "a note"

    @property
    def label(self) -> str:
        return "Clear note" if not self.text else "Note on 1 example"


#: the eval-set marks a curator sets on production inputs (see workbench.curate.eval_set)
EVAL_MARKS = ("pin", "exclude")


@dataclass(frozen=True)
class EvalMark(Op):
    """Pin production inputs into the eval set (``mark="pin"``: always drawn), exclude them from
    it (``"exclude"``: never drawn) or clear the mark (``""``). Stored in ``state.eval_marks``;
    read by :mod:`workbench.curate.eval_set`. ``before`` = each example's previous mark (None: none)."""

    kind: ClassVar[str] = "eval_mark"
    fast_parse: ClassVar[bool] = True
    ids: tuple[ExampleId, ...]
    mark: str
    reason: str = ""
    before: tuple[str | None, ...] | None = None
    shas: tuple[tuple[int, str], ...] | None = None

    def __post_init__(self):
        object.__setattr__(self, "ids", _norm_ids(self.ids))
        if self.mark not in EVAL_MARKS + ("",):
            raise ProjectError(f"An eval-set mark is 'pin', 'exclude' or '' (clear), not {self.mark!r}.")
        object.__setattr__(self, "reason", str(self.reason or ""))
        if self.before is not None:
            object.__setattr__(self, "before", tuple(self.before))
            for b in self.before:
                if b is not None and b not in EVAL_MARKS:
                    raise ProjectError(f"A previous eval-set mark must be 'pin', 'exclude' or null, not {b!r}.")
        object.__setattr__(self, "shas", _freeze_shas(self.shas))

    @property
    def label(self) -> str:
        verb = {"pin": "Pin", "exclude": "Exclude", "": "Clear the eval-set mark of"}[self.mark]
        text = f"{verb} {_plural(len(self.ids))}" + (" for the eval set" if self.mark else "")
        return f"{text} ({self.reason})" if self.reason else text

    def apply(self, state, col) -> Op:
        shas = self.shas_map
        marks = state.eval_marks
        before, touched = [], []
        for eid in self.ids:
            old = marks.get(eid)
            before.append(old)
            if not state._live(eid, shas) or (old or "") == self.mark:
                continue
            if self.mark:
                marks[eid] = self.mark
            else:
                del marks[eid]
            touched.append(eid)
        col.add("eval_mark", touched)
        return _resolved(self, before=tuple(before), shas=state._shas(self.ids, self))

    def inverse(self) -> Op:
        if self.before is None:
            raise ProjectError("Cannot invert an op that was never applied (no 'before' values).")
        groups: dict[str, list[ExampleId]] = {}
        for i, b in zip(self.ids, self.before):
            groups.setdefault(b or "", []).append(i)
        shas = dict(self.shas) if self.shas else None
        ops: list[Op] = [EvalMark(tuple(g), m, "undo", shas=_shas_for(g, shas)) for m, g in groups.items()]
        return _one_or_batch(ops or [EvalMark((), "", "undo")], f"Undo {self.label}")


@dataclass(frozen=True)
class EvalAnswer(_ExampleText):
    """The curator's reference answer for a production input of the eval set (``text=""``
    clears it). Stored in ``state.eval_answers``; :mod:`workbench.curate.eval_set` writes it as
    the assistant turn of that input. ``before`` = the previous answer (None: none)."""

    kind: ClassVar[str] = "eval_answer"
    STORE: ClassVar[str] = "eval_answers"
    CHANGE: ClassVar[str] = "eval_answer"
    WHAT: ClassVar[str] = "a reference answer"

    def _clean(self, text) -> str:
        if not isinstance(text, str):
            raise ProjectError("A reference answer is text.")
        return text if text.strip() else ""

    @property
    def label(self) -> str:
        return "Clear the reference answer of 1 input" if not self.text else "Reference answer for 1 input"


#: at most this many member examples are recorded per cluster in a :class:`ClusterEdit` (enough
#: to find the cluster again by majority after a re-analysis renumbered the clusters)
CLUSTER_SAMPLE = 200


@dataclass(frozen=True)
class ClusterEdit(Op):
    """The curator's name for a cluster (``merge=False``: ``clusters`` is one id) or a merge
    (``merge=True``: ``clusters[1:]`` join ``clusters[0]``, which gets ``name`` if given).

    Cluster ids are those of the analysis ``revision`` the curator saw; ``samples`` holds up to
    :data:`CLUSTER_SAMPLE` member examples of each cluster, so that after a re-analysis that
    renumbered the clusters the edit applies to the new cluster holding most of them
    (:meth:`workbench.analysis.aligned.AlignedAnalysis` does that). Stored in
    ``state.cluster_edits`` in order; ``undo=True`` is the inverse (takes the newest equal
    edit back)."""

    kind: ClassVar[str] = "cluster"
    clusters: tuple[int, ...]
    name: str | None = None
    merge: bool = False
    revision: str = ""
    samples: tuple[tuple[ExampleId, ...], ...] = ()
    undo: bool = False

    def __post_init__(self):
        try:
            clusters = tuple(int(c) for c in self.clusters)
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"Cluster ids are numbers, not {self.clusters!r}.") from exc
        if not clusters or len(set(clusters)) != len(clusters) or min(clusters) < 0:
            raise ProjectError(f"Name distinct cluster ids (>= 0), not {list(clusters)}.")
        object.__setattr__(self, "clusters", clusters)
        if self.merge and len(clusters) < 2:
            raise ProjectError("A merge joins at least two clusters.")
        if not self.merge and len(clusters) != 1:
            raise ProjectError("A rename names one cluster.")
        if self.name is not None:
            name = " ".join(str(self.name).split())
            if not name and not self.merge:
                raise ProjectError("A cluster's name is not empty.")
            object.__setattr__(self, "name", name or None)
        object.__setattr__(self, "merge", bool(self.merge))
        object.__setattr__(self, "undo", bool(self.undo))
        object.__setattr__(self, "revision", str(self.revision or ""))
        samples = tuple(_norm_ids(s) for s in (self.samples or ()))
        if samples and len(samples) != len(clusters):
            raise ProjectError(f"A cluster edit has {len(samples)} member samples for {len(clusters)} clusters.")
        object.__setattr__(self, "samples", samples)

    @property
    def label(self) -> str:
        named = f" as '{self.name}'" if self.name else ""
        if self.merge:
            text = f"Merge clusters {', '.join(map(str, self.clusters[1:]))} into {self.clusters[0]}{named}"
        else:
            text = f"Name cluster {self.clusters[0]} '{self.name}'"
        return f"Undo {text[0].lower()}{text[1:]}" if self.undo else text

    def apply(self, state, col) -> Op:
        edits = state.cluster_edits
        if not self.undo:
            edits.append(self)
        else:
            plain = self.resolved(undo=False)
            for k in range(len(edits) - 1, -1, -1):
                if edits[k] == plain:
                    del edits[k]
                    break
        return self  # no example changes: the aligned analysis reads state.cluster_edits

    def inverse(self) -> Op:
        return self.resolved(undo=not self.undo)


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

    def leaves(self) -> Iterator[Op]:
        for o in self.ops:
            yield from o.leaves()

    def added_lines(self) -> tuple[int, ...]:
        return tuple(line for o in self.ops for line in o.added_lines())

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        return self.ops[0].label if len(self.ops) == 1 else f"{len(self.ops)} actions"

    def check(self, ctx) -> None:
        for o in self.ops:
            o.check(ctx)

    def check_resolved(self) -> None:
        for o in self.ops:
            o.check_resolved()

    def apply(self, state, col) -> Op:
        return Batch(tuple(o.apply(state, col) for o in self.ops), self.name)

    def inverse(self) -> Op:
        return Batch(tuple(o.inverse() for o in reversed(self.ops)), f"Undo {self.label}")

    def note_facts(self, op_id, facts) -> None:
        for o in self.ops:
            o.note_facts(op_id, facts)

    def resolved(self, **changes: Any) -> "Op":
        return Batch(changes.get("ops", self.ops), changes.get("name", self.name))


def facts(ops: Iterable[tuple[int, Op]]) -> JournalFacts:
    """What the ops in effect (journal id, resolved op; oldest first) mean for the manifest."""
    out = JournalFacts()
    for op_id, op in ops:
        op.note_facts(op_id, out)
    return out


# ---------------------------------------------------------------------------------------------
# journal entries: checksum, verification, replay
# ---------------------------------------------------------------------------------------------
ENTRY_KINDS = ("op", "undo", "redo", "source")


@dataclass(frozen=True)
class JournalRow:
    """One row of the ``journal`` table, as stored."""

    id: int
    ts: float
    kind: str
    target: int | None
    label: str
    payload: str | None
    checksum: str | None = None


def entry_checksum(entry_id: int, ts: float, kind: str, target: int | None, label: str,
                   payload: str | None) -> str:
    """BLAKE2b-64 (hex) over every stored field of a journal entry."""
    text = "\x1f".join((str(int(entry_id)), repr(float(ts)), kind, "" if target is None else str(int(target)),
                        label, "\x00" if payload is None else payload))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _entry_name(row: JournalRow | int, label: str | None = None) -> str:
    if isinstance(row, JournalRow):
        entry_id, label = row.id, row.label
    else:
        entry_id = row
    shown = ""
    if isinstance(label, str) and label:
        shown = f" ('{label[:60]}')" if label.isprintable() else ""
    return f"journal entry {entry_id}{shown}"


def damaged(project_name: str, what: str, why: str) -> DamagedProjectError:
    return DamagedProjectError(
        f"Project '{project_name}' is damaged: {what} {why}. The file was left untouched; "
        "restore it from a backup (or copy it and ask for help)."
    )


def verify(row: JournalRow, checked: bool, project_name: str = "project") -> None:
    """Raise :class:`DamagedProjectError` unless ``row`` is intact. ``checked``: the row must
    carry a checksum (False only for legacy entries written before checksums existed)."""
    if row.kind not in ENTRY_KINDS:
        raise damaged(project_name, _entry_name(row), f"has an unknown kind {row.kind!r}")
    if row.checksum is None:
        if checked:
            raise damaged(project_name, _entry_name(row), "has no checksum")
        return
    try:
        expected = entry_checksum(row.id, row.ts, row.kind, row.target, row.label, row.payload)
    except (TypeError, ValueError):
        expected = None
    if row.checksum != expected:
        raise damaged(project_name, _entry_name(row), "fails its checksum (its content changed after it was written)")


def parse_entry(row: JournalRow, checked: bool, project_name: str = "project") -> Op:
    """The op of an ``op`` row (fast path for checksummed rows; strict for legacy ones)."""
    try:
        if not row.payload:
            raise ProjectError("it has no payload")
        return Op.from_journal(row.payload) if checked else Op.from_json(row.payload)
    except (ProjectError, orjson.JSONDecodeError, TypeError, ValueError, KeyError, AttributeError) as exc:
        why = exc.user_message if isinstance(exc, ProjectError) else str(exc)
        raise damaged(project_name, _entry_name(row), f"is not a valid op ({why})") from exc


@dataclass
class Replay:
    """The journal folded into stacks: ops in effect (oldest first) and the redo stack (next
    last), each as (journal id, op); the newest entry id; added-example numbers ever assigned."""

    done: list[tuple[int, Op]]
    redo: list[tuple[int, Op]]
    last_entry: int
    next_added_line: int


def replay(rows: Iterable[JournalRow], state: "CurationState", *, checksums_from: float = 1,
           project_name: str = "project") -> Replay:
    """Verify every entry and fold the journal into ``state`` (which starts empty).

    Undo/redo entries name the op they take back or re-apply; a new op clears the redo stack
    (as in any editor). Entries with ``id >= checksums_from`` must carry a valid checksum; older
    (legacy) ones are parsed strictly. Raises :class:`DamagedProjectError` naming the entry.
    """
    done: list[tuple[int, JournalRow]] = []
    redo: list[tuple[int, JournalRow]] = []
    checked: dict[int, bool] = {}
    next_line = 1
    last = 0
    for row in rows:
        ok = row.id >= checksums_from
        verify(row, ok, project_name)
        last = row.id
        if row.kind == "op":
            checked[row.id] = ok
            done.append((row.id, row))
            for _, r in redo:  # discarded for good: only its added-example numbers stay taken
                if r.payload and '"kind":"add"' in r.payload:
                    for line in parse_entry(r, checked[r.id], project_name).added_lines():
                        next_line = max(next_line, line + 1)
            redo.clear()
        elif row.kind in ("undo", "redo"):
            stack_from, stack_to = (done, redo) if row.kind == "undo" else (redo, done)
            if not stack_from or stack_from[-1][0] != row.target:
                raise damaged(project_name, _entry_name(row),
                              f"is inconsistent ({row.kind} of entry {row.target}, which is not the "
                              f"newest {'op in effect' if row.kind == 'undo' else 'undone op'})")
            stack_to.append(stack_from.pop())
    state.next_added_line = max(state.next_added_line, next_line)
    done_ops: list[tuple[int, Op]] = []
    for op_id, row in done:
        op = parse_entry(row, checked[op_id], project_name)
        try:
            resolved, _ = state.apply(op)
        except ProjectError as exc:
            raise damaged(project_name, _entry_name(row), f"cannot be applied ({exc.user_message})") from exc
        done_ops.append((op_id, resolved))
    redo_ops = [(op_id, parse_entry(row, checked[op_id], project_name)) for op_id, row in redo]
    for _, op in redo_ops:
        for line in op.added_lines():
            state.next_added_line = max(state.next_added_line, line + 1)
    return Replay(done_ops, redo_ops, last, state.next_added_line)
