"""``workbench analyze``: the whole analysis, headless, on data files or on a project.

    workbench analyze --train FILE [--production FILE]... [--eval FILE]... [--reference FILE]... --out DIR
    workbench analyze PROJECT --out DIR

Loads the sources, embeds them by the one embedding rule (prompts of every row, responses that
hold more than whitespace; :mod:`workbench.analysis.project_analysis`) with the embedding cache,
runs the pipeline with a progress line per phase, writes ``DIR/examples.parquet`` and
``DIR/summary.json`` (schema: see the README / the docstring of ``workbench.analysis.pipeline``)
and prints a short human summary. A re-run with unchanged inputs and parameters reuses the stored
results; with other thresholds it reuses the graph, map and clusters. After the data changed the
stored map is kept (rows still there keep their place and cluster; new rows are placed beside
their nearest neighbours) when at least half of the rows persist, else laid out afresh and
aligned to it; ``--relayout`` asks for the fresh, aligned layout (see
:mod:`workbench.analysis.map_continuity`).

With a PROJECT everything goes through the project analysis service, exactly as in the desktop
app: the parameters are the project's (defaults <- project settings <- the options given here),
the results go to the project's own analysis folder unless ``--out`` says otherwise, and the
options given here (``--near-dup``, ``--model``, ...) are **saved into the project settings**, so
the app and ``workbench export`` use the same parameters afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROLE_OPTIONS = ("train", "production", "eval", "reference")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="map, clusters, duplicates, conflicts, coverage gaps, leakage and quality flags",
        description=(
            "Analyse data files (--train/--production/--eval/--reference, each may repeat) or a "
            "project: embed the prompts, build the neighbour graph, the map (UMAP) and clusters "
            "(HDBSCAN) and find duplicates, conflicts, coverage gaps against production, eval "
            "leakage and quality flags. Writes OUT/examples.parquet (one row per example) and "
            "OUT/summary.json (findings, each example as source file + line) and prints a summary. "
            "Results in OUT are reused when inputs and parameters are unchanged."
        ),
    )
    p.add_argument("project", nargs="?", metavar="PROJECT",
                   help="project file (.wbproj) to analyse instead of --train/... files")
    for role in ROLE_OPTIONS:
        p.add_argument(f"--{role}", action="append", default=[], metavar="FILE",
                       help=f"{role} data file (JSONL, JSON, CSV/TSV, Parquet; may repeat)")
    p.add_argument("--out", metavar="DIR",
                   help="folder for the results (created if needed); required with data files. For a "
                        "project it defaults to the project's own analysis folder "
                        "(NAME.wbproj-data/analysis), where the app and `workbench export` find it")
    g = p.add_argument_group("embedding")
    g.add_argument("--model", default=None, help="embedding model (default: the built-in all-MiniLM-L6-v2)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to run the encoder (default auto: CUDA when it really works, else CPU)")
    g.add_argument("--precision", choices=("auto", "int8", "fp32", "fp16"), default="auto",
                   help="encoder precision (default auto: int8 on CPU, fp16 on GPU)")
    g.add_argument("--unit", choices=("last_user", "all_user", "conversation"), default="last_user",
                   help="what is embedded as a chat example's prompt (files only; default last_user)")
    a = p.add_argument_group("analysis")
    a.add_argument("--seed", type=int, default=None, help="random seed of map and clusters (default 42)")
    a.add_argument("--neighbours", type=int, default=None, metavar="K",
                   help="neighbours per example in the graph (default 15)")
    a.add_argument("--min-cluster-size", type=int, default=None, metavar="N",
                   help="smallest cluster (default: about N/400, between 8 and 500)")
    a.add_argument("--cluster-dims", type=int, choices=(2, 5, 10), default=None,
                   help="cluster the 2-D map (default) or a separate 5-/10-D UMAP (BERTopic style; "
                        "slower, slightly finer on some data)")
    a.add_argument("--assign-noise", action="store_true",
                   help="give examples HDBSCAN leaves unclustered the nearest cluster")
    a.add_argument("--near-dup", type=float, default=None, metavar="COS",
                   help="near-duplicate prompt cosine threshold (default: the measured one)")
    a.add_argument("--gap-sim", type=float, default=None, metavar="COS",
                   help="a production input is always a gap input when no train prompt is this similar "
                        "(otherwise its gap score decides, see analysis/coverage.py)")
    a.add_argument("--conflict-sim", type=float, default=None, metavar="COS",
                   help="prompts at least this similar must have agreeing responses")
    a.add_argument("--queue-size", type=int, default=None, metavar="N", help="review queue length")
    a.add_argument("--force", action="store_true",
                   help="recompute from scratch even if OUT holds matching results (the stored map is "
                        "not continued: a fresh layout, not aligned; see --relayout)")
    a.add_argument("--relayout", action="store_true",
                   help="lay the map out afresh instead of keeping it: by default a re-analysis keeps "
                        "the stored map (rows still there keep their place and cluster, new rows are "
                        "placed beside their nearest neighbours); with --relayout UMAP runs again and the "
                        "new map is aligned to the stored one, clusters keeping their ids where they "
                        "hold most of an old cluster's members")
    p.epilog = ("With a PROJECT, the analysis options and --model given are saved into the project's "
                "settings (as the app's Analysis settings dialog does), so the app and `workbench export` "
                "use them too.")
    p.add_argument("--top", type=int, default=5, metavar="N", help="items shown per finding (default 5)")
    p.set_defaults(func=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The analysis parameters given on the command line (only those given)."""
    changes: dict[str, Any] = {}
    for opt, name in (("seed", "seed"), ("neighbours", "k"), ("min_cluster_size", "min_cluster_size"),
                      ("cluster_dims", "cluster_dims"),
                      ("near_dup", "near_dup_threshold"), ("gap_sim", "gap_sim"),
                      ("conflict_sim", "conflict_prompt_sim"), ("queue_size", "queue_size")):
        value = getattr(args, opt)
        if value is not None:
            changes[name] = value
    if args.assign_noise:
        changes["assign_noise"] = True
    return changes


def _load_files(args, bar) -> list[tuple[Any, str]]:
    from workbench.core.errors import InputError
    from workbench.io.readers import read_source

    sources = []
    for role in ROLE_OPTIONS:
        for name in getattr(args, role):
            path = Path(name).expanduser()
            data = read_source(path, unit=args.unit, progress=bar)
            bar.close()
            if data.errors:
                first = data.errors[0]
                print(f"{path.name}: {len(data.errors)} bad line(s) skipped (first: {first}); "
                      f"see `workbench inspect {name}`", file=sys.stderr)
            if len(data) == 0:
                raise InputError(f"{path.name}: no record could be loaded")
            sources.append((data, role))
    return sources


def _analyse_project(args, bar, out: Path | None):
    """``analyze PROJECT``: through the project analysis service, like the app."""
    from workbench.analysis import project_analysis as pa
    from workbench.core.errors import ProjectLockedError
    from workbench.project import Project
    from workbench.project.project import default_project_path

    path = default_project_path(args.project)
    overrides = _overrides(args)
    with Project.open(path, read_only=True) as project:
        before = pa.project_params(project).to_dict()
        changed = {k: v for k, v in pa.project_params(project, overrides).to_dict().items() if before[k] != v}
        new_model = args.model if args.model and args.model != pa.project_model(project) else None
    if changed or new_model:
        try:  # the options given become the project's settings (see the module doc)
            with Project.open(path) as project:
                pa.save_params(project, overrides)
                if new_model:
                    project.settings.set(pa.MODEL_SETTING, new_model)
            saved = [f"{k} = {v}" for k, v in changed.items()] + ([f"model = {new_model}"] if new_model else [])
            print(f"Saved to the project's analysis settings: {', '.join(saved)}", file=sys.stderr)
        except ProjectLockedError:
            print("note: the project is open for writing elsewhere, so these options were not saved "
                  "into its settings; the app will report these results as not matching its settings.",
                  file=sys.stderr)
    with Project.open(path, read_only=True) as project:
        params = pa.project_params(project, overrides)
        out = out or pa.results_dir(project)
        ws = project.load(progress=bar)
        bar.close()
        data = pa.AnalysisData.capture(ws)
        encoder = pa.get_encoder_for(pa.project_model(project, args.model), args.device, args.precision,
                                     progress=bar)
        bar.close()
    outcome = pa.analyse(data, params, out, encoder=encoder, force=args.force, relayout=args.relayout,
                         progress=bar)
    bar.close()
    return outcome.result, out, encoder, outcome.embed_stats


def run(args: argparse.Namespace) -> int:
    from workbench.analysis import project_analysis as pa
    from workbench.analysis.pipeline import AnalysisInput, AnalysisParams, analyze
    from workbench.cli.progressbar import ProgressBar
    from workbench.core.errors import InputError

    files = [f for role in ROLE_OPTIONS for f in getattr(args, role)]
    if args.project and files:
        raise InputError("Give either a PROJECT or data files (--train/--production/...), not both.")
    if not args.project and not files:
        raise InputError("Nothing to analyse: give a PROJECT or at least one --train FILE.")
    if not args.project and not args.out:
        raise InputError("Say where the results go: --out DIR (needed when analysing data files).")
    t0 = time.monotonic()
    bar = ProgressBar()
    out = Path(args.out).expanduser() if args.out else None
    if args.project:
        result, out, encoder, stats = _analyse_project(args, bar, out)
    else:
        sources = _load_files(args, bar)
        encoder = pa.get_encoder_for(args.model, args.device, args.precision, progress=bar)
        bar.close()
        pv, rv, stats = pa.embed_rows([p for d, _ in sources for p in d.prompt],
                                      [r for d, _ in sources for r in d.response], encoder, progress=bar)
        bar.close()
        inp = AnalysisInput.from_sources(sources, pv, rv, encoder=encoder.fingerprint)
        if args.force:
            from workbench.analysis.pipeline import CACHE_FILE

            (out / CACHE_FILE).unlink(missing_ok=True)
        result = analyze(inp, AnalysisParams(**_overrides(args)), out, relayout=args.relayout, progress=bar)
        bar.close()
    print_summary(result, out, encoder=encoder, embed_stats=stats, seconds=time.monotonic() - t0,
                  top=args.top)
    return 0


# --------------------------------------------------------------------------------------------
def _where(ref: dict[str, Any]) -> str:  # the source label is unique among the sources
    return f"{ref['source']}:{ref['line']}"


def _short(text: str | None, n: int = 70) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def print_summary(result, out: Path, *, encoder=None, embed_stats=None, seconds: float = 0.0,
                  top: int = 5, stream=None) -> None:
    """The short human summary printed at the end of ``workbench analyze``."""
    w = stream or sys.stdout
    s = result.summary
    c = s["counts"]
    roles = ", ".join(f"{n:,} {r}" for r, n in c["by_role"].items())
    print(f"Analysed {c['examples']:,} examples ({roles}) in {seconds:.1f} s", file=w)
    if encoder is not None:
        emb = f"; {embed_stats[0]:,} texts embedded, {embed_stats[1]:,} from cache" if embed_stats else ""
        print(f"Encoder: {encoder.name} on {encoder.device} ({encoder.precision}){emb}", file=w)
    how = "reused (inputs and parameters unchanged)" if result.reused else "written"
    print(f"Results {how}: {out / 'examples.parquet'}, {out / 'summary.json'}", file=w)

    mp = s.get("map") or {}
    if mp.get("text"):
        print(f"Map: {mp['text']}", file=w)
    noise = f"{c['noise']:,} unclustered" + (" (assigned to nearest)" if c.get("noise_assigned") else "")
    print(f"\nClusters: {c['clusters']} ({noise})", file=w)
    for cl in s["clusters"][:top]:
        print(f"  {cl['id']:>4}  {cl['size']:>7,}  {cl['label']}", file=w)

    d = s["duplicates"]
    scopes = ", ".join(f"{k} {v}" for k, v in list(d.get("by_scope", {}).items())[:4])
    print(f"\nDuplicate groups: {d['n_groups']:,} ({d['n_removable']:,} removable rows"
          + (f"; {scopes}" if scopes else "") + f"; near = cosine >= {d['threshold']:.2f})", file=w)
    for g in d["groups"][:top]:
        print(f"  {g['size']} x {g['scope']} ({g['kind']}): keep {_where(g['keeper'])}", file=w)

    cf = s["conflicts"]
    if cf.get("skipped"):
        print(f"\nConflicts: not computed ({cf['skipped']})", file=w)
    else:
        print(f"\nConflicts: {cf['n_conflicts']:,}", file=w)
        for it in cf["conflicts"][:top]:
            print(f"  {_where(it['example'])} (score {it['score']:.2f}): {_short(it['reason'], 110)}", file=w)

    gp = s["gaps"]
    print(f"\nCoverage gaps: {len(gp['gaps'])} ({gp['n_gap_inputs']:,} production inputs far from "
          f"training)", file=w)
    for g in gp["gaps"][:top]:
        where = g.get("cluster_label") or g["region"]
        ex = g["examples"][0]["text"] if g.get("examples") else ""
        print(f"  {g['kind']}: {where} — {g['n_affected']} inputs, add ~{g['suggested_add']}"
              + (f' (e.g. "{_short(ex, 50)}")' if ex else ""), file=w)
    if gp.get("unreached"):
        print(f"  {len(gp['unreached'])} training cluster(s) that production never reaches", file=w)

    lk = s["leakage"]
    print(f"\nLeakage: {lk['n_leaked']:,} of {lk['n_eval']:,} eval examples found in train", file=w)
    for it in lk["leaks"][:top]:
        print(f"  {_where(it['example'])} ~ {_where(it['train_match'])} ({'+'.join(it.get('kinds', []))})", file=w)

    fl = s["flags"]["counts"]
    if fl:
        print("\nQuality flags: " + ", ".join(f"{f['flag']} {f['count']:,}" for f in fl[:8]), file=w)
    q = s["queue"]["queue"]
    if q:
        print(f"Review queue: {len(q)} production inputs ranked for labelling "
              f"(first: {_where(q[0]['example'])})", file=w)
    times = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items() if v >= 0.05)
    if times and not result.reused:
        print(f"\nPhase times: {times}", file=w)
