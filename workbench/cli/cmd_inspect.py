"""``workbench inspect FILE``: what a data file holds and every line that could not be loaded.

Exit status: 0 = every record loaded; 1 = loaded, but some lines were reported (they are listed
as ``FILE:LINE: reason``); 2 = the file cannot be used at all (missing, unreadable, binary, no
record loaded, or ``--strict`` stopped at a bad line). The human listing shows the first
``--max-errors`` errors (default 50) and a "... and N more" line; ``--json`` always gives all.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from workbench.cli import argtypes
from workbench.core.errors import InputError, WorkbenchError
from workbench.io.source_data import SCHEMAS, UNITS, SourceData

DEFAULT_MAX_ERRORS = 50
DISTINCT_CAP = 1000  # distinct values counted per extra field (more shows as ">1000")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="show a data file's format, record count, field statistics and bad lines",
        description=(
            "Read a data file (JSONL, JSON array, CSV/TSV or Parquet; OpenAI chat, ShareGPT, Alpaca, "
            "prompt/completion or plain text records) and print its detected format, record count, "
            "field statistics and every line that could not be loaded as FILE:LINE: reason. "
            "Exit status: 0 all records loaded, 1 some lines reported, 2 the file cannot be used."
        ),
    )
    p.add_argument("file", metavar="FILE", help="data file to inspect")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (keys: format, records, errors = [{line, reason}], ...) "
                        "listing every error")
    p.add_argument("--schema", choices=SCHEMAS, help="read records as this schema instead of detecting it")
    p.add_argument("--unit", choices=UNITS, default="last_user",
                   help="what counts as the prompt of a multi-turn chat (default: last_user)")
    p.add_argument("--map", action="append", default=[], metavar="KEY=FIELD", type=argtypes.mapping,
                   help=argtypes.MAP_HELP)
    p.add_argument("--strict", action="store_true", help="stop at the first bad line (exit status 2)")
    p.add_argument("--max-errors", type=argtypes.whole(0), default=DEFAULT_MAX_ERRORS, metavar="N",
                   help=f"errors listed in the human output (default {DEFAULT_MAX_ERRORS}; --json lists all)")
    p.set_defaults(func=run)


def parse_mapping(items: list) -> dict[str, str] | None:
    """``--map`` values (see :func:`workbench.cli.argtypes.mapping`) merged into one mapping."""
    try:
        return argtypes.merged(items)
    except argparse.ArgumentTypeError as exc:
        raise WorkbenchError(f"--map: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from workbench.cli.progressbar import ProgressBar
    from workbench.io.readers import read_source

    mapping = parse_mapping(args.map)
    bar = ProgressBar() if not args.json else None
    try:
        src = read_source(args.file, schema=args.schema, unit=args.unit, mapping=mapping,
                          strict=args.strict, progress=bar)
    except InputError as exc:
        if bar:
            bar.close()
        if not args.json:
            raise
        errors = getattr(exc, "errors", None)
        if errors is None and getattr(exc, "line", None):
            errors = [exc]
        out = {
            "file": args.file, "format": None, "records": 0,
            "errors": [{"line": e.line, "reason": e.reason} for e in (errors or [])],
            "fatal": exc.user_message,
        }
        print(json.dumps(out, ensure_ascii=False))
        return 2
    if bar:
        bar.close()
    report = summary(src)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, default=str))
    else:
        print_report(report, src, args.max_errors)
    return 1 if src.errors else 0


# ---------------------------------------------------------------------------------------- statistics


def _text_stats(values: list[str]) -> dict[str, Any]:
    lengths = [len(v) for v in values if v]
    return {
        "present": len(lengths),
        "empty": len(values) - len(lengths),
        "mean_length": round(sum(lengths) / len(lengths), 1) if lengths else 0,
        "max_length": max(lengths) if lengths else 0,
    }


def _extra_stats(values: list[Any]) -> dict[str, Any]:
    present = [v for v in values if v is not None]
    types = sorted({type(v).__name__ for v in present})
    out: dict[str, Any] = {"present": len(present), "types": types}
    strings = [v for v in present if isinstance(v, str)]
    if strings:
        lengths = [len(v) for v in strings]
        out["mean_length"] = round(sum(lengths) / len(lengths), 1)
        out["max_length"] = max(lengths)
    distinct: set = set()
    for v in present:
        try:
            distinct.add(v)
        except TypeError:
            distinct.add(json.dumps(v, sort_keys=True, default=str))
        if len(distinct) > DISTINCT_CAP:
            break
    out["distinct"] = len(distinct) if len(distinct) <= DISTINCT_CAP else f">{DISTINCT_CAP}"
    if len(distinct) <= 20 and present:
        counts: dict[str, int] = {}
        for v in present:
            k = v if isinstance(v, str) else json.dumps(v, default=str)
            counts[k] = counts.get(k, 0) + 1
        out["top"] = dict(sorted(counts.items(), key=lambda kv: -kv[1])[:10])
    return out


def summary(src: SourceData) -> dict[str, Any]:
    """The ``--json`` object (also what the human report prints)."""
    from workbench.io.schemas import SCHEMA_TITLES

    n_turns = src.n_turns
    hist: dict[str, int] = {}
    if len(n_turns):
        import numpy as np

        values, counts = np.unique(n_turns, return_counts=True)
        hist = {str(int(v)): int(c) for v, c in zip(values, counts)}
    return {
        "file": str(src.path),
        "format": src.schema,
        "format_title": SCHEMA_TITLES.get(src.schema, src.schema),
        "container": src.container,
        "records": len(src),
        "lines": src.total_lines,
        "bad_lines": len(src.errors),
        "unit": src.unit,
        "mapping": src.mapping,
        "notes": src.notes,
        "fields": {
            "system": _text_stats(src.system),
            "prompt": _text_stats(src.prompt),
            "response": _text_stats(src.response),
        },
        "extra_fields": {k: _extra_stats(v) for k, v in src.extra.items()},
        "turns": {
            "min": int(n_turns.min()) if len(n_turns) else 0,
            "mean": round(float(n_turns.mean()), 2) if len(n_turns) else 0,
            "max": int(n_turns.max()) if len(n_turns) else 0,
            "histogram": hist,
        },
        "roles": src.stats.get("roles", {}),
        "errors": [{"line": e.line, "reason": e.reason} for e in src.errors],
    }


def print_report(report: dict[str, Any], src: SourceData, max_errors: int, out=None) -> None:
    out = out or sys.stdout
    w = out.write
    w(f"{report['file']}\n")
    w(f"  format:   {report['format_title']} ({report['format']}, {report['container']})\n")
    bad = f", {report['bad_lines']} bad" if report["bad_lines"] else ""
    unit = "rows" if src.container == "parquet" else ("elements" if src.container == "json" else "lines")
    w(f"  records:  {report['records']:,} loaded of {report['lines']:,} {unit}{bad}\n")
    if report["mapping"]:
        optional = ("system", "input", "history")
        main = [f"{k} <- {v!r}" for k, v in report["mapping"].items() if k not in optional]
        opt = [f"{k} <- {v!r}" for k, v in report["mapping"].items() if k in optional]
        w("  fields:   " + ", ".join(main) + (f"  (optional: {', '.join(opt)})" if opt else "") + "\n")
    w(f"  unit:     {report['unit']}\n")
    for note in report["notes"]:
        w(f"  note:     {note}\n")
    t = report["turns"]
    hist = ", ".join(f"{k} turns: {v:,}" for k, v in list(report["turns"]["histogram"].items())[:8])
    w(f"  turns:    min {t['min']}, mean {t['mean']}, max {t['max']}  ({hist})\n")
    if report["roles"]:
        w("  roles:    " + ", ".join(f"{r} {c:,}" for r, c in report["roles"].items()) + "\n")
    width = max([14] + [len(name) + 8 for name in report["extra_fields"]])
    w(f"\n  {'field':<{width}} {'present':>9} {'empty':>9} {'mean len':>10} {'max len':>10}\n")
    for name, s in report["fields"].items():
        w(f"  {name:<{width}} {s['present']:>9,} {s['empty']:>9,} {s['mean_length']:>10} {s['max_length']:>10,}\n")
    for name, s in report["extra_fields"].items():
        label = f"{name} (extra)"
        lens = f"{s['mean_length']:>10} {s['max_length']:>10,}" if "mean_length" in s else f"{'-':>10} {'-':>10}"
        w(f"  {label:<{width}} {s['present']:>9,} {len(src) - s['present']:>9,} {lens}   "
          f"{'/'.join(s['types']) or '-'}, {s['distinct']} distinct\n")
    errors = src.errors
    if errors:
        w(f"\n{len(errors):,} bad line(s):\n")
        for e in errors[:max_errors]:
            w(f"{e}\n")
        if len(errors) > max_errors:
            w(f"... and {len(errors) - max_errors:,} more (use --json to list all)\n")
