"""``workbench check PROJECT``: is the curated data ready for fine-tuning?

Prints the readiness verdict (:mod:`workbench.curate.readiness`): each check with its count,
why it matters and the command that fixes it. Exit status: 0 ready, 1 not ready, 2 error.

The project's stored analysis is used as it is (``workbench analyze PROJECT`` brings it up to
date); whether it is current is decided by the one staleness check of the analysis service, which
needs the prompt vectors: they come from the embedding cache (the model is loaded, nothing is
re-encoded when the texts were embedded before). ``--no-model`` skips that: staleness is then
judged by rows missing from the analysis only, and leakage by its text tests plus the analysis'
own leaks.

``--findings FILE`` writes every finding as ``SOURCE:LINE`` lines with the reason above each
(the format ``workbench reject PROJECT --lines FILE`` reads); ``--only KEY`` limits it to checks.
``--json`` prints the whole verdict as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CHECK_KEYS = ("analysis", "leakage", "duplicates", "conflicts", "mismatches", "flags", "gaps", "replay",
              "small_clusters")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "check", help="is the curated data ready for fine-tuning? (exit 0 ready, 1 not, 2 error)",
        description=("Print the readiness verdict: eval leakage into training, duplicates left, unresolved "
                     "conflicts and mismatched answers, flagged examples (PII first), production gaps, replay "
                     "data, small clusters, a stale analysis; each with why it matters and the command that "
                     "fixes it. Thresholds are project settings readiness.<name>. Exit 0 when ready, 1 when "
                     "not, 2 on error."))
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON (every finding)")
    p.add_argument("--findings", metavar="FILE", default=None,
                   help="write every finding as SOURCE:LINE lines (input for `workbench reject --lines`)")
    p.add_argument("--only", action="append", choices=CHECK_KEYS, default=None, metavar="CHECK",
                   help=f"with --findings: only these checks (repeat; {', '.join(CHECK_KEYS)})")
    p.add_argument("--no-model", action="store_true",
                   help="do not load the embedding model (staleness and leakage then less exact; see --help)")
    p.set_defaults(func=run)


def _encoder(project, progress=None):
    """The project's encoder, or None (with a note) when the model cannot be had."""
    from workbench.analysis import project_analysis as pa
    from workbench.core.errors import WorkbenchError

    try:
        return pa.get_encoder_for(pa.project_model(project), "auto", "auto", progress=progress)
    except WorkbenchError as exc:
        print(f"note: the embedding model is not available ({exc.user_message}); staleness and leakage "
              "are judged without it", file=sys.stderr)
        return None


def _embed_fn(encoder):
    from workbench.embed import embed_texts

    def embed(texts, progress=None, cancel=None):
        return embed_texts(list(texts), encoder, progress=progress, cancel=cancel)[0]

    return embed


def verdict_for(project, ws=None, *, use_model: bool = True, progress=None):
    """The readiness verdict of an open project as it is now (stored analysis, journal applied)."""
    from workbench.analysis import project_analysis as pa
    from workbench.curate.snapshot import CurationSnapshot
    from workbench.curate.readiness import assess

    ws = ws if ws is not None else project.load(progress=progress)
    stored = pa.load_stored(project)
    status = None if stored is not None else "none"
    embed = None
    encoder = _encoder(project, progress) if stored is not None and use_model else None
    if encoder is not None:
        inp, _ = pa.prepare_input(pa.AnalysisData.capture(ws), encoder, progress=progress)
        status = pa.stored_status(pa.results_dir(project), inp, pa.project_params(project))
        if status == "none":  # results there but no readable cache record: not current
            status = "stale"
        embed = _embed_fn(encoder)
    snap = CurationSnapshot.capture(project, stored, embed=embed, workspace=ws)
    return assess(snap, analysis_status=status)


def leaked_selection(project, ws, analysis, *, include_rejected: bool = False, progress=None):
    """``workbench reject --leaked``'s selection (:func:`workbench.curate.readiness.leaked_selection`)
    with the embedding tests when the model is at hand."""
    from workbench.curate.snapshot import CurationSnapshot
    from workbench.curate.readiness import leaked_selection as select

    encoder = _encoder(project, progress)
    snap = CurationSnapshot.capture(project, analysis, embed=_embed_fn(encoder) if encoder else None,
                                    workspace=ws)
    return select(ws, analysis, snap, include_rejected=include_rejected)


def run(args: argparse.Namespace) -> int:
    from workbench.cli.progressbar import ProgressBar
    from workbench.curate.readiness import write_findings_list
    from workbench.project import Project
    from workbench.project.project import default_project_path

    bar = ProgressBar()
    with Project.open(default_project_path(args.project), read_only=True) as project:
        verdict = verdict_for(project, use_model=not args.no_model, progress=bar)
    bar.close()
    if args.json:
        print(json.dumps(verdict.to_dict(limit=None), ensure_ascii=False, indent=1))
    else:
        from workbench.cli.launcher import launcher

        print(verdict.text(command=launcher()))
    if args.findings:
        n = write_findings_list(verdict, Path(args.findings).expanduser(), args.only)
        print(f"Findings: {n:,} examples listed in {args.findings} "
              f"(reject them with: workbench reject {args.project} --lines {args.findings} --reason TEXT)",
              file=sys.stderr)
    return 0 if verdict.ready else 1
