"""The project file (SQLite): sources, settings, the durable journal of curator ops, current state.

Public API::

    from workbench.project import Project, ExampleId
    from workbench.project.ops import Reject, Restore, Edit, AddExample, Tag, Untag, SetWeight, Note, Batch

See :mod:`workbench.project.project` (Project), :mod:`workbench.project.ops` (ops and their
inverses), :mod:`workbench.project.state` (CurationState, Change), :mod:`workbench.project.store`
(file format, locking) and :mod:`workbench.project.workspace` (Workspace).
"""

from workbench.project.ops import ADDED_SOURCE_ID, ADDED_SOURCE_NAME, ExampleId
from workbench.project.project import HistoryEntry, Project
from workbench.project.settings import Settings
from workbench.project.sources import SourceMissingError, SourceStatus, default_project_path
from workbench.project.state import Change, CurationState
from workbench.project.store import EXTENSION, SourceInfo

__all__ = [
    "ADDED_SOURCE_ID", "ADDED_SOURCE_NAME", "EXTENSION", "Change", "CurationState", "ExampleId",
    "HistoryEntry", "Project", "Settings", "SourceInfo", "SourceMissingError", "SourceStatus",
    "default_project_path",
]
