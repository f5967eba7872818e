"""``workbench export``: write the curated training set, its manifest and (optionally) a report.

    workbench export PROJECT --out DIR_OR_FILE [--format source|chat|parquet] [--weights repeat|field]
                     [--split 0.9] [--rebalance production|uniform] [--mix FILE:RATIO]... [--report]

A plain export (no --split/--rebalance/--mix/--report) needs no analysis and no model: rejected
examples are left out, edits applied, weights applied, added examples included.

**Analysis.** ``--rebalance`` needs clusters, ``--split`` stratifies by cluster, ``--report``
shows the map and the findings. With any of these three the export first brings the project's
analysis up to date through the project analysis service
(:mod:`workbench.analysis.project_analysis`: the same embedding rule, the project's parameters and
the same cache key as ``workbench analyze`` and the app; stored results are reused when nothing
changed) and keeps it in the project's analysis folder (setting
``analysis.dir``, default ``PROJECT-data/analysis``; ``--analysis DIR`` to choose). With
``--no-analysis`` it never runs the analysis: ``--rebalance`` then fails with a message,
``--split`` keeps exact duplicates together but is not stratified, the report has no map.
``--mix`` needs only embeddings (the encoder with its cache), not the analysis.

**Rebalance** is applied to the project as one undoable step ("Rebalance to production
shares") before the export, so the manifest lists each capped example with the op id; undo it
in the app (Edit > Undo) to go back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli import argtypes


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export",
        help="write the curated training set (JSONL/Parquet) with manifest.json and a readiness report",
        description=(
            "Export the project's training examples: rejected ones left out, edits applied, "
            "weights applied as repeats (or a field), added examples included; optionally a "
            "train/validation split stratified by cluster (duplicate groups never straddle it), "
            "a rebalance toward production or uniform cluster shares, a replay mix of reference "
            "data, and report.html. Files are written atomically: an interrupted export leaves "
            "the previous one intact. manifest.json beside the data records inputs with sha256, "
            "model, thresholds, every removal and edit with its reason and op id, and counts "
            "that add up."
        ),
    )
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the export folder: it gets the data files, manifest.json and report.html, all "
                        "replaced together in one step; it must be new, empty or a previous export of this "
                        "tool (a folder holding any other file, e.g. your sources, is refused)")
    p.add_argument("--format", choices=("source", "chat", "parquet"), default=None,
                   help="source: each record in its file's own format, untouched records byte-identical "
                        "(a folder gets one file per train source); chat: OpenAI chat JSONL; parquet. "
                        "Default: source")
    p.add_argument("--weights", choices=("repeat", "field"), default="repeat",
                   help="repeat: an example of weight w is written round(w) times (default); "
                        "field: written once with a \"weight\" key")
    p.add_argument("--split", type=argtypes.fraction, default=None, metavar="FRACTION",
                   help="train fraction of a train/validation split, e.g. 0.9 (stratified by cluster)")
    p.add_argument("--seed", type=argtypes.SEED, default=0, help="seed of the split, 0 or more (default 0)")
    p.add_argument("--rebalance", choices=("production", "uniform"), default=None,
                   help="first rebalance the clusters toward production or uniform shares "
                        "(applied to the project as one undoable step)")
    p.add_argument("--max-weight", type=argtypes.whole(1), default=3, metavar="N",
                   help="rebalance: repeat an under-represented example at most N times (default 3)")
    p.add_argument("--min-keep", type=argtypes.whole(0), default=5, metavar="N",
                   help="rebalance: never cap a cluster below N examples (default 5)")
    p.add_argument("--mix", action="append", default=[], metavar="FILE:RATIO",
                   help="replay mix: add RATIO (0.1 or 10%%) of the training lines from a reference "
                        "source of the project or any data file, sampled for diversity (may repeat)")
    p.add_argument("--report", action="store_true", help="also write report.html (self-contained)")
    p.add_argument("--fail-on-warnings", action="store_true",
                   help="refuse to export (exit 1, nothing written, a previous export left intact) when the "
                        "readiness verdict is 'not ready' (see `workbench check`); brings the analysis up to date")
    a = p.add_argument_group("analysis and embedding")
    a.add_argument("--analysis", metavar="DIR", default=None,
                   help="analysis results folder to use/update (default: the project's analysis folder)")
    a.add_argument("--no-analysis", action="store_true",
                   help="never run the analysis (see above for what then changes)")
    a.add_argument("--model", default=None, help="embedding model (default: the analysis' model or the built-in one)")
    a.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="encoder device (default auto)")
    a.add_argument("--precision", choices=("auto", "int8", "fp32", "fp16"), default="auto",
                   help="encoder precision (default auto)")
    p.set_defaults(func=run)


def _default_format(out: str) -> str:
    return "source"


def _embedder(args, bar, project):
    """An encoder-backed ``embed(texts, progress=, cancel=)`` (the on-disk cache makes repeats free)
    over the project's model (``--model`` for this export only)."""
    from workbench.analysis.project_analysis import get_encoder_for, project_model
    from workbench.embed import embed_texts

    encoder = get_encoder_for(project_model(project, args.model), args.device, args.precision, progress=bar)
    bar.close()

    def embed(texts, progress=None, cancel=None):
        vecs, _ = embed_texts(list(texts), encoder, progress=progress or bar, cancel=cancel)
        bar.close()
        return vecs

    return encoder, embed


def _analysis(project, ws, args, encoder, embed, bar):
    """Bring the project's analysis up to date (reused when nothing changed) and return it: the
    project analysis service, with the project's parameters, as in the app and `analyze`."""
    from workbench.analysis import project_analysis as pa

    out = Path(args.analysis).expanduser() if args.analysis else pa.results_dir(project)
    print("Bringing the analysis up to date (stored results are reused when nothing changed) ...", file=sys.stderr)
    result = pa.analyse(pa.AnalysisData.capture(ws), pa.project_params(project), out, encoder=encoder,
                        progress=bar).result
    bar.close()
    print(f"Analysis {'reused' if result.reused else 'written'}: {out}", file=sys.stderr)
    return result


def run(args: argparse.Namespace) -> int:
    from workbench.cli.progressbar import ProgressBar
    from workbench.core.errors import WorkbenchError
    from workbench.curate.snapshot import CurationSnapshot
    from workbench.curate.export import ExportOptions, run_export
    from workbench.curate.mix import MixSpec
    from workbench.project import Project
    from workbench.project.project import default_project_path

    fmt = args.format or _default_format(args.out)
    mix = [MixSpec.parse(m) for m in args.mix]
    options = ExportOptions(Path(args.out), format=fmt, weights=args.weights, split=args.split,
                            seed=args.seed, mix=mix, report=args.report, fail_on_warnings=args.fail_on_warnings)
    options.validate()
    if args.rebalance and args.no_analysis:
        raise WorkbenchError("--rebalance needs the analysis (clusters); drop --no-analysis.")
    wants_analysis = not args.no_analysis and bool(args.rebalance or args.split or args.report
                                                   or args.fail_on_warnings)
    bar = ProgressBar()
    with Project.open(default_project_path(args.project), read_only=not args.rebalance) as project:
        ws = project.load(progress=bar)
        bar.close()
        embed = result = None
        if wants_analysis or mix:
            encoder, embed = _embedder(args, bar, project)
        if wants_analysis:
            result = _analysis(project, ws, args, encoder, embed, bar)
        elif args.analysis:
            from workbench.analysis.pipeline import AnalysisResult

            result = AnalysisResult.read(Path(args.analysis).expanduser(), with_graph=False)
        if args.rebalance:
            options.rebalance = _rebalance(project, ws, result, embed, args, bar)
        snap = CurationSnapshot.capture(project, result, embed=embed)
    if wants_analysis:
        options.analysis_status = "current"  # brought up to date above
    res = run_export(snap, options, progress=bar)
    bar.close()
    _print_result(res, args.project)
    return 0


def _rebalance(project, ws, result, embed, args, bar) -> dict:
    from workbench.curate.snapshot import CurationSnapshot
    from workbench.curate.rebalance import plan_project_rebalance

    snap = CurationSnapshot.capture(project, result, embed=embed)
    plan = plan_project_rebalance(snap, args.rebalance, max_weight=args.max_weight, min_keep=args.min_keep,
                                  progress=bar)
    bar.close()
    print(f"{plan.label}: distance to target {plan.distance_before:.3f} -> {plan.distance_after:.3f} "
          f"(total variation); {plan.n_rejected} capped, {plan.n_reweighted} reweighted")
    for need in plan.needs_new_data[:10]:
        label = f" ({need.label})" if need.label else ""
        print(f"  needs new data: cluster {need.cluster}{label}: short by {need.shortfall:.0f} — {need.reason}")
    if plan.is_empty:
        print("  nothing to change: every cluster is on target")
    else:
        change = project.apply(plan.to_batch(ws.example_id))
        print(f"  applied as op {change.op_id} (undo it in the app: Edit > Undo '{plan.label}')")
    return plan.to_dict()


def _print_result(res, project: str = "PROJECT") -> None:
    c = res.counts
    print(f"Exported {c['exported_train']:,} training examples as {c['train_lines']:,} lines "
          f"({c['repeats']:,} repeats, {c['mix']:,} replay mix)"
          + (f" and {c['validation']:,} validation examples" if c["validation"] else "")
          + f"; {c['rejected']:,} rejected left out.")
    for f in res.files:
        print(f"  {f}")
    print(f"Manifest: {res.manifest_path}")
    if res.report_path is not None:
        print(f"Report:   {res.report_path}")
    for w in res.manifest.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    if res.readiness is not None:  # the verdict last, where a newcomer looks
        from workbench.cli.launcher import launcher

        print(res.readiness.headline() + (f" Details: {launcher()} check {project}; manifest.json 'readiness'."
                                          if not res.readiness.ready else ""))
