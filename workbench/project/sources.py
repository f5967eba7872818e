"""Where a project's source files are: found, moved (relink), missing or changed on disk.

A source is identified by its content (sha256), not its path. It is looked for beside the project
first (the path relative to the project's folder, so a folder moved or copied as a whole keeps
working), then at its absolute path. A file found with other content is *changed*: it is
reported by name and nothing is applied to it until the curator relinks the original or accepts
the new content (:meth:`Project.relink`, :meth:`Project.accept_changed`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from workbench.core.errors import ProjectError
from workbench.project.project_file import EXTENSION, SourceInfo


class SourceMissingError(ProjectError):
    """A source file is no longer where the project expects it."""


@dataclass(frozen=True)
class SourceStatus:
    """Where a source's file is now: ``state`` is ``ok``, ``missing`` or ``changed``."""

    info: SourceInfo
    state: str
    path: Path | None  # the file found (ok / changed), None when missing
    sha256: str | None = None
    tried: tuple[Path, ...] = ()

    @property
    def message(self) -> str:
        if self.state == "missing":
            tried = " or ".join(str(p) for p in self.tried) or self.info.path
            return f"Source '{self.info.name}' ({self.info.role}) is missing: not found at {tried}."
        if self.state == "changed":
            return (
                f"Source '{self.info.name}' ({self.info.role}) changed on disk since it was added "
                f"({self.path}): its content no longer matches the recorded sha256."
            )
        return f"Source '{self.info.name}' is present and unchanged."


def relpath(path: Path, base: Path) -> str | None:
    try:
        return os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return None


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def candidates(info: SourceInfo, project_dir: Path | None) -> list[Path]:
    """Where to look for a source: beside the project (relative path) first, then the absolute path."""
    out: list[Path] = []
    if info.rel_path and project_dir is not None:
        out.append(Path(os.path.normpath(project_dir / info.rel_path)))
    out.append(Path(info.path))
    seen, uniq = set(), []
    for p in out:
        if str(p) not in seen:
            seen.add(str(p))
            uniq.append(p)
    return uniq


def default_project_path(path: str | Path) -> Path:
    """``name`` -> ``name.wbproj`` when no extension is given (the CLI's convenience)."""
    p = Path(path)
    return p if p.suffix else p.with_name(p.name + EXTENSION)
