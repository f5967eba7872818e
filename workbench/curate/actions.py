"""Curation actions on findings: the rules a curator relies on, each applied as ONE journal op.

The app's finding panels and the ``workbench reject`` / ``restore`` commands both call these
functions, so a rule exists once. A *selector* picks examples (workspace rows) from the loaded
workspace and an aligned analysis (:class:`workbench.analysis.aligned.AlignedAnalysis`, or any
object with the same per-row arrays and finding lists); :func:`reject` / :func:`restore` turn a
selection into one undoable op (a :class:`~workbench.project.journal.Batch` when the parts carry
different reasons, e.g. one "duplicate of …" per group).

Rules
-----
- **Removable duplicate** (:func:`removable_rows`): a member of a duplicate group that is not
  the group's keeper (the analysis' choice, see :mod:`workbench.analysis.duplicates`) and whose
  role may be trained on (:data:`~workbench.analysis.duplicates.REMOVABLE_ROLES`: train,
  reference). Eval and production rows are never removed as duplicates.
- **Leaked training copy** (:func:`leaked_copies`): a train/reference row that copies an eval
  example — the training match the leakage finding names for a leaked eval row, or a member of a
  duplicate group that contains an eval row (exact or near copies at the duplicate threshold).
  The eval row itself is kept: it is the yardstick.
- **Flagged** (:func:`flagged`): rows carrying any of the named quality flags.
- **Cluster** (:func:`in_clusters`): rows in the given clusters.
- **Query** (:func:`matching`): rows whose prompt or response contains a text (case-insensitive).
- **Lines** (:func:`read_refs`): explicit examples listed in a file, one per line, as
  ``SOURCE:LINE`` (SOURCE = the source's label as results show it — its file name, or
  ``a/train.jsonl`` where two sources share one —, its path or its id) or a JSON object
  ``{"source"|"source_id", "line"}``.
- **Promote** (:func:`promote_op`): a production input becomes a training example (chat format)
  with the curator's written response and its origin recorded.

:func:`reject` only touches rows not rejected yet; :func:`restore` only rows rejected now.
Selectors take an optional ``roles`` restriction (flag, cluster, query, lines).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from workbench.core.errors import InputError, WorkbenchError
from workbench.project.journal import AddExample, Batch, ExampleId, Op, Reject, Restore


class NoAnalysisError(WorkbenchError):
    """The action needs analysis results and the project has none."""


@dataclass(frozen=True)
class Selection:
    """Rows chosen by a rule, in parts that each carry a note (e.g. ``duplicate of a.jsonl:3``)."""

    what: str  # e.g. "duplicate copies", "examples flagged pii"
    parts: tuple[tuple[np.ndarray, str], ...]

    @property
    def rows(self) -> np.ndarray:
        if not self.parts:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate([np.asarray(r, np.int64) for r, _ in self.parts]))

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Plan:
    """One journal op (None: nothing to do) and what it does, in words."""

    op: Op | None
    ids: tuple[ExampleId, ...]
    message: str

    def apply(self, project) -> Any:
        """Apply through the project's journal (durable on return); None when nothing to do."""
        return None if self.op is None else project.apply(self.op)


def _labels(ws) -> dict[int, str]:
    """Source id -> the label people see (file name; lengthened where two sources share one)."""
    from workbench.analysis.aligned import ADDED_LABEL, source_labels

    labels = source_labels((info.id, info.path) for info in ws.sources)
    labels[0] = ADDED_LABEL
    return labels


def _ref(ws, row: int, labels: dict[int, str] | None = None) -> str:
    labels = labels if labels is not None else _labels(ws)
    sid = int(ws.source_id[row])
    return f"{labels.get(sid, ws.source_names[row])}:{int(ws.line[row])}"


def _rejected(ws) -> np.ndarray:
    return np.asarray(ws.rejected, dtype=bool)


def _roles(ws) -> np.ndarray:
    return np.asarray(ws.role, dtype=object)


def _restrict(ws, rows: np.ndarray, roles: Iterable[str] | None) -> np.ndarray:
    rows = np.asarray(rows, np.int64)
    if roles is None or not len(rows):
        return rows
    return rows[np.isin(_roles(ws)[rows], list(roles))]


def _need(analysis) -> Any:
    if analysis is None:
        raise NoAnalysisError("This needs analysis results: run the analysis first "
                              "(workbench analyze PROJECT, or Ctrl+R in the app).")
    return analysis


# --------------------------------------------------------------------------------------------
# the rules
# --------------------------------------------------------------------------------------------
def removable_rows(ws, members: Sequence[int], keeper: int, *, include_rejected: bool = False) -> np.ndarray:
    """THE removable-duplicate rule: members of one group other than the keeper whose role may be
    trained on; already rejected ones are left out unless ``include_rejected``."""
    from workbench.analysis.duplicates import REMOVABLE_ROLES

    rows = np.asarray(members, np.int64)
    if not len(rows):
        return rows
    keep = (rows != int(keeper)) & np.isin(_roles(ws)[rows], sorted(REMOVABLE_ROLES))
    if not include_rejected:
        keep &= ~_rejected(ws)[rows]
    return rows[keep]


def duplicates(ws, analysis, groups: Sequence[Any] | None = None, *, include_rejected: bool = False) -> Selection:
    """Removable members of the chosen duplicate groups (findings; default: every group)."""
    analysis = _need(analysis)
    chosen = list(analysis.duplicates if groups is None else groups)
    labels = _labels(ws)
    parts = []
    for g in chosen:
        keeper = int(g.keeper) if g.keeper is not None and int(g.keeper) >= 0 else (int(g.rows[0]) if len(g.rows) else -1)
        rows = removable_rows(ws, g.rows, keeper, include_rejected=include_rejected)
        if len(rows):
            parts.append((rows, f"duplicate of {_ref(ws, keeper, labels)}" if keeper >= 0 else "duplicate"))
    return Selection(f"duplicate copies in {len(parts):,} group(s)", tuple(parts))


def leaked_copies(ws, analysis, leaks: Sequence[Any] | None = None) -> np.ndarray:
    """THE leaked-training-copy rule (see the module doc). ``leaks``: leakage findings to act
    on (default: every leaked eval row)."""
    from workbench.analysis.duplicates import REMOVABLE_ROLES

    analysis = _need(analysis)
    roles = _roles(ws)
    trainable = np.isin(roles, sorted(REMOVABLE_ROLES))
    out: list[int] = []
    if leaks is None:
        leaks = list(getattr(analysis, "leakage", []) or [])
        leaked = np.asarray(getattr(analysis, "leaked", np.zeros(ws.n, bool)), dtype=bool)[: ws.n]
        eval_rows = np.flatnonzero(leaked & (roles[: len(leaked)] == "eval"))
    else:
        eval_rows = np.asarray([int(r) for f in leaks for r in f.rows if roles[int(r)] == "eval"], np.int64)
    for f in leaks:
        out.extend(int(r) for r in f.rows if trainable[int(r)])
    group = np.asarray(getattr(analysis, "dup_group", np.full(ws.n, -1)), dtype=np.int64)[: ws.n]
    gids = {int(g) for g in group[eval_rows] if g >= 0} if len(eval_rows) else set()
    if gids:
        out.extend(np.flatnonzero(np.isin(group, sorted(gids)) & trainable[: len(group)]).tolist())
    return np.unique(np.asarray(out, np.int64))


def leaked(ws, analysis, leaks: Sequence[Any] | None = None) -> Selection:
    rows = leaked_copies(ws, analysis, leaks)
    return Selection("training copies of eval examples", ((rows, "leaks eval data"),) if len(rows) else ())


def flagged(ws, analysis, names: Sequence[str], roles: Iterable[str] | None = None) -> Selection:
    analysis = _need(analysis)
    known = getattr(analysis, "flag_rows", {}) or {}
    unknown = [n for n in names if n not in known and n not in (getattr(analysis, "flag_definitions", {}) or {})]
    if unknown:
        have = ", ".join(sorted(known)) or "none"
        raise InputError(f"No examples carry the flag {', '.join(map(repr, unknown))} (flags present: {have}).")
    rows = [np.asarray(known.get(n, []), np.int64) for n in names]
    rows = _restrict(ws, np.unique(np.concatenate(rows)) if rows else np.zeros(0, np.int64), roles)
    label = ", ".join(names)
    return Selection(f"examples flagged {label}", ((rows, f"flagged: {label}"),) if len(rows) else ())


def in_clusters(ws, analysis, cluster_ids: Sequence[int], roles: Iterable[str] | None = None) -> Selection:
    analysis = _need(analysis)
    cluster = np.asarray(analysis.cluster, dtype=np.int64)[: ws.n]
    labels = getattr(analysis, "cluster_labels", {}) or {}
    missing = [c for c in cluster_ids if not (cluster == int(c)).any()]
    if missing:
        ids = sorted(int(c) for c in np.unique(cluster) if c >= 0)  # ids may have gaps (map_continuity)
        shown = ", ".join(map(str, ids[:20])) + (f" … ({len(ids)} in all)" if len(ids) > 20 else "")
        raise InputError(f"There is no cluster {', '.join(map(str, missing))} in the analysis "
                         f"(clusters: {shown or 'none'}; -1 = in no cluster).")
    rows = _restrict(ws, np.flatnonzero(np.isin(cluster, [int(c) for c in cluster_ids])), roles)
    names = "; ".join(f"{int(c)} ({labels[int(c)]})" if int(c) in labels else str(int(c)) for c in cluster_ids)
    return Selection(f"examples in cluster {names}", ((rows, f"cluster {names}"),) if len(rows) else ())


def matching(ws, text: str, roles: Iterable[str] | None = None) -> Selection:
    needle = str(text).casefold()
    if not needle.strip():
        raise InputError("The query is empty.")
    hits = [i for i in range(ws.n) if needle in (ws.prompt[i] or "").casefold() or needle in (ws.response[i] or "").casefold()]
    rows = _restrict(ws, np.asarray(hits, np.int64), roles)
    return Selection(f"examples containing {text!r}", ((rows, f"contains {text!r}"),) if len(rows) else ())


def rows_selection(rows: Sequence[int], what: str = "selected examples", note: str = "") -> Selection:
    rows = np.unique(np.asarray(rows, np.int64))
    return Selection(what, ((rows, note),) if len(rows) else ())


def read_refs(ws, path: str | Path, roles: Iterable[str] | None = None) -> Selection:
    """Examples listed in a file (see the module doc). Every line is resolved or reported:
    a line naming no example raises :class:`InputError` with ``file:line: reason``."""
    path = Path(path).expanduser()
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the list of examples {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    by_id, by_name = _source_keys(ws)
    rows: list[int] = []
    problems: list[str] = []
    for k, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            sid, n = _parse_ref(line, by_id, by_name)
            rows.append(ws.index_of((sid, n)))
        except (ValueError, KeyError) as exc:
            problems.append(f"{path}:{k}: {exc.args[0] if exc.args and isinstance(exc.args[0], str) else 'no such example'}")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise InputError("Lines that name no example of this project:\n" + "\n".join(problems[:5]) + more)
    return rows_selection(_restrict(ws, np.asarray(rows, np.int64), roles), f"examples listed in {path.name}",
                          f"listed in {path.name}")


def _source_keys(ws) -> tuple[dict[int, int], dict[str, list[int]]]:
    """The names a curator may give a source: its id, file name, path, relative path or label."""
    by_id: dict[int, int] = {}
    by_name: dict[str, list[int]] = {}
    for sid, label in _labels(ws).items():
        if sid:
            by_name.setdefault(label, []).append(sid)
    for info in ws.sources:
        by_id[info.id] = info.id
        by_name.setdefault(info.name, []).append(info.id)
        by_name.setdefault(str(info.path), []).append(info.id)
        if info.rel_path:
            by_name.setdefault(info.rel_path, []).append(info.id)
    return by_id, by_name


def find_ref(ws, text: str) -> int:
    """The row of one example named ``SOURCE:LINE`` (or the JSON form of :func:`read_refs`);
    :class:`InputError` saying why when it names none."""
    by_id, by_name = _source_keys(ws)
    try:
        return int(ws.index_of(_parse_ref(str(text).strip(), by_id, by_name)))
    except (ValueError, KeyError) as exc:
        why = exc.args[0] if exc.args and isinstance(exc.args[0], str) else "no such example"
        raise InputError(f"{text}: {why}") from None


def _parse_ref(line: str, by_id: dict[int, int], by_name: dict[str, list[int]]) -> tuple[int, int]:
    if line.startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError:
            raise ValueError("not a JSON object") from None
        if not isinstance(obj, dict) or "line" not in obj:
            raise ValueError('expected {"source": NAME or "source_id": ID, "line": N}')
        src = obj.get("source_id", obj.get("source"))
        line_no = obj["line"]
    else:
        src, sep, line_no = line.rpartition(":")
        if not sep:
            raise ValueError("expected SOURCE:LINE")
    try:
        n = int(line_no)
    except (TypeError, ValueError):
        raise ValueError(f"line {line_no!r} is not a number") from None
    key = str(src).strip()
    if key in by_name:
        ids = sorted(set(by_name[key]))
        if len(ids) > 1:
            raise ValueError(f"{key!r} names several sources ({', '.join(map(str, ids))}); use the source id")
        sid = ids[0]
    elif key.lstrip("-").isdigit() and (int(key) in by_id or int(key) == 0):
        sid = int(key)
    else:
        raise ValueError(f"no source {key!r} in this project")
    return sid, n


# --------------------------------------------------------------------------------------------
# turning a selection into one op
# --------------------------------------------------------------------------------------------
def _ids(ws, rows: np.ndarray) -> list[ExampleId]:
    return [(int(ws.source_id[r]), int(ws.line[r])) for r in rows]


def reject(ws, selection: Selection, reason: str = "") -> Plan:
    """One op rejecting every selected row not rejected yet (reason: ``reason; note`` with each
    part's note, the note alone when no reason is given)."""
    rejected = _rejected(ws)
    ops: list[Op] = []
    seen: set[int] = set()
    for rows, note in selection.parts:
        rows = np.asarray([r for r in np.asarray(rows, np.int64) if not rejected[r] and int(r) not in seen], np.int64)
        if not len(rows):
            continue
        seen.update(rows.tolist())
        text = f"{reason}; {note}" if reason and note else (reason or note)
        ops.append(Reject(_ids(ws, rows), text))
    return _plan(ops, "Reject", "Rejected", selection.what, len(selection), reason)


def restore(ws, selection: Selection, reason: str = "") -> Plan:
    """One op taking back every selected row that is rejected now."""
    rejected = _rejected(ws)
    rows = selection.rows
    rows = rows[rejected[rows]] if len(rows) else rows
    ops: list[Op] = [Restore(_ids(ws, rows), reason)] if len(rows) else []
    return _plan(ops, "Restore", "Restored", selection.what, len(selection), reason)


def _plan(ops: list[Op], verb: str, done: str, what: str, n_selected: int, reason: str = "") -> Plan:
    if not ops:
        if not n_selected:
            return Plan(None, (), f"Nothing to {verb.lower()}: no {what}.")
        state = "rejected already" if verb == "Reject" else "rejected now"
        return Plan(None, (), f"Nothing to {verb.lower()}: all {n_selected:,} {what} are {state}.")
    n = sum(len(o.ids) for o in ops)
    why = f"; {reason}" if reason else ""
    op = ops[0] if len(ops) == 1 else Batch(ops, f"{verb} {what} ({n:,} examples{why})")
    ids = tuple(i for o in ops for i in o.ids)
    return Plan(op, ids, f"{done} {n:,} example{'s' if n != 1 else ''} ({what}).")


def promote_op(ws, row: int, response: str, *, prompt: str | None = None, system: str | None = None) -> AddExample:
    """A production input as a new training example (chat) with the curator's response; its
    origin (source, source id, line, role) is recorded in the example's provenance."""
    response = str(response or "").strip()
    if not response:
        raise InputError("Write the response the input should get (it must not be empty).")
    messages = []
    if system and str(system).strip():
        messages.append({"role": "system", "content": str(system).strip()})
    messages.append({"role": "user", "content": ws.prompt[row] if prompt is None else str(prompt)})
    messages.append({"role": "assistant", "content": response})
    sid, line = ws.example_id(row)
    provenance = {"source": str(ws.source_names[row]), "source_id": int(sid), "line": int(line),
                  "role": str(ws.role[row]), "note": "promoted from production"}
    return AddExample({"messages": messages}, "chat", role="train", provenance=provenance)


# --------------------------------------------------------------------------------------------
# headless: the stored analysis aligned to a loaded workspace
# --------------------------------------------------------------------------------------------
def stored_analysis(project, ws) -> Any | None:
    """The project's stored analysis results aligned to ``ws`` (None when there are none)."""
    from workbench.analysis.aligned import AlignedAnalysis
    from workbench.analysis.project_analysis import load_stored

    result = load_stored(project)
    if result is None:
        return None
    return AlignedAnalysis(result, ws.source_id, ws.line, ws.role, project.state.cluster_edits)
