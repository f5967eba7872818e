"""One example identity and one aligned view of an analysis, for the app and the export alike.

**Identity.** An example is ``(source_id, line)``: the project's stable source id (an integer the
project file assigns when the source is added; 0 = examples added in the app) plus the 1-based
line (JSONL) or row (CSV/Parquet) in that source. File names are for people only: two sources
may share one (``a/train.jsonl``, ``b/train.jsonl``), so :func:`source_labels` gives each source
its file name, lengthened by as many parent folders as it takes to tell them apart.
``examples.parquet`` carries ``source_id``, ``source`` (that label) and ``line``; every reference
in ``summary.json`` is ``{"source": label, "source_id": id, "line": n}``.

**Alignment.** :class:`AlignedAnalysis` maps an
:class:`~workbench.analysis.pipeline.AnalysisResult` onto the rows of a workspace (or of any
snapshot of it) by ``(source_id, line)``, never by name: per-row numpy arrays (map position,
cluster, duplicate group, flags, ...) and the summary's findings resolved to rows. Rows the
analysis did not see (examples added after it ran) read as "not analysed" (cluster -1, NaN) and
are counted in ``missing``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Iterable, Sequence

import numpy as np

ADDED_LABEL = "added"
_LINE_BITS = 40  # a key packs (source_id, line) into one int64: id << 40 | line


def source_labels(sources: Iterable[tuple[int, str | os.PathLike]]) -> dict[int, str]:
    """``{source_id: label}`` for ``(id, path)`` pairs: the file name, or, where several sources
    share a file name, the shortest trailing part of the path that tells them apart
    (``a/train.jsonl`` and ``b/train.jsonl``; the whole path when nothing shorter does)."""
    items = [(int(i), PurePath(os.fspath(p))) for i, p in sources]
    parts = {i: p.parts for i, p in items}
    depth = {i: 1 for i, _ in items}
    while True:
        label = {i: "/".join(parts[i][-depth[i]:]) for i, _ in items}
        clash: dict[str, list[int]] = {}
        for i, _ in items:
            clash.setdefault(label[i], []).append(i)
        grow = [i for ids in clash.values() if len(ids) > 1 for i in ids if depth[i] < len(parts[i])]
        if not grow:
            return label
        for i in grow:
            depth[i] += 1


def row_labels(ws: Any) -> np.ndarray:
    """Each row's source label (object array) for a workspace (``sources`` with ``id`` and
    ``path``, ``source_id`` per row); examples added in the app are labelled "added"."""
    labels = source_labels((info.id, info.path) for info in ws.sources)
    labels[0] = ADDED_LABEL
    sid = np.asarray(ws.source_id, dtype=np.int64)
    ids, inverse = np.unique(sid, return_inverse=True)
    names = np.array([labels.get(int(i), str(i)) for i in ids], dtype=object)
    return names[inverse] if len(sid) else np.zeros(0, dtype=object)


def row_keys(source_id: np.ndarray, line: np.ndarray) -> np.ndarray:
    """One int64 key per row for ``(source_id, line)`` (sortable, vectorised lookups)."""
    return (np.asarray(source_id, dtype=np.int64) << _LINE_BITS) | np.asarray(line, dtype=np.int64)


def _ref_key(ref: Any) -> int | None:
    """Key of a summary reference: ``{"source_id", "line"}`` or an ``(source_id, line)`` pair."""
    try:
        if isinstance(ref, dict):
            if ref.get("source_id") is None or ref.get("line") is None:
                return None
            sid, line = int(ref["source_id"]), int(ref["line"])
        elif isinstance(ref, (list, tuple)) and len(ref) == 2:
            sid, line = int(ref[0]), int(ref[1])
        else:
            return None
    except (TypeError, ValueError):
        return None
    return (sid << _LINE_BITS) | line


@dataclass
class Finding:
    """One item of a finding list (a cluster, duplicate group, conflict, gap, ...)."""

    title: str
    rows: np.ndarray  # rows it concerns (for selection / zoom)
    data: dict[str, Any] = field(default_factory=dict)  # the raw summary item
    keeper: int = -1  # duplicates: the suggested keeper row


def _float(df, name) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), np.nan, np.float32)
    return np.asarray(df[name].to_numpy(dtype="float64", na_value=np.nan), dtype=np.float32)


def _int(df, name, missing=-1) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), missing, np.int64)
    return np.asarray(df[name].fillna(missing).to_numpy(dtype="float64"), dtype=np.int64)


def _bool(df, name) -> np.ndarray:
    if name not in df.columns:
        return np.zeros(len(df), bool)
    return np.asarray(df[name].fillna(False).to_numpy(dtype=bool), dtype=bool)


class AlignedAnalysis:
    """An analysis result aligned to rows given by ``(source_id, line)`` (see the module doc).

    ``AlignedAnalysis(result, source_id, line, role)``; ``result`` needs ``examples`` (with
    ``source_id`` and ``line``), ``summary``, ``revision`` and ``params``.
    """

    def __init__(self, result: Any, source_id: Sequence[int], line: Sequence[int], role: Sequence[str],
                 cluster_edits: Sequence[Any] = ()):
        self.result = result
        self.row_ids = (np.asarray(source_id), np.asarray(line))  # each row's (source_id, line)
        self.cluster_edits = tuple(cluster_edits or ())
        df = result.examples
        self.summary: dict[str, Any] = dict(getattr(result, "summary", {}) or {})
        self.revision = str(getattr(result, "revision", ""))
        params = getattr(result, "params", None)
        self.params: dict[str, Any] = params.to_dict() if hasattr(params, "to_dict") else dict(params or {})
        self.encoder = str(self.summary.get("encoder", ""))
        self._roles = np.asarray(role, dtype=object)
        self.n = len(self._roles)
        keys = row_keys(source_id, line)
        self._sorted = np.argsort(keys, kind="stable")
        self._keys = keys[self._sorted]
        if "source_id" in df.columns and "line" in df.columns and len(df):
            res_keys = row_keys(df["source_id"].to_numpy(dtype=np.int64), df["line"].to_numpy(dtype=np.int64))
        else:  # not results of this project (no identities): nothing aligns
            res_keys = np.full(len(df), -1, np.int64)
        #: result row -> row (-1: not a row here); and row -> result row (-1: not analysed)
        self.row_of_result = self._lookup(res_keys)
        self.result_of_row = np.full(self.n, -1, np.int64)
        ok = self.row_of_result >= 0
        self.result_of_row[self.row_of_result[ok]] = np.flatnonzero(ok)
        self.missing = int((self.result_of_row < 0).sum())

        self.x = self._spread(_float(df, "x"), np.nan)
        self.y = self._spread(_float(df, "y"), np.nan)
        self.cluster = self._spread(_int(df, "cluster"), -1)
        self.dup_group = self._spread(_int(df, "dup_group"), -1)
        self.nearest_train_sim = self._spread(_float(df, "nearest_train_sim"), np.nan)
        self.inconsistency = self._spread(_float(df, "inconsistency"), np.nan)
        self.is_gap = self._spread(_bool(df, "gap"), False)
        self.gap_group = self._spread(_int(df, "gap_group"), -1)  # rank of the row's coverage gap
        self.is_keeper = self._spread(_bool(df, "dup_keeper"), False)
        self.leaked = self._spread(_bool(df, "leaked"), False)
        fl = np.empty(len(df), dtype=object)
        for i, f in enumerate(df["flags"] if "flags" in df.columns else [None] * len(df)):
            fl[i] = tuple(f) if f is not None and not (isinstance(f, float) and math.isnan(f)) else ()
        self.flags = self._spread(fl, ())
        self.extra_columns: dict[str, np.ndarray] = {}
        for name in ("conflict", "review_priority", "leak_sim", "cluster_strength"):
            if name in df.columns:
                self.extra_columns[name] = self._spread(_float(df, name).astype(np.float64), np.nan)
        self._build_findings()
        self.cluster_of_analysis = self.cluster  # the analysis' own ids (before the curator's edits)
        if self.cluster_edits:
            self._apply_cluster_edits()

    # -- alignment -----------------------------------------------------------------------------
    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.int64)
        if not len(self._keys) or not len(keys):
            return np.full(len(keys), -1, np.int64)
        pos = np.searchsorted(self._keys, keys)
        pos = np.minimum(pos, len(self._keys) - 1)
        hit = self._keys[pos] == keys
        return np.where(hit, self._sorted[pos], -1).astype(np.int64)

    def _spread(self, values: np.ndarray, fill: Any) -> np.ndarray:
        if values.dtype == object:
            out = np.empty(self.n, dtype=object)
            out.fill(fill)
        else:
            out = np.full(self.n, fill, dtype=values.dtype)
        ok = self.row_of_result >= 0
        out[self.row_of_result[ok]] = values[ok]
        return out

    @property
    def has_map(self) -> bool:
        return bool(np.isfinite(self.x).any())

    @property
    def labels(self) -> dict[int, str]:
        """Cluster id -> label (same as :attr:`cluster_labels`)."""
        return self.cluster_labels

    def row(self, ref: Any) -> int:
        """Row of a summary reference (``{"source_id", "line", ...}``, an ``(source_id, line)``
        pair, ``{"row": result row}`` or a row number), or -1."""
        if isinstance(ref, (int, np.integer)):
            return int(ref) if 0 <= int(ref) < self.n else -1
        if isinstance(ref, dict) and "row" in ref and "line" not in ref:
            r = int(ref["row"])
            return int(self.row_of_result[r]) if 0 <= r < len(self.row_of_result) else -1
        key = _ref_key(ref)
        return -1 if key is None else int(self._lookup(np.array([key]))[0])

    def rows(self, refs: Iterable[Any] | None) -> np.ndarray:
        """Rows of several references (unresolvable ones are left out)."""
        out = [self.row(r) for r in (refs or [])]
        return np.asarray([r for r in out if r >= 0], dtype=np.int64)

    def resized(self, source_id: Sequence[int], line: Sequence[int], role: Sequence[str]) -> "AlignedAnalysis":
        """The same result aligned to other rows (e.g. after examples were added)."""
        return AlignedAnalysis(self.result, source_id, line, role, self.cluster_edits)

    def with_cluster_edits(self, edits: Sequence[Any]) -> "AlignedAnalysis":
        """The same result and rows with the curator's cluster names and merges ``edits`` (a
        project state's ``cluster_edits``); ``self`` when they are the ones already applied."""
        if tuple(edits or ()) == self.cluster_edits:
            return self
        return AlignedAnalysis(self.result, self.row_ids[0], self.row_ids[1], self._roles, edits)

    # -- the curator's cluster names and merges ---------------------------------------------
    def resolve_cluster(self, cid: int, sample: Sequence[Any] = (), revision: str = "") -> int:
        """The analysis' cluster id today of a cluster the curator saw as ``cid`` in analysis
        ``revision``: the same id while the analysis of that data still has it; after a
        re-analysis (or a fresh map of the same data that ended the id), the cluster now holding
        most of its recorded member ``sample`` (``(source_id, line)`` pairs), or -1 when none of
        them is in a cluster any more."""
        same = revision == self.revision and int(cid) in self.analysis_labels
        if not revision or same or not len(sample):
            return int(cid) if int(cid) in self.analysis_labels else -1
        rows = self.rows(sample)
        own = self.cluster_of_analysis[rows] if len(rows) else np.zeros(0, np.int64)
        own = own[own >= 0]
        if not len(own):
            return -1
        ids, counts = np.unique(own, return_counts=True)
        return int(ids[np.argmax(counts)])

    def _apply_cluster_edits(self) -> None:
        """Apply the curator's names and merges: a merged cluster takes one id (the first one
        named) for all its members, in :attr:`cluster`, :attr:`clusters` and every label."""
        into: dict[int, int] = {}
        names: dict[int, str] = {}

        def root(c: int) -> int:
            seen = set()
            while c in into and c not in seen:
                seen.add(c)
                c = into[c]
            return c

        for e in self.cluster_edits:
            samples = e.samples or [()] * len(e.clusters)
            ids = [self.resolve_cluster(c, s, e.revision) for c, s in zip(e.clusters, samples)]
            if ids[0] < 0:
                continue
            target = root(ids[0])
            for c in ids[1:] if e.merge else ():
                c = root(c) if c >= 0 else c
                if c >= 0 and c != target:
                    into[c] = target
                    names.pop(c, None)
            if e.name:
                names[target] = e.name
        if not into and not names:
            return
        mapping = {c: root(c) for c in into}
        cl = self.cluster.copy()
        for c, t in mapping.items():
            cl[self.cluster_of_analysis == c] = t
        self.cluster = cl
        self.curator_names = names
        self.merged_into = mapping
        for c in list(self.cluster_labels):
            t = mapping.get(c, c)
            self.cluster_labels[c] = names.get(t) or self.analysis_labels.get(t, f"cluster {t}")
        merged: dict[int, Finding] = {}
        for f in self.clusters:
            cid = int(f.data.get("id", f.data.get("cluster", -1)))
            t = mapping.get(cid, cid)
            if t not in merged:
                base = next((g for g in self.clusters if int(g.data.get("id", g.data.get("cluster", -1))) == t), f)
                data = dict(base.data)
                if t != cid or any(v == t for v in mapping.values()):
                    data["merged_from"] = sorted([t] + [c for c, v in mapping.items() if v == t])
                    members = cl == t
                    data["size"] = int(members.sum())
                    kinds, counts = np.unique(self._roles[members].astype(str), return_counts=True)
                    data["roles"] = {str(k): int(n) for k, n in zip(kinds, counts)}
                if t in names:
                    data["curator_name"] = names[t]
                merged[t] = Finding(self.cluster_labels.get(t, f"cluster {t}"), np.flatnonzero(cl == t), data)
        self.clusters = list(merged.values())
        for g in self.gaps + self.unreached:
            c = g.data.get("cluster")
            if c is not None and int(c) in self.cluster_labels:
                old = self.analysis_labels.get(int(c), "")
                new = self.cluster_labels[int(c)]
                if old and old != new and old in g.title:
                    g.title = g.title.replace(old, new)

    # -- findings ------------------------------------------------------------------------------
    def _section(self, key: str) -> dict[str, Any]:
        sec = self.summary.get(key)
        return sec if isinstance(sec, dict) else {}

    def _build_findings(self) -> None:
        self.cluster_labels: dict[int, str] = {}
        self.analysis_labels: dict[int, str] = {}  # the analysis' own labels (before curator names)
        self.curator_names: dict[int, str] = {}  # cluster id -> the curator's name
        self.merged_into: dict[int, int] = {}  # merged cluster id -> the id it joined
        self.clusters: list[Finding] = []
        for item in self.summary.get("clusters", []) or []:
            if not isinstance(item, dict):
                continue
            cid = int(item.get("id", item.get("cluster", -1)))
            label = str(item.get("label") or f"cluster {cid}")
            self.cluster_labels[cid] = label
            self.analysis_labels[cid] = label
            self.clusters.append(Finding(label, np.flatnonzero(self.cluster == cid), dict(item)))
        self.duplicates = self._groups()
        self.conflicts: list[Finding] = []
        for it in self._section("conflicts").get("conflicts", []) or []:
            rows = [self.row(it.get("example"))] + [self.row(a.get("example")) for a in it.get("against", [])]
            rows = [r for r in dict.fromkeys(rows) if r >= 0]
            self.conflicts.append(Finding(str(it.get("reason", "conflict")), np.asarray(rows, np.int64), dict(it)))
        self._build_gaps()
        self.queue: list[Finding] = []
        for it in self._section("queue").get("queue", []) or []:
            r = self.row(it.get("example"))
            if r >= 0:
                self.queue.append(Finding(str(it.get("reason", "")), np.asarray([r], np.int64), dict(it)))
        self.leakage: list[Finding] = []
        for it in self._section("leakage").get("leaks", []) or []:
            rows = [r for r in (self.row(it.get("example")), self.row(it.get("train_match"))) if r >= 0]
            self.leakage.append(Finding(str(it.get("reason", "leak")), np.asarray(rows, np.int64), dict(it)))
        self.flag_definitions: dict[str, str] = {}
        for it in self._section("flags").get("counts", []) or []:
            if isinstance(it, dict) and "flag" in it:
                self.flag_definitions[str(it["flag"])] = str(it.get("definition", ""))
        rows_by_flag: dict[str, list[int]] = {}
        for i, f in enumerate(self.flags):
            for name in f:
                rows_by_flag.setdefault(name, []).append(i)
        self.flag_rows = {k: np.asarray(v, np.int64) for k, v in rows_by_flag.items()}
        self.flag_counts = {k: len(v) for k, v in self.flag_rows.items()}

    def _build_gaps(self) -> None:
        gsec = self._section("gaps")
        findings = getattr(self.result, "findings", None)
        cov = findings.get("coverage") if isinstance(findings, dict) else None
        mem = getattr(cov, "gaps", None)  # in memory right after a run: exact rows per gap
        prod = self._roles == "production"
        self.gaps: list[Finding] = []
        for k, g in enumerate(gsec.get("gaps", []) or []):
            rows = None
            if mem is not None and k < len(mem) and "rows" in mem[k]:
                rr = np.asarray(mem[k]["rows"], np.int64)
                rr = self.row_of_result[rr[(rr >= 0) & (rr < len(self.row_of_result))]]
                rows = rr[rr >= 0]
            elif g.get("rank") is not None and (self.gap_group == int(g["rank"])).any():
                rows = np.flatnonzero(self.gap_group == int(g["rank"]))
            elif g.get("cluster") is not None:
                in_c = self.cluster == int(g["cluster"])
                rows = np.flatnonzero(in_c & (self.is_gap if g.get("kind") == "far from training" else prod))
            if rows is None or not len(rows):
                rows = self.rows([e.get("example") for e in g.get("examples", [])])
            c = g.get("cluster")
            where = self.cluster_labels.get(int(c), str(g.get("region", ""))) if c is not None else str(g.get("region", ""))
            self.gaps.append(Finding(f"{g.get('kind', 'gap')}: {where}", np.asarray(rows, np.int64), dict(g)))
        self.unreached: list[Finding] = []
        for u in gsec.get("unreached", []) or []:
            c = int(u.get("cluster", -1))
            self.unreached.append(Finding(str(u.get("cluster_label") or self.cluster_labels.get(c, f"cluster {c}")),
                                          np.flatnonzero(self.cluster == c), dict(u)))

    def _groups(self) -> list[Finding]:
        sec = self._section("duplicates")
        out: list[Finding] = []
        listed = set()
        for g in sec.get("groups", []) or []:
            members = self.rows(g.get("members", []))
            keeper = self.row(g.get("keeper")) if g.get("keeper") is not None else -1
            if keeper < 0 and len(members):
                keeper = int(members[0])
            gid = int(g.get("group", len(out)))
            listed.add(gid)
            data = dict(g)
            data["removable_rows"] = self.rows(g.get("removable", []))
            out.append(Finding(f"group {gid}", members, data, keeper=keeper))
        # groups beyond the summary's listing limit: rebuilt from the per-example columns
        if len(listed) < int(sec.get("n_groups", 0) or 0):
            from workbench.analysis.duplicates import REMOVABLE_ROLES  # the one definition

            removable_role = np.isin(self._roles, sorted(REMOVABLE_ROLES))
            order = np.argsort(self.dup_group, kind="stable")
            gids = self.dup_group[order]
            start = np.searchsorted(gids, 0)
            order, gids = order[start:], gids[start:]
            bounds = np.flatnonzero(np.diff(gids)) + 1
            for members in np.split(order, bounds):
                if not len(members):
                    continue
                gid = int(self.dup_group[members[0]])
                if gid in listed:
                    continue
                keepers = members[self.is_keeper[members]]
                keeper = int(keepers[0]) if len(keepers) else int(members[0])
                removable = members[(members != keeper) & removable_role[members]]
                out.append(Finding(f"group {gid}", members,
                                   {"group": gid, "size": len(members), "removable_rows": removable},
                                   keeper=keeper))
        return out
