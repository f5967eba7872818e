"""``workbench eval-set PROJECT --out DIR``: an eval set drawn from the project's production inputs.

Stratified by production cluster (``--per-cluster`` floor, the rest of ``--size`` in proportion),
every coverage gap included and marked, nothing near a training prompt (the analysis' leak rule),
no two near-copies except inside a paraphrase group (shared ``group`` id), reproducible from
``--seed``. The rules live in :mod:`workbench.curate.eval_set`; this module only parses arguments.

``--pin FILE`` / ``--exclude FILE`` / ``--clear FILE`` (``SOURCE:LINE`` per line, as for
``workbench reject --lines``) record the curator's choice as ONE journal entry
(``workbench undo PROJECT`` takes it back); with ``--out`` the set is then drawn with it.

``--answers FILE`` records reference answers for production inputs that need one, as ONE
journal entry: JSONL, one object per line, ``{"source": NAME or id, "line": N, "answer": TEXT}``
(``"answer": ""`` clears it), or the eval set's own records with an assistant turn filled in
(a pipeline can write ``eval_set.jsonl`` back with answers; records without one are skipped).
A drawn input with a reference answer is written with it as its assistant turn and
``"reference": true``; the manifest counts them.
The analysis is brought up to date first (stored results are reused when nothing changed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.cli import argtypes


def register(subparsers) -> None:
    from workbench.curate import eval_set as es

    p = subparsers.add_parser(
        "eval-set", help="draw an eval set from production inputs (stratified, leak-free, paraphrase groups)",
        description=("Draw an eval set from the project's production inputs: stratified by production cluster "
                     "(a floor per cluster, the rest in proportion), coverage gaps included and marked, no input "
                     "near a training prompt (the leak rule), no two near-copies except inside a paraphrase "
                     "group. Writes DIR/eval_set.jsonl and DIR/manifest.json (all or nothing; DIR must be new, "
                     "empty or an earlier output of this tool)."))
    p.add_argument("project", metavar="PROJECT", help="project file (.wbproj)")
    p.add_argument("--out", metavar="DIR", help="output folder")
    p.add_argument("--size", type=argtypes.whole(1), default=es.DEFAULT_SIZE, metavar="N",
                   help=f"number of inputs (default {es.DEFAULT_SIZE}; floors may add more)")
    p.add_argument("--per-cluster", type=argtypes.whole(0), default=es.DEFAULT_PER_CLUSTER, metavar="MIN",
                   help=f"at least this many inputs from every production cluster and coverage gap "
                        f"(default {es.DEFAULT_PER_CLUSTER})")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--group-share", type=float, default=es.DEFAULT_GROUP_SHARE, metavar="F",
                   help=f"share of each cluster's inputs drawn as paraphrase groups (default {es.DEFAULT_GROUP_SHARE})")
    p.add_argument("--group-size", type=int, default=es.DEFAULT_GROUP_SIZE, metavar="K",
                   help=f"largest paraphrase group (default {es.DEFAULT_GROUP_SIZE})")
    p.add_argument("--paraphrase-sim", type=float, default=es.DEFAULT_PARAPHRASE_SIM, metavar="COS",
                   help=f"least prompt cosine between members of a group (default {es.DEFAULT_PARAPHRASE_SIM})")
    marks = p.add_mutually_exclusive_group()
    marks.add_argument("--pin", metavar="FILE", help="always draw the production inputs listed in FILE (SOURCE:LINE)")
    marks.add_argument("--exclude", metavar="FILE", help="never draw the production inputs listed in FILE")
    marks.add_argument("--clear", metavar="FILE", help="clear the pin/exclude mark of the inputs listed in FILE")
    p.add_argument("--reason", default="", metavar="TEXT", help="why (journalled with --pin/--exclude/--clear)")
    p.add_argument("--answers", metavar="FILE",
                   help='record reference answers (one undoable journal entry): JSONL lines {"source": NAME, '
                        '"line": N, "answer": TEXT} ("" clears), or eval_set.jsonl records with an assistant '
                        'turn filled in; drawn inputs are then written with their answer as the assistant turn '
                        'and "reference": true')
    p.add_argument("--model", default=None, help="embedding model (default: the project's)")
    p.add_argument("--device", default="auto", help="embedding device (default auto)")
    p.set_defaults(func=run)


def _open(path: str, read_only: bool):
    from workbench.project import Project
    from workbench.project.sources import default_project_path

    p = Path(path)
    if not p.exists() and default_project_path(p).exists():
        p = default_project_path(p)
    return Project.open(p, read_only=read_only)


def _mark(project, ws, args) -> None:
    from workbench.core.errors import InputError
    from workbench.curate import actions
    from workbench.curate.eval_set import mark_op

    mark, path = (("pin", args.pin) if args.pin else ("exclude", args.exclude) if args.exclude else ("", args.clear))
    sel = actions.read_refs(ws, path)
    rows = sel.rows
    roles = ws.role[rows] if len(rows) else rows
    bad = [int(r) for r, role in zip(rows.tolist(), list(roles)) if role != "production"]
    if bad:
        raise InputError(f"{len(bad)} example(s) listed in {Path(path).name} are not production inputs "
                         f"(e.g. {ws.source_name(bad[0])}:{ws.example_id(bad[0])[1]}); only production inputs "
                         "are drawn into an eval set.")
    if not len(rows):
        print(f"{Path(path).name} lists no examples; nothing recorded.")
        return
    change = project.apply(mark_op(ws.example_ids(rows.tolist()), mark, args.reason))
    print(f"{change.label}. Journal entry {change.entry_id}. Undo with: workbench undo {args.project}")


def _answer(project, args, items, skipped) -> None:
    from workbench.curate.eval_answers import answer_op

    name = Path(args.answers).name
    if skipped:
        print(f"{skipped:,} line(s) of {name} have no answer (no \"answer\", no assistant turn): skipped.")
    if not items:
        print(f"{name} holds no reference answers; nothing recorded.")
        return
    cleared = sum(1 for _, t in items if not t.strip())
    change = project.apply(answer_op(items, f"Reference answers from {name} ({len(items):,} inputs"
                                             + (f", {cleared} cleared" if cleared else "") + ")"))
    print(f"{change.label}. Journal entry {change.entry_id}. Undo with: workbench undo {args.project}")


def run(args: argparse.Namespace) -> int:
    from workbench.analysis import project_analysis as pa
    from workbench.cli.progressbar import ProgressBar
    from workbench.core.errors import InputError
    from workbench.curate import eval_set as es

    marking = bool(args.pin or args.exclude or args.clear)
    answering = bool(args.answers)
    if not marking and not answering and not args.out:
        raise InputError("Name the output folder with --out DIR (or record a choice with --pin/--exclude/--clear FILE "
                         "or reference answers with --answers FILE).")
    options = es.EvalSetOptions(size=args.size, per_cluster=args.per_cluster, seed=args.seed,
                                group_share=args.group_share, group_size=args.group_size,
                                paraphrase_sim=args.paraphrase_sim)
    options.validate()
    with _open(args.project, read_only=not (marking or answering)) as project:
        ws = project.load()
        if answering:  # read and checked before anything is journalled
            from workbench.curate.eval_answers import read_answers

            items, skipped = read_answers(ws, args.answers)
        if marking:
            _mark(project, ws, args)
        if answering:
            _answer(project, args, items, skipped)
        if not args.out:
            return 0
        bar = ProgressBar()
        encoder = pa.get_encoder_for(pa.project_model(project, args.model), args.device, progress=bar)
        bar.close()
        print("Bringing the analysis up to date (stored results are reused when nothing changed) ...", file=sys.stderr)
        analysis = pa.analyse(pa.AnalysisData.capture(ws), pa.project_params(project), pa.results_dir(project),
                              encoder=encoder, progress=bar)
        bar.close()
        inp = es.inputs_from_analysis(analysis, ws, dict(project.state.eval_marks), dict(project.state.eval_answers))
        drawn = es.draw_eval_set(inp, options, progress=bar)
        bar.close()
        res = analysis.result
        manifest = es.write_eval_set(
            args.out, inp, drawn, project=str(project.path),
            analysis={"revision": res.revision, "cache_key": res.cache_key, "encoder": res.summary.get("encoder", "")},
            protected=[project.path, *(s.path for s in ws.sources)])
    c = manifest["counts"]
    print(f"Eval set: {c['drawn']:,} production inputs from {c['clusters']} clusters "
          f"({c['in_groups']:,} in {c['groups']} paraphrase groups, {c['gap_inputs']:,} coverage-gap inputs, "
          f"{c['pinned']} pinned, {c['reference_answers']:,} with a reference answer).")
    print(f"Left out: {c['near_train']:,} near a training prompt, {c['rejected']:,} rejected, "
          f"{c['excluded_by_curator']:,} excluded by the curator.")
    for w in manifest["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    out = Path(args.out)
    print(f"Wrote {out / es.EVAL_FILE} and {out / 'manifest.json'} (seed {options.seed}).")
    return 0
