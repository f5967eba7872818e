"""The export manifest: everything needed to explain (and reproduce) an export.

``manifest.json`` holds (keys in this order):

``format_version``, ``tool``, ``created``, ``project`` (path, revision seen)
``options``      format, weights, split, seed, mix, report
``inputs``       every source: id, name, path, role, schema, container, sha256, rows loaded,
                 bad lines skipped when it was read
``model``        the encoder fingerprint the analysis used (null without analysis)
``analysis``     revision, every parameter/threshold, rows it does not cover (null without)
``outputs``      each file: name, split, format, lines, distinct records, sha256, and
                 ``segments`` (line ranges per origin: ``train`` or ``mix:<file>``)
``counts``       loaded per role, and the identity for training examples, checked on write:
                 ``train_examples = rejected + weight_zero + exported_train + validation``;
                 ``train_lines = exported_train + repeats + mix``; ``validation_lines = validation``
``by_source``    the same counts per train source (added examples under ``added``)
``clusters``     per cluster: label, training examples before (loaded), rejected, exported,
                 training lines after (repeats applied), validation, production (not rejected), and
                 the total-variation distance to production shares before/after (null without analysis)
``removals``     every rejected example, grouped by the op that rejected it: op id, time, reason
``edits``        every edited example with the op id of its current edit
``added``        every added example: op id, role, provenance, where it went
``weights``      examples with a weight other than 1, grouped by op id and weight
``journal``      every curation step in effect: op id, time, label
``rebalance``    the rebalance plan applied for this export (if any), ``mix``, ``split``,
``leakage``, ``warnings``
``files``        every other file of the export folder: name, bytes, sha256 — this tool's own
                 record of what it wrote, the only proof it accepts before replacing or deleting a
                 file (see :mod:`workbench.curate.destination`)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from workbench import __version__
from workbench.core.errors import ExportError
from workbench.io.source_data import ROLES

FORMAT_VERSION = 1


def journal_facts(ops: list[tuple[int, Any]]) -> dict[str, dict]:
    """Which op (journal id) last set each example's rejection, edit, weight; which op added it
    (each op kind says so itself: :func:`workbench.project.journal.facts`)."""
    from workbench.project.journal import facts

    return facts(ops).as_dict()


def _iso(ts: float | None) -> str | None:
    if not ts:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ts))


def _tv(a: dict[int, float], b: dict[int, float]) -> float | None:
    from workbench.curate.rebalance import total_variation

    if not a or not b:
        return None
    return round(total_variation(a, b), 6)


def _cluster_table(snap, train_all, exported, repeats, validation) -> dict[str, Any] | None:
    view = snap.analysis
    if view is None:
        return None
    c = view.cluster
    prod = (snap.role == "production") & ~snap.rejected
    ids = sorted(set(c[train_all].tolist()) | set(c[prod].tolist()))

    def count(rows, weights=None) -> dict[int, float]:
        if len(rows) == 0:
            return {}
        u, inv = np.unique(c[rows], return_inverse=True)
        return dict(zip(u.tolist(), np.bincount(inv, weights=weights).tolist()))

    loaded = count(train_all)
    rejected = count(train_all[snap.rejected[train_all]])
    exp = count(exported)
    lines = count(exported, repeats.astype(float))
    val = count(validation)
    production = count(np.flatnonzero(prod))
    table = []
    for k in ids:
        table.append({
            "cluster": int(k), "label": view.labels.get(int(k), "") if k >= 0 else "noise",
            "before": int(loaded.get(k, 0)), "rejected": int(rejected.get(k, 0)),
            "exported": int(exp.get(k, 0)), "after": int(lines.get(k, 0)),
            "validation": int(val.get(k, 0)), "production": int(production.get(k, 0)),
        })
    clustered = lambda d: {k: v for k, v in d.items() if k >= 0}  # noqa: E731
    return {
        "definition": ("before = training examples loaded; after = training lines written (repeats "
                       "applied, replay mix not included); cluster -1 = noise"),
        "table": table,
        "distance_to_production_before": _tv(clustered(loaded), clustered(production)),
        "distance_to_production_after": _tv(clustered(lines), clustered(production)),
        "distance": "total variation between training and production cluster shares (noise left out)",
    }


def build_manifest(snap, options, *, outs, train_rows, exported, repeats, validation, weight_zero,
                   split, picks, leakage, warnings, manifest_name, report_name) -> dict[str, Any]:
    """Assemble the manifest dict and check that its counts add up (else :class:`ExportError`)."""
    facts = journal_facts(snap.ops)
    times = snap.op_times
    view = snap.analysis

    def ref(i: int) -> list:
        return [str(snap.source_names[i]), int(snap.line[i])]

    # --- counts ------------------------------------------------------------------------------
    n_train = len(train_rows)
    rejected_train = int(snap.rejected[train_rows].sum())
    repeats_extra = int(repeats.sum()) - len(exported)
    mix_lines = int(sum(p.selected for p in picks))
    train_lines = int(sum(o.lines for o in outs if o.split == "train"))
    val_lines = int(sum(o.lines for o in outs if o.split == "validation"))
    counts = {
        "loaded": int(snap.n),
        "loaded_by_role": {r: int((snap.role == r).sum()) for r in ROLES},
        "train_examples": n_train,
        "added_train_examples": int((snap.source_id[train_rows] == 0).sum()),
        "rejected": rejected_train,
        "weight_zero": int(len(weight_zero)),
        "exported_train": int(len(exported)),
        "validation": int(len(validation)),
        "check": "train_examples = rejected + weight_zero + exported_train + validation",
        "train_lines": train_lines,
        "repeats": repeats_extra if options.weights == "repeat" else 0,
        "mix": mix_lines,
        "train_lines_check": "train_lines = exported_train + repeats + mix",
        "validation_lines": val_lines,
        "not_exported": {r: int((snap.role == r).sum()) for r in ROLES if r != "train"},
    }
    ok = (n_train == rejected_train + counts["weight_zero"] + counts["exported_train"] + counts["validation"]
          and train_lines == counts["exported_train"] + counts["repeats"] + mix_lines
          and val_lines == counts["validation"]
          and counts["loaded"] == sum(counts["loaded_by_role"].values()))
    if not ok:  # a bug, never the user's fault: refuse to leave an unexplained export behind
        raise ExportError("Internal check failed: the export's counts do not add up; nothing was written.",
                          detail=str(counts))
    counts["adds_up"] = True

    by_source = []
    for info in [s for s in snap.sources if s.role == "train"] + [None]:
        sid = 0 if info is None else info.id
        rows = train_rows[snap.source_id[train_rows] == sid]
        if info is None and len(rows) == 0:
            continue
        by_source.append({
            "source": "added" if info is None else info.name,
            "train_examples": int(len(rows)),
            "rejected": int(snap.rejected[rows].sum()),
            "weight_zero": int((snap.source_id[weight_zero] == sid).sum()),
            "exported_train": int((snap.source_id[exported] == sid).sum()),
            "validation": int((snap.source_id[validation] == sid).sum()),
        })

    # --- what changed ------------------------------------------------------------------------
    groups: dict[tuple, dict[str, Any]] = {}
    for i in np.flatnonzero(snap.rejected).tolist():
        eid = snap.example_id(i)
        op_id = facts["rejected"].get(eid)
        reason = snap.reject_reason.get(eid, "")
        g = groups.setdefault((op_id, reason), {"op_id": op_id, "time": _iso(times.get(op_id)),
                                                "reason": reason, "count": 0, "examples": []})
        g["count"] += 1
        g["examples"].append(ref(i) + [str(snap.role[i])])
    removals = sorted(groups.values(), key=lambda g: (g["op_id"] is None, g["op_id"] or 0))

    exported_set = set(exported.tolist())
    val_set = set(validation.tolist())

    def where(i: int) -> str:
        if snap.rejected[i]:
            return "rejected"
        if i in exported_set:
            return "train"
        if i in val_set:
            return "validation"
        if snap.role[i] != "train":
            return f"not exported ({snap.role[i]})"
        return "weight 0"

    edits = [{"source": ref(i)[0], "line": ref(i)[1], "op_id": facts["edited"].get(snap.example_id(i)),
              "exported_as": where(i)} for i in np.flatnonzero(snap.edited).tolist()]
    added = []
    for i in np.flatnonzero(snap.source_id == 0).tolist():
        line = int(snap.line[i])
        a = snap.added.get(line)
        added.append({"added": line, "op_id": facts["added"].get(line), "role": str(snap.role[i]),
                      "schema": a.schema if a else None, "provenance": dict(a.provenance) if a else {},
                      "exported_as": where(i)})
    wgroups: dict[tuple, dict[str, Any]] = {}
    for i in np.flatnonzero(snap.weight != 1.0).tolist():
        op_id = facts["weight"].get(snap.example_id(i))
        w = float(snap.weight[i])
        g = wgroups.setdefault((op_id, w), {"op_id": op_id, "weight": w, "count": 0})
        g["count"] += 1
    journal = [{"op_id": op_id, "time": _iso(times.get(op_id)), "label": op.label} for op_id, op in snap.ops]

    return {
        "format_version": FORMAT_VERSION,
        "tool": {"name": "curation-workbench", "version": __version__},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "project": {"path": str(snap.project_path), "revision": snap.project_revision},
        "options": {"format": options.format, "weights": options.weights, "split": options.split,
                    "seed": options.seed, "mix": [{"source": m.source, "ratio": m.ratio} for m in options.mix],
                    "report": bool(options.report)},
        "inputs": [{"id": s.id, "name": s.name, "path": s.path, "role": s.role, "schema": s.schema,
                    "container": s.container, "sha256": s.sha256, "rows": int((snap.source_id == s.id).sum()),
                    "bad_lines_skipped": int(getattr(s, "errors", 0) or 0)} for s in snap.sources]
                  + [{"id": None, "name": p.name, "path": p.path, "role": "reference (mix only)", "schema": p.schema,
                      "container": p.data.container if p.data is not None else None, "sha256": p.sha256,
                      "rows": p.available, "bad_lines_skipped": len(p.data.errors) if p.data is not None else 0}
                     for p in picks if not p.in_project],
        "model": {"encoder": view.encoder or None} if view is not None else None,
        "analysis": ({"revision": view.revision, "params": view.params, "rows_not_covered": view.missing}
                     if view is not None else None),
        "outputs": [{"file": o.name, "split": o.split, "format": options.format, "schema": o.schema,
                     "lines": o.lines, "records": int(sum(s["records"] for s in o.segments)),
                     "sha256": o.sha256, "segments": o.segments} for o in outs],
        "companions": [report_name] if report_name else [],
        "counts": counts,
        "by_source": by_source,
        "clusters": _cluster_table(snap, train_rows, exported, repeats, validation),
        "removals": removals,
        "edits": edits,
        "added": added,
        "weights": sorted(wgroups.values(), key=lambda g: (g["op_id"] is None, g["op_id"] or 0, g["weight"])),
        "journal": journal,
        "rebalance": options.rebalance,
        "mix": [p.to_dict() for p in picks],
        "split": split.to_dict() if split is not None else None,
        "leakage": leakage,
        "warnings": list(warnings),
    }
