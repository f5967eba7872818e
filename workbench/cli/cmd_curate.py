"""Curation from the command line: reject, restore, resolve, undo, redo, history, relink, accept-change.

``workbench reject PROJECT SELECTOR --reason TEXT`` and ``workbench restore PROJECT SELECTOR
--reason TEXT`` apply the rules of :mod:`workbench.curate.actions` (the same functions the app's
finding panels call) as ONE journal entry each; ``workbench undo PROJECT [N]`` takes it back.
Selectors: ``--duplicates`` (all but the keeper of every duplicate group), ``--leaked``
(training copies of eval examples), ``--flag NAME``, ``--cluster ID``, ``--query TEXT`` and
``--lines FILE`` (``SOURCE:LINE`` per line). The first four need analysis results
(``workbench analyze PROJECT``).

``workbench resolve PROJECT --conflict K --keep SOURCE:LINE`` makes one member's answer the
canonical answer of conflict K (numbered as in ``workbench check --findings``) and rejects the
training members that answer differently; ``--majority`` keeps the answer most members give, and
``--all --majority`` does that for every unresolved conflict, as ONE journal entry. The rule is
:mod:`workbench.curate.resolve`, the same the app's Majority and Canonical buttons use.

Every command that changes the project takes the project's lock: while the app (or another
command) has the project open for writing, it stops with a clear error and changes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time

from workbench.cli import argtypes

#: the commands this module adds (the entry point routes them here, not to the app)
COMMANDS = ("reject", "restore", "resolve", "undo", "redo", "history", "relink", "accept-change")


def _cluster(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a cluster id is a number (see `workbench analyze`), got {text!r}") from None


def _selection_args(p: argparse.ArgumentParser, verb: str) -> None:
    from workbench.io.source_data import ROLES

    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    sel = p.add_mutually_exclusive_group(required=True)
    sel.add_argument("--duplicates", action="store_true",
                     help=f"{verb} all but the keeper of every duplicate group (train/reference copies only)")
    sel.add_argument("--leaked", action="store_true",
                     help=f"{verb} training copies of eval examples (the eval examples are kept)")
    sel.add_argument("--flag", action="append", metavar="NAME",
                     help=f"{verb} examples with this quality flag (repeat for several)")
    sel.add_argument("--cluster", action="append", type=_cluster, metavar="ID",
                     help=f"{verb} examples in this cluster (repeat for several)")
    sel.add_argument("--query", metavar="TEXT",
                     help=f"{verb} examples whose prompt or response contains TEXT (case-insensitive)")
    sel.add_argument("--lines", metavar="FILE",
                     help=f"{verb} the examples listed in FILE, one SOURCE:LINE per line "
                          '(SOURCE = file name or source id; or JSON {"source": ..., "line": N})')
    p.add_argument("--reason", required=True, metavar="TEXT",
                   help="why (recorded in the journal and the export manifest)")
    p.add_argument("--role", action="append", choices=ROLES, default=None,
                   help="only examples of this role (repeat for several; with --flag/--cluster/--query/--lines)")
    p.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")


def register(subparsers) -> None:
    for name, verb, text in (
        ("reject", "reject", "leave examples out of exports (one undoable journal entry)"),
        ("restore", "restore", "take rejected examples back in (one undoable journal entry)"),
    ):
        p = subparsers.add_parser(
            name, help=text,
            description=(f"{name.capitalize()} the examples a rule selects, as ONE journal entry "
                         "(`workbench undo PROJECT` takes it back). --duplicates, --leaked, --flag and "
                         "--cluster use the project's stored analysis (`workbench analyze PROJECT`)."),
        )
        _selection_args(p, verb)
        p.set_defaults(func=run_reject if name == "reject" else run_restore)
    p = subparsers.add_parser(
        "resolve", help="choose a conflict's canonical answer; reject the members answering differently",
        description=("Resolve conflicts (similar prompts, different answers; numbered as in `workbench check "
                     "--findings`): the chosen answer becomes canonical and every train/reference member answering "
                     "differently is rejected, as ONE journal entry (`workbench undo PROJECT` takes it back). "
                     "Answers equal up to case, spacing and trailing punctuation count as the same. Eval and "
                     "production members are never rejected."))
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--conflict", type=argtypes.whole(1), metavar="K", help="the conflict's number")
    which.add_argument("--all", action="store_true", help="every unresolved conflict (with --majority)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--keep", metavar="SOURCE:LINE", help="the member whose answer is canonical")
    how.add_argument("--majority", action="store_true", help="keep the answer most members give (ties: the first)")
    p.add_argument("--reason", default="conflict", metavar="TEXT",
                   help="why (recorded in the journal and the export manifest; default 'conflict')")
    p.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    p.set_defaults(func=run_resolve)
    for name, text in (("undo", "undo the newest curation step(s)"), ("redo", "redo the newest undone step(s)")):
        p = subparsers.add_parser(name, help=text, description=f"{text.capitalize()}; each is journalled durably.")
        p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
        p.add_argument("steps", metavar="N", nargs="?", type=argtypes.whole(1), default=1, help="how many steps (default 1)")
        p.set_defaults(func=run_undo if name == "undo" else run_redo)
    p = subparsers.add_parser("history", help="the project's journal, newest first",
                              description="Every journal entry, newest first: curation steps (in effect, "
                                          "undone or discarded), undos, redos and source changes.")
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("--limit", type=argtypes.whole(1), default=None, metavar="N", help="show the newest N entries only")
    p.set_defaults(func=run_history)
    p = subparsers.add_parser("relink", help="point a moved source at its new location",
                              description="Point a source whose file moved at its new location. The file "
                                          "must have the recorded content (sha256); otherwise use accept-change.")
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("old", metavar="OLD", help="the source: its id, file name or former path")
    p.add_argument("new", metavar="NEW", help="where the file is now")
    p.set_defaults(func=run_relink)
    p = subparsers.add_parser("accept-change", help="use a source file whose content changed",
                              description="Accept that a source file's content changed: it is read again and "
                                          "its new sha256 recorded. Curation made on the old content of that "
                                          "file is set aside (kept in the journal, not applied).")
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("file", metavar="FILE", help="the source: its changed file, id or file name")
    p.set_defaults(func=run_accept)


def _open(path: str, read_only: bool = False):
    from workbench.project import Project
    from workbench.project.sources import default_project_path

    from pathlib import Path

    p = Path(path)
    if not p.exists() and default_project_path(p).exists():
        p = default_project_path(p)
    return Project.open(p, read_only=read_only)


def _selection(args, project, ws):
    from workbench.curate import actions

    roles = args.role
    if args.lines:
        return actions.read_refs(ws, args.lines, roles)
    if args.query is not None:
        return actions.matching(ws, args.query, roles)
    analysis = actions.stored_analysis(project, ws)
    if analysis is None:
        raise actions.NoAnalysisError(
            f"Project '{project.path.name}' has no analysis results yet; run `workbench analyze {args.project}` first.")
    if analysis.missing:
        print(f"note: {analysis.missing:,} examples are not in the stored analysis (added or changed since it ran).",
              file=sys.stderr)
    if args.duplicates:
        return actions.duplicates(ws, analysis, include_rejected=not args.rejecting)
    if args.leaked:  # every copy the leak rule finds, so that `workbench check` then passes
        from workbench.cli.cmd_check import leaked_selection

        return leaked_selection(project, ws, analysis, include_rejected=not args.rejecting)
    if args.flag:
        return actions.flagged(ws, analysis, args.flag, roles)
    return actions.in_clusters(ws, analysis, args.cluster, roles)


def _curate(args, rejecting: bool) -> int:
    from workbench.curate import actions

    args.rejecting = rejecting
    with _open(args.project, read_only=args.dry_run) as project:
        ws = project.load()
        selection = _selection(args, project, ws)
        plan = (actions.reject if rejecting else actions.restore)(ws, selection, args.reason)
        return _carry_out(args, project, plan, plan.message)


def _carry_out(args, project, plan, nothing: str) -> int:
    """Apply ``plan`` as one journal entry (or say what it would do with --dry-run)."""
    if plan.op is None:
        print(nothing)
        return 0
    if args.dry_run:
        print(f"Would: {plan.message[0].lower()}{plan.message[1:]} (dry run: nothing changed)")
        return 0
    change = plan.apply(project)
    print(f"{plan.message} Journal entry {change.entry_id}: {change.label}.")
    print(f"Undo with: workbench undo {args.project}")
    return 0


def run_reject(args) -> int:
    return _curate(args, rejecting=True)


def run_restore(args) -> int:
    return _curate(args, rejecting=False)


def run_resolve(args) -> int:
    from workbench.curate import actions, resolve

    if args.all and args.keep:
        raise actions.InputError("--keep names one member of one conflict: use it with --conflict K, not --all.")
    with _open(args.project, read_only=args.dry_run) as project:
        ws = project.load()
        analysis = actions.stored_analysis(project, ws)
        if analysis is None:
            raise actions.NoAnalysisError(
                f"Project '{project.path.name}' has no analysis results yet; run `workbench analyze {args.project}` first.")
        conflicts = list(analysis.conflicts)
        if args.all:
            chosen = list(enumerate(conflicts, 1))
        else:
            if args.conflict > len(conflicts):
                raise actions.InputError(f"There is no conflict {args.conflict}: the analysis lists {len(conflicts)} "
                                         f"(see `workbench check {args.project} --findings FILE --only conflicts`).")
            chosen = [(args.conflict, conflicts[args.conflict - 1])]
        keep = actions.find_ref(ws, args.keep) if args.keep else None
        if keep is not None and keep not in {int(r) for r in chosen[0][1].rows}:
            members = ", ".join(f"{ws.source_names[int(r)]}:{int(ws.line[int(r)])}" for r in chosen[0][1].rows)
            raise actions.InputError(f"{args.keep} is not a member of conflict {args.conflict} (members: {members}).")
        if args.all:
            selection = resolve.majority_all(ws, [(k, f.rows) for k, f in chosen])
        else:
            rows = [int(r) for r in chosen[0][1].rows]
            selection = resolve.canonical(ws, rows, keep if keep is not None else resolve.majority(ws, rows))
        return _carry_out(args, project, actions.reject(ws, selection, args.reason),
                          "Nothing to resolve: every chosen conflict already has one answer left.")


def _steps(args, redo: bool) -> int:
    with _open(args.project) as project:
        done = 0
        for _ in range(args.steps):
            change = project.redo() if redo else project.undo()
            if change is None:
                break
            done += 1
            print(f"{'Redone' if redo else 'Undone'}: {change.label} (journal entry {change.entry_id})")
        if done < args.steps:
            print(f"Nothing more to {'redo' if redo else 'undo'} ({done} of {args.steps} step(s) done).")
        left = project.undo_label
        print(f"Now in effect: {project.undo_count} step(s)" + (f"; newest: {left}" if left else "") + ".")
    return 0


def run_undo(args) -> int:
    return _steps(args, redo=False)


def run_redo(args) -> int:
    return _steps(args, redo=True)


def run_history(args, stream=None) -> int:
    out = stream or sys.stdout
    with _open(args.project, read_only=True) as project:
        entries = project.history()
    entries.reverse()
    if args.limit:
        entries = entries[: args.limit]
    if not entries:
        print("The journal is empty.", file=out)
        return 0
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.ts))
        if e.kind == "op":
            what = f"{e.label}  [{e.status}]"
        elif e.kind in ("undo", "redo"):
            what = f"{e.kind} of #{e.target}: {e.label}"
        else:
            what = e.label
        print(f"#{e.entry_id:<6} {when}  {e.kind:<6} {what}", file=out)
    return 0


def run_relink(args) -> int:
    with _open(args.project) as project:
        info = project.find_source(args.old)
        new = project.relink(info.id, args.new)
        print(f"Source {new.id} ({new.name}, {new.role}) now reads {new.path}.")
    return 0


def run_accept(args) -> int:
    from pathlib import Path

    with _open(args.project) as project:
        path = Path(args.file).expanduser()
        info = project.source_for_path(path) if path.is_file() else None
        if info is None:
            info = project.find_source(args.file)
            path = path if path.is_file() else None
        old_rows = info.rows
        new = project.accept_changed(info.id, path)
        set_aside = project.state.set_aside
        print(f"Source {new.id} ({new.name}) accepted as changed: {new.rows:,} rows (was {old_rows:,}), "
              f"sha256 {new.sha256[:12]}.")
        if set_aside:
            print(f"{set_aside:,} curation step part(s) made on the old content are set aside (kept in the journal, "
                  "not applied).")
    return 0
