"""Journal benchmark: durable commit latency of one op, and replay time when opening a project.

    python benchmarks/bench_journal.py [--quick] [--ops 100000]

Baselines in the same run: the same op committed with ``synchronous=OFF`` (no fsync: what
durability costs), and reading + parsing the journal rows without applying them (what replay
costs above I/O). Prints a table.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.project import Project  # noqa: E402
from workbench.project.journal import Batch, Reject, SetWeight, Tag  # noqa: E402
from workbench.project.project_file import _append  # noqa: E402

SAMPLE = ROOT / "sample_data" / "train_banking_chat.jsonl"


def _latencies(p: Project, n: int, rng: random.Random) -> list[float]:
    out = []
    for k in range(n):
        op = Reject([(1, rng.randint(1, 900))], "dup") if k % 2 else Tag([(1, rng.randint(1, 900))], "t")
        t = time.perf_counter()
        p.apply(op)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _fill(p: Project, n: int, rng: random.Random) -> None:
    """Append ``n`` resolved ops straight into the journal in one transaction (fast setup)."""
    conn = p._store.conn
    conn.execute("BEGIN")
    for k in range(n):
        ids = [(1, rng.randint(1, 900)) for _ in range(rng.randint(1, 3))]
        r = rng.random()
        op = Reject(ids, "dup") if r < 0.4 else Tag(ids, "t") if r < 0.7 else SetWeight(ids, 2.0) if r < 0.95 \
            else Batch([Reject(ids[:1], "a"), Tag(ids, "b")], "batch")
        resolved, _ = p.state.apply(op)
        _append(conn, "op", resolved.label, resolved.to_json())  # with its checksum, as apply() writes it
    conn.execute("COMMIT")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    ap.add_argument("--ops", type=int, default=100_000, help="journal size for the replay measurement")
    args = ap.parse_args()
    n_lat = 50 if args.quick else 300
    n_ops = 10_000 if args.quick else args.ops
    rng = random.Random(7)
    rows = []
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
        path = Path(tmp) / "bench.wbproj"
        p = Project.create(path)
        p.add_source(SAMPLE, "train")
        p.load()
        durable = _latencies(p, n_lat, rng)
        p._store.conn.execute("PRAGMA synchronous=OFF")
        nosync = _latencies(p, n_lat, rng)
        p._store.conn.execute("PRAGMA synchronous=FULL")
        t = time.perf_counter()
        for _ in range(20):
            p.undo()
        undo_ms = (time.perf_counter() - t) * 1000 / 20
        bulk_ids = [(1, i) for i in range(1, 914)]
        t = time.perf_counter()
        p.apply(Reject(bulk_ids, "bulk"))
        bulk_ms = (time.perf_counter() - t) * 1000
        rows.append(("apply 1 op, durable (median)", f"{statistics.median(durable):.2f} ms",
                     f"{statistics.median(nosync):.2f} ms no fsync", statistics.median(durable) / statistics.median(nosync)))
        rows.append(("apply 1 op, durable (p95)", f"{sorted(durable)[int(0.95 * n_lat)]:.2f} ms",
                     f"{sorted(nosync)[int(0.95 * n_lat)]:.2f} ms no fsync", None))
        rows.append(("undo 1 op, durable (mean)", f"{undo_ms:.2f} ms", "", None))
        rows.append(("apply Reject of 913 ids", f"{bulk_ms:.2f} ms", "", None))
        _fill(p, n_ops, rng)
        p.close()
        del p
        gc.collect()

        t = time.perf_counter()
        with Project.open(path) as q:
            open_s = time.perf_counter() - t
            n_effective = len(q.effective_ops())
            t = time.perf_counter()
            q.load()
            load_s = time.perf_counter() - t
        import orjson

        with Project.open(path, read_only=True) as q:
            gc.disable()  # as replay does
            t = time.perf_counter()
            parsed = [orjson.loads(row.payload) for row in q._store.journal() if row.payload]
            parse_s = time.perf_counter() - t
            gc.enable()
            del parsed
        rows.append((f"open + replay {n_effective:,} ops", f"{open_s:.2f} s", f"{parse_s:.2f} s read+parse only",
                     open_s / parse_s))
        rows.append(("load workspace (913 rows, state applied)", f"{load_s * 1000:.0f} ms", "", None))
        rows.append(("project file size", f"{path.stat().st_size / 1e6:.1f} MB", "", None))

    print(f"{'measure':<42} {'workbench':>12}  {'baseline':<28} ratio")
    for name, value, base, ratio in rows:
        print(f"{name:<42} {value:>12}  {base:<28} {'' if ratio is None else f'{ratio:.1f}x'}")


if __name__ == "__main__":
    main()
