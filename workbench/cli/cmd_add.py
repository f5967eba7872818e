"""``workbench add PROJECT FILE --role ROLE``: add a data file to a project.

The file is loaded once to validate it: the detected format, the number of records loaded and
every bad line (``FILE:LINE: reason``, the first :data:`SHOW_ERRORS` of them, then a count) are
reported; its sha256 and row count are recorded so a later change on disk is noticed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from workbench.cli import argtypes

SHOW_ERRORS = 20


def register(subparsers) -> None:
    from workbench.io.source_data import ROLES, SCHEMAS

    p = subparsers.add_parser(
        "add",
        help="add a data file (train, production, eval or reference) to a project",
        description=(
            "Add a data file to a project with a role: train (the dataset being curated), "
            "production (real inputs, often prompts only), eval (held-out test set) or reference "
            "(general/safety data for replay mixing). The file is read once to validate it; bad "
            "lines are listed as FILE:LINE: reason and skipped. The file itself is never modified."
        ),
    )
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("file", metavar="FILE", help="JSONL, JSON array, CSV/TSV or Parquet file")
    p.add_argument("--role", required=True, choices=ROLES, help="what the data is for")
    p.add_argument("--schema", choices=SCHEMAS, default=None,
                   help="record format (default: detected from the records)")
    p.add_argument("--map", dest="mapping", type=argtypes.mapping, action="append", default=None,
                   metavar="KEY=FIELD", help=argtypes.MAP_HELP)
    p.add_argument("--strict", action="store_true", help="stop at the first bad line instead of skipping it")
    p.add_argument("--snapshot", metavar="DATE", default=None,  # see workbench.analysis.drift
                   help="production only: the date of this log (YYYY-MM-DD), a new snapshot for `workbench drift`")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.cli.progressbar import ProgressBar
    from workbench.core.errors import ProjectError
    from workbench.io.readers import read_source
    from workbench.io.formats import SCHEMA_TITLES
    from workbench.project import Project
    from workbench.project.sources import default_project_path

    args.mapping = argtypes.merged(args.mapping)
    if args.snapshot:  # checked before anything is added
        from workbench.analysis.drift import check_snapshot_arg, set_snapshot
        args.snapshot = check_snapshot_arg(args.role, args.snapshot)
    project_path = Path(args.project)
    if not project_path.exists() and default_project_path(project_path).exists():
        project_path = default_project_path(project_path)
    with Project.open(project_path) as project:
        path = Path(args.file).expanduser().absolute()
        existing = project.source_for_path(path)
        if existing is not None:
            raise ProjectError(f"'{path.name}' is already in project {project.path.name} (as {existing.role} source {existing.id}).")
        bar = ProgressBar()
        data = read_source(path, schema=args.schema, unit=project.unit, mapping=args.mapping,
                           strict=args.strict, progress=bar)
        bar.close()
        errors = data.errors
        for err in errors[:SHOW_ERRORS]:
            print(str(err), file=sys.stderr)
        if len(errors) > SHOW_ERRORS:
            print(f"... and {len(errors) - SHOW_ERRORS} more bad lines", file=sys.stderr)
        if errors:
            reasons = Counter(_reason_kind(e.reason) for e in errors)
            summary = ", ".join(f"{n} {r}" for r, n in reasons.most_common(5))
            print(f"{len(errors)} bad lines skipped ({summary})", file=sys.stderr)
        info = project.add_source(path, args.role, schema=data.schema, mapping=args.mapping, data=data)
        if args.snapshot:
            set_snapshot(project, info.id, args.snapshot)
        title = SCHEMA_TITLES.get(info.schema, info.schema)
        print(
            f"Added {info.name} as {info.role} source {info.id}: {info.rows} records "
            f"({title}, {info.container}), {len(errors)} bad lines; sha256 {info.sha256[:16]}…"
        )
        total = sum(s.rows for s in project.sources)
        print(f"Project {project.path.name}: {len(project.sources)} sources, {total} records")
    return 0


def _reason_kind(reason: str) -> str:
    """The first words of a reason ("invalid JSON: Expecting ..." -> "invalid JSON")."""
    return reason.split(":", 1)[0].strip()[:60]
