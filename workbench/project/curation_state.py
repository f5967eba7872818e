"""Current curation state = sources + journal, folded op by op.

:class:`CurationState` holds only what the curator changed (sparse dicts keyed by
:data:`~workbench.project.journal.ExampleId`), so a million-row project with a thousand actions costs
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

from workbench.project.journal import (
    ADDED_SOURCE_ID,
    DEFAULT_WEIGHT,
    AddedExample,
    CheckContext,
    ExampleId,
    Op,
)

# Kinds of change reported in Change.changed
CHANGE_KINDS = ("rejected", "edited", "tags", "weight", "note", "added", "removed", "eval_mark", "eval_answer", "cluster")


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
        self.eval_marks: dict[ExampleId, str] = {}  # production input -> "pin" | "exclude" (eval set)
        self.eval_answers: dict[ExampleId, str] = {}  # production input -> reference answer (eval set)
        self.cluster_edits: list = []  # the curator's cluster names and merges (ClusterEdit), in order
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

    def check(self, op: Op, valid=None, *, schema_of=None, unit: str = "last_user") -> None:
        """Refuse an op before it is journalled if it names examples that do not exist (or,
        with ``schema_of``, carries a record that is not valid in its source's schema).

        ``valid(eid) -> bool`` says whether a source example exists (the loaded workspace knows);
        without it only the source id is checked. Added examples created earlier in the same
        batch count as existing. Each op kind does its own checks (:meth:`Op.check`).
        """
        op.check(CheckContext(self, valid, schema_of, unit, set(self.added), self.next_added_line))

    def apply(self, op: Op) -> tuple[Op, dict[str, frozenset]]:
        """Apply ``op``; return (the resolved op, what changed). Each op kind folds itself in
        (:meth:`Op.apply`)."""
        col = _Collector()
        resolved = op.apply(self, col)
        return resolved, col.frozen()
