"""Curator ops — kept as a short import path; everything lives in :mod:`workbench.project.journal`.

``from workbench.project.ops import Reject`` and ``from workbench.project.journal import Reject``
name the same classes: the journal module owns every op kind (validation, apply, inverse).
"""

from workbench.project.journal import (  # noqa: F401
    ADDED_SOURCE_ID,
    ADDED_SOURCE_NAME,
    OP_KINDS,
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

__all__ = [
    "ADDED_SOURCE_ID", "ADDED_SOURCE_NAME", "OP_KINDS", "AddExample", "Batch", "Edit", "ExampleId", "Note",
    "Op", "Reject", "RemoveAdded", "Restore", "SetWeight", "Tag", "Untag",
]
