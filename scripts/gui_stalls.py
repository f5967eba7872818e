"""GUI-thread stalls of the real window at the moments a curator waits on (issue 13 item 11).

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/gui_stalls.py [SCENARIO ...] [--runs N]

Scenarios (each run in a fresh process, so nothing is warm but the disk caches and the shared
embedding cache, as for a curator who starts the app):

* ``open``     open the sample project whose analysis is stored (``workbench analyze`` made it);
* ``add``      with it open, add a 300,000-row file (real Banking77/CLINC150 queries, repeated) as
               production data: the file is read, hashed and loaded, the stored analysis reopened;
* ``analyse``  open the sample project without results and run the analysis (Ctrl+R) until the
               map shows it;
* ``export``   with the sample project open and analysed, export it (Export dialog);
* ``big``      a 100,000-row project built from ../shared/data (Banking77 + CLINC150 + Dolly +
               Self-Instruct + OASST1 in train, CLINC150 out-of-scope and PAWS-Wiki sentences plus
               repeated intent queries as production): open it and analyse it in the window.

A 10 ms ``QTimer`` records how late it fires (``LagMonitor`` of ``scripts/real_window_session.py``)
from the start of the scenario's step until the window is idle again. One JSON line per run:
longest stall, p99, count over 200 / 500 ms, and for each stall over 200 ms what the other
threads were running just before it (the GIL holder) or where the GUI thread was.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "data"
SCENARIOS = ("open", "add", "analyse", "export", "big")
SAMPLE = [("train_banking_chat.jsonl", "train"), ("train_dolly_alpaca.jsonl", "train"),
          ("production_banking.jsonl", "production"), ("eval_banking_chat.jsonl", "eval")]


# -- data and projects (made with the CLI, in other processes) ------------------------------------
def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "workbench.cli.main", *args], check=True, stdout=subprocess.DEVNULL,
                   cwd=ROOT)


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _intents() -> list[tuple[str, str]]:
    out = []
    for f in ("banking77/banking77_train.jsonl", "banking77/banking77_test.jsonl", "clinc150/clinc150_train.jsonl",
              "clinc150/clinc150_val.jsonl", "clinc150/clinc150_test.jsonl"):
        out += [(r["text"], r["label"]) for r in _rows(SHARED / f)]
    return out


def sample_project(folder: Path, analyse: bool) -> Path:
    from workbench.core import paths

    data = paths.sample_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sample.wbproj"
    _cli("new", str(path))
    for name, role in SAMPLE:
        _cli("add", str(path), str(data / name), "--role", role)
    if analyse:
        _cli("analyze", str(path))
    return path


def big_file(folder: Path, n: int = 300_000) -> Path:
    path = folder / f"production_{n // 1000}k.jsonl"
    if not path.exists():
        intents = _intents()
        with open(path, "w", encoding="utf-8") as f:
            for k in range(n):
                f.write(json.dumps({"text": intents[k % len(intents)][0]}) + "\n")
    return path


def big_project(folder: Path, n: int = 100_000) -> Path:
    """``n`` real rows: every intent query (with its intent as the answer), Dolly, Self-Instruct and
    OASST1 in train; out-of-scope queries, PAWS-Wiki sentences and intent queries again (as users
    repeat them) in production. Every text is a real one (the shared embedding cache knows them)."""
    train, prod = folder / "big_train.jsonl", folder / "big_production.jsonl"
    intents = _intents()
    with open(train, "w", encoding="utf-8") as f:
        for text, label in intents:
            f.write(json.dumps({"instruction": text, "output": label}) + "\n")
        for r in _rows(SHARED / "dolly15k_open_qa/dolly_open_qa_alpaca.jsonl"):
            f.write(json.dumps({"instruction": r["instruction"], "output": r["output"]}) + "\n")
        for name in ("self_instruct_seed_alpaca.jsonl", "self_instruct_user_oriented_alpaca.jsonl"):
            for r in _rows(SHARED / "self_instruct" / name):
                f.write(json.dumps({"instruction": r["instruction"], "input": r.get("input", ""),
                                    "output": r["output"]}) + "\n")
    n_train = sum(1 for _ in open(train, encoding="utf-8"))
    chat = folder / "big_chat.jsonl"  # OASST1 conversations: a chat source of their own
    oasst = _rows(SHARED / "oasst1_en_val/oasst1_en_val_chat.jsonl")
    with open(chat, "w", encoding="utf-8") as f:
        for r in oasst:
            f.write(json.dumps(r) + "\n")
    n_train += len(oasst)
    texts = [r["text"] for f in ("clinc150_oos_train", "clinc150_oos_val", "clinc150_oos_test")
             for r in _rows(SHARED / "clinc150" / f"{f}.jsonl")]
    for f in ("paws_wiki_dev", "paws_wiki_test"):
        for r in _rows(SHARED / "paws_wiki" / f"{f}.jsonl"):
            texts += [r["sentence1"], r["sentence2"]]
    rng = random.Random(0)
    extra = [t for t, _ in intents]
    rng.shuffle(extra)
    texts += extra[: max(0, n - n_train - len(texts))]
    with open(prod, "w", encoding="utf-8") as f:
        for t in texts[: n - n_train]:
            f.write(json.dumps({"text": t}) + "\n")
    path = folder / "big.wbproj"
    _cli("new", str(path))
    _cli("add", str(path), str(train), "--role", "train")
    _cli("add", str(path), str(chat), "--role", "train")
    _cli("add", str(path), str(prod), "--role", "production")
    return path


# -- one run, in its own process ------------------------------------------------------------------
def one_run(scenario: str, project: str, extra: str) -> dict:
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(ROOT))
    from real_window_session import LagMonitor, _shared_home

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "WORKBENCH_HOME" not in os.environ:
        _shared_home()
    from PySide6 import QtWidgets

    from workbench.ui import app as app_module
    from workbench.ui.main_window import MainWindow

    app = app_module._app()
    win = MainWindow()
    win.resize(1366, 768)
    win.show()
    s = win.session
    errors: list[str] = []
    s.sig_error.connect(lambda m, d: errors.append(m))
    lag = LagMonitor()
    lag.context = lambda: ", ".join(f"{j.kind}:{j.phase or j.label}" for j in s.jobs.running())

    def pump(cond, timeout=1800.0):
        t0 = time.monotonic()
        while not cond() and not errors and time.monotonic() - t0 < timeout:
            app.processEvents()
            time.sleep(0.002)
        for _ in range(50):  # what the window does right after (redraws, deferred work)
            app.processEvents()
            time.sleep(0.004)

    idle = lambda: not s.jobs.running()  # noqa: E731
    for _ in range(30):
        app.processEvents()
        time.sleep(0.01)
    lag.start()
    t0 = time.monotonic()
    if scenario in ("open", "add", "export"):
        lag.set_step("open")
        s.open_project(project)
        pump(lambda: s.analysis is not None and idle())
    if scenario == "add":
        lag.set_step("add")
        n0 = s.ws.n
        s.add_sources([extra], "production")
        pump(lambda: s.ws is not None and s.ws.n > n0 and idle())
    if scenario == "export":
        from workbench.ui.export_dialog import ExportDialog

        lag.set_step("export")
        dlg = ExportDialog(s, win)
        dlg.folder.setText(str(Path(extra) / "export"))
        dlg.show()
        done: list = []
        dlg.sig_done.connect(done.append)
        dlg.export_btn.click()
        pump(lambda: bool(done))
    if scenario in ("analyse", "big"):
        lag.set_step("open")
        s.open_project(project)
        pump(lambda: s.ws is not None and idle())
        lag.set_step("analysis")
        s.run_analysis()
        pump(lambda: s.analysis is not None and idle())
    lag.set_step("end")
    lag.stop()
    r = lag.report()
    QtWidgets.QApplication.processEvents()
    return {"scenario": scenario, "errors": errors, "examples": int(s.ws.n) if s.ws is not None else 0,
            "seconds": round(time.monotonic() - t0, 1), "longest_stall_ms": r["longest_stall_ms"],
            "p99_ms": r["p99_ms"], "over_200ms": r["over_200ms"], "over_500ms": r["over_500ms"],
            "by_step_ms": r["by_step_ms"], "stalls_over_200ms": [st for st in r["stalls_over_100ms"] if st[1] > 0.2],
            "other_threads": r["other_threads_at_stalls_over_200ms"], "gui_thread": r["where_stalled"],
            "gc_pauses": r["gc_pauses_over_50ms"]}


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] == "--one":
        print(json.dumps(one_run(*args[1:4])), flush=True)
        return 0
    runs = 1
    if "--runs" in args:
        k = args.index("--runs")
        runs = int(args[k + 1])
        del args[k:k + 2]
    scenarios = args or [s for s in SCENARIOS if s != "big"]
    for name in scenarios:
        if name not in SCENARIOS:
            print(f"unknown scenario {name!r}: one of {', '.join(SCENARIOS)}", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="wb-stalls-"))
    big = big_file(work) if "add" in scenarios else None
    summary = {}
    for name in scenarios:
        worst, p99 = [], []
        for k in range(runs):
            run_dir = work / f"{name}-{k}"
            run_dir.mkdir()
            if name == "analyse":
                project = sample_project(run_dir, False)
            elif name == "big":
                project = big_project(run_dir)
            else:  # its own analysed copy ("add" changes it)
                project = sample_project(run_dir, True)
            extra = str(big if name == "add" else run_dir)
            out = subprocess.run([sys.executable, __file__, "--one", name, str(project), extra],
                                 capture_output=True, text=True)
            line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else json.dumps(
                {"scenario": name, "failed": out.stderr[-2000:]})
            print(line, flush=True)
            rec = json.loads(line)
            if "longest_stall_ms" in rec:
                worst.append(rec["longest_stall_ms"])
                p99.append(rec["p99_ms"])
        if worst:
            sd = statistics.stdev(worst) if len(worst) > 1 else 0.0
            summary[name] = f"longest stall {statistics.mean(worst):.0f} ± {sd:.0f} ms (max {max(worst):.0f}), " \
                            f"p99 {statistics.mean(p99):.0f} ms, {len(worst)} run(s)"
    for name, text in summary.items():
        print(f"{name}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
