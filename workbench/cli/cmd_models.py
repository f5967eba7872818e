"""``workbench models``: list, add, prepare and remove embedding models.

The list shows each converted model's dimension, maximum sequence length, pooling, precision
variants (with file size and the int8 model's measured agreement with the original) and the
device and precision that ``--device auto`` would run it with on this machine.
"""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "models",
        help="list embedding models and the device that would run them; add or remove models",
        description=(
            "List the converted embedding models (dimension, precision variants, device that would run "
            "them; when CUDA cannot be used, exactly which libraries are missing and where they come from). "
            "--add converts any sentence-transformers model folder to ONNX (fp32 + int8) offline; it needs "
            "PyTorch, an optional extra: pip install 'curation-workbench[convert]'. "
            "A Hugging Face hub id is downloaded only with --download, the one time the workbench "
            "contacts a model hub. The default model all-MiniLM-L6-v2 is built on first use without torch "
            "(or now, with --prepare)."
        ),
    )
    act = p.add_mutually_exclusive_group()
    act.add_argument("--add", metavar="PATH_OR_ID", help="convert a sentence-transformers folder (or hub id with --download)")
    act.add_argument("--remove", metavar="NAME", help="delete a converted model")
    act.add_argument("--prepare", action="store_true", help="convert the default model now (offline)")
    p.add_argument("--name", help="name for the model added with --add (default: the folder or repo name)")
    p.add_argument("--download", action="store_true", help="allow --add to download a hub id (needs network)")
    p.add_argument("--json", action="store_true", help="print the list as JSON (manifests + device)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workbench.cli.progressbar import ProgressBar
    from workbench.embed import model_registry

    if args.add:
        bar = ProgressBar()
        try:
            m = model_registry.add_model(args.add, name=args.name, download=args.download, progress=bar)
        finally:
            bar.close()
        print(f"added {m.name}: {_describe(m)}")
        return 0
    if args.remove:
        model_registry.remove_model(args.remove)
        print(f"removed {args.remove}")
        return 0
    if args.prepare:
        bar = ProgressBar()
        try:
            m = model_registry.ensure_model(None, progress=bar)
        finally:
            bar.close()
        print(f"ready: {m.name}: {_describe(m)}")
        return 0
    return _list(args)


def _describe(m) -> str:
    sizes = ", ".join(f"{p} {v['bytes'] / 1e6:.0f} MB" for p, v in m.variants.items())
    return f"{m.dimension}-d, max {m.max_seq_length} tokens, {m.pooling} pooling; {sizes}"


def _list(args) -> int:
    from workbench.embed import model_registry, providers
    from workbench.embed.encoder import resolve_precision

    choice = providers.resolve_device("auto")
    device = choice.device + (f" ({choice.reason})" if choice.reason else "")
    listed = model_registry.list_models()
    if args.json:
        out = {
            "device": choice.device,
            "device_reason": choice.reason,
            "onnxruntime": providers.onnxruntime_distribution(),
            "cuda_missing": providers.cuda_libraries() if choice.device != "cuda" else {},
            "models": [
                {**m.data, "path": str(m.dir), "would_run": resolve_precision(m, choice.device, "auto")}
                for m in listed
            ],
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"device (--device auto): {device}")
    print(f"model folder: {model_registry.paths.models_dir()}")
    names = {m.name for m in listed}
    if model_registry.DEFAULT_MODEL not in names:
        print(f"  {model_registry.DEFAULT_MODEL}  (default; not converted yet: converted offline on first use "
              "or with `workbench models --prepare`)")
    for m in listed:
        default = " (default)" if m.name == model_registry.DEFAULT_MODEL else ""
        prec = resolve_precision(m, choice.device, "auto")
        print(f"  {m.name}{default}")
        print(f"      {_describe(m)}")
        check = m.data.get("validation", {})
        agree = "; ".join(
            f"{p} vs original: cosine {v['mean_cos']:.4f} mean, {v['min_cos']:.4f} min"
            for p, v in check.items() if isinstance(v, dict) and "mean_cos" in v
        )
        if agree:
            print(f"      checked: {agree}")
        print(f"      would run on: {choice.device}, {prec}")
        print(f"      source: {_source(m.data.get('source', {}))}")
    for name in model_registry.broken_models():
        print(f"  {name}  (incomplete or corrupt: no manifest; remove with `workbench models --remove {name}`)")
    return 0


def _source(src: dict) -> str:
    kind = src.get("kind")
    if kind == "package":
        return f"package {src.get('package')} {src.get('version') or ''} ({src.get('upstream')}, {src.get('license')})"
    if kind == "hub":
        return f"hub {src.get('id')} @ {src.get('revision')}"
    return f"folder {src.get('path')}"
