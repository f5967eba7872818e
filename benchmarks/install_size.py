"""How much a fresh install of the project downloads, from the public package index only.

Runs ``pip install --isolated --dry-run --ignore-installed --report`` of a project folder (and
optional extras) in a new virtualenv, so no local wheel, constraint or cache takes part, then sums
the sizes of the wheels pip chose (one HTTP HEAD request per chosen file; ``--report`` itself
lists files, not sizes). Prints the total, the packages, and the ten largest.

    python benchmarks/install_size.py [PROJECT_DIR] [--extras convert,cluster] [--baseline OLD_DIR]

With ``--baseline`` the same is measured for an older checkout in the same run and the ratio is
printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def resolve(project: Path, extras: str, venv: Path) -> list[dict]:
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    target = str(project) + (f"[{extras}]" if extras else "")
    with tempfile.NamedTemporaryFile(suffix=".json") as rep:
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--isolated", "--dry-run",
                        "--ignore-installed", "-q", "--report", rep.name, target], check=True)
        return json.loads(Path(rep.name).read_text())["install"]


def size(url: str) -> int:
    if not url.startswith("http"):
        return 0  # the project itself (a local folder)
    req = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(req, timeout=60) as r:
        return int(r.headers.get("Content-Length", 0))


def measure(project: Path, extras: str, venv: Path) -> tuple[int, list[tuple[str, int]]]:
    items = resolve(project, extras, venv)
    names = [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in items]
    with ThreadPoolExecutor(8) as pool:
        sizes = list(pool.map(size, [i["download_info"]["url"] for i in items]))
    return sum(sizes), sorted(zip(names, sizes), key=lambda x: -x[1])


def report(label: str, total: int, rows: list[tuple[str, int]]) -> None:
    print(f"{label}: {len(rows)} packages, {total / 1e6:,.0f} MB of wheels")
    for name, s in rows[:10]:
        print(f"    {s / 1e6:9,.1f} MB  {name}")
    nvidia = [n for n, _ in rows if n.lower().startswith(("nvidia", "triton", "torch"))]
    print(f"    torch/triton/nvidia-*: {len(nvidia)} packages")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("project", nargs="?", default=str(Path(__file__).resolve().parents[1]))
    ap.add_argument("--extras", default="", help="comma-separated extras, e.g. convert,cluster")
    ap.add_argument("--baseline", default=None, help="an older checkout to measure in the same run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        total, rows = measure(Path(args.project).resolve(), args.extras, venv)
        report(f"{args.project} [{args.extras}]", total, rows)
        if args.baseline:
            btotal, brows = measure(Path(args.baseline).resolve(), "", venv)
            report(f"baseline {args.baseline}", btotal, brows)
            print(f"ratio (this / baseline): {total / btotal:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
