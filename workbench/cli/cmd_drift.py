"""``workbench drift PROJECT``: the latest production snapshot against the one before.

Reads the stored analysis (no new layout, no re-clustering: the new inputs are placed into the
stored map by their nearest neighbours) and prints the table of :mod:`workbench.analysis.drift`:
clusters that grew or shrank (share before/after), new regions not seen before, inputs training
still does not cover, earlier gaps now covered, with the curator's cluster names and merges.
``--json FILE`` also writes it as JSON. ``workbench export --report`` has the same table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "drift", help="what changed in the latest production snapshot (grew/shrank, new regions, gaps)",
        description=("Compare the latest production snapshot (`workbench add PROJECT FILE --role production "
                     "--snapshot YYYY-MM-DD`) with the one before, on the stored analysis' map and clusters "
                     "(new inputs are placed by nearest neighbours; nothing is laid out again)."))
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("--json", metavar="FILE", default=None, help="also write the drift table as JSON (a new file)")
    p.add_argument("--model", default=None, help="embedding model (default: the project's)")
    p.add_argument("--device", default="auto", help="embedding device (default auto)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.analysis import drift
    from workbench.analysis import project_analysis as pa
    from workbench.cli.progressbar import ProgressBar
    from workbench.core.atomic import write_bytes
    from workbench.core.errors import InputError
    from workbench.project import Project
    from workbench.project.sources import default_project_path

    path = Path(args.project)
    if not path.exists() and default_project_path(path).exists():
        path = default_project_path(path)
    if args.json and Path(args.json).exists():
        raise InputError(f"{args.json} exists; --json writes a new file and never replaces one.")
    with Project.open(path, read_only=True) as project:
        ws = project.load()
        result = pa.load_stored(project)
        if result is None:
            raise drift.DriftError(f"Project '{project.path.name}' has no analysis results yet; run "
                                   f"`workbench analyze {args.project}` first.")
        bar = ProgressBar()
        encoder = pa.get_encoder_for(pa.project_model(project, args.model), args.device, progress=bar)
        bar.close()
        data = pa.AnalysisData.capture(ws)
        vecs, _ = pa.vectors(data, encoder, progress=bar)
        bar.close()
        d = drift.drift_of_stored(result, data, vecs, drift.snapshot_dates(project),
                                  cluster_edits=project.state.cluster_edits, progress=bar)
        bar.close()
    for line in drift.format_table(d):
        print(line)
    if args.json:
        write_bytes(args.json, (json.dumps(d.to_dict(), ensure_ascii=False, indent=1) + "\n").encode("utf-8"),
                    exclusive=True)
        print(f"Wrote {args.json}", file=sys.stderr)
    return 0
