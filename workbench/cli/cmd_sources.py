"""``workbench remove-source PROJECT SOURCE`` and ``workbench set-role PROJECT SOURCE ROLE``:
take a wrongly added source out of the project, or change a source's role. Each is journalled
as a source entry (``workbench history`` shows it). The source's file is never touched; the
curation made on the other sources is kept; entries on a removed source stay in the journal,
set aside. Neither is an undoable curation step: add the file again (``workbench add``) or set
the role back. SOURCE: the source's id, file name or path (see ``workbench history``).

``workbench set-snapshot PROJECT SOURCE DATE`` dates a production log after it was added (as
``workbench add --snapshot`` does when adding; ``initial`` takes the date away), with the same
core function as the app's File ▸ Set a log's snapshot date… (:func:`workbench.analysis.drift.set_snapshot`)."""

from __future__ import annotations

#: the commands this module adds (the entry point routes them here, not to the app)
COMMANDS = ("remove-source", "set-role", "set-snapshot")


def register(subparsers) -> None:
    from workbench.io.source_data import ROLES

    p = subparsers.add_parser("remove-source", help="remove a wrongly added source from the project",
                              description=__doc__.split("\n\n")[0].replace("``", "'"))
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("source", metavar="SOURCE", help="the source: its id, file name or path")
    p.set_defaults(func=run_remove)
    p = subparsers.add_parser("set-role", help="change a source's role",
                              description="Change a source's role (train, production, eval, ...); journalled. "
                                          "Run `workbench analyze PROJECT` again afterwards: findings depend on roles.")
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("source", metavar="SOURCE", help="the source: its id, file name or path")
    p.add_argument("role", metavar="ROLE", choices=ROLES, help=f"the new role ({', '.join(ROLES)})")
    p.set_defaults(func=run_set_role)
    p = subparsers.add_parser("set-snapshot", help="set or change a production log's snapshot date (for drift)",
                              description="Date a production log (YYYY-MM-DD) as a snapshot for `workbench drift`; "
                                          "'initial' takes the date away (the log joins the initial snapshot).")
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("source", metavar="SOURCE", help="the production source: its id, file name or path")
    p.add_argument("date", metavar="DATE", help="YYYY-MM-DD, or 'initial'")
    p.set_defaults(func=run_set_snapshot)


def run_remove(args) -> int:
    from workbench.cli.cmd_curate import _open

    with _open(args.project) as project:
        info = project.find_source(args.source)
        project.remove_source(info.id)
        left = ", ".join(f"{s.id}: {s.name} ({s.role})" for s in project.sources) or "none"
        print(f"Removed {info.role} source {info.id} ({info.name}); its file was not touched. "
              f"Curation on the other sources is kept. Sources now: {left}.")
    return 0


def run_set_role(args) -> int:
    from workbench.cli.cmd_curate import _open

    with _open(args.project) as project:
        info = project.find_source(args.source)
        if info.role == args.role:
            print(f"Source {info.id} ({info.name}) already has the role {args.role}; nothing changed.")
            return 0
        project.set_role(info.id, args.role)
        print(f"Source {info.id} ({info.name}) is now {args.role} (was {info.role}). "
              f"Run `workbench analyze {args.project}` again: findings depend on roles.")
    return 0


def run_set_snapshot(args) -> int:
    from workbench.analysis.drift import INITIAL, set_snapshot, snapshot_dates
    from workbench.cli.cmd_curate import _open

    with _open(args.project) as project:
        info = project.find_source(args.source)
        was = snapshot_dates(project).get(info.id, INITIAL)
        got = set_snapshot(project, info.id, None if args.date.strip() == INITIAL else args.date)
        print(f"Production source {info.id} ({info.name}) is snapshot {got} (was {was}).")
    return 0
