"""Current curation state = sources + journal, folded op by op.

:class:`CurationState` holds only what the curator changed (sparse dicts keyed by
:data:`~workbench.project.ops.ExampleId`), so a million-row project with a thousand actions costs
a thousand entries. :meth:`CurationState.apply` resolves an op against the state (filling in the
previous values its inverse needs) and returns a :class:`Change` naming what changed, so views
redraw only that.

Source identity: the state knows the sha256 of every source. An op remembers the sha256 of the
sources it touched (``shas``); the parts of an op made against other content of a file (the
curator accepted a changed file, see :meth:`Project.accept_changed`) are *set aside*, never
applied to whatever records now sit on those lines. They are counted in :attr:`set_aside`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from workbench.core.errors import ProjectError
from workbench.project.ops import (
    ADDED_SOURCE_ID,
    AddExample,
    Batch,
    Edit,
    ExampleId,
    Note,
    Op,
    Reject,
    RemoveAdded,
    Restore,
    SetWeight,
    Tag,
    Untag,
)

DEFAULT_WEIGHT = 1.0

# Kinds of change reported in Change.changed
CHANGE_KINDS = ("rejected", "edited", "tags", "weight", "note", "added", "removed")


@dataclass(frozen=True)
class AddedExample:
    """An example that exists only in the project (source 0, "added")."""

    line: int
    record: dict[str, Any]
    schema: str
    role: str
    provenance: dict[str, Any]


@dataclass(frozen=True)
class Change:
    """What one apply / undo / redo changed.

    ``changed`` maps a kind (``rejected``, ``edited``, ``tags``, ``weight``, ``note``, ``added``,
    ``removed``) to the ids it touched. ``structural`` is true when rows were added or removed
    (only ever the added examples at the end of the workspace: row indices of source examples
    never move). ``entry_id`` is the journal entry written; ``revision`` the project revision after.
    """

    action: str  # "apply" | "undo" | "redo" | "reload"
    label: str
    changed: Mapping[str, frozenset]
    revision: int = 0
    entry_id: int = 0
    op_id: int = 0  # the journal id of the op applied / undone / redone

    @property
    def ids(self) -> frozenset:
        out: set = set()
        for v in self.changed.values():
            out |= v
        return frozenset(out)

    @property
    def structural(self) -> bool:
        return bool(self.changed.get("added") or self.changed.get("removed"))

    def __bool__(self) -> bool:  # a Change is always truthy (even an empty one)
        return True


class _Collector:
    def __init__(self) -> None:
        self.changed: dict[str, set] = {}

    def add(self, kind: str, ids: Iterable[ExampleId]) -> None:
        ids = list(ids)
        if ids:
            self.changed.setdefault(kind, set()).update(ids)

    def frozen(self) -> dict[str, frozenset]:
        return {k: frozenset(v) for k, v in self.changed.items()}


class CurationState:
    """Sparse curation state. Mutate only through :meth:`apply`."""

    def __init__(self, source_shas: Mapping[int, str] | None = None) -> None:
        self.source_shas: dict[int, str] = dict(source_shas or {})
        self.rejected: dict[ExampleId, str] = {}
        self.edits: dict[ExampleId, dict[str, Any]] = {}
        self.tags: dict[ExampleId, frozenset[str]] = {}
        self.weights: dict[ExampleId, float] = {}
        self.notes: dict[ExampleId, str] = {}
        self.added: dict[int, AddedExample] = {}  # line -> example, in order of addition
        self.next_added_line = 1
        self.set_aside = 0  # op parts skipped because their source's content changed

    # --- queries ------------------------------------------------------------------------------
    def is_rejected(self, eid: ExampleId) -> bool:
        return eid in self.rejected

    def weight(self, eid: ExampleId) -> float:
        return self.weights.get(eid, DEFAULT_WEIGHT)

    def tags_of(self, eid: ExampleId) -> frozenset[str]:
        return self.tags.get(eid, frozenset())

    def snapshot(self) -> dict[str, Any]:
        """A plain comparable value of the whole state (tests, debugging)."""
        return {
            "rejected": dict(self.rejected),
            "edits": {k: v for k, v in self.edits.items()},
            "tags": {k: v for k, v in self.tags.items() if v},
            "weights": dict(self.weights),
            "notes": dict(self.notes),
            "added": {k: (v.record, v.schema, v.role, v.provenance) for k, v in self.added.items()},
        }

    # --- applying -----------------------------------------------------------------------------
    def _live(self, eid: ExampleId, shas: dict[int, str] | None) -> bool:
        """Whether an op part on ``eid`` applies to the records now in the project."""
        s = eid[0]
        if s == ADDED_SOURCE_ID:
            return eid[1] in self.added
        if s not in self.source_shas:
            return False  # source removed from the project
        if shas is None:
            return True  # fresh op, resolved now
        if shas.get(s) != self.source_shas[s]:
            self.set_aside += 1
            return False
        return True

    def _shas(self, ids: Iterable[ExampleId], op: Op) -> tuple[tuple[int, str], ...]:
        """Keep an op's recorded shas, or record the current ones for a fresh op."""
        current = op.shas
        if current is not None:
            return current
        wanted = {s for s, _ in ids if s != ADDED_SOURCE_ID}
        return tuple(sorted((s, self.source_shas[s]) for s in wanted if s in self.source_shas))

    def check(self, op: Op, valid=None) -> None:
        """Refuse an op before it is journalled if it names examples that do not exist.

        ``valid(eid) -> bool`` says whether a source example exists (the loaded workspace knows);
        without it only the source id is checked. Added examples created earlier in the same
        batch count as existing.
        """
        self._check(op, valid, set(self.added), [self.next_added_line])

    def _check(self, op: Op, valid, added: set, next_line: list) -> None:
        if isinstance(op, Batch):
            for o in op.ops:
                self._check(o, valid, added, next_line)
            return
        if isinstance(op, AddExample):
            line = op.line if op.line is not None else next_line[0]
            if line in added:
                raise ProjectError(f"Added example number {line} exists already.")
            added.add(line)
            next_line[0] = max(next_line[0], line + 1)
            return
        for eid in op.example_ids():
            s, line = eid
            if s == ADDED_SOURCE_ID:
                if line not in added:
                    raise ProjectError(f"There is no added example number {line}.")
            elif s not in self.source_shas:
                raise ProjectError(f"There is no source with id {s} in this project.")
            elif valid is not None and not valid(eid):
                raise ProjectError(f"Source {s} has no example at line {line}.")
        if isinstance(op, RemoveAdded):
            added.discard(op.line)

    def apply(self, op: Op) -> tuple[Op, dict[str, frozenset]]:
        """Apply ``op``; return (the resolved op, what changed)."""
        col = _Collector()
        resolved = self._apply(op, col)
        return resolved, col.frozen()

    def _apply(self, op: Op, col: _Collector) -> Op:
        if isinstance(op, Batch):
            return Batch(tuple(self._apply(o, col) for o in op.ops), op.name)
        if isinstance(op, (Reject, Restore)):
            return self._apply_reject(op, col)
        if isinstance(op, (Tag, Untag)):
            return self._apply_tag(op, col)
        if isinstance(op, SetWeight):
            return self._apply_weight(op, col)
        if isinstance(op, Edit):
            return self._apply_edit(op, col)
        if isinstance(op, Note):
            return self._apply_note(op, col)
        if isinstance(op, AddExample):
            return self._apply_add(op, col)
        if isinstance(op, RemoveAdded):
            return self._apply_remove(op, col)
        raise ProjectError(f"Unknown op {type(op).__name__}")

    def _apply_reject(self, op, col) -> Op:
        shas = op.shas_map
        before = []
        touched = []
        for eid in op.ids:
            before.append(self.rejected.get(eid))
            if not self._live(eid, shas):
                continue
            if isinstance(op, Reject):
                if self.rejected.get(eid) != op.reason:
                    self.rejected[eid] = op.reason
                    touched.append(eid)
            elif eid in self.rejected:
                del self.rejected[eid]
                touched.append(eid)
        col.add("rejected", touched)
        return _resolved(op, before=tuple(before), shas=self._shas(op.ids, op))

    def _apply_tag(self, op, col) -> Op:
        shas = op.shas_map
        before = []
        touched = []
        for eid in op.ids:
            current = self.tags.get(eid, frozenset())
            before.append(op.tag in current)
            if not self._live(eid, shas):
                continue
            if isinstance(op, Tag) and op.tag not in current:
                self.tags[eid] = current | {op.tag}
                touched.append(eid)
            elif isinstance(op, Untag) and op.tag in current:
                rest = current - {op.tag}
                if rest:
                    self.tags[eid] = rest
                else:
                    del self.tags[eid]
                touched.append(eid)
        col.add("tags", touched)
        return _resolved(op, before=tuple(before), shas=self._shas(op.ids, op))

    def _apply_weight(self, op: SetWeight, col) -> Op:
        shas = op.shas_map
        before = []
        touched = []
        for eid in op.ids:
            old = self.weights.get(eid, DEFAULT_WEIGHT)
            before.append(old)
            if not self._live(eid, shas) or old == op.weight:
                continue
            if op.weight == DEFAULT_WEIGHT:
                del self.weights[eid]
            else:
                self.weights[eid] = op.weight
            touched.append(eid)
        col.add("weight", touched)
        return _resolved(op, before=tuple(before), shas=self._shas(op.ids, op))

    def _apply_edit(self, op: Edit, col) -> Op:
        eid = op.id
        before = self.edits.get(eid)
        if self._live(eid, op.shas_map):
            if op.record is None:
                if eid in self.edits:
                    del self.edits[eid]
                    col.add("edited", [eid])
            elif self.edits.get(eid) != op.record:
                self.edits[eid] = op.record
                col.add("edited", [eid])
        return _resolved(op, before=before, shas=self._shas([eid], op), applied=True)

    def _apply_note(self, op: Note, col) -> Op:
        eid = op.id
        before = self.notes.get(eid)
        if self._live(eid, op.shas_map) and (before or "") != op.text:
            if op.text:
                self.notes[eid] = op.text
            else:
                del self.notes[eid]
            col.add("note", [eid])
        return _resolved(op, before=before, shas=self._shas([eid], op), applied=True)

    def _apply_add(self, op: AddExample, col) -> Op:
        line = op.line if op.line is not None else self.next_added_line
        if line in self.added:
            raise ProjectError(f"Added example number {line} exists already.")
        self.added[line] = AddedExample(line, op.record, op.schema, op.role, op.provenance)
        self.next_added_line = max(self.next_added_line, line + 1)
        col.add("added", [(ADDED_SOURCE_ID, line)])
        return op if op.line == line else op.resolved(line=line)

    def _apply_remove(self, op: RemoveAdded, col) -> Op:
        eid = (ADDED_SOURCE_ID, op.line)
        if self.added.pop(op.line, None) is not None:
            # an added example leaves no trace: its curation goes with it (undo re-adds it
            # first and then replays the ops made on it)
            for d in (self.rejected, self.edits, self.tags, self.weights, self.notes):
                d.pop(eid, None)
            col.add("removed", [eid])
        return op



def _resolved(op: Op, **values: Any) -> Op:
    """``op`` with its resolution fields set; the op itself when they already hold those values
    (replaying a journal: the stored op is exact, no copy needed)."""
    for k, v in values.items():
        if getattr(op, k) != v:
            return op.resolved(**values)
    return op
