"""Export: the curated training set, ready for a training run, with its manifest and report.

What goes out (definitions a curator relies on):

- **Training examples** = every example with role ``train`` (source rows and added examples,
  e.g. promoted production inputs) that is not rejected; edits applied. Production, eval and
  reference examples are not exported (reference examples only through the replay mix).
- **Weights** (``weights="repeat"``, the default): an example with weight w is written
  ``round(w)`` times, one line after the other (weight 0.4 -> once, weight 0 -> not at all,
  counted as ``weight_zero``); ``weights="field"``: written once with a ``"weight"`` key
  (Parquet: a ``weight`` column). Validation examples are written once.
- **Split** (``split=0.9``): see :mod:`workbench.curate.split`. Without an analysis the split is
  not stratified by cluster and exact duplicates (normalised prompt text) are kept together.
- **Replay mix**: see :mod:`workbench.curate.mix`; training side only.

Files (``out`` a folder, or a file ending in ``.jsonl`` / ``.parquet``):

=========== ===================================== =============================================
format      folder                                 single file ``NAME.EXT``
=========== ===================================== =============================================
source      ``<source>.train.jsonl`` per train     ``NAME.jsonl`` (needs every record in one
            source (added examples join the first  schema, else an error asks for a folder or
            train source of their schema, else     chat format); validation in
            ``added-<schema>.train.jsonl``);       ``NAME.validation.jsonl``
            ``mix-<source>.train.jsonl``;
            ``<source>.validation.jsonl``
chat        ``train.jsonl``, ``validation.jsonl``  ``NAME.jsonl``, ``NAME.validation.jsonl``
parquet     ``train.parquet``, ``validation.parquet`` ``NAME.parquet``, ``NAME.validation.parquet``
=========== ===================================== =============================================

Beside them ``manifest.json`` (folder) or ``NAME.manifest.json`` (file), and with ``report``
``report.html`` / ``NAME.report.html``.

**Atomic**: every file is written to a temporary file in the target folder; only when all of
them are complete are they renamed into place, the manifest last. A cancelled, failed or killed
export leaves the previous export exactly as it was. Files of a previous export in the same
folder that this export does not write again (listed in the old manifest) are removed after the
new one is in place, so a folder never mixes two exports.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.errors import ExportError
from workbench.core.progress import CancelToken, ProgressFn, ensure
from workbench.curate.context import CurationSnapshot
from workbench.curate.mix import MixPick, MixSpec, plan_mix
from workbench.curate.outputs import layout, resolve_out, write_jsonl, write_parquet
from workbench.curate.split import SplitPlan, eval_leakage, plan_split
from workbench.io.writers import atomic_writer

FORMATS = ("source", "chat", "parquet")
WEIGHT_MODES = ("repeat", "field")


@dataclass
class ExportOptions:
    """What the Export dialog and ``workbench export`` ask for."""

    out: Path
    format: str = "source"
    weights: str = "repeat"
    split: float | None = None  # train fraction (e.g. 0.9); None = no validation split
    seed: int = 0
    mix: list[MixSpec] = field(default_factory=list)
    report: bool = False
    rebalance: dict[str, Any] | None = None  # the rebalance plan applied before, for the record

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise ExportError(f"Unknown export format {self.format!r}: choose one of {', '.join(FORMATS)}.")
        if self.weights not in WEIGHT_MODES:
            raise ExportError(f"Unknown weights mode {self.weights!r}: choose repeat or field.")
        if self.split is not None and not 0.0 < float(self.split) < 1.0:
            raise ExportError(f"--split is the training fraction, between 0 and 1 (e.g. 0.9); got {self.split}.")


@dataclass
class ExportResult:
    """What was written."""

    files: list[Path]
    manifest_path: Path
    report_path: Path | None
    manifest: dict[str, Any]
    train_rows: np.ndarray  # workspace rows written to the training side (once each)
    validation_rows: np.ndarray  # workspace rows written to validation

    @property
    def counts(self) -> dict[str, Any]:
        return self.manifest["counts"]


# ------------------------------------------------------------------------------------- runner

def run_export(
    snap: CurationSnapshot,
    options: ExportOptions,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> ExportResult:
    """Write the export described by ``options`` from ``snap`` (see the module doc).

    A runner: reports ``progress(done, total, phase)`` and stops at ``cancel`` between batches
    (raising :class:`~workbench.core.errors.Cancelled`) with nothing changed on disk.
    """
    from workbench.curate.manifest import build_manifest

    progress, cancel = ensure(progress, cancel)
    options.validate()
    folder, stem = resolve_out(options.out, options.format)
    fmt = options.format
    view = snap.analysis
    warnings: list[str] = []

    progress(0, 0, "Selecting examples")
    train_all = snap.rows_with_role("train", include_rejected=True)
    active = train_all[~snap.rejected[train_all]]
    w = snap.weight[active]
    if options.weights == "repeat":
        repeats = np.where(w > 0, np.maximum(1, np.rint(w)), 0).astype(np.int64)
        rounded = int(((w > 0) & (np.rint(w) != w)).sum())
        if rounded:
            warnings.append(f"{rounded} weight(s) are not whole numbers and were rounded to repeat counts")
    else:
        repeats = np.ones(len(active), dtype=np.int64)
    zero = repeats == 0
    weight_zero = active[zero]
    active, repeats = active[~zero], repeats[~zero]

    # split
    split_plan: SplitPlan | None = None
    val_rows = np.zeros(0, dtype=np.int64)
    if options.split is not None:
        cancel.check()
        progress(0, 0, "Splitting train / validation")
        if view is not None:
            cluster, groups = view.cluster[active], view.dup_group[active]
            if view.missing:
                warnings.append(f"{view.missing} example(s) are newer than the analysis: no cluster, no duplicate group")
        else:
            from workbench.analysis.textnorm import text_hashes

            cluster = None
            h = text_hashes([snap.prompt[int(i)] for i in active])
            _, groups = np.unique(h, return_inverse=True)
            sizes = np.bincount(groups)
            groups = np.where((sizes[groups] > 1) & (h != 0), groups, -1)
            warnings.append("no analysis: the split is not stratified by cluster; exact duplicates "
                            "(normalised prompt) are kept on one side")
        split_plan = plan_split(cluster, groups, float(options.split), seed=options.seed)
        val_rows = active[split_plan.validation]
        keep = ~split_plan.validation
        active, repeats = active[keep], repeats[keep]
    n_train_lines = int(repeats.sum())

    # replay mix
    picks: list[MixPick] = []
    for spec in options.mix:
        cancel.check()
        progress(0, 0, f"Drawing replay mix from {Path(spec.source).name}")
        pick = plan_mix(snap, spec, n_train_lines, progress=progress, cancel=cancel)
        warnings.extend(pick.warnings)
        picks.append(pick)

    outs = layout(snap, fmt, stem, active, repeats, val_rows, picks)
    manifest_name = f"{stem}.manifest.json" if stem else "manifest.json"
    report_name = (f"{stem}.report.html" if stem else "report.html") if options.report else None
    previous = _previous_outputs(folder / manifest_name)

    leakage = eval_leakage(snap, active, val_rows, progress=progress, cancel=cancel)
    total = sum(o.total for o in outs.values())
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        cancel.check()
        progress(done[0], total, "Writing files")

    with contextlib.ExitStack() as stack:
        _clean_leftovers(folder, [o.name for o in outs.values()] + [manifest_name] + ([report_name] if report_name else []))
        manifest_f = stack.enter_context(atomic_writer(folder / manifest_name, "w"))
        report_f = stack.enter_context(atomic_writer(folder / report_name, "w")) if report_name else None
        for out in outs.values():
            f = stack.enter_context(atomic_writer(folder / out.name, "wb"))
            if fmt == "parquet":
                write_parquet(f, out, snap, options, tick)
            else:
                write_jsonl(f, out, snap, options, tick)
        cancel.check()
        progress(0, 0, "Writing manifest")
        manifest = build_manifest(
            snap, options, outs=list(outs.values()), train_rows=train_all, exported=active,
            repeats=repeats, validation=val_rows, weight_zero=weight_zero, split=split_plan, picks=picks,
            leakage=leakage, warnings=warnings, manifest_name=manifest_name, report_name=report_name)
        if report_f is not None:
            from workbench.curate.report import build_report

            progress(0, 0, "Writing report")
            report_f.write(build_report(manifest, snap, exported=active, validation=val_rows, picks=picks))
        manifest_f.write(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
        cancel.check()  # last chance: after this every file is renamed into place
    written = {o.name for o in outs.values()} | {manifest_name} | ({report_name} if report_name else set())
    for name in previous - written:
        with contextlib.suppress(OSError):
            (folder / name).unlink()
    progress(total, total, "Export finished")
    return ExportResult([folder / o.name for o in outs.values()], folder / manifest_name,
                        folder / report_name if report_name else None, manifest, active, val_rows)


def _previous_outputs(manifest_path: Path) -> set[str]:
    """File names (in the same folder) written by the previous export there, per its manifest."""
    try:
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        names = {o["file"] for o in old.get("outputs", [])} | set(old.get("companions", []))
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return set()
    return {n for n in names if isinstance(n, str) and "/" not in n and "\\" not in n and not n.startswith(".")}


def _clean_leftovers(folder: Path, names: list[str]) -> None:
    """Remove temporary files a killed earlier export left for these names."""
    for name in names:
        for p in folder.glob(f".{glob_escape(name)}.*.part"):
            with contextlib.suppress(OSError):
                p.unlink()


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


__all__ = ["ExportOptions", "ExportResult", "FORMATS", "WEIGHT_MODES", "run_export", "MixSpec"]
