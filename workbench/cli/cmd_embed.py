"""``workbench embed FILE|PROJECT``: embed prompts (or responses) with the cached encoder.

Prints the device that ran (and why CUDA was not used, if so), how many distinct texts were
encoded and how many came from the cache, and the encoder's texts/s. With ``--out`` it writes a
float32 ``.npy`` matrix with one row per record in file order (for a project: every source in
project order, then added examples), for notebooks and other tools. Rows whose chosen field is
empty (e.g. ``--field response`` on a record without a response) are zero vectors.

``--engine ray`` runs the model on a Ray cluster (:mod:`workbench.embed.ray_engine`, extra
``[cluster]``): it embeds what ``workbench analyze`` and the app embed (the prompts and the
non-empty responses, with the project's model and the precision this machine would use) into
this machine's embedding cache, so analysing or opening the project afterwards encodes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from workbench.core.errors import InputError, WorkbenchError
from workbench.io.source_data import SCHEMAS, UNITS

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "int8", "fp32", "fp16")
ENGINES = ("local", "ray")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "embed",
        help="embed a data file's or project's prompts/responses (cached; reports device and speed)",
        description=(
            "Embed the prompts (or responses) of a data file or a .wbproj project with an ONNX model "
            "(default all-MiniLM-L6-v2, converted offline on first use). Vectors are cached by model and "
            "exact text, so a second run only embeds new or changed texts. Device: CUDA when it really "
            "works, else CPU (--device auto); --device cuda fails with the reason when CUDA is unusable. "
            "Precision: auto = int8 on CPU (fastest; cosine ~0.994 vs the original model), fp16 on GPU; "
            "fp32 = exact."
        ),
    )
    p.add_argument("path", metavar="FILE|PROJECT", help="data file (JSONL, JSON, CSV, Parquet) or .wbproj project")
    p.add_argument("--model", default=None, metavar="M",
                   help="model name from `workbench models` (default: all-MiniLM-L6-v2)")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto: CUDA if a session really starts on it, else CPU (default); cuda: GPU or an error")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: int8 on CPU, fp16 on GPU (default); fp32: exact similarities, ~2-3x slower on CPU")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="texts per model call (default 32 on CPU, 256 on GPU)")
    p.add_argument("--field", choices=("prompt", "response"), default="prompt",
                   help="what to embed (default: prompt)")
    p.add_argument("--out", metavar="VECTORS.npy", default=None,
                   help="write a float32 (records x dim) .npy matrix, one row per record in file order")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the embedding cache")
    r = p.add_argument_group("embedding on a Ray cluster (pip install 'curation-workbench[cluster]')")
    r.add_argument("--engine", choices=ENGINES, default="local",
                   help="local: this machine (default); ray: a Ray cluster fills this machine's cache with the "
                        "prompts and responses that analyze and the app embed")
    r.add_argument("--address", default=None, metavar="ADDR",
                   help="Ray cluster to join (ray://HEAD:10001, HEAD:6379 or auto; default: $RAY_ADDRESS, "
                        "else a local Ray instance)")
    r.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="N",
                   help="GPUs per Ray worker (e.g. 1 or 0.5); 0 = CPU workers (default)")
    r.add_argument("--workers", type=int, default=None, metavar="N",
                   help="Ray workers (default: cluster GPUs / --gpus-per-worker, else cluster CPUs / 2)")
    g = p.add_argument_group("reading a data file (ignored for projects)")
    g.add_argument("--schema", choices=SCHEMAS, help="read records as this schema instead of detecting it")
    g.add_argument("--unit", choices=UNITS, default="last_user",
                   help="what counts as the prompt of a multi-turn chat (default: last_user)")
    g.add_argument("--map", action="append", default=[], metavar="KEY=FIELD",
                   help="field or column for a part of the record, e.g. --map prompt=question")
    p.set_defaults(func=run)


def _is_project(path: Path) -> bool:
    from workbench.project import EXTENSION

    return path.suffix.lower() == EXTENSION


def _load_file(args, bar) -> tuple[list[str], list[str], str]:
    from workbench.cli.cmd_inspect import parse_mapping
    from workbench.io.readers import read_source

    data = read_source(args.path, schema=args.schema, unit=args.unit, mapping=parse_mapping(args.map), progress=bar)
    note = ""
    if data.errors:
        note = (f"{len(data.errors)} line(s) could not be loaded and have no row "
                f"(see `workbench inspect {args.path}`)")
    if len(data) == 0:
        raise InputError(f"{args.path}: no record could be loaded")
    return data.prompt, data.response, note


def _load_project(args, bar) -> tuple[list[str], list[str], str]:
    from workbench.analysis.project_analysis import project_model
    from workbench.project import Project

    with Project.open(args.path, read_only=True) as project:
        ws = project.load(progress=bar)
        args.model = project_model(project, args.model)  # the model analyze and the app use
        return list(ws.prompt), list(ws.response), ""


def _run_ray(args, prompts: list[str], responses: list[str], encoder, bar) -> None:
    """Fill the cache on a Ray cluster with every text analyze would embed; print what it did."""
    from workbench.embed.ray_engine import embed_on_ray

    if args.no_cache:
        raise WorkbenchError("--engine ray writes the embedding cache; it cannot be used with --no-cache")
    if args.workers is not None and args.workers < 1:
        raise WorkbenchError("--workers must be at least 1")
    texts = list(prompts) + [r for r in responses if r and r.strip()]
    stats = embed_on_ray(texts, encoder, address=args.address, workers=args.workers,
                         gpus_per_worker=args.gpus_per_worker, progress=bar)
    bar.close()
    speed = f", {stats.texts_per_second:,.0f} texts/s" if stats.encoded else ""
    print(f"ray:       {stats.encoded:,} texts encoded on {stats.device if stats.encoded else 'no worker'}{speed}, "
          f"{stats.cached:,} already cached ({stats.seconds:.1f} s; prompts and responses, into this "
          "machine's cache)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from workbench.cli.progressbar import ProgressBar
    from workbench.embed import embed_texts, get_encoder

    path = Path(args.path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if args.batch_size is not None and args.batch_size < 1:
        raise WorkbenchError("--batch-size must be at least 1")
    out_path = Path(args.out) if args.out else None
    if out_path is not None and out_path.suffix.lower() != ".npy":
        raise WorkbenchError("--out must name a .npy file")

    bar = ProgressBar()
    t0 = time.perf_counter()
    try:
        prompts, responses, note = (_load_project if _is_project(path) else _load_file)(args, bar)
        texts = prompts if args.field == "prompt" else responses
        has = np.array([bool(t.strip()) for t in texts], dtype=bool)
        encoder = get_encoder(args.model, device=args.device, precision=args.precision, progress=bar)
        if args.engine == "ray":
            _run_ray(args, prompts, responses, encoder, bar)
        rows = np.flatnonzero(has)
        vecs, stats = embed_texts([texts[i] for i in rows], encoder, cache=False if args.no_cache else None,
                                  batch_size=args.batch_size, progress=bar)
    finally:
        bar.close()

    if out_path is not None:
        from workbench.io.writers import atomic_writer

        if len(rows) == len(texts):
            matrix = vecs
        else:
            matrix = np.zeros((len(texts), encoder.dim), dtype=np.float32)
            matrix[rows] = vecs
            del vecs
        with atomic_writer(out_path, "wb") as f:
            np.save(f, matrix, allow_pickle=False)

    device = encoder.device + (f" ({encoder.device_reason})" if encoder.device_reason else "")
    print(f"model:     {encoder.name} ({encoder.precision}, {encoder.dim}-d)")
    print(f"device:    {device}")
    print(f"records:   {len(texts):,} ({args.field}s; {len(texts) - len(rows):,} empty -> zero vectors)")
    speed = f", {stats.texts_per_second:,.0f} texts/s" if stats.encoded else ""
    print(f"texts:     {stats.encoded:,} encoded{speed}, {stats.cached:,} from cache "
          f"({stats.encoded + stats.cached:,} distinct)")
    print(f"time:      {time.perf_counter() - t0:.1f} s")
    if out_path is not None:
        print(f"vectors:   {out_path} ({len(texts):,} x {encoder.dim} float32, one row per record in file order)")
    for w in stats.warnings + ([note] if note else []):
        print(f"warning: {w}", file=sys.stderr)
    return 0
