"""``workbench cluster PROJECT rename ID NAME`` and ``workbench cluster PROJECT merge ID ID...
[--name NAME]``: the curator's cluster names and merges, each ONE journal entry (``workbench
undo PROJECT`` takes it back; ``workbench history`` shows it). ``workbench cluster PROJECT``
lists the clusters as the curator sees them. Cluster ids are those of the project's stored
analysis (``workbench analyze PROJECT``); the rule lives in :mod:`workbench.curate.clusters`."""

from __future__ import annotations

import argparse
import sys


def _cluster(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a cluster id is a number (see `workbench cluster PROJECT`), got {text!r}") from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cluster", help="rename or merge clusters (journalled, undoable)",
        description="List the clusters of the project's stored analysis, name one, or merge several into one "
                    "(the first id given). Each change is one journal entry: `workbench undo PROJECT` takes it back. "
                    "Names carry over a re-analysis (to the cluster holding most of the old one's members).")
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    sub = p.add_subparsers(dest="cluster_action", metavar="ACTION")
    r = sub.add_parser("rename", help="give a cluster a name", description="Give cluster ID the name NAME.")
    r.add_argument("id", metavar="ID", type=_cluster, help="the cluster id")
    r.add_argument("name", metavar="NAME", help="its new name")
    m = sub.add_parser("merge", help="merge clusters into the first one",
                       description="Merge the clusters into the first id given: all their members get that id.")
    m.add_argument("ids", metavar="ID", type=_cluster, nargs="+", help="two or more cluster ids; the first one stays")
    m.add_argument("--name", metavar="NAME", default=None, help="name the merged cluster")
    p.set_defaults(func=run)


def run(args) -> int:
    from workbench.cli.cmd_curate import _open
    from workbench.curate import actions
    from workbench.curate import clusters as cc

    action = getattr(args, "cluster_action", None)
    with _open(args.project, read_only=action is None) as project:
        ws = project.load()
        analysis = actions.stored_analysis(project, ws)
        if analysis is None:
            raise actions.NoAnalysisError(
                f"Project '{project.path.name}' has no analysis results yet; run `workbench analyze {args.project}` first.")
        if action is None:
            for f in sorted(analysis.clusters, key=lambda f: -len(f.rows)):
                cid = int(f.data.get("id", f.data.get("cluster", -1)))
                extra = f" (merged from {', '.join(map(str, f.data['merged_from']))})" if f.data.get("merged_from") else ""
                print(f"{cid:>5}  {len(f.rows):>7,}  {f.title}{extra}")
            return 0
        if action == "rename":
            op = cc.rename(analysis, args.id, args.name)
        else:
            if len(args.ids) < 2:
                print("workbench cluster: error: merge needs two or more cluster ids", file=sys.stderr)
                return 2
            op = cc.merge(analysis, args.ids, args.name)
        change = project.apply(op)
        print(f"{change.label} (journal entry {change.entry_id}). Undo with: workbench undo {args.project}")
    return 0
