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

Files: ``--out DIR`` names the export folder, which holds exactly one export (see
:mod:`workbench.curate.destination` for what may be replaced and how):

=========== ==================================================================================
format      files in ``DIR``
=========== ==================================================================================
source      ``<source>.train.jsonl`` per train source (added examples join the first train
            source of their schema, else ``added-<schema>.train.jsonl``);
            ``mix-<source>.train.jsonl``; ``<source>.validation.jsonl``
chat        ``train.jsonl``, ``validation.jsonl``
parquet     ``train.parquet``, ``validation.parquet``
=========== ==================================================================================

Beside them ``manifest.json`` (it lists every other file with its sha256: the export's own record)
and, with ``report``, ``report.html``.

**Never over a file it did not create**: ``DIR`` must be absent, empty, or a previous export of
this tool whose files still match its manifest; a project source, the project file or any other
file there makes the export refuse (:class:`ExportError`) before anything is written.

**All or nothing**: every file is written into a fresh sibling folder and fsynced; only when all
of them are complete is that folder swapped with ``DIR`` in one atomic step. A cancelled, failed
or killed export leaves the previous export exactly as it was; after the swap the previous
export's files (and only those, proven by their hashes) are deleted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.core.errors import ExportError
from workbench.core.progress import CancelToken, ProgressFn, ensure
from workbench.curate.snapshot import CurationSnapshot
from workbench.curate.mix import MixPick, MixSpec, plan_mix
from workbench.curate.destination import MANIFEST, prepare
from workbench.curate.export_files import layout, write_jsonl, write_parquet
from workbench.curate.split import SplitPlan, eval_leakage, plan_split

FORMATS = ("source", "chat", "parquet")
WEIGHT_MODES = ("repeat", "field")
REPORT = "report.html"


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
    fail_on_warnings: bool = False  # refuse (nothing written) when the readiness verdict is "not ready"
    analysis_status: str | None = None  # "current" when the caller brought the analysis up to date

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise ExportError(f"Unknown export format {self.format!r}: choose one of {', '.join(FORMATS)}.")
        if self.weights not in WEIGHT_MODES:
            raise ExportError(f"Unknown weights mode {self.weights!r}: choose repeat or field.")
        if self.split is not None and not 0.0 < float(self.split) < 1.0:
            raise ExportError(f"--split is the training fraction, between 0 and 1 (e.g. 0.9); got {self.split}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**32:
            raise ExportError(f"--seed is a whole number from 0 to {2**32 - 1:,}; got {self.seed}.")


@dataclass
class ExportResult:
    """What was written."""

    files: list[Path]
    manifest_path: Path
    report_path: Path | None
    manifest: dict[str, Any]
    train_rows: np.ndarray  # workspace rows written to the training side (once each)
    validation_rows: np.ndarray  # workspace rows written to validation
    readiness: Any = None  # the readiness verdict of what was written (workbench.curate.readiness)

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
    dest = prepare(options.out, protected=[snap.project_path, *(s.path for s in snap.sources)])
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

    outs = layout(snap, fmt, active, repeats, val_rows, picks)
    leakage = eval_leakage(snap, active, val_rows, progress=progress, cancel=cancel)
    verdict = _readiness(snap, options, leakage, np.concatenate([active, val_rows]), n_train_lines, picks, warnings)
    total = sum(o.total for o in outs.values())
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        cancel.check()
        progress(done[0], total, "Writing files")

    files: list[dict[str, Any]] = []
    dest.begin()
    try:
        for out in outs.values():
            with dest.open(out.name) as f:
                if fmt == "parquet":
                    write_parquet(f, out, snap, options, tick)
                else:
                    write_jsonl(f, out, snap, options, tick)
                files.append({"file": out.name, "bytes": f.tell(), "sha256": out.sha256})
        cancel.check()
        progress(0, 0, "Writing manifest")
        manifest = build_manifest(
            snap, options, outs=list(outs.values()), train_rows=train_all, exported=active,
            repeats=repeats, validation=val_rows, weight_zero=weight_zero, split=split_plan, picks=picks,
            leakage=leakage, warnings=warnings, manifest_name=MANIFEST, report_name=REPORT if options.report else None)
        if options.report:
            from workbench.curate import findings_file
            from workbench.curate.report import build_report

            manifest["readiness"] = verdict.to_dict()
            manifest["companions"].append(findings_file.FINDINGS)
            progress(0, 0, "Writing findings")
            data = findings_file.write(findings_file.collect(dict(manifest, readiness=verdict.to_dict(None)), snap))
            with dest.open(findings_file.FINDINGS) as f:  # every finding, beside the report
                f.write(data)
            files.append({"file": findings_file.FINDINGS, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
            from workbench.curate.report import drift_section

            drift = drift_section(snap, progress=progress, cancel=cancel)  # the `workbench drift` table
            progress(0, 0, "Writing report")
            data = build_report(manifest, snap, exported=active, validation=val_rows, picks=picks,
                                drift=drift).encode("utf-8")
            with dest.open(REPORT) as f:
                f.write(data)
            files.append({"file": REPORT, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        manifest["readiness"] = verdict.to_dict()
        manifest["files"] = files
        with dest.open(MANIFEST) as f:
            f.write((json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
        cancel.check()  # last chance: after this the new export replaces the old one in one step
        dest.commit()
    except OSError as exc:
        dest.abort()
        raise ExportError(f"Cannot write the export in {dest.target.parent}: {exc.strerror or exc}. "
                          "The previous export (if any) is unchanged.") from exc
    except BaseException:
        dest.abort()
        raise
    for w in dest.warnings:
        manifest["warnings"].append(w)
    folder = dest.target
    progress(total, total, "Export finished")
    return ExportResult([folder / o.name for o in outs.values()], folder / MANIFEST,
                        folder / REPORT if options.report else None, manifest, active, val_rows, verdict)


def _readiness(snap, options, leakage, exported, n_train_lines, picks, warnings):
    """The readiness verdict of what this export writes; with ``fail_on_warnings`` a "not ready"
    verdict stops the export before anything is written (:class:`~workbench.curate.readiness.NotReadyError`)."""
    from workbench.curate.readiness import NotReadyError, assess

    mix = int(sum(p.selected for p in picks))
    verdict = assess(snap, leakage=leakage, exported=exported,
                     mix_lines=mix, train_lines=n_train_lines + mix,
                     analysis_status=options.analysis_status if snap.analysis is not None and not snap.analysis.missing
                     else None)
    if options.fail_on_warnings and not verdict.ready:
        raise NotReadyError(verdict)
    warnings.extend(verdict.warning_lines())
    return verdict


__all__ = ["ExportOptions", "ExportResult", "FORMATS", "WEIGHT_MODES", "run_export", "MixSpec"]
