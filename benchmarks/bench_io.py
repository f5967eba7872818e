"""IO benchmark: load and export a 1M-line chat JSONL, against pandas.read_json(lines=True).

The export timed is the real one (:func:`workbench.curate.export.run_export`, what ``workbench
export`` and the app's Export run) on a project holding the file as its training source, in each
format (source, chat, parquet); each writes its folder, manifest and hashes all-or-nothing.

    python benchmarks/bench_io.py            # 1,000,000 lines (the issue's size)
    python benchmarks/bench_io.py --quick    # 100,000 lines

The file is built in a temporary folder from real rows of ../shared/data (Dolly open_qa chat and
Banking77 intent chat, interleaved; a counter is appended to each user turn so no two lines are
equal), or from sample_data/ when ../shared/data is absent. Each reader runs in its own
subprocess, so its peak RSS (``ru_maxrss``, the whole process: interpreter, libraries and data) is
its own; times cover the call only (imports excluded) for both readers.

Targets (issue 2, on the 2-core dev machine): load <= 15 s within <= 3 GiB, faster than pandas;
export <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MARK = "\u0000COUNTER\u0000"


def source_rows() -> tuple[list[list[str]], str]:
    files = [SHARED / "dolly15k_open_qa" / "dolly_open_qa_chat.jsonl",
             SHARED / "banking77" / "banking77_train_intent_chat.jsonl"]
    label = "Dolly open_qa chat + Banking77 intent chat (../shared/data)"
    if not all(f.exists() for f in files):
        files = [ROOT / "sample_data" / "train_banking_chat.jsonl", ROOT / "sample_data" / "eval_banking_chat.jsonl"]
        label = "sample_data chat files (../shared/data absent)"
    return [f.read_text(encoding="utf-8").splitlines() for f in files], label


def templates(groups: list[list[str]]) -> list[tuple[str, str]]:
    """(prefix, suffix) per real row: line k = prefix + str(k) + suffix, the counter inside the
    last user turn."""
    out = []
    longest = max(len(g) for g in groups)
    for i in range(longest):
        for g in groups:
            rec = json.loads(g[i % len(g)])
            for m in reversed(rec["messages"]):
                if m["role"] == "user":
                    m["content"] += " #" + MARK
                    break
            line = json.dumps(rec, ensure_ascii=False)
            pre, suf = line.split(json.dumps(MARK)[1:-1])
            out.append((pre, suf))
    return out


def build(path: Path, n: int) -> str:
    groups, label = source_rows()
    tpl = templates(groups)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        buf = []
        for k in range(n):
            pre, suf = tpl[k % len(tpl)]
            buf.append(f"{pre}{k}{suf}\n")
            if len(buf) >= 50_000:
                f.write("".join(buf))
                buf = []
        f.write("".join(buf))
    return label


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


# ------------------------------------------------------------------------------------ children


class Timer:
    """Wall and CPU (user + system, all threads of this process) seconds of a step."""

    def __init__(self, res: dict, key: str):
        self.res, self.key = res, key

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.res[self.key] = time.perf_counter() - self.wall
        self.res[self.key + "_cpu"] = time.process_time() - self.cpu


def child_workbench(path: str, out_dir: str) -> dict:
    """Load with the reader, then the real export (``workbench export``'s code path: a project
    holding the file as its one training source, its workspace, a snapshot, ``run_export``) in
    each format."""
    sys.path.insert(0, str(ROOT))
    from workbench.curate.snapshot import CurationSnapshot
    from workbench.curate.export import ExportOptions, run_export
    from workbench.io.readers import read_source
    from workbench.project import Project

    res: dict = {}
    with Timer(res, "load_s"):
        src = read_source(path)
    res["load_rss"] = peak_rss()
    res["records"] = len(src)
    res["errors"] = len(src.errors)
    out = Path(out_dir)
    with Timer(res, "project_s"):
        with Project.create(out / "bench.wbproj") as project:
            project.add_source(path, "train", data=src)
            del src
            project.load()
            snap = CurationSnapshot.capture(project, None)
    for fmt in ("source", "chat", "parquet"):
        dest = out / f"export-{fmt}"
        with Timer(res, f"export_{fmt}_s"):
            done = run_export(snap, ExportOptions(dest, format=fmt))
        res[f"export_{fmt}_lines"] = done.counts["train_lines"]
        if fmt == "source":
            written = [f for f in done.files if f.suffix == ".jsonl"]
            res["export_identical"] = len(written) == 1 and written[0].read_bytes() == Path(path).read_bytes()
        for f in dest.iterdir():
            f.unlink()
    res["peak_rss"] = peak_rss()
    return res


def child_pandas(path: str) -> dict:
    import pandas as pd

    res: dict = {"pandas": pd.__version__}
    with Timer(res, "load_s"):
        df = pd.read_json(path, lines=True)
    res.update(load_rss=peak_rss(), records=len(df))
    return res


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------ main


def gib(b: int) -> str:
    return f"{b / 2**30:.2f} GiB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100,000 lines instead of 1,000,000")
    ap.add_argument("--lines", type=int, help="number of lines (overrides --quick)")
    ap.add_argument("--no-pandas", action="store_true", help="skip the pandas baseline")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        res = child_workbench(*rest) if kind == "workbench" else child_pandas(*rest)
        print(json.dumps(res))
        return 0

    n = args.lines or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="bench_io_") as tmp:
        path = Path(tmp) / "input_chat.jsonl"
        t = time.perf_counter()
        label = build(path, n)
        build_s = time.perf_counter() - t
        size = path.stat().st_size
        print(f"bench_io: {n:,}-line chat JSONL ({size / 2**20:.0f} MiB) from {label}; built in {build_s:.1f} s")
        print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}, "
              f"Python {sys.version.split()[0]}")
        wb = run_child("workbench", str(path), tmp)
        pdres = None if args.no_pandas else run_child("pandas", str(path))

    assert wb["records"] == n and wb["errors"] == 0, wb

    def secs(res: dict, key: str) -> tuple[str, str]:
        return f"{res[key]:.2f}", f"{res[key + '_cpu']:.2f}"

    rows = [("load: workbench read_source", *secs(wb, "load_s"), gib(wb["load_rss"]), "<= 15 s, <= 3 GiB")]
    if pdres:
        rows.append((f"load: pandas {pdres['pandas']} read_json(lines=True)", *secs(pdres, "load_s"),
                     gib(pdres["load_rss"]), "baseline"))
        rows.append(("ratio pandas / workbench", f"{pdres['load_s'] / wb['load_s']:.2f}x",
                     f"{pdres['load_s_cpu'] / wb['load_s_cpu']:.2f}x",
                     f"{pdres['load_rss'] / wb['load_rss']:.2f}x", "> 1 (workbench faster)"))
    rows += [
        ("project: create, add source, load, snapshot", *secs(wb, "project_s"), "", ""),
        ("export --format source (run_export)", *secs(wb, "export_source_s"), "", "<= 10 s"),
        ("export --format chat (run_export)", *secs(wb, "export_chat_s"), "", "<= 10 s"),
        ("export --format parquet (run_export)", *secs(wb, "export_parquet_s"), "", ""),
        ("workbench peak RSS over load + project + all exports", "", "", gib(wb["peak_rss"]), "<= 3 GiB"),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"\n{'step':<{w}}  {'wall s':>8}  {'CPU s':>8}  {'peak RSS':>10}  target")
    for name, sec, cpu, rss, target in rows:
        print(f"{name:<{w}}  {sec:>8}  {cpu:>8}  {rss:>10}  {target}")
    print("(wall = elapsed; CPU = user + system time of the process, what the step costs when the "
          "machine is not shared)")
    print(f"\nsource-format export byte-identical to the input: {wb['export_identical']}")
    for fmt in ("source", "chat", "parquet"):
        assert wb[f"export_{fmt}_lines"] == n, (fmt, wb[f"export_{fmt}_lines"])
    ok = wb["load_s"] <= 15 and wb["load_rss"] <= 3 * 2**30 and wb["export_source_s"] <= 10 \
        and wb["export_chat_s"] <= 10 and wb["peak_rss"] <= 3 * 2**30 and (pdres is None or pdres["load_s"] > wb["load_s"])
    print("targets met" if ok else "TARGETS MISSED (see above)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
