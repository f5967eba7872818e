"""``workbench demo``: the headless tour on ``sample_data/`` with the default offline model.

Creates a fresh sample project under the workbench home (``demo/sample.wbproj``), adds the sample
training, production and eval files, runs ``workbench analyze`` on it and ``workbench export`` with
a split and the readiness report — the same code paths a user runs by hand — and prints where
everything went. The first run converts the default model to ONNX (about a minute on a laptop).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
from pathlib import Path

SAMPLE_SOURCES = (
    ("train_banking_chat.jsonl", "train"),
    ("train_dolly_alpaca.jsonl", "train"),
    ("production_banking.jsonl", "production"),
    ("eval_banking_chat.jsonl", "eval"),
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="headless tour: sample project -> analyze -> export with report",
        description=(
            "Build a sample project from sample_data/ (Banking77 and Dolly, with their licenses), "
            "analyse it and export it with a split and a readiness report, printing each step. "
            "Uses the default offline model; nothing is downloaded."
        ),
    )
    p.add_argument("--dir", metavar="DIR", default=None,
                   help="folder for the demo project and its outputs (default: WORKBENCH_HOME/demo; emptied first)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="encoder device (default auto)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.cli.main import main
    from workbench.core import paths
    from workbench.core.errors import InputError

    data = paths.sample_data_dir()
    missing = [name for name, _ in SAMPLE_SOURCES if not (data / name).exists()]
    if missing:
        raise InputError(f"sample data not found in {data}: {', '.join(missing)}")
    folder = Path(args.dir).expanduser() if args.dir else paths.home() / "demo"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    project = folder / "sample.wbproj"

    steps: list[list[str]] = [["new", str(project)]]
    steps += [["add", str(project), str(data / name), "--role", role] for name, role in SAMPLE_SOURCES]
    # no --out: results go to the project's own analysis folder, where the app and export find them
    analysis = folder / "sample.wbproj-data" / "analysis"
    steps.append(["analyze", str(project), "--device", args.device])
    steps.append(["export", str(project), "--out", str(folder / "export"), "--format", "chat",
                  "--split", "0.9", "--report", "--device", args.device])
    for argv in steps:
        print(f"\n$ workbench {' '.join(argv)}", flush=True)
        code = main(argv)
        if code not in (0, 1):  # 1 = done with warnings (e.g. bad lines reported)
            return code
    from workbench.cli.launcher import launcher

    wb, p = launcher(), shlex.quote(str(project))
    print(f"\nDemo done. Project: {project}\n"
          f"  analysis: {analysis} (examples.parquet, summary.json)\n"
          f"  export:   {folder / 'export'} (training JSONL as curated so far, manifest.json, report.html, "
          "findings.jsonl; its readiness verdict is printed above and on the report's first screen)\n"
          "Next:\n"
          f"  open it in the app:        {wb} {p}\n"
          f"  what is left to fix:       {wb} check {p}\n"
          f'  drop the eval leak:        {wb} reject {p} --leaked --reason "eval leak"')
    return 0
