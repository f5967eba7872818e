"""The project file (SQLite): sources, settings, the durable journal of curator ops, current state.

Public API::

    from workbench.project import Project, ExampleId
    from workbench.project.journal import Reject, Restore, Edit, AddExample, Tag, Untag, SetWeight, Note, Batch

See :mod:`workbench.project.project` (Project), :mod:`workbench.project.journal` (the op kinds —
each with its validation, apply and inverse —, entry checksums and replay), :mod:`workbench.project.curation_state` (CurationState, Change), :mod:`workbench.project.project_file`
(file format, locking) and :mod:`workbench.project.workspace` (Workspace).
"""

from workbench.project.journal import ADDED_SOURCE_ID, ADDED_SOURCE_NAME, DamagedProjectError, ExampleId
from workbench.project.project import HistoryEntry, Project
from workbench.project.settings import Settings
from workbench.project.sources import SourceMissingError, SourceStatus, default_project_path
from workbench.project.curation_state import Change, CurationState
from workbench.project.project_file import EXTENSION, SourceInfo

__all__ = [
    "ADDED_SOURCE_ID", "ADDED_SOURCE_NAME", "EXTENSION", "Change", "CurationState", "DamagedProjectError", "ExampleId",
    "HistoryEntry", "Project", "Settings", "SourceInfo", "SourceMissingError", "SourceStatus",
    "default_project_path",
]
