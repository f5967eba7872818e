"""``workbench new PROJECT``: create an empty project file (never overwrites)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "new",
        help="create a new, empty project file",
        description=(
            "Create a new Curation Workbench project: one SQLite file (.wbproj) that holds the "
            "sources, settings and the durable journal of curator actions. Fails if the file exists. "
            "Add data with `workbench add PROJECT FILE --role ...`."
        ),
    )
    p.add_argument("project", metavar="PROJECT", help="project file to create (.wbproj is added when no extension is given)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.project import Project
    from workbench.project.sources import default_project_path

    path = default_project_path(args.project)
    with Project.create(path) as project:
        print(f"Created project {project.path}")
    print(f"Next: workbench add {path} FILE --role train|production|eval|reference")
    return 0
