"""Typed errors. Every front end shows ``user_message``; ``detail`` is for logs and "Show details"."""

from __future__ import annotations


class WorkbenchError(Exception):
    """An expected failure with a message fit for a curator.

    The CLI prints ``user_message`` and exits non-zero; the GUI shows it non-modally.
    """

    exit_code = 2

    def __init__(self, user_message: str, detail: str | None = None):
        super().__init__(user_message)
        self.user_message = user_message
        self.detail = detail

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.user_message


class InputError(WorkbenchError):
    """A data file cannot be read at all (missing, unreadable, no records in a known format)."""


class StrictModeError(InputError):
    """Strict loading stopped at the first bad record."""

    def __init__(self, user_message: str, path: str, line: int, reason: str):
        super().__init__(user_message)
        self.path = path
        self.line = line
        self.reason = reason


class ProjectError(WorkbenchError):
    """A project file is corrupt, foreign, locked, or refers to changed sources."""


class ProjectLockedError(ProjectError):
    """Another process has the project open for writing."""


class SourceChangedError(ProjectError):
    """A source file's content no longer matches the hash recorded in the project."""


class ModelError(WorkbenchError):
    """An embedding model cannot be found, converted or loaded."""


class AnalysisError(WorkbenchError):
    """An analysis step cannot run on the given inputs."""


class ExportError(WorkbenchError):
    """An export cannot be written."""


class Cancelled(Exception):
    """Raised inside a runner when its cancel token is set. Front ends ignore it quietly."""
