"""Ready to fine-tune? The readiness verdict, computed from the analysis and the journal.

One function, :func:`assess`, turns a :class:`~workbench.curate.snapshot.CurationSnapshot` (the
project's rows with every curation step applied, plus its aligned analysis) into a
:class:`Verdict`: a list of :class:`Check` results, each with its count, why it matters for
fine-tuning, the one command that fixes it and the app action that does the same. The CLI
(``workbench check``, the end of ``workbench export``), the export manifest (``readiness``), the
report's first screen and the app's Readiness dialog all show this one verdict.

The data is **ready** when no check warns. A check that cannot be made (no eval source, no
analysis, the analysis has no such finding) is ``skip`` and does not warn by itself; a missing
or stale analysis is its own warning, so "no analysis" is never "ready".

Checks (in this order; "active" = a training example that is not rejected and has weight > 0,
i.e. one the export writes):

``analysis``       the stored analysis is current for the data and parameters now (the one
                   staleness check, :func:`workbench.analysis.project_analysis.stored_status`).
``leakage``        eval examples that leak into the exported training or validation data, by the
                   analysis' one leak rule (:func:`workbench.curate.split.eval_leakage`).
``duplicates``     duplicate groups that still have a removable copy left
                   (:func:`workbench.curate.actions.removable_rows`: more than one member that
                   may be trained on).
``conflicts``      conflicts whose active train/reference members still give more than one
                   answer (:func:`workbench.curate.resolve.normalise_answer`).
``mismatches``     active training examples whose answer does not fit their prompt (flag
                   ``mismatched_response`` of :mod:`workbench.analysis.mismatch`, when the
                   analysis computed it).
``flags``          active training examples with any other quality flag, PII flags first.
``gaps``           production gaps with no training example: a gap is closed when one of its
                   production inputs was promoted to a training example (journal) or all of them
                   were rejected; new training data closes it on the next analysis.
``replay``         general/safety replay data mixed in: at export, mix lines >= ``min_replay_share``
                   of the training lines; in ``workbench check``, a reference source is in the
                   project (it is mixed in by ``export --mix``).
``small_clusters`` clusters that held training examples and are left with fewer than
                   ``min_cluster_examples`` active ones (after rebalancing and rejections).

Thresholds are project settings ``readiness.<name>`` (JSON numbers) over :data:`DEFAULTS`;
e.g. ``readiness.max_flagged = 10`` lets ten non-PII flagged examples through.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np

from workbench.core.errors import ExportError

#: threshold name -> default. A check warns when its count is above ``max_*`` (below ``min_*``).
DEFAULTS: dict[str, float] = {
    "max_leaked": 0,  # leaked eval examples
    "max_duplicate_groups": 0,  # groups with a removable copy left
    "max_conflicts": 0,  # unresolved conflicts
    "max_mismatches": 0,  # mismatched answers left
    "max_pii": 0,  # training examples with a PII flag
    "max_flagged": 0,  # training examples with any other quality flag
    "max_gaps": 0,  # production gaps without training examples
    "min_replay_share": 0.01,  # replay (reference) lines / training lines at export; 0 = not required
    "min_cluster_examples": 5,  # "a handful": fewer active training examples in a cluster warns
}
SETTING_PREFIX = "readiness."
SHOWN = 10  # examples listed per check in the text form (every one in ``items``)

PASS, WARN, SKIP = "pass", "warn", "skip"


class NotReadyError(ExportError):
    """An export asked to fail on warnings (``--fail-on-warnings``) found the data not ready."""

    exit_code = 1

    def __init__(self, verdict: "Verdict") -> None:
        n = len(verdict.warnings)
        super().__init__(f"Not exported: the data is not ready for fine-tuning ({n} check{'s' if n != 1 else ''} "
                         f"warn: {', '.join(c.title for c in verdict.warnings)}); nothing was written and any "
                         "previous export is unchanged. Fix them (below) or export without --fail-on-warnings.",
                         detail=verdict.text())
        self.verdict = verdict


@dataclass
class Check:
    """One readiness check: what it found, why it matters, how to fix it."""

    key: str
    title: str
    status: str  # pass | warn | skip
    count: int
    summary: str  # one line: what was found
    why: str  # why it matters for fine-tuning
    fix: str  # the one command that fixes it ("" when none is needed)
    app: str  # the app action that does the same
    threshold: float | None = None
    items: list[dict[str, Any]] = field(default_factory=list)  # every finding: source, line, reason

    def to_dict(self, limit: int | None = None) -> dict[str, Any]:
        d = asdict(self)
        if limit is not None and len(self.items) > limit:
            d["items"] = self.items[:limit]
            d["items_left_out"] = len(self.items) - limit
        return d


@dataclass
class Verdict:
    """Every check; ``ready`` when none warns."""

    checks: list[Check]
    thresholds: dict[str, float]
    context: str  # "check" (the project as it is) or "export" (what an export writes)

    @property
    def ready(self) -> bool:
        return not self.warnings

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == WARN]

    def headline(self) -> str:
        if self.ready:
            return f"READY for fine-tuning: all {len(self.checks)} checks pass" + (
                f" ({sum(c.status == SKIP for c in self.checks)} could not be made)"
                if any(c.status == SKIP for c in self.checks) else "") + "."
        w = self.warnings
        return f"NOT READY for fine-tuning: {len(w)} of {len(self.checks)} checks warn ({', '.join(c.title for c in w)})."

    def warning_lines(self) -> list[str]:
        """One line per warning (the manifest's ``warnings`` and the export's closing lines)."""
        return [f"not ready: {c.summary} -- fix: {c.fix}" for c in self.warnings]

    def to_dict(self, limit: int | None = 200) -> dict[str, Any]:
        return {"ready": self.ready, "headline": self.headline(), "context": self.context,
                "thresholds": dict(self.thresholds), "checks": [c.to_dict(limit) for c in self.checks]}

    def text(self, *, shown: int = SHOWN, command: str = "workbench") -> str:
        """The verdict as the CLI prints it; ``command``: how to start the workbench in the reader's
        shell (e.g. ``.venv/bin/workbench``), put into the fix commands."""
        mark = {PASS: "[ok]  ", WARN: "[WARN]", SKIP: "[skip]"}
        out = [self.headline(), ""]
        for c in self.checks:
            out.append(f"{mark[c.status]} {c.title}: {c.summary}")
            if c.status == WARN:
                out.append(f"       why: {c.why}")
                out.append(f"       fix: {c.fix.replace('workbench ', command + ' ')}")
                out.append(f"       app: {c.app}")
                for it in c.items[:shown]:
                    out.append(f"         {it['source']}:{it['line']}  {it['reason']}")
                if len(c.items) > shown:
                    out.append(f"         ... {shown} of {len(c.items):,} shown")
        return "\n".join(out)


def thresholds(settings: dict[str, Any] | None = None) -> dict[str, float]:
    """:data:`DEFAULTS` overridden by the project settings ``readiness.<name>``."""
    out = dict(DEFAULTS)
    for k, v in (settings or {}).items():
        name = str(k)[len(SETTING_PREFIX):] if str(k).startswith(SETTING_PREFIX) else None
        if name in out and isinstance(v, (int, float)) and not isinstance(v, bool):
            out[name] = v
    return out


# --------------------------------------------------------------------------------------------
def _ref(snap, i: int, reason: str) -> dict[str, Any]:
    return {"source": str(snap.source_names[int(i)]), "line": int(snap.line[int(i)]),
            "role": str(snap.role[int(i)]), "reason": reason}


_SETTING_OF = {"leakage": "max_leaked", "duplicates": "max_duplicate_groups", "conflicts": "max_conflicts",
               "mismatches": "max_mismatches", "gaps": "max_gaps"}


def _count_check(key, title, count, limit, found, why, fix, app, items, *, none="none") -> Check:
    status = WARN if count > limit else PASS
    summary = found if count else none
    if count and status == PASS and key in _SETTING_OF:
        summary += f" (allowed: up to {limit:g}, setting {SETTING_PREFIX}{_SETTING_OF[key]})"
    return Check(key, title, status, int(count), summary, why, fix, app, limit, items)


def _skip(key, title, why, reason, fix="", app="") -> Check:
    return Check(key, title, SKIP, 0, reason, why, fix, app)


def active_train(snap) -> np.ndarray:
    """Training rows an export writes (not rejected, weight > 0)."""
    return np.flatnonzero((snap.role == "train") & ~snap.rejected & (snap.weight > 0))


def project_arg(path) -> str:
    """The project as a command argument: relative to the current folder when below it, else absolute."""
    import os
    import shlex

    path = os.path.abspath(os.fspath(path))
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        rel = path
    return shlex.quote(path if rel.startswith("..") else rel)


def assess(snap, *, project_name: str | None = None, analysis_status: str | None = None,
           leakage: dict[str, Any] | None = None, exported: np.ndarray | None = None,
           mix_lines: int | None = None, train_lines: int | None = None,
           progress=None, cancel=None) -> Verdict:
    """The verdict for ``snap`` (see the module doc).

    ``project_name``: the project as the fix commands name it (default: :func:`project_arg`).
    ``analysis_status``: ``current`` / ``stale`` / ``none`` (None: judged from the snapshot: no
    analysis, or rows it does not cover). ``leakage``: :func:`~workbench.curate.split.eval_leakage`'s
    result when the caller has it (the export); else it is computed on the active training rows.
    ``exported``/``mix_lines``/``train_lines``: what an export writes (None: the project as it is).
    """
    from workbench.curate.split import eval_leakage

    th = thresholds(getattr(snap, "settings", None))
    p = project_name or project_arg(snap.project_path)
    a = snap.analysis
    ctx = "export" if exported is not None else "check"
    exported = active_train(snap) if exported is None else np.asarray(exported, np.int64)
    checks: list[Check] = []

    # analysis -------------------------------------------------------------------------------
    why = ("Every other check reads the analysis; findings of older data miss what changed since "
           "(edited, added or changed examples).")
    status = analysis_status or ("none" if a is None else ("stale" if a.missing else "covers"))
    if status in ("current", "covers"):
        checks.append(Check("analysis", "analysis up to date", PASS, 0,
                            "current for the data and parameters now" if status == "current" else
                            "covers every example (texts and parameters not compared)", why, "", ""))
    else:
        if status == "none" and ctx == "export":
            checks.append(Check("analysis", "analysis up to date", WARN, 0,
                                "this export used no analysis: duplicates, conflicts, flags, gaps and clusters "
                                "were not checked", why, "export with --fail-on-warnings or --report (both bring "
                                "the analysis up to date and use it)", "Export dialog (it uses the analysis)"))
        what = ("no analysis results yet" if status == "none" else
                f"stale: results of older data or parameters" + (f" ({a.missing:,} examples not in it)"
                                                                   if a is not None and a.missing else ""))
        if not checks:
            checks.append(Check("analysis", "analysis up to date", WARN, 1 if status == "stale" else 0, what, why,
                                f"workbench analyze {p}", "Analysis > Run analysis (Ctrl+R)"))

    # leakage --------------------------------------------------------------------------------
    title = "eval leakage"
    why = ("The eval set measures the fine-tuned model: eval examples copied into training inflate its "
           "score and hide regressions.")
    if leakage is None:
        leakage = eval_leakage(snap, exported, np.zeros(0, np.int64), progress=progress, cancel=cancel)
    if not leakage.get("eval_examples"):
        checks.append(_skip("leakage", title, why, "no eval examples: leakage not checked",
                            f"workbench add {p} EVAL.jsonl --role eval", "File > Add source (role eval)"))
    else:
        items = []
        for it in leakage.get("examples", []):
            items.append({"source": it["eval"]["source"], "line": it["eval"]["line"], "role": "eval",
                          "reason": f"leaks into {it['side']} as {it['match']['source']}:{it['match']['line']} "
                                    f"({it['reason']})",
                          "match": it["match"], "side": it["side"], "kind": it["kind"]})
        n = int(leakage.get("leaked_eval_examples", 0))
        kinds = ", ".join(f"{v} {k}" for k, v in (leakage.get("by_kind") or {}).items())
        checks.append(_count_check(
            "leakage", title, n, th["max_leaked"],
            f"{n:,} of {leakage['eval_examples']:,} eval examples leak into the "
            f"{'exported ' if ctx == 'export' else ''}training data ({kinds})", why,
            f'workbench reject {p} --leaked --reason "eval leak"',
            "Findings > Leakage: select all, Reject leaked copies", items,
            none=f"none of {leakage['eval_examples']:,} eval examples leak"))

    if a is None:
        for key, title in (("duplicates", "duplicates left"), ("conflicts", "unresolved conflicts"),
                           ("mismatches", "mismatched answers"), ("flags", "flagged examples"),
                           ("gaps", "production gaps"), ("small_clusters", "small clusters")):
            checks.append(_skip(key, title, "", "needs the analysis"))
        checks.insert(-1, _replay(snap, th, p, ctx, mix_lines, train_lines))
        return Verdict(checks, th, ctx)

    checks.append(_duplicates(snap, a, th, p))
    checks.append(_conflicts(snap, a, th, p))
    checks.append(_mismatches(snap, a, th, p, exported))
    checks.append(_flags(snap, a, th, p, exported))
    checks.append(_gaps(snap, a, th, p))
    checks.append(_replay(snap, th, p, ctx, mix_lines, train_lines))
    checks.append(_small_clusters(snap, a, th, p, exported))
    return Verdict(checks, th, ctx)


def _duplicates(snap, a, th, p) -> Check:
    from workbench.curate.actions import removable_rows

    items, groups = [], 0
    for g in a.duplicates:
        keeper = int(g.keeper) if g.keeper is not None and int(g.keeper) >= 0 else (int(g.rows[0]) if len(g.rows) else -1)
        rows = removable_rows(snap, g.rows, keeper)
        if len(rows):
            groups += 1
            kref = f"{snap.source_names[keeper]}:{int(snap.line[keeper])}"
            items.extend(_ref(snap, r, f"duplicate of {kref} ({g.title}, {len(g.rows)} members)") for r in rows)
    return _count_check(
        "duplicates", "duplicates left", groups, th["max_duplicate_groups"],
        f"{groups:,} duplicate groups still have more than one member to train on ({len(items):,} removable copies)",
        "Repeated examples are trained on several times: the model over-weights them and memorises their wording.",
        f'workbench reject {p} --duplicates --reason "dedupe"',
        "Findings > Duplicates: select all, Reject copies (keeps one per group)", items)


def _conflicts(snap, a, th, p) -> Check:
    from workbench.curate.resolve import normalise_answer

    trainable = np.isin(snap.role, ["train", "reference"]) & ~snap.rejected
    items, n = [], 0
    for k, f in enumerate(a.conflicts, 1):  # numbered as `workbench resolve --conflict K` and findings.jsonl
        live = [int(r) for r in f.rows if trainable[int(r)]]
        answers = {normalise_answer(snap.response[r]) for r in live}
        if len(live) > 1 and len(answers) > 1:
            n += 1
            items.extend(_ref(snap, r, f"conflict {k}: {f.title}"[:300]) for r in live)
    return _count_check(
        "conflicts", "unresolved conflicts", n, th["max_conflicts"],
        f"{n:,} conflicts: similar prompts still get different answers ({len(items):,} examples)",
        "Contradicting answers to the same question teach the model to guess between them.",
        f"workbench resolve {p} --all --majority (or per conflict: workbench resolve {p} --conflict K "
        "--keep SOURCE:LINE; conflicts listed by workbench check {p} --findings conflicts.txt --only conflicts)",
        "Findings > Conflicts: Majority, or pick the canonical answer", items)


MISMATCH_FLAG = "mismatched_response"  # the analysis' decision on a mismatch score (analysis/mismatch.py)


def _mismatch_rows(a) -> np.ndarray | None:
    """Rows whose answer does not fit their prompt: those the analysis flags ``mismatched_response``
    (its ranked ``mismatches`` list holds every row scoring above 0, most of them fine); None when
    the analysis has no mismatch finding."""
    sec = a.summary.get("mismatches")
    if MISMATCH_FLAG in a.flag_rows:
        return np.asarray(a.flag_rows[MISMATCH_FLAG], np.int64)
    if not isinstance(sec, dict) or sec.get("skipped"):
        return None
    return np.zeros(0, np.int64)


def _mismatches(snap, a, th, p, exported) -> Check:
    why = "An answer that does not fit its prompt teaches the model to answer something else."
    rows = _mismatch_rows(a)
    if rows is None:
        return _skip("mismatches", "mismatched answers", why, "not computed by this analysis (re-run it)",
                     f"workbench analyze {p}", "Analysis > Run analysis")
    rows = rows[np.isin(rows, exported)]
    items = [_ref(snap, r, "answer does not match its prompt") for r in rows]
    return _count_check(
        "mismatches", "mismatched answers", len(rows), th["max_mismatches"],
        f"{len(rows):,} training examples answer something other than their prompt", why,
        f'workbench reject {p} --flag {MISMATCH_FLAG} --reason "mismatched answer" (or edit the answers)',
        "Findings > Mismatches: edit the answer or reject", items)


def _flags(snap, a, th, p, exported) -> Check:
    counts: dict[str, int] = {}
    items_pii, items_other = [], []
    for r in exported.tolist():
        fl = tuple(f for f in (a.flags[r] or ()) if f != MISMATCH_FLAG)  # its own check
        for name in fl:
            counts[name] = counts.get(name, 0) + 1
        pii = [f for f in fl if f.startswith("pii_")]
        if pii:
            items_pii.append(_ref(snap, r, "flagged " + ", ".join(sorted(pii) + sorted(f for f in fl if f not in pii))))
        elif fl:
            items_other.append(_ref(snap, r, "flagged " + ", ".join(sorted(fl))))
    n_pii, n_other = len(items_pii), len(items_other)
    order = sorted(counts, key=lambda k: (not k.startswith("pii_"), -counts[k], k))
    warn = n_pii > th["max_pii"] or n_other > th["max_flagged"]
    first = order[0] if order else "pii_email"
    by = ", ".join(f"{k} {counts[k]:,}" for k in order)
    summary = (f"{n_pii:,} training example{'s' if n_pii != 1 else ''} with PII and {n_other:,} with other "
               f"quality flags ({by})"
               if n_pii + n_other else "none")
    return Check("flags", "flagged examples", WARN if warn else PASS, n_pii + n_other, summary,
                 "PII is memorised and can be repeated to other users; flagged answers (truncated, refusals, "
                 "very short/long) are copied as they are.",
                 f'workbench reject {p} --flag {first} --reason "{first}" (one flag at a time: '
                 + ", ".join(order[:6]) + ")" if order else "",
                 "Findings > Flags: pick a flag, Reject flagged", th["max_pii"], items_pii + items_other)


def _gaps(snap, a, th, p) -> Check:
    promoted = set()
    for add in (getattr(snap, "added", {}) or {}).values():
        prov = getattr(add, "provenance", None) or {}
        if prov.get("source_id") is not None and prov.get("line") is not None:
            promoted.add((int(prov["source_id"]), int(prov["line"])))
    items, n, inputs = [], 0, 0
    for g in a.gaps:
        rows = [int(r) for r in g.rows if snap.role[int(r)] == "production"]
        live = [r for r in rows if not snap.rejected[r]]
        if not live or any(snap.example_id(r) in promoted for r in rows):
            continue
        n += 1
        inputs += len(live)
        items.extend(_ref(snap, r, f"gap {n}: {g.title}") for r in live)
    return _count_check(
        "gaps", "production gaps", n, th["max_gaps"],
        f"{n:,} production gaps have no training example ({inputs:,} production inputs)",
        "Inputs the model will get in production but never saw in training: it improvises there.",
        f"workbench add {p} NEW_TRAIN.jsonl --role train (answers for these inputs), then workbench analyze {p}",
        "Findings > Coverage gaps: Promote an input (write its answer)", items)


def _replay(snap, th, p, ctx, mix_lines, train_lines) -> Check:
    why = ("Fine-tuning on one narrow task alone makes the model forget general skills and safe refusals; "
           "a little general/safety replay data keeps them.")
    need = float(th["min_replay_share"])
    fix = f"workbench add {p} GENERAL.jsonl --role reference, then export with --mix GENERAL.jsonl:0.05"
    app = "File > Add source (role reference); Export dialog: replay mix"
    if need <= 0:
        return Check("replay", "replay data", PASS, 0, "not required (setting readiness.min_replay_share = 0)",
                     why, "", "", need)
    if ctx == "export":
        lines = int(train_lines or 0)
        share = (mix_lines or 0) / lines if lines else 0.0
        ok = share >= need
        summary = (f"{mix_lines or 0:,} replay lines = {share:.1%} of {lines:,} training lines"
                   + ("" if ok else f" (less than {need:.0%})"))
        return Check("replay", "replay data", PASS if ok else WARN, int(mix_lines or 0), summary, why,
                     "" if ok else fix, app, need)
    ref = int(((snap.role == "reference") & ~snap.rejected).sum())
    if ref:
        return Check("replay", "replay data", PASS, ref,
                     f"{ref:,} reference examples in the project (mixed in by export --mix NAME:RATIO)",
                     why, "", app, need)
    return Check("replay", "replay data", WARN, 0, "no general or safety reference data in the project", why,
                 fix, app, need)


def _small_clusters(snap, a, th, p, exported) -> Check:
    need = int(th["min_cluster_examples"])
    c = a.cluster
    train_all = np.flatnonzero(snap.role == "train")
    had = set(int(k) for k in c[train_all].tolist() if k >= 0)
    now = np.bincount(c[exported][c[exported] >= 0], minlength=(max(had) + 1) if had else 0) if len(exported) else None
    items, small = [], []
    for k in sorted(had):
        left = int(now[k]) if now is not None and k < len(now) else 0
        if left < need:
            small.append(k)
            label = a.cluster_labels.get(k, f"cluster {k}")
            rows = exported[c[exported] == k]
            reason = f"cluster {k} ({label}): {left} of {need} training examples left"
            if len(rows):
                items.extend(_ref(snap, r, reason) for r in rows)
            else:
                items.append({"source": "", "line": 0, "role": "", "reason": reason, "cluster": k})
    return _count_check(
        "small_clusters", "small clusters", len(small), 0,
        f"{len(small):,} clusters have fewer than {need} training examples left", 
        "A topic with a handful of examples is learnt poorly or not at all; it may also be noise left by "
        "over-aggressive caps.",
        f"workbench export {p} --out DIR --rebalance production --min-keep {need}, or add training examples",
        "Curate > Rebalance (raise 'never cap below'), or add examples", items)


def write_findings_list(verdict: Verdict, path, keys: Iterable[str] | None = None) -> int:
    """Write ``SOURCE:LINE`` per finding (the format of ``workbench reject --lines``), with the reason
    as a ``#`` comment above each group; returns how many lines name an example."""
    from pathlib import Path

    keys = set(keys) if keys else None
    lines, n = [], 0
    for c in verdict.checks:
        if keys is not None and c.key not in keys or not c.items:
            continue
        lines.append(f"# {c.title}: {c.summary}")
        for it in c.items:
            if it.get("source"):
                lines.append("# " + str(it["reason"]).replace("\n", " "))
                lines.append(f"{it['source']}:{it['line']}")
                n += 1
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return n


def leaked_selection(ws, analysis, snap, *, include_rejected: bool = False):
    """What ``workbench reject --leaked`` takes out: the leaked-copy rule of
    :func:`workbench.curate.actions.leaked_copies` (each analysis leak's training match and the
    trainable members of duplicate groups holding an eval example) plus every further trainable
    row the leak rule still finds once those are gone (:func:`workbench.curate.split.leaked_copies_all`),
    so that afterwards the ``leakage`` check passes. ``snap``: a snapshot of ``ws`` (its ``embed``
    gives the embedding tests; without it only the text tests run for the further copies).
    The further copies are sought among the rows not rejected; with ``include_rejected`` (restore)
    among every trainable row."""
    from workbench.analysis.duplicates import REMOVABLE_ROLES
    from workbench.curate import actions
    from workbench.curate.split import leaked_copies_all

    first = actions.leaked_copies(ws, analysis)
    base = np.isin(np.asarray(ws.role, object), sorted(REMOVABLE_ROLES))
    base = np.flatnonzero(base if include_rejected else base & ~np.asarray(ws.rejected, bool))
    more = leaked_copies_all(snap, base[~np.isin(base, first)])
    parts = []
    if len(first):
        parts.append((first, "leaks eval data"))
    if len(more):
        parts.append((more, "leaks eval data (a further copy the leak rule finds)"))
    return actions.Selection("training copies of eval examples", tuple(parts))
